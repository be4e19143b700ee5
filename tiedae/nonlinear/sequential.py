r"""`SequentialAE`: an autoencoder written as two lists of layer specs, as Keras or MATLAB would.

The posts compare architectures that practitioners write layer by layer: post 001's Keras
model (strided convolutions, a dense bottleneck, transposed convolutions back), post 003's Keras
convolutional autoencoder (convolution + max-pooling down, convolution + nearest upsampling up,
with an unpadded convolution that is not the mirror of anything) and MATLAB's (max-pooling down,
2x2 stride-2 transposed convolutions up). `SequentialAE` builds such a model from specs:

* `Conv(filters, kernel, stride, padding, activation)`: a convolution (Keras ``Conv2D``);
* `ConvTranspose(filters, kernel, stride, padding, activation)`: a transposed convolution
  (Keras ``Conv2DTranspose``, MATLAB ``transposedConv2dLayer``; "same" padding multiplies the
  size by the stride). It computes `jax.lax.conv_transpose` (what `flax.nnx.ConvTranspose`
  computes, same kernel layout) in the sub-pixel form of `tiedae.nonlinear.transposed`, whose
  gradients XLA evaluates several times faster on CPU;
* `MaxPool(size, padding)`: max-pooling with stride = size ("same" rounds the size up);
* `UpSample(factor)`: nearest-neighbour repetition (Keras ``UpSampling2D``);
* `Dense(units, activation)`, `Flatten()`, `Reshape(shape)`;
* `Pad(height, width)` / `Crop(height, width)`: zero-pad or crop the image, both centred (an
  odd difference puts the extra row/column at the bottom/right), so `Crop` undoes `Pad`: to run
  an architecture made for one image size on another (MATLAB's net, whose three poolings need
  a side divisible by 8, on 28 x 28 MNIST: Pad(32, 32) first, Crop(28, 28) last).

Activations: the names in `tiedae.nonlinear.layers.ACTIVATIONS`, plus "linear" and
"clipped_relu" (min(max(x, 0), 1), MATLAB's ``clippedReluLayer(1)``). Weights start
Glorot-uniform and biases at zero (the default of both Keras and MATLAB). The model accepts NHWC
images or flattened images and answers in the input's layout, so `tiedae.fit` trains it.

References:
  Chollet, F. (2016). Building autoencoders in Keras. The Keras Blog.
  Glorot, X. & Bengio, Y. (2010). Understanding the difficulty of training deep feedforward
  neural networks. AISTATS.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> from tiedae.nonlinear.sequential import Conv, MaxPool, SequentialAE, UpSample
  >>> model = SequentialAE((8, 8, 1), [Conv(4, 3), MaxPool(2)],
  ...                      [UpSample(2), Conv(1, 3, activation="linear")], rngs=nnx.Rngs(0))
  >>> model.code_shape, model(jnp.ones((2, 8, 8, 1))).shape
  ((4, 4, 4), (2, 8, 8, 1))
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from tiedae._validation import check_positive_int
from tiedae.nonlinear import layers
from tiedae.nonlinear.transposed import conv_transpose

__all__ = ["Conv", "ConvTranspose", "Crop", "Dense", "Flatten", "MaxPool", "Pad", "Reshape",
           "SequentialAE", "UpSample"]

_ACTIVATIONS = {**layers.ACTIVATIONS, "linear": layers.ACTIVATIONS["identity"],
                "clipped_relu": lambda x: jnp.clip(x, 0.0, 1.0)}


def _activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {tuple(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def _padding(padding: str) -> str:
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid'; got {padding!r}")
    return padding


@dataclasses.dataclass(frozen=True)
class Conv:
    filters: int
    kernel: int
    stride: int = 1
    padding: str = "same"
    activation: str = "relu"


@dataclasses.dataclass(frozen=True)
class ConvTranspose:
    filters: int
    kernel: int
    stride: int = 1
    padding: str = "same"
    activation: str = "relu"


@dataclasses.dataclass(frozen=True)
class MaxPool:
    size: int = 2
    padding: str = "same"


@dataclasses.dataclass(frozen=True)
class UpSample:
    factor: int = 2


@dataclasses.dataclass(frozen=True)
class Dense:
    units: int
    activation: str = "relu"


@dataclasses.dataclass(frozen=True)
class Flatten:
    pass


@dataclasses.dataclass(frozen=True)
class Reshape:
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Pad:
    height: int
    width: int


@dataclasses.dataclass(frozen=True)
class Crop:
    height: int
    width: int


def _conv_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    if size < kernel:
        raise ValueError(f"a 'valid' window of {kernel} does not fit a feature map of {size}")
    return (size - kernel) // stride + 1


def _out_shape(spec, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The feature shape (without batch) after `spec`, or a ValueError naming the mismatch."""
    spatial = len(shape) == 3
    needs_image = (Conv, ConvTranspose, MaxPool, UpSample, Pad, Crop)
    if isinstance(spec, needs_image) and not spatial:
        raise ValueError(f"{type(spec).__name__} needs an (H, W, C) feature map; got {shape}")
    if isinstance(spec, Conv):
        h, w = (_conv_size(s, spec.kernel, spec.stride, _padding(spec.padding))
                for s in shape[:2])
        return (h, w, spec.filters)
    if isinstance(spec, ConvTranspose):
        grow = (lambda s: s * spec.stride) if _padding(spec.padding) == "same" else (
            lambda s: (s - 1) * spec.stride + max(spec.kernel, spec.stride))
        return (grow(shape[0]), grow(shape[1]), spec.filters)
    if isinstance(spec, MaxPool):
        h, w = (_conv_size(s, spec.size, spec.size, _padding(spec.padding)) for s in shape[:2])
        return (h, w, shape[2])
    if isinstance(spec, UpSample):
        return (shape[0] * spec.factor, shape[1] * spec.factor, shape[2])
    if isinstance(spec, Pad | Crop):
        grow = isinstance(spec, Pad)
        if (spec.height < shape[0] or spec.width < shape[1]) if grow else (
                spec.height > shape[0] or spec.width > shape[1]):
            raise ValueError(f"{spec} does not fit a feature map of {shape[:2]}")
        return (spec.height, spec.width, shape[2])
    if isinstance(spec, Dense):
        if len(shape) != 1:
            raise ValueError(f"Dense needs a flat input; got {shape} (add Flatten())")
        return (spec.units,)
    if isinstance(spec, Flatten):
        return (math.prod(shape),)
    if isinstance(spec, Reshape):
        if math.prod(spec.shape) != math.prod(shape):
            raise ValueError(f"cannot reshape {shape} to {spec.shape}")
        return tuple(spec.shape)
    raise TypeError(f"unknown layer spec {spec!r}")


