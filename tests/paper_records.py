"""A tiny, complete results set for testing the paper generator without running the suites.

Configurations come from each suite's own `configs(Options(quick=True))` (so run ids and config
keys are the real ones); the outputs are small synthetic numbers with exactly the keys each
suite's `run` returns. The generator is tested on the real results by
`test_committed_results_regenerate` when `paper/results/` holds them.
"""

from __future__ import annotations

import importlib

import numpy as np

from tiedae.bench.records import ResultStore, make_record
from tiedae.bench.suite import Options

STEPS = np.arange(0, 101, 10)


def _decay(start, end):
    return np.geomspace(start, end, STEPS.size)


def _decoders(cfg, rng):
    ortho_end = 1e-7 if cfg["decoder"] == "transpose" else 1.3
    traj = {"step": STEPS, "wall_time": STEPS * 1e-3, "loss_gap": _decay(10.0, 1e-6),
            "orthonormality": _decay(1.5, ortho_end), "subspace_distance": _decay(0.9, 1e-12),
            "condition_number": _decay(1.4, 1.0)}
    k = cfg["k"]
    sv_steps = STEPS[::5]
    sv_end = np.ones(k) if cfg["decoder"] == "transpose" else np.linspace(0.4, 0.6, k)
    sv = np.linspace(np.linspace(0.4, 0.6, k), sv_end, sv_steps.size)
    reached = None if cfg["decoder"] == "untied" else 50.0 + rng.integers(0, 3) * 10
    final = {"orthonormality_start": 1.5, "orthonormality": ortho_end,
             "loss_gap": 1e-6, "relative_loss_gap": 1e-7, "subspace_distance": 1e-12,
             "condition_number": 1.0, "steps_to_subspace_1e-3": reached,
             "seconds_to_subspace_1e-3": None if reached is None else reached * 1e-3,
             "ms_per_step": 0.5, "sv_min_start": 0.4, "sv_max_start": 0.6,
             "sv_min": float(sv_end.min()), "sv_max": float(sv_end.max())}
    return {"final": final, "trajectory": traj,
            "extra": {"eigenvalues_top": [5.0, 4.0, 3.0, 2.0, 1.0], "optimal_loss": 10.0,
                      "v0_scale": 1.0, "n": 100, "d": 64, "sv_step": sv_steps,
                      "singular_values": sv}}


def _conservation(cfg, rng):
    if cfg["kind"] == "drift":
        eta = np.geomspace(1e-5, 1e-2, cfg["n_etas"])
        p = 1.0 if cfg["optimizer"] == "adam" else 2.0
        drift = eta**p * (1 + 0.01 * rng.standard_normal(eta.size))
        local = np.diff(np.log(drift)) / np.diff(np.log(eta))
        start = 1.5 if cfg["init"] == "below" else 7.0
        end = start - 0.1 if cfg["init"] == "below" else start + 0.1
        return {"final": {"drift_slope_small_eta": p + 0.01 * rng.standard_normal(),
                          "drift_slope_all": p + 0.05, "drift_at_smallest_eta": drift[0],
                          "drift_at_largest_eta": drift[-1],
                          "trace_change_at_largest_eta": 0.1,
                          "orthonormality_change_at_largest_eta": end - start,
                          "sv_min_start": 0.4 if cfg["init"] == "below" else 1.3,
                          "sv_max_start": 0.7 if cfg["init"] == "below" else 2.6,
                          "trained_orthonormality_start": start,
                          "trained_orthonormality": end + 0.01 * rng.standard_normal(),
                          "trained_trace_change": 0.2, "trained_relative_loss_gap": 1e-8},
                "trajectory": {}, "extra": {"eta": eta, "drift": drift, "local_slopes": local,
                                            "lambda1": 5.0, "trace_change": drift}}
    lam = cfg["lambda_over_lambda1"] * 5.0
    eta = cfg["lr_times_lambda1"] / 5.0
    norms = 2.0 * np.exp(-4 * lam * eta * STEPS)
    final = {"D_start": norms[0], "D_end": norms[-1]}
    if lam > 0:
        final.update(rate_per_time=4 * lam, theory_rate=4 * lam, discrete_theory_rate=4 * lam,
                     rate_ratio=1.0 + 0.01 * rng.standard_normal())
    else:
        final.update(max_relative_change=1e-3)
    return {"final": final, "trajectory": {"step": STEPS, "D_norm": norms},
            "extra": {"lambda": lam, "eta": eta, "lambda1": 5.0}}


