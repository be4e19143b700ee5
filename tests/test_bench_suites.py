"""Each suite: valid configs, and one shrunken run whose numbers must agree with the theory."""

import json

import numpy as np
import pytest
from suite_runs import BY_NAME, run_once

from tiedae.bench.suite import Options, fmt, loglog_slope, mean_std
from tiedae.bench.suites import SUITES

MINE = ("decoders", "conservation", "regularized", "exact-pcs", "optimal-decoder",
        "step-cost", "peers")


def _config(name, quick=True, **where):
    for config in BY_NAME[name].configs(Options(quick=quick)):
        if all(config.get(k) == v for k, v in where.items()):
            return dict(config)
    raise AssertionError(f"no {name} config with {where}")


def _run(name, config):
    record = run_once(name, config)
    return record["final"], BY_NAME[name].summarize([record])


def test_registry_and_configs_are_well_formed():
    names = [s.name for s in SUITES]
    assert len(set(names)) == len(names) and set(MINE) <= set(names)
    for suite in SUITES:
        assert suite.description
        for quick in (True, False):
            configs = suite.configs(Options(quick=quick, seed=3))
            ids = [c["run_id"] for c in configs]
            assert configs and len(set(ids)) == len(ids), suite.name
            assert all("seed" in c for c in configs), suite.name
            json.dumps(configs, allow_nan=False)
        quick_ids = {c["run_id"] for c in suite.configs(Options(quick=True))}
        full_ids = {c["run_id"] for c in suite.configs(Options(quick=False))}
        assert not quick_ids & full_ids, f"{suite.name}: quick and full run_ids collide"


def test_user_data_is_flattened_and_scaled(tmp_path):
    from tiedae.bench import datasets

    rng = np.random.default_rng(0)
    path = tmp_path / "mini.npz"
    np.savez(path, x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 30).astype(np.uint8),
             x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 5).astype(np.uint8))
    X = datasets.load("user", path=str(path))
    assert X.shape == (30, 784) and X.dtype == np.float64 and 0 <= X.min() and X.max() <= 1
    configs = BY_NAME["decoders"].configs(Options(quick=True, data=str(path)))
    assert any(c["dataset"] == "user" for c in configs)


def test_decoders_untied_init_is_capped_only_where_gradient_descent_would_diverge():
    import jax.numpy as jnp
    from flax import nnx

    import tiedae
    from tiedae.bench.suites import decoders as suite

    for quick in (True, False):  # the cap leaves every d=64 run (digits, spiked) as it was
        for config in suite.configs(Options(quick=quick)):
            if config["decoder"] == "untied":
                model = tiedae.LinearAE(config["d"], config["k"], decoder="untied",
                                        init_scale=config["init_scale"],
                                        rngs=nnx.Rngs(config["seed"]))
                assert suite.cap_untied_decoder(model, config["untied_v0_cap"],
                                                config["lr_gd_times_lambda1"]) == 1.0
    model = tiedae.LinearAE(784, 4, decoder="untied", init_scale=0.5, rngs=nnx.Rngs(0))
    scale = suite.cap_untied_decoder(model, suite.UNTIED_V0_CAP, 0.1)
    norm2 = float(jnp.linalg.norm(model.V[...], 2)) ** 2
    assert scale < 0.5 and 0.1 * norm2 == pytest.approx(suite.UNTIED_V0_CAP, rel=1e-5)


def test_decoders_untied_gradient_descent_runs_on_784_dimensional_data(tmp_path):
    import tiedae

    rng = np.random.default_rng(0)
    images = (rng.random((300, 28, 28)) < 0.2).astype(np.uint8) * 255
    images[:, :2] = 0  # constant border pixels, as in MNIST
    path = tmp_path / "mini.npz"
    np.savez(path, x_test=images, y_test=rng.integers(0, 10, 300).astype(np.uint8))
    config = next(c for c in BY_NAME["decoders"].configs(Options(quick=True, data=str(path)))
                  if c["dataset"] == "user" and c["decoder"] == "untied")
    config["steps"] = 30
    final, _ = _run("decoders", config)
    assert np.isfinite(final["loss_gap"]) and final["loss_gap"] >= -1e-4
    with pytest.raises(tiedae.TrainingDiverged):  # the same run without the cap
        _run("decoders", {**config, "untied_v0_cap": None})


def test_helpers():
    assert fmt(None) == "-" and fmt(1234.5) == "1.23e+03" and fmt(0.5) == "0.5"
    assert mean_std([1.0, 3.0]).startswith("2 ±") and mean_std([None]) == "-"
    assert loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)