class _ConvTransposeLayer(nnx.Module):
    """A transposed convolution with `nnx.ConvTranspose`'s parameters (kernel (k, k, C_in,
    C_out), bias (C_out,)) and numbers, computed by `conv_transpose` (sub-pixel form)."""

    def __init__(self, c_in: int, spec: ConvTranspose, init, dtype, rngs: nnx.Rngs):
        shape = (spec.kernel, spec.kernel, c_in, spec.filters)
        self.kernel = nnx.Param(init(rngs.params(), shape, dtype))
        self.bias = nnx.Param(jnp.zeros((spec.filters,), dtype))
        self.stride, self.padding = spec.stride, spec.padding.upper()

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, bias = self.kernel[...].astype(x.dtype), self.bias[...].astype(x.dtype)
        return conv_transpose(x, kernel, self.stride, self.padding) + bias.reshape(1, 1, 1, -1)


def _build(spec, shape, rngs, dtype):
    """The nnx layer of a spec with parameters (None for parameter-free specs)."""
    init = nnx.initializers.glorot_uniform()
    if isinstance(spec, Conv):
        return nnx.Conv(shape[2], spec.filters, (spec.kernel,) * 2, strides=spec.stride,
                        padding=spec.padding.upper(), kernel_init=init, param_dtype=dtype,
                        rngs=rngs)
    if isinstance(spec, ConvTranspose):
        return _ConvTransposeLayer(shape[2], spec, init, dtype, rngs)
    if isinstance(spec, Dense):
        return nnx.Linear(shape[0], spec.units, kernel_init=init, param_dtype=dtype, rngs=rngs)
    return None