def _regularized(cfg, rng):
    if cfg["kind"] == "l2":
        e = np.array([5.0, 4.0, 3.0, 2.0])
        lam = cfg["lambda_over_lambda1"] * e[0]
        theory = np.sqrt(np.clip(1 - lam / e, 0, None))
        return {"final": {"max_sv_error": 1e-6, "max_sv_error_if_constant_were_n_e": 0.3,
                          "V_minus_W_T": 1e-6, "n_alive": int((theory > 0).sum()),
                          "subspace_distance_alive": 1e-12},
                "trajectory": {"step": STEPS, "objective": _decay(10, 1),
                               "V_minus_W_T": _decay(1.0, 1e-12),
                               "sv_error": _decay(0.5, 1e-13)},
                "extra": {"singular_values": theory + 1e-6, "theory": theory, "eigenvalues": e,
                          "lambda": lam}}
    return {"final": {"tied_gradient_eta_max_times_e1": 0.5, "tied_gradient_local_theory": 0.5,
                      "oja_eta_max_times_e1": 1.0, "oja_local_theory": 1.0,
                      "ratio_oja_over_gradient": 2.0, "gd_eta_max_times_e1": 0.25,
                      "gd_local_theory": 0.25}, "trajectory": {}, "extra": {}}


def _exact_pcs(cfg, rng):
    reached = cfg["method"] != "plain"
    stop = 40 + 10 * int(rng.integers(0, 3)) if reached else 100
    steps = STEPS[STEPS <= stop]
    traj = {"step": steps, "wall_time": steps * 1e-3, "loss": _decay(10, 1)[: steps.size],
            "axis_distance": np.linspace(0.9, 0.29 if reached else 0.5, steps.size),
            "axis_alignment": np.linspace(0.1, 0.9, steps.size),
            "subspace_distance": _decay(0.9, 1e-9)[: steps.size]}
    return {"final": {f"iterations_to_axis_{cfg['target']}": float(stop) if reached else None,
                      "seconds_to_axis_target": stop * 1e-3 if reached else None,
                      "iterations_to_subspace_1e-3": 60.0, "iterations_run": float(stop),
                      "axis_distance": traj["axis_distance"][-1], "axis_alignment": 0.9,
                      "subspace_distance": 1e-9, "lr": cfg["lr"]},
            "trajectory": traj, "extra": {"top_eigenvalues": [10.0, 9.0, 8.0],
                                          "mean_sq_over_e1": 0.01}}


def _optimal_decoder(cfg, rng):
    final = {}
    encs = ("random", "random_orthonormal", "pca_optimum", "pca_subspace_skewed",
            "pinv_trained_10", "pinv_trained_100", "transpose_trained_10", "transpose_trained_100")
    for enc in encs:
        exact = enc.startswith("pca")
        for dec, gap in (("least_squares", 0.2), ("pinv", 0.3), ("transpose", 0.4)):
            noisy = gap + 0.01 * rng.standard_normal()
            final[f"{enc}.{dec}_gap"] = 1e-17 if exact and dec != "transpose" else noisy
        final[f"{enc}.invariance"] = 1e-16 if exact else 0.2
        final[f"{enc}.orthonormality"] = 0.5
    return {"final": final, "trajectory": {}, "extra": {"optimal_loss": 10.0, "n": 100, "d": 64}}


