"""The conv-decoders (post 003) and conv-capacity (post 001) suites: configs, architectures,
parameter budgets, the white-noise checkerboard level, shrunken runs and paired summaries."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from flax import nnx
from suite_runs import BY_NAME
from suite_runs import run_once as _run

from tiedae.bench.records import make_record
from tiedae.bench.suite import Options
from tiedae.bench.suites import conv_capacity, conv_decoders
from tiedae.nonlinear.conv import checkerboard_energy, checkerboard_noise_level
from tiedae.nonlinear.layers import count_params
from tiedae.nonlinear.sequential import SequentialAE


@pytest.mark.parametrize("name", ["conv-decoders", "conv-capacity"])
def test_configs_have_five_seeds_full_and_stable_ids(name):
    for quick in (True, False):
        configs = BY_NAME[name].configs(Options(quick=quick))
        assert len({c["run_id"] for c in configs}) == len(configs)
        assert len({c["seed"] for c in configs}) >= (2 if quick else 5)
        assert configs == BY_NAME[name].configs(Options(quick=quick))
        json.dumps(configs, allow_nan=False)
    full = BY_NAME[name].configs(Options(quick=False, data={"mnist": "/somewhere"}))
    assert len({c["seed"] for c in full}) >= 5


def test_white_noise_level_matches_monte_carlo():
    assert checkerboard_noise_level(8, 8, 2) == pytest.approx(3 / 63, abs=1e-15)
    assert checkerboard_noise_level(28, 28, 4) == pytest.approx(15 / 783, abs=1e-15)
    noise = np.random.default_rng(0).standard_normal((4000, 8, 8))
    for p in (2, 4):
        mc = checkerboard_energy(noise, p).mean()
        assert mc == pytest.approx(checkerboard_noise_level(8, 8, p), rel=0.03)
    with pytest.raises(ValueError, match="must divide"):
        checkerboard_noise_level(28, 28, 8)
    with pytest.raises(ValueError, match="period must be >= 1"):
        checkerboard_noise_level(8, 8, 0)


@pytest.mark.parametrize(("shape", "code"), [((28, 28, 1), None), ((8, 8, 1), None)])
def test_post_003_models_keep_the_image_size(shape, code):
    x = np.random.default_rng(0).random((2, int(np.prod(shape)))).astype(np.float32)
    for name in conv_decoders.POST_MODELS:  # traced only: shapes need no compilation
        out = nnx.eval_shape(lambda n=name: conv_decoders.post_003_model(n, shape,
                                                                         nnx.Rngs(0))(x))
        assert out.shape == x.shape
    matlab = nnx.eval_shape(lambda: conv_decoders.post_003_model("matlab_cae", (28, 28, 1),
                                                                 nnx.Rngs(0)))
    assert matlab.code_shape == (4, 4, 32)  # padded to 32 x 32, three poolings
    with pytest.raises(ValueError, match="unknown model"):
        conv_decoders.post_003_model("torch_cae", shape, nnx.Rngs(0))


def _sides(variant, size=48, width=1.0):
    enc, dec = conv_capacity.architecture(variant, size, width)
    model = nnx.eval_shape(lambda: SequentialAE((size, size, 3), enc, dec, rngs=nnx.Rngs(0)))
    count = conv_capacity._layer_params
    return count(model.encoder_layers), count(model.decoder_layers), count_params(model)


def test_capacity_variants_have_the_planned_parameter_budgets():
    enc, dec, total = _sides("baseline")
    assert (enc, dec) == (1_305_472, 1_309_891)  # the post's Keras summary
    for variant, want_enc, want_dec in [("dec_x0.5", enc, dec / 2), ("dec_x2", enc, 2 * dec),
                                        ("enc1.5_dec0.5", 0.75 * total, 0.25 * total),
                                        ("enc0.5_dec1.5", 0.25 * total, 0.75 * total)]:
        e, d, _ = _sides(variant)
        assert e == pytest.approx(want_enc, rel=0.01) and d == pytest.approx(want_dec, rel=0.01)
    e, d, _ = _sides("dec_+1_layer")
    assert e == enc and d == dec + 32 * 32 * 9 + 32
    e, d, _ = _sides("dec_-1_layer")
    assert e == enc and d == dec - (64 * 256 + 256) - (256 - 64) * 4608  # 64 -> 4608 directly
    # the width arithmetic behind the bisection equals the built models' counts
    for variant in conv_capacity.VARIANTS:  # every variant builds at the quick run's size
        e, d, _ = _sides(variant, 16, 0.25)
        assert e > 0 and d > 0
    assert conv_capacity._side_params("decoder", 1.0) == dec
    assert conv_capacity._side_params("encoder", 1.0) == enc
    with pytest.raises(ValueError, match="unknown variant"):
        conv_capacity.architecture("dec_x3")


def test_capacity_shrunken_runs_and_paired_summary():
    configs = BY_NAME["conv-capacity"].configs(Options(quick=True))
    recs = []
    for config in configs:
        rec = _run("conv-capacity", {**config, "steps": 2, "eval_every": 1, "n_train": 16,
                                     "n_test": 8})
        f = rec["final"]
        assert f["params"] == f["encoder_params"] + f["decoder_params"]
        assert np.isfinite(f["test_error"]) and f["seconds_per_step"] > 0
        recs.append(rec)
    analysis = BY_NAME["conv-capacity"].analyze(recs)
    table, paired = analysis.tables
    assert [row[0].text for row in table.rows] == ["baseline", "dec_x2"]
    assert table.rows[1][2].text == f"{recs[1]['final']['decoder_params']:,}"
    assert [row[1].text for row in paired.rows] == ["test error", "training error"]
    assert analysis.findings and "paired difference" in analysis.findings[0]
    assert analysis.findings[0].startswith("dec_x2: ")
    assert set(analysis.numbers) >= {"RCapData", "RFindCapacity", "RAnswerCapacity"}
    (figure,) = analysis.figures
    drawn = figure.draw()
    assert figure.name == "conv_capacity" and len(drawn.axes) == 2
    plt.close(drawn)


def test_conv_decoders_shrunken_runs():
    configs = BY_NAME["conv-decoders"].configs(Options(quick=True))
    finals, recs = {}, []
    quick = {c["model"]: c for c in configs if c["seed"] == 0}
    # the quick default runs the posts' models only; ConvAE's decoders are the full runs'
    for dec in ("tied", "transposed_conv"):
        quick[f"{dec}-k3"] = {**quick["matlab_cae"], "model": f"{dec}-k3", "decoder": dec,
                              "kernel_size": 3, "run_id": f"quick-{dec}-k3-s0"}
    for model in ("tied-k3", "transposed_conv-k3", "matlab_cae", "keras_cae"):
        config = quick[model]
        rec = _run("conv-decoders", {**config, "steps": 4, "eval_every": 2, "n_measure": 20})
        finals[model] = rec["final"]
        recs.append(rec)
        assert len(rec["extra"]["images_init"]) == conv_decoders.N_IMAGES
    # Keras's blog trains on binary cross-entropy; every model reports the squared error
    assert quick["keras_cae"]["loss"] == "binary_cross_entropy"
    assert quick["matlab_cae"]["loss"] == "squared_error"
    assert all(np.isfinite(f["test_error"]) and f["test_error"] > 0 for f in finals.values())
    tied, transposed = finals["tied-k3"], finals["transposed_conv-k3"]
    for p in (2, 4):
        # the reference share is measured on the same test images whatever the decoder ...
        assert tied[f"checker_input_p{p}"] == transposed[f"checker_input_p{p}"]
        assert tied[f"checker_noise_p{p}"] == pytest.approx((p * p - 1) / 63)
    # ... while the outputs' shares are the decoders' own (tied reads the encoder kernels)
    assert tied["checker_out_init_p2"] != transposed["checker_out_init_p2"]
    second = {**recs[0], "config": {**recs[0]["config"], "seed": 1, "run_id": "again"}}
    analysis = BY_NAME["conv-decoders"].analyze(
        [*recs, make_record("conv-decoders", second["config"],
                            {k: second[k] for k in ("final", "trajectory", "extra")}, 0.0)])
    table, paired = analysis.tables
    assert table.rows[-1][0].text.startswith("white noise")
    assert [row[0].text for row in table.rows] == [
        "Keras CAE", "MATLAB CAE", "transposed, k=3", "tied (adjoint), k=3", "test images",
        "white noise (p^2-1)/(HW-1)"]
    # one seed per pair: a difference without an interval, and no winner named
    assert [row[0].text for row in paired.rows[::3]] == [
        "Keras CAE - MATLAB CAE", "transposed, k=3 - tied (adjoint), k=3"]
    assert {row[3].text for row in paired.rows} == {"-"}  # no interval
    assert {row[4].text for row in paired.rows} == {"-"}  # no (Holm-adjusted) p-value
    assert {row[5].text for row in paired.rows} == {"no measurable difference"}
    # the copied record repeats tied-k3's test error in its second seed: reported as a collapse
    assert analysis.findings[0].startswith("tied-k3: test error") and "collapsed" in \
        analysis.findings[0]
    assert len(analysis.findings) == 1 + 2 * 2
    assert "Keras CAE" in analysis.numbers["RFindConvPosts"]
    assert [f.name for f in analysis.figures] == ["checkerboard", "conv_images"]


def test_seed_independent_result_is_reported_as_a_collapse():
    assert conv_decoders.collapsed([90.435, 90.435])
    assert not conv_decoders.collapsed([90.435, 17.2])
    assert not conv_decoders.collapsed([90.435])  # one seed shows nothing