def _apply(spec, layer, h):
    if isinstance(spec, Conv | ConvTranspose | Dense):
        return _activation(spec.activation)(layer(h))
    if isinstance(spec, MaxPool):
        return nnx.max_pool(h, (spec.size,) * 2, strides=(spec.size,) * 2,
                            padding=spec.padding.upper())
    if isinstance(spec, UpSample):
        return jnp.repeat(jnp.repeat(h, spec.factor, axis=1), spec.factor, axis=2)
    if isinstance(spec, Pad):
        dh, dw = spec.height - h.shape[1], spec.width - h.shape[2]
        return jnp.pad(h, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))
    if isinstance(spec, Crop):
        top, left = (h.shape[1] - spec.height) // 2, (h.shape[2] - spec.width) // 2
        return h[:, top: top + spec.height, left: left + spec.width, :]
    if isinstance(spec, Flatten):
        return h.reshape(h.shape[0], -1)
    if isinstance(spec, Reshape):
        return h.reshape(h.shape[0], *spec.shape)
    raise TypeError(f"unknown layer spec {spec!r}")  # pragma: no cover - checked at build


class SequentialAE(nnx.Module):
    """Autoencoder from encoder and decoder layer specs (see the module docstring).

    Args:
      input_shape: (H, W, C) of the images.
      encoder: layer specs from the image to the code.
      decoder: layer specs from the code back to an (H, W, C) image.
      param_dtype: parameter dtype.
      rngs: `nnx.Rngs` for the initial weights.

    Attributes:
      code_shape: the code's shape (without batch).
      shapes: the feature shape after every layer, encoder then decoder.

    Raises:
      ValueError: a spec that does not fit its input, or a decoder that does not end at
        `input_shape` (the message lists the shapes layer by layer).
    """

    def __init__(self, input_shape, encoder, decoder, *, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        input_shape = layers.check_widths(input_shape, "input_shape")
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (H, W, C); got {input_shape}")
        encoder, decoder = tuple(encoder), tuple(decoder)
        if not encoder or not decoder:
            raise ValueError("the encoder and the decoder need at least one layer each")
        for spec in (*encoder, *decoder):
            for name in ("filters", "kernel", "stride", "size", "factor", "units"):
                if hasattr(spec, name):
                    check_positive_int(getattr(spec, name), f"{type(spec).__name__}.{name}")
            if hasattr(spec, "activation"):
                _activation(spec.activation)
        self.input_shape = input_shape
        self.encoder_specs, self.decoder_specs = encoder, decoder
        shapes, built, shape = [], [], input_shape
        for spec in (*encoder, *decoder):
            out = _out_shape(spec, shape)  # validates the spec against its input first
            built.append(_build(spec, shape, rngs, param_dtype))
            shape = out
            shapes.append(shape)
        self.shapes = tuple(shapes)
        if shape != input_shape:
            listing = " -> ".join(str(s) for s in (input_shape, *shapes))
            raise ValueError(f"the decoder ends at {shape}, not the input shape {input_shape}: "
                             f"{listing}")
        self.code_shape = shapes[len(encoder) - 1]
        self.encoder_layers = nnx.List(built[: len(encoder)])
        self.decoder_layers = nnx.List(built[len(encoder):])

    def _as_images(self, x: jax.Array):
        H, W, C = self.input_shape
        if x.ndim == 2 and x.shape[1] == H * W * C:
            return x.reshape(x.shape[0], H, W, C), True
        if x.ndim == 4 and tuple(x.shape[1:]) == self.input_shape:
            return x, False
        raise ValueError(f"x must have shape (batch, {H}, {W}, {C}) or (batch, {H * W * C}); "
                         f"got {x.shape}")

    def encode(self, x: jax.Array) -> jax.Array:
        """Codes `(batch, *code_shape)` of images or flattened images."""
        h, _ = self._as_images(x)
        for spec, layer in zip(self.encoder_specs, self.encoder_layers, strict=True):
            h = _apply(spec, layer, h)
        return h

    def decode(self, z: jax.Array) -> jax.Array:
        """Images (batch, H, W, C) from codes `(batch, *code_shape)`."""
        if tuple(z.shape[1:]) != self.code_shape:
            raise ValueError(f"z must have shape (batch, *{self.code_shape}); got {z.shape}")
        h = z
        for spec, layer in zip(self.decoder_specs, self.decoder_layers, strict=True):
            h = _apply(spec, layer, h)
        return h

    def __call__(self, x: jax.Array) -> jax.Array:
        images, flat = self._as_images(x)
        out = self.decode(self.encode(images))
        return out.reshape(x.shape) if flat else out
