"""Post 000's theorem, the MLP runs' training checks and the step-size selection; the
symmetry / features analyses leave failed runs out (tiedae.bench.suites.mlp_checks,
mlp_training)."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from suite_runs import BY_NAME

from tiedae import MLPAE, pca
from tiedae.bench.records import make_record
from tiedae.bench.suite import Options
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites import mlp_training as mlp
from tiedae.features import affine_r2


def _data(n=400, d=12, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.linspace(3.0, 0.2, d)  # distinct eigenvalues: a unique PCA optimum
    X = rng.standard_normal((n, d)) * scales @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    return X + 5.0  # not centred: the code must carry the mean's offset too


@nnx.jit
def _apply(model, x):
    z = model.encode(x)
    return z, model.decode(z)


def test_linear_decoder_at_the_optimum_has_pcas_code_up_to_an_affine_map():
    """Theorem (symmetry's docstring): a linear decoder at the Eckart-Young optimum has a code
    z = p A + b of PCA's code p, so R^2 (PCA code -> code) = 1; a code that is not affine in
    PCA's gives, with its best (least-squares) linear decoder, an error above PCA's."""
    X = _data()
    Xh = X[:300], X[300:]
    k = 3
    ref = pca.fit(Xh[0], k)
    V, mean = np.asarray(ref.components), np.asarray(ref.mean)
    rng = np.random.default_rng(1)
    A = rng.standard_normal((k, k)) + 3 * np.eye(k)  # invertible
    b = rng.standard_normal(k)
    model = MLPAE(X.shape[1], (k,), decoder="linear", param_dtype=jnp.float64,
                  rngs=nnx.Rngs(0))
    model.encoder_weights[0][...] = jnp.asarray(V.T @ A)  # z = (x - mean) V^T A + b
    model.encoder_biases[0][...] = jnp.asarray(b - mean @ V.T @ A)
    F = np.linalg.solve(A, V)  # A^{-1} V
    model.decoder_weights[0][...] = jnp.asarray(F)
    model.decoder_biases[0][...] = jnp.asarray(mean - b @ F)
    z, out = (np.asarray(a) for a in _apply(model, jnp.asarray(Xh[0])))
    assert z.dtype == np.float64
    error = np.mean(np.sum((out - Xh[0]) ** 2, axis=1))
    np.testing.assert_allclose(error, ref.optimal_loss, rtol=1e-10)  # at the optimum
    p = (Xh[0] - mean) @ V.T
    z_test = np.asarray(_apply(model, jnp.asarray(Xh[1]))[0])
    p_test = (Xh[1] - mean) @ V.T
    assert affine_r2(p, z, p_test, z_test) == pytest.approx(1.0, abs=1e-10)
    # a code that is not an affine image of PCA's cannot reach the optimum with a linear decoder
    bent = p + 0.3 * p**2 / np.abs(p).max(axis=0)
    design = np.c_[bent, np.ones(len(bent))]
    coef = np.linalg.lstsq(design, Xh[0], rcond=None)[0]
    bent_error = np.mean(np.sum((design @ coef - Xh[0]) ** 2, axis=1))
    assert bent_error > ref.optimal_loss * (1 + 1e-3)
    assert affine_r2(p, bent, p_test, p_test + 0.3 * p_test**2 / np.abs(p).max(axis=0)) < 0.999


def test_convergence_rank_dead_units_and_optimum():
    assert mlp_checks.converged(np.r_[np.linspace(2.0, 1.0, 70), np.full(30, 0.995)])
    assert not mlp_checks.converged(np.linspace(2.0, 1.0, 100))  # 20 % of steps: -10 %
    assert not mlp_checks.converged([1.0, 0.9])  # too short to tell
    assert not mlp_checks.converged([np.nan] * 20)
    z = np.random.default_rng(0).standard_normal((50, 3))
    assert mlp_checks.code_rank(z) == 3
    assert mlp_checks.code_rank(z[:, :1] * [[1.0, 2.0, 3.0]]) == 1
    hidden = [np.array([[-1.0, 2.0], [-0.5, -1.0]]), -np.ones((2, 3))]
    assert mlp_checks.dead_units(hidden) == [1, 3]
    assert mlp_checks.reaches_optimum(20.39, 20.0, "linear")
    assert not mlp_checks.reaches_optimum(20.41, 20.0, "linear")
    assert mlp_checks.reaches_optimum(99.0, 20.0, "tied") is None
    good = {"converged": True, "code_rank": 16, "reaches_optimum": True}
    assert mlp_checks.failures({**good, "code_dim": 16}) == []
    assert mlp_checks.failures({**good, "code_dim": 16, "reaches_optimum": False,
                                "converged": False, "code_rank": 4}) == [
        "not converged", "code rank 4 < 16", "misses PCA's training error by > 2 %"]
    # records written before the checks: checked as far as they allow (rank, PCA's error)
    old = {"config": {"code_dim": 16, "decoder": "linear"},
           "final": {"code_rank": 16, "train_error": 20.1, "pca_train_error": 20.0}}
    assert mlp_checks.passed(old)
    assert mlp_checks.record_failures({**old, "final": {**old["final"], "code_rank": 1}}) == [
        "code rank 1 < 16"]
    assert mlp_checks.record_failures({**old, "final": {**old["final"], "train_error": 21.0}}
                                      ) == ["misses PCA's training error by > 2 %"]
    assert mlp_checks.passed({"config": {"code_dim": 16, "decoder": "pca"},
                              "final": {"test_error": 1.0}})  # a reference run


def test_split_rows_and_the_optimizer_take_the_injected_step_size():
    assert mlp.split_rows(8000, 0.1) == (7200, 800)
    assert mlp.split_rows(10, 0.0) == (10, 0)
    with pytest.raises(ValueError, match="validation_fraction"):
        mlp.split_rows(10, 1.0)
    opt = mlp.optimizer(10, 0.2)
    assert opt is mlp.optimizer(10, 0.2)  # one object (one compilation) per setting
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    state.hyperparams["learning_rate"] = jnp.asarray(0.5)
    grads = {"w": jnp.ones(3)}
    for _ in range(2):  # warm-up: step 0 has size 0, step 1 half the peak (2 warm-up steps)
        updates, state = opt.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], -0.25, rtol=1e-3)  # Adam's normalised step: 1


def test_learning_rate_chosen_on_the_validation_error_of_the_selection_seed(monkeypatch):
    trained = []

    def fake(config):
        trained.append((config["seed"], config["learning_rate"]))
        val = {1e-3: 3.0, 3e-3: 1.0, 1e-2: None}[config["learning_rate"]]
        return {"final": {"validation_error": val, "diverged": val is None,
                          "test_error": config["seed"]}, "trajectory": {},
                "extra": {"images": [1, 2, 3], "reconstructions": [1, 2, 3],
                          "image_labels": [1, 2, 3], "image_shape": [2, 2]}}

    monkeypatch.setattr(mlp, "_train", fake)
    mlp.shared_runs.cache_clear()
    try:
        config = {"learning_rates": [1e-3, 3e-3, 1e-2], "lr_seed": 0, "seed": 2, "images": 2,
                  "code_dim": 2, "decoder": "linear"}
        out = mlp.train(config)
        assert out["final"]["learning_rate"] == 3e-3 and out["final"]["test_error"] == 2
        assert out["extra"]["learning_rate_selection"] == {
            "learning_rate_grid": [1e-3, 3e-3, 1e-2], "learning_rate_validation": [3.0, 1.0, None],
            "learning_rate": 3e-3, "learning_rate_seed": 0}
        assert out["extra"]["images"] == [1, 2]  # the run's own number of images
        assert sorted(trained) == [(0, 1e-3), (0, 3e-3), (0, 1e-2), (2, 3e-3)]
        mlp.train({**config, "seed": 0, "images": 0})  # the selection seed: no new training
        assert len(trained) == 4
    finally:
        mlp.shared_runs.cache_clear()


def _record(config, **final):
    return {"run_id": config["run_id"], "config": config, "final": final, "trajectory": {},
            "extra": {}}


def test_analyses_leave_failed_runs_out_and_name_them():
    rng = np.random.default_rng(0)
    recs = []
    for c in BY_NAME["features"].configs(Options(quick=True)):
        if c["decoder"] in ("pca", "pixels"):
            continue
        shift = {"mirror": 0.0, "tied": 0.0, "linear": -0.2}[c["decoder"]]
        score = 0.6 + shift + 0.01 * rng.standard_normal()
        failed = c["decoder"] == "linear" and c["seed"] == 1
        recs.append(_record(c, probe_accuracy=score, knn_accuracy=score, test_error=1.0,
                            code_rank=1 if failed else 2, converged=True,
                            reaches_optimum=None if c["decoder"] != "linear" else not failed))
    analysis = BY_NAME["features"].analyze(recs)
    assert analysis.findings[0].startswith("training checks: 8 of 9 trained runs passed")
    assert "quick-k2-linear-s1 (code rank 1 < 2, misses PCA's training error by > 2 %)" in (
        analysis.findings[1])
    main, paired = analysis.tables
    linear = next(r for r in main.rows if r[1].text == "linear")
    assert [c.text for c in linear[-2:]] == ["2", "1"]  # runs compared, runs left out
    assert all(row[-2].text != "-" for row in paired.rows)  # Holm p-values


def test_transfer_runs_train_on_digits_0_to_4_and_probe_5_to_9():
    from tiedae.bench.suites import features

    assert not any(c.get("transfer") for c in features.configs(Options(quick=True)))
    full = [c for c in features.configs(Options(quick=False)) if c.get("transfer")]
    assert {c["decoder"] for c in full} == {"mirror", "tied", "linear", "pca", "pixels"}
    assert len([c for c in full if c["decoder"] == "linear"]) == features.SEEDS["full"]
    pick = {c["decoder"]: c for c in full}
    config = {**pick["linear"], "steps": 40, "log_every": 4, "learning_rates": [1e-2]}
    y_train = mlp.load(config)[1]
    assert set(np.unique(y_train)) == {0, 1, 2, 3, 4}
    assert set(np.unique(mlp.probe_data(config)[1])) == {5, 6, 7, 8, 9}
    mlp.shared_runs.cache_clear()
    try:
        recs = [make_record("features", c, features.run(c), 0.0)
                for c in (config, pick["pca"], pick["pixels"])]
    finally:
        mlp.shared_runs.cache_clear()
    linear, pca_rec, pixels = (r["final"] for r in recs)
    # the linear decoder cannot beat PCA of the digits it trained on (Eckart-Young)
    ref = mlp.pca_reference(config, 16, fit_rows=True)
    assert linear["pca_train_error"] == pytest.approx(ref.optimal_loss)
    assert linear["train_error"] >= ref.optimal_loss * (1 - 1e-4)
    assert ref.optimal_loss != pytest.approx(mlp.pca_reference(
        {**config, "train_classes": None}, 16, fit_rows=True).optimal_loss)
    for f in (linear, pca_rec, pixels):
        assert 0.2 < f["knn_accuracy"] <= 1.0 and 0.2 < f["probe_accuracy"] <= 1.0
    analysis = BY_NAME["features"].analyze(recs)
    (table,) = [t for t in analysis.tables if t.title.startswith("features transfer: encoders")]
    assert [row[0].text for row in table.rows] == ["linear", "PCA", "raw pixels"]
