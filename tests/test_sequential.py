"""SequentialAE: the posts' layer-by-layer architectures, shapes, parameter counts, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.nonlinear.layers import count_params
from tiedae.nonlinear.sequential import (
    Conv,
    ConvTranspose,
    Crop,
    Dense,
    Flatten,
    MaxPool,
    Pad,
    Reshape,
    SequentialAE,
    UpSample,
)

POST_001 = (  # the reddit post's Keras model, layer by layer
    [Conv(32, 5, 2), Conv(64, 4, 2), Conv(128, 3, 2), Flatten(), Dense(256, "tanh"),
     Dense(64, "linear")],
    [Dense(256, "tanh"), Dense(6 * 6 * 128, "relu"), Reshape((6, 6, 128)),
     ConvTranspose(64, 3, 2), ConvTranspose(32, 4, 2), ConvTranspose(3, 5, 2, activation="linear")],
)


def _params(layer_list) -> int:
    return sum(int(np.prod(p.shape)) for layer in layer_list if layer is not None
               for p in jax.tree.leaves(nnx.state(layer, nnx.Param)))


def test_post_001_model_has_the_keras_summary_parameter_counts():
    model = SequentialAE((48, 48, 3), *POST_001, rngs=nnx.Rngs(0))
    # Keras's summary in the post: 1,305,472 encoder and 1,309,891 decoder parameters
    assert _params(model.encoder_layers) == 1_305_472
    assert _params(model.decoder_layers) == 1_309_891
    assert count_params(model) == 1_305_472 + 1_309_891
    assert model.code_shape == (64,)
    assert model.shapes[:3] == ((24, 24, 32), (12, 12, 64), (6, 6, 128))


def test_post_003_keras_and_matlab_models():
    keras = SequentialAE(
        (28, 28, 1), [Conv(16, 3), MaxPool(2), Conv(8, 3), MaxPool(2), Conv(8, 3), MaxPool(2)],
        [Conv(8, 3), UpSample(2), Conv(8, 3), UpSample(2), Conv(16, 3, padding="valid"),
         UpSample(2), Conv(1, 3, activation="sigmoid")], rngs=nnx.Rngs(0))
    assert keras.code_shape == (4, 4, 8)  # "(4, 4, 8) i.e. 128-dimensional"
    assert keras.shapes[9:11] == ((16, 16, 8), (14, 14, 16))  # the unpadded convolution
    matlab = SequentialAE(
        (28, 28, 1), [Pad(32, 32), Conv(8, 3), MaxPool(2), Conv(16, 3), MaxPool(2),
                      Conv(32, 3), MaxPool(2)],
        [ConvTranspose(32, 2, 2), ConvTranspose(16, 2, 2), ConvTranspose(8, 2, 2),
         Conv(1, 1, activation="clipped_relu"), Crop(28, 28)], rngs=nnx.Rngs(0))
    assert matlab.code_shape == (4, 4, 32)
    x = jnp.asarray(np.random.default_rng(0).random((3, 28, 28, 1)), jnp.float32)
    out = matlab(x)
    assert out.shape == x.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert keras(x.reshape(3, -1)).shape == (3, 784)  # flattened images in, flattened out


def test_max_pool_and_upsampling_match_numpy():
    model = SequentialAE((4, 4, 1), [MaxPool(2)], [UpSample(2)], rngs=nnx.Rngs(0))
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    code = np.asarray(model.encode(jnp.asarray(x)))
    np.testing.assert_array_equal(code[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(np.asarray(model(jnp.asarray(x)))[0, :, :, 0],
                                  np.kron([[5, 7], [13, 15]], np.ones((2, 2))))


def test_sequential_ae_trains_through_fit():
    X = np.random.default_rng(1).random((64, 8, 8, 1)).astype(np.float32)
    model = SequentialAE((8, 8, 1), [Conv(4, 3, 2), Flatten(), Dense(6, "linear")],
                         [Dense(64, "relu"), Reshape((4, 4, 4)),
                          ConvTranspose(1, 3, 2, activation="linear")], rngs=nnx.Rngs(0))
    _, hist = tiedae.fit(model, X, batch_size=16, optimizer=optax.adam(1e-2), steps=150,
                         log_every=50)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]


@pytest.mark.parametrize(("encoder", "decoder", "match"), [
    ([Conv(4, 3)], [Conv(2, 3)], r"decoder ends at \(8, 8, 2\), not the input shape"),
    ([Dense(4)], [Dense(64)], "Dense needs a flat input"),
    ([Flatten()], [Reshape((3, 3, 1))], "cannot reshape"),
    ([Conv(4, 9, padding="valid")], [UpSample(2)], "does not fit"),
    ([Conv(4, 3, activation="swish")], [Conv(1, 3)], "unknown activation"),
    ([Conv(4, 3, padding="full")], [Conv(1, 3)], "padding must be"),
    ([Conv(0, 3)], [Conv(1, 3)], "filters must be >= 1"),
    ([Flatten()], [Conv(1, 3)], r"Conv needs an \(H, W, C\) feature map"),
    ([Crop(9, 9)], [Pad(8, 8)], "does not fit"),
    ([], [Conv(1, 3)], "at least one layer"),
])
def test_bad_architectures_are_rejected_with_the_reason(encoder, decoder, match):
    with pytest.raises(ValueError, match=match):
        SequentialAE((8, 8, 1), encoder, decoder, rngs=nnx.Rngs(0))


def test_wrong_input_shapes_are_rejected():
    model = SequentialAE((8, 8, 1), [Conv(2, 3)], [Conv(1, 3)], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 8, 8, 1\)"):
        model(jnp.ones((2, 7, 8, 1)))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(jnp.ones((2, 4, 4, 2)))