def _step_cost(cfg, rng):
    final = {"numpy_gflops": 50.0, "numpy_one_blas_thread_faster": False}
    for dec, ratio in (("transpose", 1.0), ("pinv", 1.5), ("right_inverse", 1.2), ("untied", 1.1)):
        final.update({f"{dec}_ms": ratio, f"{dec}_ratio": ratio, f"{dec}_gflops": 40 / ratio,
                      f"{dec}_vs_numpy": 0.8 / ratio, f"{dec}_autodiff_ms": 2 * ratio,
                      f"{dec}_autodiff_vs_numpy": 0.4, f"{dec}_closed_form_speedup": 2.0})
        if dec != "transpose":
            final.update({f"{dec}_ratio_median": ratio, f"{dec}_verdict": "higher",
                          f"{dec}_diff_ms": ratio - 1, f"{dec}_diff_ms_lo": 0.1,
                          f"{dec}_diff_ms_hi": ratio})
    for dec in ("pinv", "right_inverse"):
        final[f"{dec}_default_pool_ratio"] = 2.0
    own = np.random.default_rng(cfg.get("k", 0))  # the shared rng's draws stay as they were
    noise = 1 + 0.02 * own.standard_normal(cfg.get("repeats", 5))  # the load of each round
    rounds = {dec: list(final[f"{dec}_ms"] * noise * (1 + 0.01 * own.standard_normal(len(noise))))
              for dec in ("transpose", "pinv", "right_inverse", "untied")}
    return {"final": final, "trajectory": {},
            "extra": {"flops_per_step": {"transpose": 1e9}, "rounds_ms": rounds}}


PEERS = ("scipy_eigh", "sklearn_pca_full", "sklearn_pca_randomized", "sklearn_incremental_pca",
         "oja_minibatch", "tiedae_tied_gd", "tiedae_tied_gd_covariance", "tiedae_untied_rag")


def _peers(cfg, rng):
    final = {}
    for i, m in enumerate(PEERS):
        t = 0.01 * (i + 1) * (1 + 0.05 * rng.standard_normal())
        final.update({f"{m}.time_to_target": None if m == "oja_minibatch" else t,
                      f"{m}.total_time": 2 * t, f"{m}.subspace_distance": 1e-6,
                      f"{m}.loss_gap": 1e-8})
    return {"final": final, "trajectory": {}, "extra": {"methods": list(PEERS)}}


def _mlp_run(cfg, rng, err):
    """A trained run of `tiedae.bench.suites.mlp_training`: errors, code scores, curves, codes."""
    pca_err = 3.1
    final = {"test_error": err, "train_error": err - 0.1, "test_error_relative": err / 20,
             "pca_test_error": pca_err, "pca_train_error": 3.0, "probe_accuracy":
             0.6 + 0.01 * rng.standard_normal(), "knn_accuracy": 0.65 + 0.01 *
             rng.standard_normal(), "code_r2_pixels": 0.7 + 0.01 * rng.standard_normal(),
             "code_r2_pca": 0.5 + 0.01 * rng.standard_normal(),
             "steps_to_pca_k": None if cfg["seed"] == 1 else
             200.0 + 5 * cfg["seed"], "seconds_to_pca_k": None if cfg["seed"] == 1 else
             2.0 + 0.1 * cfg["seed"], "ms_per_step": 5.0, "late_test_change": -0.001,
             "params_total": 20000, "params_encoder": 9000, "params_decoder": 11000,
             "code_collapsed": False, "code_active_dims": cfg["code_dim"],
             "code_rank": cfg["code_dim"]}
    extra = {"decoder_widths": [25, 100], "thresholds": {"pca_k": 3.0, "pca_2k": 2.2}}
    if cfg["code_dim"] == 2:
        extra.update(codes_2d=rng.standard_normal((30, 2)).round(4).tolist(),
                     labels=(np.arange(30) % 10).tolist())
    if cfg.get("images"):
        pics = rng.uniform(size=(cfg["images"], 64)).round(2).tolist()
        extra.update(image_shape=[8, 8], image_labels=list(range(cfg["images"])), images=pics,
                     reconstructions=pics)
    return {"final": final, "trajectory": {"step": STEPS, "wall_time": STEPS,
                                           "train_loss": _decay(20, err),
                                           "test_loss": _decay(20, err + 0.2)},
            "extra": extra}