def test_decoders_transpose_orthonormalises_pinv_does_not():
    finals = {}
    for dec in ("transpose", "pinv"):
        config = _config("decoders", quick=False, dataset="spiked", decoder=dec, k=4,
                         optimizer="gd")
        config["steps"] = 400
        finals[dec], _ = _run("decoders", config)
    assert finals["transpose"]["orthonormality"] < 1e-4 * finals["transpose"][
        "orthonormality_start"]
    assert finals["pinv"]["orthonormality"] > 0.5 * finals["pinv"]["orthonormality_start"]
    for f in finals.values():
        assert f["relative_loss_gap"] < 1e-5 and f["subspace_distance"] < 1e-8


def test_conservation_drift_slopes_gd_two_adam_one():
    gd, _ = _run("conservation", _config("conservation", kind="drift", decoder="pinv",
                                         optimizer="gd"))
    adam, _ = _run("conservation", _config("conservation", kind="drift", decoder="pinv",
                                           optimizer="adam"))
    assert 1.8 < gd["drift_slope"] < 2.2
    assert 0.7 < adam["drift_slope"] < 1.3


def test_conservation_untied_decay_rate_is_four_lambda():
    final, summary = _run("conservation", _config("conservation", kind="decay",
                                                  lambda_over_lambda1=0.1))
    assert final["rate_ratio"] == pytest.approx(1.0, abs=0.05)
    assert any("rate / (4 lam)" in line for line in summary.findings)
    free, _ = _run("conservation", _config("conservation", kind="decay",
                                           lambda_over_lambda1=0.0))
    assert free["max_relative_change"] < 0.05


def test_regularized_closed_form_and_step_sizes():
    final, _ = _run("regularized", _config("regularized", kind="l2", lambda_over_lambda1=0.7))
    assert final["max_sv_error"] < 1e-8 and final["V_minus_W_T"] < 1e-8
    assert final["n_alive"] == 3 and final["max_sv_error_if_constant_were_n_e"] > 1e-2
    config = _config("regularized", kind="stability", start="near_optimum")
    final, _ = _run("regularized", {**config, "bisections": 10})
    assert final["tied_gradient_local_theory"] == pytest.approx(0.5, rel=1e-6)
    assert final["oja_local_theory"] == pytest.approx(1.0, rel=1e-6)
    assert final["ratio_oja_over_gradient"] == pytest.approx(2.0, rel=0.05)


def test_optimal_decoder_right_inverse_optimal_only_on_invariant_subspaces():
    final, summary = _run("optimal-decoder", _config("optimal-decoder", dataset="digits"))
    for dec in ("least_squares", "pinv", "transpose"):
        assert abs(final[f"pca_optimum.{dec}_gap"]) < 1e-10
    assert abs(final["pca_subspace_skewed.pinv_gap"]) < 1e-10
    assert final["pca_subspace_skewed.transpose_gap"] > 1.0
    assert final["random.least_squares_gap"] < 0.9 * final["random.pinv_gap"]
    assert len(summary.findings) == 3


def test_exact_pcs_rag_aligns_axes():
    config = _config("exact-pcs", k=2, method="rag")
    final, _ = _run("exact-pcs", {**config, "steps": 1000})
    assert final["iterations_to_axis_0.3"] is not None and final["axis_distance"] < 0.3
    assert final["subspace_distance"] < 1e-3


def test_step_cost_reports_ratios():
    config = {**_config("step-cost"), "n": 256, "d": 32, "k": 4, "repeats": 1}
    final, _ = _run("step-cost", config)
    assert all(final[f"{d}_ms"] > 0 for d in ("transpose", "pinv", "right_inverse", "untied"))
    assert all(final[f"{d}_closed_form_speedup"] > 0 and final[f"{d}_autodiff_ms"] > 0
               for d in ("transpose", "pinv", "right_inverse", "untied"))
    assert final["numpy_gflops"] > 0


def test_peers_agree_on_the_subspace():
    config = {**_config("peers"), "n": 600, "d": 20, "k": 3, "steps": 300}
    final, _ = _run("peers", config)
    assert final["scipy_eigh.subspace_distance"] < 1e-12
    assert final["sklearn_pca_full.subspace_distance"] < 1e-12
    assert final["tiedae_tied_gd.subspace_distance"] < 1e-6
    assert final["tiedae_tied_gd.time_to_target"] is not None
    assert np.isfinite(final["tiedae_tied_gd.loss_gap"])
    if "torch_tied_gd.subspace_distance" in final:  # torch is an optional extra
        assert final["torch_tied_gd.subspace_distance"] < 1e-3
