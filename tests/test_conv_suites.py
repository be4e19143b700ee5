"""The conv-decoders (post 003) and conv-capacity (post 001) suites: configs, architectures,
parameter budgets, the white-noise checkerboard level, shrunken runs and paired summaries."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from flax import nnx
from suite_runs import BY_NAME
from suite_runs import run_once as _run

from tiedae.bench.suite import Options
from tiedae.bench.suites import conv_analysis, conv_capacity, conv_decoders, conv_records
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
    """Each run chooses its step size on seed 0's validation error, records convergence and
    its train / validation / test curves; the seeds share the choice."""
    configs = BY_NAME["conv-decoders"].configs(Options(quick=True))
    quick = {c["model"]: c for c in configs if c["seed"] == 0}
    for dec in ("tied", "bilinear_conv"):  # the full runs' ConvAE decoders, at quick sizes
        quick[f"{dec}-k3"] = {**quick["matlab_cae"], "model": f"{dec}-k3", "decoder": dec,
                              "kernel_size": 3, "run_id": f"quick-{dec}-k3-s0"}
    shrink = {"steps": 10, "eval_every": 1, "n_measure": 20, "learning_rates": [1e-3, 1e-2]}
    recs = {}
    for model in ("tied-k3", "bilinear_conv-k3", "matlab_cae", "keras_cae"):
        rec = _run("conv-decoders", {**quick[model], **shrink})
        f, choice = rec["final"], rec["extra"]["learning_rate_selection"]
        assert isinstance(f["converged"], bool) and f["diverged"] is False
        assert choice["learning_rate_grid"] == [1e-3, 1e-2]
        errors = choice["learning_rate_validation"]
        assert f["learning_rate"] == choice["learning_rate"] == [1e-3, 1e-2][
            int(np.argmin(errors))]
        assert f["validation_error"] == pytest.approx(min(errors))  # seed 0 is the choice's run
        traj = rec["trajectory"]
        assert traj["step"] == list(range(11))
        assert all(len(traj[k]) == 11 for k in ("train_loss", "validation_loss", "test_loss"))
        assert len(rec["extra"]["images_init"]) == conv_decoders.N_IMAGES
        assert np.isfinite(f["test_error"]) and f["test_error"] > 0
        recs[model] = rec
    # Keras's blog trains on binary cross-entropy; every model reports the squared error
    assert quick["keras_cae"]["loss"] == "binary_cross_entropy"
    assert quick["matlab_cae"]["loss"] == "squared_error"
    tied, bilinear = recs["tied-k3"]["final"], recs["bilinear_conv-k3"]["final"]
    for p in (2, 4):  # the images' own share is the same whatever the model ...
        assert tied[f"checker_input_p{p}"] == bilinear[f"checker_input_p{p}"]
        assert tied[f"checker_noise_p{p}"] == pytest.approx((p * p - 1) / 63)
    # ... while the outputs' shares are the decoders' own
    assert tied["checker_out_init_p2"] != bilinear["checker_out_init_p2"]
    # seed 1 trains at seed 0's choice (the selection runs are not trained again); no images
    second = _run("conv-decoders", {**quick["tied-k3"], **shrink, "seed": 1,
                                    "run_id": "quick-tied-k3-s1"})
    assert second["extra"]["learning_rate_selection"] == recs["tied-k3"]["extra"][
        "learning_rate_selection"]
    assert "images_init" not in second["extra"]
    assert second["final"]["test_error"] != tied["test_error"]
    analysis = BY_NAME["conv-decoders"].analyze([*recs.values(), second])
    assert [t.name for t in analysis.tables] == ["conv", "conv_checker", "conv_paired"]
    assert [f.name for f in analysis.figures] == ["checkerboard", "conv_images"]


def _record(model, seed, test_error, c2_out, converged=True, **final):
    config = {"model": model, "seed": seed, "run_id": f"full-{model}-s{seed}", "steps": 100,
              "batch_size": 10, "n_train": 1000, "n_test": 100, "stride": 2, "data": "mnist",
              "validation_fraction": 0.1, "learning_rates": [1e-3, 1e-2], "lr_seed": 0}
    final = {"params": 100, "test_error": test_error, "checker_input_p2": 1e-4,
             "checker_input_p4": 1e-3, "checker_out_init_p2": 0.05, "checker_out_p2": c2_out,
             "checker_grad_p4": 0.02, "checker_noise_p2": 3 / 783, "checker_noise_p4": 15 / 783,
             "converged": converged, "diverged": False, "learning_rate": 1e-3, **final}
    return {"suite": "conv-decoders", "run_id": config["run_id"], "config": config,
            "final": final, "trajectory": {}, "extra": {"image_shape": [28, 28, 1]}}


def _synthetic_records():
    rng = np.random.default_rng(0)
    recs = []
    for seed in range(6):
        noise = 1 + 0.005 * rng.standard_normal(3)
        sign = (-1) ** seed  # c_2 ratios whose logs alternate around their mean
        recs += [_record("transposed_conv-k3", seed, 10.0 * noise[0], 1e-3 * 1.05**sign),
                 _record("upsample_conv-k3", seed, 12.0 * noise[1], 1e-4 * 1.1**sign),
                 _record("tied-k3", seed, 10.0 * noise[2], 1e-4 * 1.3**sign,
                         converged=seed != 5)]
    return recs


def test_conv_analysis_compares_converged_runs_against_the_images_own_checkerboard():
    recs = _synthetic_records()
    analysis = conv_decoders.SUITE.analyze(recs)
    conv, checker, paired = analysis.tables
    assert [row[3].text for row in conv.rows[:3]] == ["6/6", "6/6", "5/6"]
    # c_2 trained over the images' own 1e-4: transposed x10 (above), tied and upsample x1
    rows = {row[0].text: row for row in checker.rows}
    assert rows["transposed, k=3"][1].text == "10"
    assert rows["transposed, k=3"][4].text == "above the images"
    assert rows["tied (adjoint), k=3"][4].text == "no measurable difference"
    assert rows["upsample + conv, k=3"][4].text == "no measurable difference"
    # the tied run that did not converge is left out: its pairs have 5 seeds, not 6
    ratios = conv_analysis.checker_ratios(conv_records.models(recs))
    assert ratios["tied-k3"].n == 5 and ratios["transposed_conv-k3"].n == 6
    assert ratios["transposed_conv-k3"].family == 3  # Holm over the three models
    verdicts = {row[0].text: (row[4].text, row[5].text) for row in paired.rows}
    assert verdicts["transposed, k=3 - upsample + conv, k=3"] == (
        "transposed, k=3 lower", "not shown equivalent")
    assert verdicts["transposed, k=3 - tied (adjoint), k=3"] == (
        "no measurable difference", "equivalent")  # within 5 % of each other
    checks = analysis.numbers["RConvChecks"]
    assert checks.startswith("17 of 18 runs converged") and "tied (adjoint), k=3 (seed 5)" in \
        checks
    assert analysis.findings[0].startswith("training checks: 17 of 18 runs converged, 0 reached "
                                           "the Keras blog's 50 epochs unconverged, 1 did not")
    assert "Evidence: 17 of 18" in analysis.numbers["RAnswerConv"]
    # an unconverged run that trained the Keras blog's 50 epochs is compared, and said so
    recs[-1]["final"]["epochs"] = 64.0
    assert conv_records.status(recs[-1]) == "blog budget"
    assert conv_analysis.checker_ratios(conv_records.models(recs))["tied-k3"].n == 6
    analysis = conv_decoders.SUITE.analyze(recs)
    assert "1 more did not converge by that criterion but trained the Keras blog's budget" in \
        analysis.numbers["RConvChecks"]
    assert analysis.tables[0].rows[2][3].text == "5/6 (+1 at 50 epochs)"


def test_conv_analysis_reports_old_records_as_not_checked():
    """Records written before the suite tuned step sizes and checked convergence (no
    `converged`, one `learning_rate`) are compared but reported as not checked."""
    recs = []
    for rec in _synthetic_records():
        rec["final"] = {k: v for k, v in rec["final"].items()
                        if k not in ("converged", "diverged", "learning_rate")}
        rec["config"] = {k: v for k, v in rec["config"].items()
                         if k not in ("learning_rates", "lr_seed", "validation_fraction")}
        rec["config"]["learning_rate"] = 3e-3
        recs.append(rec)
    analysis = conv_decoders.SUITE.analyze(recs)
    conv, checker, _ = analysis.tables
    assert {row[3].text for row in conv.rows[:3]} == {"not checked"}
    assert conv.rows[0][2].text == "0.003"
    assert "predate the convergence check" in analysis.numbers["RConvChecks"]
    assert "one constant step size" in analysis.numbers["RConvRecipe"] and "not tuned" in \
        analysis.numbers["RConvRecipe"]
    assert "0 of 18 runs converged" in analysis.findings[0]
    assert "18 not checked" in analysis.findings[0]
    assert len(checker.rows) == 3


def test_seed_independent_result_is_reported_as_a_collapse():
    assert conv_decoders.collapsed([90.435, 90.435])
    assert not conv_decoders.collapsed([90.435, 17.2])
    assert not conv_decoders.collapsed([90.435])  # one seed shows nothing