def _pca_run(cfg, rng):
    final = {"test_error": 3.1, "train_error": 3.0, "probe_accuracy": 0.55,
             "knn_accuracy": 0.6}
    extra = {}
    if cfg["code_dim"] == 2:
        extra.update(codes_2d=rng.standard_normal((30, 2)).round(4).tolist(),
                     labels=(np.arange(30) % 10).tolist())
    if cfg.get("images"):
        pics = rng.uniform(size=(cfg["images"], 64)).round(2).tolist()
        extra.update(image_shape=[8, 8], image_labels=list(range(cfg["images"])), images=pics,
                     reconstructions=pics)
    return {"final": final, "trajectory": {}, "extra": extra}


def _symmetry(cfg, rng):
    if cfg["kind"] == "pca":
        return _pca_run(cfg, rng)
    err = {"tied": 2.0, "linear": 2.5}.get(cfg["variant"], 1.8) + 0.01 * rng.standard_normal()
    return _mlp_run(cfg, rng, err)


def _features(cfg, rng):
    if cfg["decoder"] == "pca":
        return _pca_run(cfg, rng)
    if cfg["decoder"] == "pixels":
        return {"final": {"probe_accuracy": 0.9, "knn_accuracy": 0.95}, "trajectory": {},
                "extra": {}}
    err = {"tied": 2.0, "linear": 2.5}.get(cfg["decoder"], 1.8) + 0.01 * rng.standard_normal()
    return _mlp_run(cfg, rng, err)


def _conv(cfg, rng):
    boost = 2.0 if cfg["model"].startswith("transposed_conv") else 1.0
    final = {"params": 5000, "test_error": 1.0 + 0.1 * boost + 0.01 * rng.standard_normal(),
             "train_error": 0.9, "validation_error": 0.95, "checker_noise_p2": 3 / 63,
             "checker_noise_p4": 15 / 63, "converged": True, "diverged": False,
             "learning_rate": cfg["learning_rates"][0]}
    for m in ("input", "out_init", "out", "grad"):
        for p in (2, 4):
            final[f"checker_{m}_p{p}"] = 0.01 * p * boost * (1 + 0.05 * rng.random())
    extra = {"image_shape": [8, 8, 1]}
    if cfg["seed"] == cfg["first_seed"]:
        extra.update({key: rng.random((4, 8, 8)).round(3).tolist()
                      for key in ("images_input", "images_init", "images_trained")})
    return {"final": final, "trajectory": {"step": STEPS, "train_loss": _decay(5, 1),
                                           "validation_loss": _decay(5, 1),
                                           "test_loss": _decay(5, 1)},
            "extra": extra}


def _conv_capacity(cfg, rng):
    bigger = cfg["variant"] != "baseline"
    final = {"test_error": 40.0 - 2.0 * bigger + 0.1 * rng.standard_normal(),
             "train_error": 35.0 - 2.0 * bigger, "params": 3000 + 1000 * bigger,
             "encoder_params": 1500, "decoder_params": 1500 + 1000 * bigger,
             "decoder_layers": 5, "seconds_per_step": 0.1}
    return {"final": final, "trajectory": {"step": STEPS, "loss": _decay(90, 40),
                                           "eval_loss": _decay(90, 40 - 2.0 * bigger)},
            "extra": {}}


def _graph(cfg, rng):
    auc = {"inner_product": 0.86, "mlp": 0.83, "mirrored_gcn": 0.81}[cfg["decoder"]]
    auc += 0.01 * rng.standard_normal()
    epochs = list(range(0, cfg["epochs"] + 1, cfg["eval_every"]))
    final = {"test_auc": auc, "test_ap": auc + 0.03, "val_auc": auc, "val_ap": auc + 0.03,
             "selected_epoch": epochs[-3], "selected_val_auc": auc + 0.01,
             "selected_test_auc": auc + 0.005, "selected_test_ap": auc + 0.035,
             "train_loss": 0.4 if cfg["decoder"] == "inner_product" else 0.01,
             "params": 1000, "nodes": sum(cfg.get("blocks") or [2708]), "edges": 1280,
             "test_edges": 128, "val_edges": 64}
    if cfg.get("graph") == "sbm":
        final.update(block_score_auc=0.78 + 0.01 * cfg["seed"], block_score_ap=0.72,
                     node_probe_accuracy=0.98)
    curve = np.linspace(0.6, auc, len(epochs)).tolist()
    return {"final": final, "trajectory": {"epoch": epochs,
                                           "loss": np.geomspace(0.7, 0.4, len(epochs)).tolist(),
                                           "val_auc": curve, "val_ap": curve,
                                           "test_auc": curve, "test_ap": curve}, "extra": {}}


