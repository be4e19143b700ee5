"""ConvAE: shapes, the tied decoder as the exact adjoint, bilinear upsampling, and the
checkerboard measure."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.nonlinear.conv import (
    ConvAE,
    bilinear_upsample,
    checkerboard_energy,
    conv2d,
    conv2d_adjoint,
    input_gradient,
    zero_insert,
)
from tiedae.nonlinear.layers import count_params


@pytest.mark.parametrize("decoder", ["transposed_conv", "upsample_conv", "tied",
                                     "bilinear_conv"])
@pytest.mark.parametrize("kernel_size", [3, 4])
def test_shapes_images_and_flat(decoder, kernel_size):
    model = ConvAE((8, 8, 1), (3, 5), kernel_size=kernel_size, decoder=decoder,
                   rngs=nnx.Rngs(0))
    x = jnp.ones((2, 8, 8, 1), jnp.float32)
    assert model.code_shape == (2, 2, 5)
    assert model.encode(x).shape == (2, 2, 2, 5)
    assert model(x).shape == (2, 8, 8, 1)
    assert model(x.reshape(2, 64)).shape == (2, 64)
    np.testing.assert_allclose(model(x.reshape(2, 64)), model(x).reshape(2, 64), rtol=1e-6)


@pytest.mark.parametrize("decoder", ["transposed_conv", "bilinear_conv"])
def test_uneven_image_size_is_cropped_back(decoder):
    model = ConvAE((7, 9, 2), (4,), kernel_size=3, stride=2, decoder=decoder,
                   rngs=nnx.Rngs(0))
    assert model.code_shape == (4, 5, 4)
    assert model(jnp.ones((3, 7, 9, 2), jnp.float32)).shape == (3, 7, 9, 2)


_bilinear = jax.jit(bilinear_upsample, static_argnums=1)


@pytest.mark.parametrize("s", [2, 3])
def test_bilinear_upsampling_is_exact_on_constants_and_inside_on_ramps(s):
    """Output pixel j samples the input at t = (j + 1/2)/s - 1/2: a constant stays exactly
    constant, an affine ramp is exact wherever t lies inside the grid, and outside it (the
    first and last row and column for s = 2) the edge value is repeated, not extrapolated."""
    h, w = 5, 6
    i, j = np.indices((h, w), dtype=np.float64)
    ramp = 0.7 * i - 1.3 * j + 2.0
    x = jnp.asarray(np.stack([ramp, np.full((h, w), 3.5)], -1)[None])
    y = np.asarray(_bilinear(x, s))
    assert y.dtype == np.float64 and y.shape == (1, s * h, s * w, 2)
    np.testing.assert_allclose(y[0, ..., 1], 3.5, rtol=0, atol=1e-14)
    ti, tj = ((np.arange(s * n) + 0.5) / s - 0.5 for n in (h, w))
    inside = (((ti >= 0) & (ti <= h - 1))[:, None] & ((tj >= 0) & (tj <= w - 1))[None, :])
    exact = 0.7 * ti[:, None] - 1.3 * tj[None, :] + 2.0
    np.testing.assert_allclose(y[0, ..., 0][inside], exact[inside], rtol=0, atol=1e-13)
    assert inside.sum() == (s * h - 2) * (s * w - 2)  # all but the outer rows and columns
    edge = 0.7 * np.clip(ti, 0, h - 1)[:, None] - 1.3 * np.clip(tj, 0, w - 1)[None, :] + 2.0
    np.testing.assert_allclose(y[0, ..., 0], edge, rtol=0, atol=1e-13)
    assert np.abs(y[0, ..., 0][~inside] - exact[~inside]).min() > 0.1


def test_bilinear_x2_is_nearest_then_the_tent_filter():
    """s = 2: nearest repetition followed by [1, 2, 1]/4 along each axis, edges replicated (so
    bilinear + conv is upsample + conv with the kernel smoothed once more)."""
    z = np.random.default_rng(0).normal(size=(2, 4, 5, 3))
    near = np.pad(np.repeat(np.repeat(z, 2, 1), 2, 2), ((0, 0), (1, 1), (1, 1), (0, 0)),
                  mode="edge")
    rows = (near[:, :-2] + 2 * near[:, 1:-1] + near[:, 2:]) / 4
    tent = (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) / 4
    np.testing.assert_allclose(np.asarray(_bilinear(jnp.asarray(z), 2)), tent, rtol=0,
                               atol=1e-14)
    with pytest.raises(ValueError, match="shape"):
        bilinear_upsample(jnp.ones((4, 4)), 2)
    with pytest.raises(ValueError, match="s must be"):
        bilinear_upsample(jnp.ones((1, 4, 4, 1)), 0)


@pytest.mark.parametrize("k,s,shape", [(3, 2, (2, 8, 8, 3)), (4, 2, (1, 7, 9, 2)),
                                       (5, 3, (2, 9, 6, 1))])
def test_tied_decoder_is_the_exact_adjoint(k, s, shape):
    rng = np.random.default_rng(k)
    K = jnp.asarray(rng.normal(size=(k, k, shape[3], 4)))  # float64 under the test config
    x = jnp.asarray(rng.normal(size=shape))
    y_shape = conv2d(x, K, s).shape
    y = jnp.asarray(rng.normal(size=y_shape))
    lhs = jnp.vdot(conv2d(x, K, s), y)
    rhs = jnp.vdot(x, conv2d_adjoint(y, K, s, x.shape))
    assert abs(float(lhs - rhs)) <= 1e-5 * max(1.0, abs(float(lhs)))
    # and it is what the tied model's decoder computes: with zero biases (as at init) and the
    # identity activation, decode(z) is the chain of the encoder convolutions' adjoints
    model = ConvAE(shape[1:], (4, 3), kernel_size=k, stride=s, decoder="tied",
                   activation="identity", param_dtype=jnp.float64, rngs=nnx.Rngs(k))
    for b in model.decoder_biases:
        assert not np.any(b[...])
    z = jnp.asarray(rng.normal(size=(shape[0], *model.code_shape)))
    n = shape[0]
    K0, K1 = model.kernels[0][...], model.kernels[1][...]
    h = conv2d_adjoint(z, K1, s, (n, *model.feature_shapes[1]))
    expected = conv2d_adjoint(h, K0, s, (n, *model.feature_shapes[0]))
    np.testing.assert_allclose(model.decode(z), expected, rtol=1e-5, atol=1e-5)


def test_tied_model_shares_kernels():
    kw = dict(kernel_size=3, rngs=nnx.Rngs(0))
    tied = ConvAE((8, 8, 1), (4, 6), decoder="tied", **kw)
    transposed = ConvAE((8, 8, 1), (4, 6), decoder="transposed_conv", **kw)
    enc = 3 * 3 * 1 * 4 + 4 + 3 * 3 * 4 * 6 + 6
    assert count_params(tied) == enc + 4 + 1  # decoder biases only
    assert count_params(transposed) == 2 * enc - 4 - 6 + 4 + 1  # own kernels, same shapes
    assert not hasattr(tied, "decoder_kernels")
    # one gradient step on the reconstruction loss moves the shared kernel, and the decoder
    # (which reads the same Param) changes with it
    x = jnp.asarray(np.random.default_rng(0).random((4, 8, 8, 1)), jnp.float32)
    z0 = tied.encode(x)
    dec_before = tied.decode(z0)
    opt = nnx.Optimizer(tied, optax.sgd(0.1), wrt=nnx.Param)

    @nnx.jit
    def step(model, opt):
        opt.update(model, nnx.grad(lambda m: jnp.mean((m(x) - x) ** 2))(model))

    kernel_before = tied.kernels[0][...]
    step(tied, opt)
    assert not np.allclose(kernel_before, tied.kernels[0][...])
    assert not np.allclose(dec_before, tied.decode(z0))


def test_transposed_decoder_is_the_tied_one_with_its_own_kernels():
    kw = dict(kernel_size=4, rngs=nnx.Rngs(0))
    tied = ConvAE((8, 8, 2), (3, 5), decoder="tied", **kw)
    transposed = ConvAE((8, 8, 2), (3, 5), decoder="transposed_conv", **kw)
    for j, K in enumerate(reversed(tied.kernels)):
        assert transposed.decoder_kernels[j][...].shape == K[...].shape
        transposed.decoder_kernels[j][...] = K[...]
    z = jnp.asarray(np.random.default_rng(0).normal(size=(2, 2, 2, 5)), jnp.float32)
    np.testing.assert_allclose(transposed.decode(z), tied.decode(z), rtol=1e-6, atol=1e-6)


def test_uneven_overlap_paints_a_checkerboard_even_overlap_does_not():
    """Odena et al. (2016): a stride-2 transposed conv of a constant with a constant kernel
    adds 1 or 2 taps per axis when k = 3 (uneven) but always 2 when k = 4 (even)."""
    y = jnp.ones((1, 8, 8, 1))
    counts = {}
    for k in (3, 4):
        out = conv2d_adjoint(y, jnp.ones((k, k, 1, 1)), 2, (1, 16, 16, 1))[0, 2:-2, 2:-2, 0]
        counts[k] = sorted(set(np.asarray(out).ravel().tolist()))
        share = checkerboard_energy(np.asarray(out)[None], 2)[0]
        assert (share > 0.1) if k == 3 else (share == 0.0)
    assert counts == {3: [1.0, 2.0, 4.0], 4: [4.0]}


def test_zero_insert_and_nearest_upsampling():
    x = jnp.arange(6.0).reshape(1, 2, 3, 1)
    z = zero_insert(x, 2)
    assert z.shape == (1, 4, 6, 1)
    np.testing.assert_array_equal(z[0, ::2, ::2, 0], x[0, :, :, 0])
    assert float(jnp.abs(z).sum()) == float(jnp.abs(x).sum())
    # nearest upsampling = zero insertion followed by a 2x2 box filter
    box = jnp.ones((2, 2, 1, 1))
    boxed = jax.lax.conv_general_dilated(z, box, (1, 1), ((1, 0), (1, 0)),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_array_equal(boxed, jnp.repeat(jnp.repeat(x, 2, 1), 2, 2))


def test_checkerboard_energy_definition():
    i, j = np.indices((16, 16))
    board = (-1.0) ** (i + j)
    smooth = np.exp(-((i - 7.5) ** 2 + (j - 7.5) ** 2) / 30.0)
    stripes = (-1.0) ** i  # period 2 in one direction only
    np.testing.assert_allclose(checkerboard_energy(board[None], 2), [1.0], atol=1e-12)
    np.testing.assert_allclose(checkerboard_energy(stripes[None], 2), [1.0], atol=1e-12)
    assert checkerboard_energy(smooth[None], 2)[0] < 1e-4
    assert checkerboard_energy(smooth[None], 4)[0] < 0.02
    noise = np.random.default_rng(0).normal(size=(200, 16, 16))
    np.testing.assert_allclose(checkerboard_energy(noise, 2).mean(), 3 / 255, rtol=0.1)
    np.testing.assert_allclose(checkerboard_energy(board[None] + 5.0, 2), [1.0])  # mean ignored
    assert checkerboard_energy(np.ones((1, 4, 4)), 2)[0] == 0.0
    # channels are summed
    assert checkerboard_energy(np.stack([board, board], -1)[None], 2).shape == (1,)


def test_checkerboard_energy_bad_input():
    with pytest.raises(ValueError, match="divide"):
        checkerboard_energy(np.zeros((1, 6, 6)), 4)
    with pytest.raises(ValueError, match="NaN"):
        checkerboard_energy(np.full((1, 4, 4), np.nan), 2)
    with pytest.raises(ValueError, match="shape"):
        checkerboard_energy(np.zeros((4, 4)), 2)


def test_input_gradient_and_bad_inputs():
    model = ConvAE((8, 8, 1), (2,), decoder="upsample_conv", rngs=nnx.Rngs(0))
    g = input_gradient(model, jnp.ones((3, 8, 8, 1), jnp.float32))
    assert g.shape == (3, 8, 8, 1) and bool(jnp.isfinite(g).all())
    with pytest.raises(ValueError, match="shape"):
        model(jnp.ones((2, 63)))
    with pytest.raises(ValueError, match="decoder"):
        ConvAE((8, 8, 1), decoder="deconv", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="image_shape"):
        ConvAE((8, 8), rngs=nnx.Rngs(0))


def test_fit_trains_conv_ae_on_flat_images():
    X = np.random.default_rng(0).random((32, 64)).astype(np.float32)
    model = ConvAE((8, 8, 1), (2,), decoder="tied", rngs=nnx.Rngs(0))
    model, hist = tiedae.fit(model, X, steps=5, center=False)
    assert np.isfinite(hist["loss"]).all()
