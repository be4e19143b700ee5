"""The closed-form reconstruction error of a LinearAE (tiedae.linear.closed_form): value and
gradients against autodiff through model(x) and against a numpy reference of the formulas, in
float64 at random (non-orthonormal) W; jit, float32, fit (full batch, minibatches, streamed
rows, rows sharded over 4 devices) using it automatically, fewer FLOPs per step, and the
divergence guard."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.linear import LINEAR_DECODERS, closed_form
from tiedae.training import (
    RowChunks,
    TrainingDiverged,
    TrainState,
    autodiff_reconstruction_error,
    make_train_step,
    reconstruction_error,
)

D, K = 9, 3


def _random_model(decoder, use_bias, seed=0, dtype=jnp.float64, d=D, k=K):
    """A LinearAE at a random point: W with non-orthonormal rows of different lengths, random
    V, biases and a mean that is not the batch's mean."""
    rng = np.random.default_rng(seed)
    model = tiedae.LinearAE(d, k, decoder=decoder, use_bias=use_bias, param_dtype=dtype,
                            rngs=nnx.Rngs(seed))
    W = rng.standard_normal((k, d)) * np.array([0.5, 1.0, 2.0] * k)[:k, None]
    model.W[...] = jnp.asarray(W, dtype)
    if decoder == "untied":
        model.V[...] = jnp.asarray(rng.standard_normal((d, k)), dtype)
    if use_bias:
        model.encoder_bias[...] = jnp.asarray(rng.standard_normal(k), dtype)
        model.decoder_bias[...] = jnp.asarray(rng.standard_normal(d), dtype)
    model.mean[...] = jnp.asarray(rng.standard_normal(d) + 2.0, dtype)
    return model


def _data(n=40, d=D, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return jnp.asarray((rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d) + 2.5)
                       .astype(dtype))


def _value_and_grads(loss_fn, model, x):
    """The loss and its gradients with respect to the parameters, the mean and the data."""
    graphdef, params, mean, rest = nnx.split(model, nnx.Param, tiedae.DataMean, ...)

    def f(params, mean, x):
        return loss_fn(nnx.merge(graphdef, params, mean, rest), x)

    return jax.value_and_grad(f, argnums=(0, 1, 2))(params, mean, x)


def _assert_close(got, want, rtol):
    """Relative agreement leaf by leaf, relative to each leaf's largest entry."""
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=0, atol=rtol * np.max(np.abs(w)))


@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("decoder", LINEAR_DECODERS)
def test_value_and_gradients_equal_autodiff(decoder, use_bias):
    model, x = _random_model(decoder, use_bias), _data()
    got = _value_and_grads(reconstruction_error, model, x)
    want = _value_and_grads(autodiff_reconstruction_error, model, x)
    _assert_close(got, want, 1e-12)
    jitted = jax.jit(lambda x: _value_and_grads(reconstruction_error, model, x))(x)
    _assert_close(jitted, want, 1e-12)


@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("decoder", LINEAR_DECODERS)
def test_float32_agrees_with_autodiff_to_float32_accuracy(decoder, use_bias):
    model, x = _random_model(decoder, use_bias, dtype=jnp.float32), _data(dtype=np.float32)
    got = jax.jit(lambda x: _value_and_grads(reconstruction_error, model, x))(x)
    want = _value_and_grads(autodiff_reconstruction_error, model, x)
    assert jax.tree.leaves(got)[0].dtype == jnp.float32
    _assert_close(got, want, 2e-4)