def _decoder_speed(cfg, rng):
    steps = 40 * (1 if cfg["decoder"] == "pinv" else 2) + int(rng.integers(0, 5)) * 5
    return {"final": {"steps_to_target": steps, "seconds_to_target": steps * 1e-3,
                      "diverged": False, "learning_rate": 0.01, "lambda_1": 10.0,
                      "sv_min_start": 0.4, "sv_max_start": 0.6, "subspace_distance": 9e-4,
                      "orthonormality": 0.5},
            "trajectory": {"step": [0, steps], "subspace_distance": [1.0, 9e-4]}, "extra": {}}


def _nonlinear_tying(cfg, rng):
    worse = cfg["activation"] == "sigmoid" and cfg["tie"] == "tied"
    ratio = (1.3 if worse else 1.01) + 0.005 * rng.standard_normal()
    ortho = 0.02 if cfg["tie"] == "tied" and cfg["activation"] != "sigmoid" else 0.8
    k = cfg["code_dim"]
    learnt = [10.0 * (i + 1) for i in range(k)]
    final = {"train_error": 30.0 * ratio, "validation_error": 31.0 * ratio,
             "test_error": 31.0 * ratio, "pca_train_error": 30.0, "pca_test_error": 31.0,
             "train_ratio": ratio, "test_ratio": ratio, "code_rank": k, "dead_units": 0,
             "dead_fraction": 0.0, "diverged": False, "converged": True,
             "reaches_optimum": True if cfg["activation"] == "identity" else None,
             "orthonormality": ortho, "sv_min": 0.9, "sv_median": 1.0, "sv_max": 1.1,
             "sv_ratio": 1.2, "orthonormality_start": 1.0, "sv_min_start": 0.5, "sv_max_start": 1.5,
             "pcs_learnt": k, "sequential_rho": 0.8 + 0.05 * rng.standard_normal(),
             "late_validation_change": -0.001, "code_full_rank": True, "passed_checks": True,
             "learning_rate": 0.01, "learning_rate_at_grid_end": False}
    traj = {"step": STEPS, "wall_time": STEPS * 1e-3, "train_loss": _decay(60, 30 * ratio),
            "validation_loss": _decay(60, 31 * ratio), "test_loss": _decay(60, 31 * ratio),
            "orthonormality": _decay(1.0, ortho), "sv_min": _decay(0.5, 0.9),
            "sv_median": _decay(0.7, 1.0), "sv_max": _decay(1.5, 1.1)}
    return {"final": final, "trajectory": traj,
            "extra": {"learn_steps": learnt, "capture_steps": STEPS, "capture_final": [1.0] * k,
                      "capture": [[1.0] * k for _ in STEPS]}}


FAKE_RUNS = {"decoders": _decoders, "decoder-speed": _decoder_speed,
             "nonlinear-tying": _nonlinear_tying,
             "conservation": _conservation, "regularized": _regularized,
             "exact-pcs": _exact_pcs, "optimal-decoder": _optimal_decoder,
             "step-cost": _step_cost, "peers": _peers, "symmetry": _symmetry,
             "features": _features, "conv-decoders": _conv, "conv-capacity": _conv_capacity,
             "graph": _graph}


def suite_module(name: str):
    return importlib.import_module(f"tiedae.bench.suites.{name.replace('-', '_')}")


def write_tiny_results(out_dir, suites=None, max_runs: int = 40) -> None:
    """Writes `<suite>.jsonl` for every suite (or `suites`) with synthetic outputs."""
    rng = np.random.default_rng(0)
    for name in suites or FAKE_RUNS:
        configs = suite_module(name).SUITE.configs(Options(quick=True))[:max_runs]
        store = ResultStore(out_dir, name)
        for cfg in configs:
            store.append(make_record(name, cfg, FAKE_RUNS[name](cfg, rng), 0.01))
