"""MLPAE: shapes, tied sharing, the linear decoder, widths, and training through fit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae import MLPAE
from tiedae.bench.suite import first_step_at_or_below
from tiedae.nonlinear.layers import count_params


@pytest.mark.parametrize("decoder", ["mirror", "tied", "linear", (7, 5)])
def test_shapes(decoder):
    model = MLPAE(12, (10, 6, 3), decoder=decoder, rngs=nnx.Rngs(0))
    x = jnp.ones((4, 12), jnp.float32)
    assert model.encode(x).shape == (4, 3)
    assert model.decode(jnp.ones((4, 3), jnp.float32)).shape == (4, 12)
    assert model(x).shape == (4, 12)
    assert model.decoder_widths[-1] == 12


def test_mirror_widths_and_multiplier():
    assert MLPAE(20, (16, 8, 2), rngs=nnx.Rngs(0)).decoder_widths == (8, 16, 20)
    half = MLPAE(20, (16, 8, 2), decoder_width_multiplier=0.5, rngs=nnx.Rngs(0))
    double = MLPAE(20, (16, 8, 2), decoder_width_multiplier=2.0, rngs=nnx.Rngs(0))
    assert half.decoder_widths == (4, 8, 20)
    assert double.decoder_widths == (16, 32, 20)


def test_tied_parameter_count_and_identity():
    d, widths = 12, (10, 6, 3)
    mirror = MLPAE(d, widths, decoder="mirror", rngs=nnx.Rngs(0))
    tied = MLPAE(d, widths, decoder="tied", rngs=nnx.Rngs(0))
    enc = 12 * 10 + 10 + 10 * 6 + 6 + 6 * 3 + 3
    dec_biases = 6 + 10 + 12
    assert count_params(tied) == enc + dec_biases
    assert count_params(mirror) == enc + 3 * 6 + 6 * 10 + 10 * 12 + dec_biases
    assert len(tied.weight_matrices()) == 3
    # the decoder's matrices are the encoder's own Params read transposed
    for W_dec, W_enc in zip(tied._decoder_matrices(), reversed(tied.encoder_weights),
                            strict=True):
        assert W_dec.shape == W_enc[...].T.shape
        np.testing.assert_array_equal(W_dec, W_enc[...].T)


def test_tied_gradient_step_moves_encoder_and_decoder_together():
    model = MLPAE(8, (6, 2), decoder="tied", activation="tanh", rngs=nnx.Rngs(1))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(16, 8)), jnp.float32)

    def loss(m, x):
        return jnp.mean(jnp.sum((m(x) - x) ** 2, axis=1))

    def decoder_only(m, x):  # gradient through the decoder path alone
        z = jax.lax.stop_gradient(m.encode(x))
        return jnp.mean(jnp.sum((m.decode(z) - x) ** 2, axis=1))

    g_dec = nnx.jit(nnx.grad(decoder_only))(model, x)
    assert float(jnp.abs(g_dec["encoder_weights"][0][...]).max()) > 0  # decoder uses W_1^T
    opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    W_before = model.encoder_weights[0][...]
    dec_before = model._decoder_matrices()[-1]
    nnx.jit(lambda m, o: o.update(m, nnx.grad(loss)(m, x)))(model, opt)
    W_after = model.encoder_weights[0][...]
    assert not np.allclose(W_before, W_after)
    np.testing.assert_array_equal(model._decoder_matrices()[-1], W_after.T)
    assert not np.allclose(dec_before, model._decoder_matrices()[-1])


def test_linear_decoder_has_exactly_one_weight_matrix():
    model = MLPAE(12, (10, 6, 3), decoder="linear", rngs=nnx.Rngs(0))
    assert len(model.decoder_weights) == 1
    assert model.decoder_weights[0][...].shape == (3, 12)
    assert model.decoder_widths == (12,)
    # the decoder is affine in the code: decode(a z1 + b z2) = a dec(z1) + b dec(z2) + (1-a-b) c
    z1, z2 = jnp.ones((1, 3)), jnp.arange(3.0)[None, :]
    c = model.decode(jnp.zeros((1, 3)))
    lhs = model.decode(2.0 * z1 - 3.0 * z2)
    np.testing.assert_allclose(lhs, 2.0 * model.decode(z1) - 3.0 * model.decode(z2) + 2.0 * c,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tie", ["tied", "linear"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_shallow_model_is_the_formula_with_and_without_biases(tie, use_bias):
    """MLPAE(d, (k,), code_activation=s): x_hat = s(x W + b) W^T + c (tied) or s(x W + b) V + c;
    use_bias=False: no b, no c, and no bias parameters at all."""
    d, k = 7, 3
    model = MLPAE(d, (k,), code_activation="sigmoid", decoder=tie, use_bias=use_bias,
                  rngs=nnx.Rngs(2))
    rng = np.random.default_rng(0)
    if use_bias:  # nonzero biases, so that a dropped one would show
        model.encoder_biases[0][...] = jnp.asarray(rng.standard_normal(k), jnp.float32)
        model.decoder_biases[0][...] = jnp.asarray(rng.standard_normal(d), jnp.float32)
    x = rng.standard_normal((5, d))
    W = np.asarray(model.encoder_weights[0][...], np.float64)
    V = W.T if tie == "tied" else np.asarray(model.decoder_weights[0][...], np.float64)
    b = np.asarray(model.encoder_biases[0][...], np.float64) if use_bias else 0.0
    c = np.asarray(model.decoder_biases[0][...], np.float64) if use_bias else 0.0
    expected = (1 / (1 + np.exp(-(x @ W + b)))) @ V + c
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(x, jnp.float32))), expected,
                               rtol=1e-5, atol=1e-5)
    n_weights = d * k * (1 if tie == "tied" else 2)
    assert count_params(model) == n_weights + (k + d if use_bias else 0)
    assert len(model.encoder_biases) == len(model.decoder_biases) == (1 if use_bias else 0)


def test_code_activation_defaults_to_a_linear_code():
    model = MLPAE(6, (4, 2), activation="tanh", rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(1).standard_normal((3, 6)), jnp.float32)
    W1, W2 = (np.asarray(W[...], np.float64) for W in model.encoder_weights)
    np.testing.assert_allclose(np.asarray(model.encode(x)), np.tanh(np.asarray(x) @ W1) @ W2,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="code_activation"):
        MLPAE(6, (2,), code_activation="swishy", rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="use_bias"):
        MLPAE(6, (2,), use_bias="no", rngs=nnx.Rngs(0))


def test_bad_inputs():
    with pytest.raises(ValueError, match="decoder"):
        MLPAE(8, (4, 2), decoder="inverse", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="multiplier"):
        MLPAE(8, (4, 2), decoder="tied", decoder_width_multiplier=2.0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="activation"):
        MLPAE(8, (4, 2), activation="swishy", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="encoder_widths"):
        MLPAE(8, (4, 0), rngs=nnx.Rngs(0))
    model = MLPAE(8, (4, 2), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="shape"):
        model(jnp.ones((3, 7)))


def test_minibatch_fit_reduces_loss_and_logs_held_out_sets():
    X = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    model = MLPAE(6, (8, 3), decoder="tied", rngs=nnx.Rngs(0))
    model, hist = tiedae.fit(model, X, batch_size=16, optimizer=optax.adam(1e-2), steps=60,
                             log_every=20, eval_data={"train": X, "test": X[:16]})
    assert list(hist["step"]) == [0, 20, 40, 60]
    assert hist["train_loss"][-1] < 0.8 * hist["train_loss"][0]
    assert len(hist["test_loss"]) == 4
    assert first_step_at_or_below(hist["step"], hist["train_loss"],
                                  hist["train_loss"][0] + 1.0) == 0.0
    assert first_step_at_or_below(hist["step"], hist["train_loss"], -1.0) == float("inf")
    np.testing.assert_allclose(  # the model was updated in place
        float(jnp.mean(jnp.sum((model(jnp.asarray(X)) - X) ** 2, axis=1))),
        hist["train_loss"][-1], rtol=1e-4)


def test_fit_rejects_non_finite_data_and_held_out_data_up_front():
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    bad = X.copy()
    bad[3, 1] = np.nan
    model = MLPAE(4, (3, 2), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"^X contains 1 non-finite"):
        tiedae.fit(model, bad, batch_size=4, steps=2)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"eval_data\['test'\] contains 1 non-finite"):
        tiedae.fit(model, X, steps=2, eval_data={"test": bad})
    images = np.zeros((2, 3, 3, 1), np.float32)
    images[1, 2, 0, 0] = -np.inf  # (n, ...) data are checked too
    conv = tiedae.ConvAE((3, 3, 1), (2,), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"^X contains 1 non-finite"):
        tiedae.fit(conv, images, steps=2)
    with pytest.raises(ValueError, match="at least 1 samples"):
        tiedae.fit(model, X, steps=2, eval_data=np.zeros((0, 4)))


def test_fit_trains_mlpae():
    X = np.random.default_rng(1).normal(size=(48, 5)).astype(np.float32)
    model = MLPAE(5, (4, 2), decoder="linear", rngs=nnx.Rngs(0))
    model, hist = tiedae.fit(model, X, steps=30, center=False)
    assert np.isfinite(hist["loss"]).all()
