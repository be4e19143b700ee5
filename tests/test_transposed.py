"""conv_transpose (sub-pixel form) equals jax.lax.conv_transpose / flax's ConvTranspose."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tiedae.nonlinear.sequential import Conv, ConvTranspose, SequentialAE
from tiedae.nonlinear.transposed import conv_transpose, transpose_padding

DIMS = ("NHWC", "HWIO", "NHWC")


def _lax(x, K, s, padding):
    return jax.lax.conv_transpose(x, K, (s, s), padding, dimension_numbers=DIMS)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(("kernel", "stride"), [(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (3, 1),
                                                (4, 3), (8, 4)])
def test_conv_transpose_equals_lax_values_and_gradients(kernel, stride, padding):
    rng = np.random.default_rng(10 * kernel + stride)
    x = jnp.asarray(rng.normal(size=(2, 3, 5, 3)))  # float64 (tests run with x64)
    K = jnp.asarray(rng.normal(size=(kernel, kernel, 3, 2)))
    ours = jax.jit(conv_transpose, static_argnums=(2, 3))
    y, ref = ours(x, K, stride, padding), _lax(x, K, stride, padding)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    # same gradients (what training sees), w.r.t. the input and the kernel
    probe = jnp.asarray(rng.normal(size=ref.shape))
    g_ours = jax.grad(lambda a, b: jnp.vdot(conv_transpose(a, b, stride, padding), probe),
                      argnums=(0, 1))(x, K)
    g_ref = jax.grad(lambda a, b: jnp.vdot(_lax(a, b, stride, padding), probe),
                     argnums=(0, 1))(x, K)
    for a, b in zip(g_ours, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_output_sizes_follow_keras():
    # "same": s * n; "valid": (n - 1) s + max(k, s)
    x = jnp.ones((1, 6, 6, 1))
    for k, s in [(3, 2), (4, 2), (5, 2), (2, 2), (1, 3)]:
        K = jnp.ones((k, k, 1, 1))
        assert conv_transpose(x, K, s, "SAME").shape[1] == 6 * s
        assert conv_transpose(x, K, s, "VALID").shape[1] == 5 * s + max(k, s)
    assert transpose_padding(3, 2, "SAME") == (2, 1)


def test_sequential_conv_transpose_equals_flax_layer():
    spec = ConvTranspose(4, 3, 2, activation="linear")
    model = SequentialAE((6, 6, 2), [spec], [Conv(2, 3, 2, activation="linear")],
                         param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    layer = model.encoder_layers[0]
    flax_layer = nnx.ConvTranspose(2, 4, (3, 3), strides=2, padding="SAME",
                                   param_dtype=jnp.float64, rngs=nnx.Rngs(1))
    assert flax_layer.kernel.shape == layer.kernel.shape
    assert flax_layer.bias.shape == layer.bias.shape
    flax_layer.kernel[...] = layer.kernel[...]
    flax_layer.bias[...] = jnp.arange(4.0)
    layer.bias[...] = jnp.arange(4.0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 6, 6, 2)))
    np.testing.assert_allclose(model.encode(x), flax_layer(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("x_shape", "k_shape", "padding", "match"), [
    ((2, 4, 4), (3, 3, 1, 1), "SAME", "NHWC"),
    ((1, 4, 4, 2), (3, 2, 2, 1), "SAME", "square"),
    ((1, 4, 4, 2), (3, 3, 1, 1), "SAME", "C_in = 2"),
    ((1, 4, 4, 1), (3, 3, 1, 1), "FULL", "padding must be"),
])
def test_bad_inputs_name_the_problem(x_shape, k_shape, padding, match):
    with pytest.raises(ValueError, match=match):
        conv_transpose(jnp.ones(x_shape), jnp.ones(k_shape), 2, padding)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv_transpose(jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 1)), 0)