def test_the_model_method_handles_extra_axes_and_checks_shapes():
    model = _random_model("transpose", True)
    x = _data(n=24).reshape(4, 6, D)  # (n, m, d): the error summed over m and d
    np.testing.assert_allclose(model.reconstruction_error(x),
                               autodiff_reconstruction_error(model, x), rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        model.reconstruction_error(jnp.ones((5, D + 1)))
    with pytest.raises(ValueError, match="shape"):
        model.reconstruction_error(jnp.ones(D))
    W, x = jnp.ones((K, D)), jnp.ones((5, D))
    with pytest.raises(ValueError, match="V must have shape"):
        closed_form.reconstruction_error(W, W, jnp.zeros(D), x)
    with pytest.raises(ValueError, match="x must have shape"):
        closed_form.reconstruction_error(W, W.T, jnp.zeros(D), x.T)
    with pytest.raises(ValueError, match="coefficients"):
        closed_form.reconstruction_error(W, W.T, jnp.zeros(D), x, coefficients=jnp.eye(D))
    with pytest.raises(ValueError, match="not a tied decoder"):
        closed_form.row_space_coefficients("untied", W, W.T)


# ---------------------------------------------------------------------------------------------
# A numpy reference of the module docstring's formulas.


def _stats(W, mu, X):
    Xc = X - mu
    Z = Xc @ W.T
    return Xc, Z, Z.T @ Xc, Z.T @ Z, Xc.sum(0)


def _numpy_free(W, V, c, mu, X):
    """n L and the partial gradients (W, V, c independent) of the docstring, times n."""
    Xc, Z, A, G, s = _stats(W, mu, X)
    n, u, B = len(X), W @ s, (Xc @ V).T @ Xc
    nL = (np.sum(Xc**2) - 2 * np.trace(A @ V) + np.trace(G @ V.T @ V) + n * c @ c
          - 2 * s @ c + 2 * u @ V.T @ c)
    gW = 2 * V.T @ V @ A - 2 * B + 2 * np.outer(V.T @ c, s)
    gV = 2 * V @ G - 2 * A.T + 2 * np.outer(c, u)
    gc = 2 * n * c - 2 * s + 2 * V @ u
    return nL, gW, gV, gc


def _numpy_direct_loss(W, V, c, mu, X):
    R = (X - mu) - (X - mu) @ W.T @ V.T - c
    return np.mean(np.sum(R**2, axis=1))


@pytest.fixture
def point():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((K, D)) * np.array([[0.3], [1.0], [2.5]])
    return W, rng.standard_normal((D, K)), rng.standard_normal(D), rng.standard_normal(D), \
        np.asarray(_data(n=30))


def test_free_decoder_matches_the_numpy_formulas(point):
    W, V, c, mu, X = point
    n = len(X)
    nL, gW, gV, gc = _numpy_free(W, V, c, mu, X)
    np.testing.assert_allclose(nL / n, _numpy_direct_loss(W, V, c, mu, X), rtol=1e-12)

    def loss(W, V, c):
        return closed_form.reconstruction_error(W, V, jnp.asarray(mu), jnp.asarray(X), offset=c)

    value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(W, V, c)
    np.testing.assert_allclose(value, nL / n, rtol=1e-12)
    for got, want in zip(grads, (gW, gV, gc), strict=True):
        np.testing.assert_allclose(got, want / n, rtol=0, atol=1e-12 * np.abs(want / n).max())


def test_transpose_tie_matches_the_numpy_formula(point):
    """dL/dW = (2/n) [G W - 2 A + W W^T A] and L = (1/n)(||Xc||^2 - 2 tr G + tr(G W W^T))."""
    W, _, _, mu, X = point
    Xc, _, A, G, _ = _stats(W, mu, X)
    n = len(X)
    want_loss = (np.sum(Xc**2) - 2 * np.trace(G) + np.trace(G @ W @ W.T)) / n
    want_grad = 2 / n * (G @ W - 2 * A + W @ W.T @ A)
    np.testing.assert_allclose(want_loss, _numpy_direct_loss(W, W.T, 0 * mu, mu, X), rtol=1e-12)

    def loss(W):
        return closed_form.reconstruction_error(W, W.T, jnp.asarray(mu), jnp.asarray(X),
                                                coefficients=jnp.eye(K))

    value, grad = jax.jit(jax.value_and_grad(loss))(jnp.asarray(W))
    np.testing.assert_allclose(value, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-12 * np.abs(want_grad).max())


def test_pinv_tie_matches_the_projector_form(point):
    """L = (1/n)(||Xc||^2 - tr(K^-1 G)), dL/dW = -(2/n) K^-1 (A - G K^-1 W), K = W W^T, whose
    rows are orthogonal to W's."""
    W, _, _, mu, X = point
    Xc, _, A, G, _ = _stats(W, mu, X)
    n, Kinv = len(X), np.linalg.inv(W @ W.T)
    want_loss = (np.sum(Xc**2) - np.trace(Kinv @ G)) / n
    want_grad = -2 / n * Kinv @ (A - G @ Kinv @ W)
    model = tiedae.LinearAE(D, K, decoder="pinv", param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    model.mean[...] = jnp.asarray(mu)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(W):
        only_w = jax.tree.map(lambda _: W, params)  # W is the pinv model's one parameter
        return reconstruction_error(nnx.merge(graphdef, only_w, rest), jnp.asarray(X))

    value, grad = jax.value_and_grad(loss)(jnp.asarray(W))
    np.testing.assert_allclose(value, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-12 * np.abs(want_grad).max())
    assert np.abs(np.asarray(grad) @ W.T).max() < 1e-12 * np.abs(want_grad).max()


# ---------------------------------------------------------------------------------------------
# fit and make_train_step use it.


@pytest.mark.parametrize("batch_size", [None, 10])
@pytest.mark.parametrize("decoder", LINEAR_DECODERS)
def test_fit_gives_the_autodiff_iterates(decoder, batch_size):
    """Training with the closed form (the default) and with autodiff give the same iterates
    (float64, SGD, full batch and reshuffled minibatches, with biases)."""
    X = np.asarray(_data(n=60))
    out = []
    for loss_fn in (None, autodiff_reconstruction_error):
        model = _random_model(decoder, True)
        model, hist = tiedae.fit(model, X, optimizer=optax.sgd(1e-3), steps=20, log_every=5,
                                 batch_size=batch_size, loss_fn=loss_fn, seed=2)
        out.append((nnx.state(model, nnx.Param), hist["loss"]))
    _assert_close(out[0][0], out[1][0], 1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)


@pytest.mark.parametrize("decoder", ["transpose", "untied"])
def test_rows_sharded_over_four_devices_give_the_single_device_iterates(decoder):
    X = np.asarray(_data(n=64))
    out = []
    for devices in (None, 4):
        model, hist = tiedae.fit(_random_model(decoder, True), X, optimizer=optax.sgd(1e-3),
                                 steps=10, log_every=5, devices=devices)
        out.append((nnx.state(model, nnx.Param), hist["loss"]))
    _assert_close(out[0][0], out[1][0], 1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12)


@pytest.mark.parametrize("data", ["full", "minibatch", "rows"])
def test_fit_calls_the_closed_form_automatically(monkeypatch, data):
    calls = []
    original = closed_form.reconstruction_error

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(closed_form, "reconstruction_error", counting)
    d = {"full": 11, "minibatch": 13, "rows": 15}[data]  # shapes no other test compiles
    X = np.asarray(_data(n=40, d=d))
    source = {"full": X, "minibatch": tiedae.training.Minibatches(X, 8),
              "rows": RowChunks(X, 8)}[data]
    model = tiedae.LinearAE(d, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    tiedae.fit(model, source, optimizer=optax.sgd(1e-3), steps=3,
               center=data != "rows")
    assert calls  # traced into the compiled step


@pytest.mark.parametrize("decoder", LINEAR_DECODERS)
def test_the_compiled_step_does_fewer_flops(decoder):
    """make_train_step's default loss compiles to about 4 n d k FLOPs (8 n d k untied) where
    autodiff needs 10 n d k (XLA's own count)."""
    n, d, k = 256, 128, 8  # d near n: a stray (d, d) product would add 2d/n = 1 n d k
    model = tiedae.LinearAE(d, k, decoder=decoder, rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.sgd(1e-3)
    state, X = TrainState.create(params, tx), _data(n=n, d=d, dtype=np.float32)
    flops = {}
    for name, loss_fn in (("closed", reconstruction_error),
                          ("autodiff", autodiff_reconstruction_error)):
        compiled = make_train_step(graphdef, rest, tx, loss_fn=loss_fn).lower(state, X).compile()
        cost = compiled.cost_analysis()
        flops[name] = (cost[0] if isinstance(cost, list) else cost)["flops"] / (n * d * k)
    assert flops["autodiff"] > 9.5
    nominal = closed_form.step_flops(n, d, k, free_decoder=decoder == "untied") / (n * d * k)
    # + O(n d) sums and O(d k^2) terms at this small k (pinv also guards its SVD against inf)
    assert flops["closed"] < nominal + 1.5
    assert flops["closed"] < flops["autodiff"] * (0.9 if decoder == "untied" else 0.6)


def test_the_divergence_guard_still_sees_nan():
    model = _random_model("transpose", False)
    model.W[...] = model.W[...].at[0, 0].set(jnp.nan)
    value, grads = _value_and_grads(reconstruction_error, model, _data())
    assert np.isnan(value) and np.isnan(np.asarray(grads[0]["W"][...])).all()
    X = np.asarray(_data(n=60)) * 1e3
    with pytest.raises(TrainingDiverged):
        tiedae.fit(_random_model("transpose", False), X, optimizer=optax.sgd(10.0), steps=50)
