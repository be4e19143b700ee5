"""`fit` and the jitted step: the linear-AE theory, reproduced by training (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae import data, decoders, pca
from tiedae.training import TrainState, make_train_step


@pytest.fixture(scope="module")
def spiked():
    ds = data.spiked_covariance(2000, 20, k=3, gap=4.0, seed=0)
    return ds.X, pca.fit(ds.X, 3)


def _model(decoder, seed=0, dtype=jnp.float64, **kw):
    return tiedae.LinearAE(20, 3, decoder=decoder, param_dtype=dtype, rngs=nnx.Rngs(seed), **kw)


def test_transpose_training_finds_orthonormal_rows_and_the_pca_optimum(spiked):
    X, ref = spiked
    model, hist = tiedae.fit(_model("transpose"), X, optimizer=optax.sgd(0.02), steps=3000,
                             reference=ref)
    assert hist["orthonormality"][0] > 0.3  # it did not start orthonormal
    assert hist["loss_gap"][-1] <= 1e-4 * ref.optimal_loss
    assert hist["orthonormality"][-1] < 1e-3
    assert hist["subspace_distance"][-1] < 1e-4
    W = model.encoder_matrix()
    np.testing.assert_allclose(W @ W.T, np.eye(3), atol=1e-3)


@pytest.mark.parametrize("decoder", ["pinv", "right_inverse"])
def test_inverse_tied_models_reach_the_optimum_but_conserve_w_wt(spiked, decoder):
    X, ref = spiked
    runs = {}
    for lr, steps in ((0.02, 1500), (0.005, 6000)):  # same "time" lr * steps
        model = _model(decoder)
        W0 = np.asarray(model.encoder_matrix())
        model, hist = tiedae.fit(model, X, optimizer=optax.sgd(lr), steps=steps, reference=ref)
        W = np.asarray(model.encoder_matrix())
        runs[lr] = np.linalg.norm(W @ W.T - W0 @ W0.T), hist
    drift_big, hist = runs[0.02]
    drift_small, hist_small = runs[0.005]
    assert hist_small["loss_gap"][-1] <= 1e-6 * ref.optimal_loss
    assert hist_small["subspace_distance"][-1] < 1e-8
    # W W^T is conserved by the gradient flow; SGD adds eta^2 G G^T per step, so over the same
    # time the drift shrinks linearly with eta.
    assert 3.0 < drift_big / drift_small < 5.0
    assert abs(hist_small["orthonormality"][-1] - hist_small["orthonormality"][0]) < 0.05
    assert hist_small["orthonormality"][-1] > 0.3


def test_pinv_loss_gradient_is_orthogonal_to_the_rows(spiked):
    X, ref = spiked
    Xc = X - ref.mean
    C = jnp.asarray(Xc.T @ Xc / len(X))
    W = jnp.asarray(np.random.default_rng(3).standard_normal((3, 20)))
    for fn in (decoders.pinv, decoders.right_inverse):
        G = jax.jit(jax.grad(lambda w, fn=fn: pca.reconstruction_loss(w, fn(w), C)))(W)
        assert float(jnp.linalg.norm(G @ W.T)) < 1e-10 * float(jnp.linalg.norm(G))
    G = jax.grad(lambda w: pca.reconstruction_loss(w, w.T, C))(W)
    assert float(jnp.linalg.norm(G @ W.T)) > 1e-2 * float(jnp.linalg.norm(G))


def test_untied_l2_converges_to_the_kunin_closed_form(spiked):
    r"""Kunin et al. (2019), for L = (1/n) sum ||x - V W x||^2 + lam (||W||^2 + ||V||^2).

    In the eigenbasis of C = X_c^T X_c / n a scalar pair (w, v) on eigenvalue e has
    L = e (1 - v w)^2 + lam (w^2 + v^2); at w = v = a the stationarity condition
    -2 e a (1 - a^2) + 2 lam a = 0 gives a^2 = 1 - lam / e. Hence V = W^T = U_k diag(
    sqrt(1 - lam / e_i)) O for an orthogonal O, with e_i the top-k eigenvalues of C.
    """
    X, ref = spiked
    lam = 0.5
    model, _ = tiedae.fit(_model("untied"), X, optimizer=optax.sgd(0.02), steps=4000, l2=lam,
                          batch_size="covariance")
    W, V = np.asarray(model.encoder_matrix()), np.asarray(model.decoder_matrix())
    np.testing.assert_allclose(V, W.T, atol=1e-8)
    expected = np.sqrt(1.0 - lam / ref.eigenvalues[:3])
    np.testing.assert_allclose(np.linalg.svd(V, compute_uv=False), expected, atol=1e-8)
    assert float(tiedae.metrics.subspace_distance(V.T, ref.components)) < 1e-12


def test_covariance_path_gives_the_same_iterates_as_the_full_batch(spiked):
    X, _ = spiked
    Ws = {}
    for bs in (None, "covariance"):
        model, hist = tiedae.fit(_model("untied"), X + 5.0, optimizer=optax.sgd(0.01), steps=300,
                                 batch_size=bs, l2=0.1)
        Ws[bs] = np.asarray(model.encoder_matrix()), np.asarray(model.decoder_matrix())
        assert hist["step"][-1] == 300
    np.testing.assert_allclose(Ws[None][0], Ws["covariance"][0], atol=1e-8, rtol=0)
    np.testing.assert_allclose(Ws[None][1], Ws["covariance"][1], atol=1e-8, rtol=0)


def test_single_step_is_traced_once(spiked):
    X, ref = spiked
    model = _model("pinv")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(1e-2)
    step = make_train_step(graphdef, rest, tx)
    state = TrainState.create(params, tx)
    Xc = jnp.asarray(X - ref.mean)
    for _ in range(6):
        state, logged = step(state, Xc)
    assert step._cache_size() == 1
    assert int(state.step) == 6 and set(logged) == {"loss", "objective"}


@pytest.mark.parametrize("batch_size", [None, 100])
def test_sharded_batch_matches_single_device(spiked, batch_size):
    X, ref = spiked
    assert len(jax.devices()) >= 4
    out = []
    for devices in (None, 4):
        model, hist = tiedae.fit(_model("transpose"), X, optimizer=optax.sgd(0.01), steps=50,
                                 batch_size=batch_size, devices=devices, reference=ref)
        out.append((np.asarray(model.encoder_matrix()), hist["loss"]))
    np.testing.assert_allclose(out[0][0], out[1][0], atol=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)


def test_float32_training_and_minibatches(spiked):
    X, ref = spiked
    model, hist = tiedae.fit(_model("transpose", dtype=jnp.float32), X.astype(np.float32),
                             steps=1500, reference=ref, log_every=100)
    assert model.encoder_matrix().dtype == jnp.float32
    assert all(np.isfinite(v).all() for v in hist.values())
    assert hist["loss_gap"][-1] < 1e-3 * ref.optimal_loss
    assert list(hist["step"][:3]) == [0, 100, 200] and hist["step"][-1] == 1500
    model, hist = tiedae.fit(_model("transpose"), X, batch_size=256, steps=2000, reference=ref,
                             optimizer=optax.sgd(0.01))
    assert hist["subspace_distance"][-1] < 1e-2


def test_divergence_stops_with_the_step_and_keeps_the_last_finite_state(spiked):
    X, _ = spiked
    model = _model("untied")
    with pytest.raises(tiedae.TrainingDiverged, match=r"diverged: .* at step \d+") as info:
        tiedae.fit(model, X * 100.0, optimizer=optax.sgd(1.0), steps=200, log_every=50)
    assert 0 < info.value.step < 200
    assert np.isfinite(np.asarray(model.encoder_matrix())).all()
    assert np.isfinite(np.asarray(model.decoder_matrix())).all()
    assert all(np.isfinite(v).all() for v in info.value.history.values())
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (np.full((10, 20), np.inf), ValueError, "non-finite"),
        (np.ones(20), ValueError, "2-D"),
        (np.ones((4, 5, 20)), ValueError, "2-D"),
        (np.ones((1, 20)), ValueError, "at least 2 samples"),
        (np.ones((10, 19)), ValueError, "d=19 features but the model expects d=20"),
        (np.full((10, 20), "x"), TypeError, "real numbers"),
    ],
)
def test_fit_rejects_bad_data(X, error, match):
    with pytest.raises(error, match=match):
        tiedae.fit(_model("transpose"), X, steps=1)


def test_fit_and_model_reject_bad_arguments(spiked):
    X, ref = spiked
    with pytest.raises(ValueError, match="k must be >= 1"):
        tiedae.LinearAE(5, 0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="k must be <= d"):
        tiedae.LinearAE(5, 6, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unknown decoder"):
        tiedae.LinearAE(5, 2, decoder="inverse", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="batch_size must be in"):
        tiedae.fit(_model("transpose"), X, batch_size=0, steps=1)
    with pytest.raises(ValueError, match="steps must be"):
        tiedae.fit(_model("transpose"), X, steps=-1)
    with pytest.raises(ValueError, match="reference has components"):
        tiedae.fit(_model("transpose"), X, steps=1, reference=pca.fit(X, 2))
    with pytest.raises(ValueError, match="cannot be split evenly"):
        tiedae.fit(_model("transpose"), X[:1999], steps=1, devices=4)
    with pytest.raises(TypeError, match="nnx.Module"):
        tiedae.fit(object(), X, steps=1)


def test_model_shares_one_parameter_when_tied():
    model = tiedae.LinearAE(6, 2, decoder="pinv", use_bias=True, rngs=nnx.Rngs(0))
    names = sorted(path for path, _ in nnx.to_flat_state(nnx.state(model, nnx.Param)))
    assert names == [("W",), ("decoder_bias",), ("encoder_bias",)]
    x = jnp.ones((4, 6))
    grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(model)
    assert grads["W"][...].shape == (2, 6)
    untied = tiedae.LinearAE(6, 2, decoder="untied", rngs=nnx.Rngs(0))
    assert untied.decoder_matrix().shape == (6, 2)
