"""`LinearAE` warns (`CenteringWarning`) when data centred twice or a lost `DataMean` make most
of its reconstruction error one constant offset, only on concrete data: jitted code and
`tiedae.fit` trace the model and see no check."""

import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae


@pytest.fixture(scope="module")
def data():
    """Rows with a clear offset (spiked Gaussian + a constant) and the PCA-optimal model."""
    rng = np.random.default_rng(0)
    X = tiedae.data.spiked_covariance(300, 16, k=2, gap=5.0).X + rng.normal(0.0, 3.0, 16)
    mu = X.mean(axis=0)
    model = tiedae.LinearAE(16, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    model.W.set_value(jnp.asarray(np.linalg.svd(X - mu, full_matrices=False)[2][:2]))
    model.mean.set_value(jnp.asarray(mu))
    return X, mu, model


def _centering_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if w.category is tiedae.CenteringWarning]


def test_raw_data_do_not_warn(data):
    X, _, model = data
    _, caught = _centering_warnings(lambda: model(jnp.asarray(X)))
    assert caught == []
    _, caught = _centering_warnings(lambda: model(jnp.asarray(X[:40])))
    assert caught == []


def test_data_centred_twice_warn_and_say_what_to_pass(data):
    X, mu, model = data
    centred = jnp.asarray(X - mu)
    out, caught = _centering_warnings(lambda: model(centred))
    assert len(caught) == 1 and "pass raw data" in caught[0]
    raw_error = float(jnp.mean(jnp.sum((model(jnp.asarray(X)) - X) ** 2, axis=1)))
    twice = float(jnp.mean(jnp.sum((out - centred) ** 2, axis=1)))
    assert twice > 2 * raw_error  # the pitfall is real: the mean went out twice


def test_params_only_restore_warns_that_the_mean_was_lost(data):
    X, _, model = data
    fresh = tiedae.LinearAE(16, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(1))
    nnx.update(fresh, nnx.state(model, nnx.Param))  # the DataMean is not a Param
    _, caught = _centering_warnings(lambda: fresh(jnp.asarray(X)))
    assert len(caught) == 1 and "nnx.state(model)" in caught[0]
    whole = tiedae.LinearAE(16, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(1))
    nnx.update(whole, nnx.state(model))  # the documented way: the whole state
    out, caught = _centering_warnings(lambda: whole(jnp.asarray(X)))
    assert caught == []
    np.testing.assert_array_equal(np.asarray(out), np.asarray(model(jnp.asarray(X))))


def test_jitted_calls_work_and_never_warn(data):
    X, mu, model = data
    centred = jnp.asarray(X - mu)
    call = nnx.jit(lambda m, x: m(x))
    out, caught = _centering_warnings(lambda: call(model, centred))
    assert caught == []
    np.testing.assert_allclose(np.asarray(out), np.asarray(model.decode(model.encode(centred))),
                               rtol=1e-12, atol=1e-12)


def test_a_single_row_and_identical_rows_are_not_checked(data):
    X, mu, model = data
    _, caught = _centering_warnings(lambda: model(jnp.asarray(X[:1] - mu)))
    assert caught == []
    fresh = tiedae.LinearAE(16, 2, rngs=nnx.Rngs(0))  # a shape check on a new model
    _, caught = _centering_warnings(lambda: fresh(jnp.ones((3, 16))))
    assert caught == []


def test_training_without_centring_never_warns(data):
    X, _, _ = data
    model = tiedae.LinearAE(16, 2, rngs=nnx.Rngs(0))
    (model, _), caught = _centering_warnings(
        lambda: tiedae.fit(model, X, optimizer=optax.adam(1e-2), steps=20, center=False))
    assert caught == [] and not bool(jnp.any(model.mean[...] != 0))
