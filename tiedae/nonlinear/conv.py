r"""`ConvAE`: strided-convolution autoencoder with a transposed, upsampling + conv or tied decoder.

Encoder layer l is a strided convolution `h_l = phi(K_l *_s h_{l-1} + b_l)` (NHWC), defined as
the stride-1 "SAME" convolution sampled every s pixels: `(K *_s x)[i] = (K * x)[s i]`. Every
decoder layer is an upsampling by s followed by a stride-1 "SAME" convolution; the three
decoders differ only in the upsampling and in whose kernel is used:

* ``"transposed_conv"``: a transposed convolution with the layer's own (untied) kernel: the
  adjoint of a strided convolution, i.e. zero insertion (s - 1 zeros between samples) followed
  by a stride-1 convolution with the flipped kernel (Keras's ``Conv2DTranspose``, MATLAB's
  ``transposedConv2dLayer``; Dumoulin & Visin 2016, sec. 4);
* ``"upsample_conv"``: nearest-neighbour repetition then a convolution with an own kernel
  (Keras's ``UpSampling2D`` + ``Conv2D``; Odena et al. 2016's "resize-convolution"). Repetition
  = zero insertion followed by an s x s box filter, so this is a transposed convolution whose
  kernel is the own kernel smoothed by the box: the two are not the same layer;
* ``"bilinear_conv"``: bilinear upsampling (`bilinear_upsample`) then a convolution with an
  own kernel. For s = 2, bilinear upsampling is nearest repetition followed by the tent filter
  [1, 2, 1] / 4 along each axis (edge pixels replicated), so this decoder is upsampling +
  convolution with the own kernel smoothed once more: a further subset of the transposed
  convolutions, whose every output phase sums each kernel tap once;
* ``"tied"``: the same transposed convolution with the encoder's own kernel, K_l^T (one
  parameter used twice), so `<K *_s x, y> = <x, K^T y>` holds to round-off; plus own biases.

Transposed convolutions are computed with `jax.linear_transpose` of `conv2d`, so they are
aligned with the encoder's sampling grid for every kernel size.

Building everything from stride-1 convolutions (instead of input-dilated ones) keeps XLA's CPU
compile times short.

A transposed convolution with kernel size k and stride s adds a different number of kernel taps
to neighbouring output pixels unless s divides k ("uneven overlap"), which paints a period-s
checkerboard into its output; the backward pass of a strided convolution is a transposed
convolution, so the same pattern appears in input gradients (Odena et al. 2016).
`checkerboard_energy` measures it as a share of spectral energy.

References:
  Odena, A., Dumoulin, V. & Olah, C. (2016). Deconvolution and checkerboard artifacts.
  Distill. doi:10.23915/distill.00003.
  Dumoulin, V. & Visin, F. (2016). A guide to convolution arithmetic for deep learning.
  arXiv:1603.07285.
  Masci, J. et al. (2011). Stacked convolutional auto-encoders for hierarchical feature
  extraction. ICANN.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> from tiedae import ConvAE
  >>> model = ConvAE((8, 8, 1), (8, 16), decoder="tied", rngs=nnx.Rngs(0))
  >>> model(jnp.ones((2, 8, 8, 1))).shape
  (2, 8, 8, 1)
  >>> model(jnp.ones((2, 64))).shape  # flattened images work too
  (2, 64)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae._validation import check_positive_int
from tiedae.nonlinear import layers

__all__ = [
    "CONV_DECODERS",
    "ConvAE",
    "bilinear_upsample",
    "checkerboard_energy",
    "checkerboard_noise_level",
    "conv2d",
    "conv2d_adjoint",
    "input_gradient",
    "zero_insert",
]

CONV_DECODERS = ("transposed_conv", "upsample_conv", "tied", "bilinear_conv")
_DIMS = ("NHWC", "HWIO", "NHWC")


def conv2d(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Strided convolution: stride-1 'SAME' convolution of x (n, H, W, C_in) with kernel
    (k, k, C_in, C_out), sampled every `stride` pixels; output (n, ceil(H/s), ceil(W/s), C_out).
    """
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=_DIMS)
    return y[:, ::stride, ::stride, :]


def conv2d_adjoint(y: jax.Array, kernel: jax.Array, stride: int, in_shape) -> jax.Array:
    """The adjoint of `conv2d` (a transposed convolution with the same kernel).

    Returns K^T y of shape `in_shape` = (n, H, W, C_in), defined by
    <conv2d(x, K, s), y> = <x, conv2d_adjoint(y, K, s, x.shape)> for all x, y.
    """
    spec = jax.ShapeDtypeStruct(tuple(in_shape), y.dtype)
    (x,) = jax.linear_transpose(lambda v: conv2d(v, kernel.astype(y.dtype), stride), spec)(y)
    return x


def zero_insert(x: jax.Array, s: int) -> jax.Array:
    """(n, h, w, c) -> (n, s h, s w, c) with x at positions (s i, s j) and zeros elsewhere."""
    n, h, w, c = x.shape
    z = jnp.zeros((n, h, s, w, s, c), x.dtype).at[:, :, 0, :, 0, :].set(x)
    return z.reshape(n, h * s, w * s, c)


def _upsample(x: jax.Array, s: int) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, s, axis=1), s, axis=2)


def bilinear_upsample(x: jax.Array, s: int) -> jax.Array:
    r"""Bilinear upsampling of NHWC images by an integer factor s: (n, h, w, c) -> (n, s h, s w, c).

    Output pixel j (along each axis) samples the input at t = (j + 1/2) / s - 1/2 (pixel
    centres aligned, as in PyTorch's ``align_corners=False``, TensorFlow's ``half_pixel_centers``
    and `jax.image.resize`, which computes it), interpolating linearly between the two nearest
    input pixels; a t outside [0, h - 1] takes the edge pixel. So a constant image stays exactly
    constant, and an affine ramp a i + b j + c is reproduced exactly (value a t_i + b t_j + c) at
    every output pixel whose t lies inside the input grid, which for s = 2 is all but the first
    and last row and column (there t = -1/4 and h - 3/4, and the edge value is repeated). For
    s = 2 the result equals nearest repetition followed by the filter [1, 2, 1] / 4 along each
    axis with the edge pixels replicated.

    Args:
      x: (n, h, w, c) array.
      s: upsampling factor, a positive integer.

    Example:
      >>> import jax.numpy as jnp
      >>> ramp = jnp.arange(3.0).reshape(1, 1, 3, 1) * jnp.ones((1, 2, 1, 1))
      >>> bilinear_upsample(ramp, 2)[0, 0, :, 0].tolist()
      [0.0, 0.25, 0.75, 1.25, 1.75, 2.0]
    """
    s = check_positive_int(s, "s")
    if x.ndim != 4:
        raise ValueError(f"x must be (n, h, w, c); got shape {x.shape}")
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, h * s, w * s, c), method="bilinear", antialias=False)


def _crop(x: jax.Array, h: int, w: int) -> jax.Array:
    return x[:, :h, :w, :]


class ConvAE(nnx.Module):
    """Convolutional autoencoder; the code is the last encoder feature map.

    Args:
      image_shape: (H, W, C) of the input images.
      channels: output channels of the encoder's strided convolutions; the decoder runs them
        in reverse, ending with C.
      kernel_size: square kernel size k of every layer.
      stride: stride s of every encoder layer (the decoder upsamples by s per layer).
      decoder: "transposed_conv", "upsample_conv", "tied" or "bilinear_conv" (see the module
        docstring).
      activation: hidden nonlinearity (a name in `tiedae.nonlinear.layers.ACTIVATIONS` or a
        callable); the code and the output are linear.
      param_dtype: parameter dtype.
      rngs: `nnx.Rngs` for the initial weights.

    Inputs may be NHWC images (batch, H, W, C) or flattened (batch, H*W*C); the output has the
    input's layout, so `tiedae.fit` trains it on either.
    """

    def __init__(
        self,
        image_shape,
        channels=(16, 32),
        *,
        kernel_size: int = 3,
        stride: int = 2,
        decoder: str = "transposed_conv",
        activation="relu",
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        image_shape = layers.check_widths(image_shape, "image_shape")
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C); got {image_shape}")
        channels = layers.check_widths(channels, "channels")
        if not channels:
            raise ValueError("channels must name at least one encoder layer")
        kernel_size = check_positive_int(kernel_size, "kernel_size")
        stride = check_positive_int(stride, "stride")
        if decoder not in CONV_DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {CONV_DECODERS}")
        self.image_shape, self.channels = image_shape, channels
        self.kernel_size, self.stride, self.decoder = int(kernel_size), int(stride), decoder
        self.activation = layers.activation(activation)
        H, W, C = image_shape
        shapes = [(H, W, C)]
        for c in channels:
            h, w, _ = shapes[-1]
            shapes.append((-(-h // self.stride), -(-w // self.stride), c))
        self.feature_shapes = tuple(shapes)  # input, then each encoder output
        ins = (C, *channels[:-1])
        k = self.kernel_size

        def kernel(cin, cout):
            std = 1.0 / float(k * k * cin) ** 0.5
            return nnx.Param(layers.normal(rngs.params(), (k, k, cin, cout), std, param_dtype))

        self.kernels = nnx.List([kernel(a, b) for a, b in zip(ins, channels, strict=True)])
        self.encoder_biases = nnx.List([nnx.Param(jnp.zeros((c,), param_dtype)) for c in channels])
        # (c_in, c_out) of each decoder layer
        dec_io = list(zip(channels[::-1], ins[::-1], strict=True))
        if decoder == "transposed_conv":  # shaped like the encoder kernel it would be tied to
            self.decoder_kernels = nnx.List([kernel(b, a) for a, b in dec_io])
        elif decoder in ("upsample_conv", "bilinear_conv"):
            self.decoder_kernels = nnx.List([kernel(a, b) for a, b in dec_io])
        self.decoder_biases = nnx.List(
            [nnx.Param(jnp.zeros((b,), param_dtype)) for _, b in dec_io]
        )

    @property
    def code_shape(self) -> tuple[int, int, int]:
        return self.feature_shapes[-1]

    def _as_images(self, x: jax.Array):
        H, W, C = self.image_shape
        if x.ndim == 2 and x.shape[1] == H * W * C:
            return x.reshape(x.shape[0], H, W, C), True
        if x.ndim == 4 and tuple(x.shape[1:]) == self.image_shape:
            return x, False
        raise ValueError(
            f"x must have shape (batch, {H}, {W}, {C}) or (batch, {H * W * C}); got {x.shape}"
        )

    def encode(self, x: jax.Array) -> jax.Array:
        """Code of shape `(batch, *code_shape)` for images or flattened images."""
        h, _ = self._as_images(x)
        last = len(self.kernels) - 1
        for i, (K, b) in enumerate(zip(self.kernels, self.encoder_biases, strict=True)):
            h = conv2d(h, K[...].astype(h.dtype), self.stride) + b[...].reshape(1, 1, 1, -1)
            if i < last:
                h = self.activation(h)
        return h

    def decode(self, z: jax.Array) -> jax.Array:
        """Images (batch, H, W, C) from codes `(batch, *code_shape)`."""
        if z.ndim != 4 or tuple(z.shape[1:]) != self.code_shape:
            raise ValueError(f"z must have shape (batch, {self.code_shape}); got {z.shape}")
        h = z
        n_layers = len(self.kernels)
        for j in range(n_layers):
            level = n_layers - 1 - j  # target feature_shapes index
            th, tw, tc = self.feature_shapes[level]
            shape = (h.shape[0], th, tw, tc)
            if self.decoder == "tied":
                h = conv2d_adjoint(h, self.kernels[level][...], self.stride, shape)
            elif self.decoder == "transposed_conv":
                h = conv2d_adjoint(h, self.decoder_kernels[j][...], self.stride, shape)
            else:
                up = _upsample if self.decoder == "upsample_conv" else bilinear_upsample
                h = _crop(up(h, self.stride), th, tw)
                K = self.decoder_kernels[j][...].astype(h.dtype)
                h = jax.lax.conv_general_dilated(h, K, (1, 1), "SAME", dimension_numbers=_DIMS)
            h = h + self.decoder_biases[j][...].reshape(1, 1, 1, -1)
            if j < n_layers - 1:
                h = self.activation(h)
        return h

    def __call__(self, x: jax.Array) -> jax.Array:
        images, flat = self._as_images(x)
        out = self.decode(self.encode(images))
        return out.reshape(x.shape) if flat else out
def checkerboard_energy(images, period: int = 2) -> np.ndarray:
    r"""Share of each image's spectral energy on the period-`period` lattice (checkerboard).

    For an image x of size H x W (channels summed) let X = FFT2(x - mean(x)) and
    `E(u, v) = |X(u, v)|^2`. A pattern that repeats every p pixels in both directions has its
    Fourier support on the lattice Lambda_p = {(u, v) : u = 0 mod H/p, v = 0 mod W/p}, so

        c_p(x) = sum_{(u,v) in Lambda_p \ {(0,0)}} E(u, v) / sum_{(u,v)} E(u, v)   in [0, 1].

    c_2 of the checkerboard (-1)^{i+j} is exactly 1; a smooth image puts almost all energy at
    low frequencies and has c_p near 0; white noise has about (p^2 - 1)/(HW - 1). Lambda_p
    contains Lambda_q for q | p, so p = (product of strides) covers every sub-period.

    Args:
      images: (n, H, W) or (n, H, W, C) array.
      period: p, must divide H and W.

    Returns:
      float64 array (n,) of shares (0 for constant images).

    Example:
      >>> import numpy as np
      >>> board = np.indices((8, 8)).sum(0) % 2 * 2.0 - 1.0
      >>> float(checkerboard_energy(board[None], 2)[0])
      1.0
    """
    x = np.asarray(images, np.float64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or inf")
    n, H, W, _ = x.shape
    period = check_positive_int(period, "period")
    if H % period or W % period:
        raise ValueError(f"period {period} must divide the image size {H}x{W}")
    x = x - x.mean(axis=(1, 2), keepdims=True)
    energy = (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2).sum(axis=3)
    on_lattice = energy[:, :: H // period, :: W // period].sum(axis=(1, 2))  # DC is 0
    total = energy.sum(axis=(1, 2))
    return np.divide(on_lattice, total, out=np.zeros(n), where=total > 1e-300)


def checkerboard_noise_level(height: int, width: int, period: int = 2) -> float:
    r"""Expected `checkerboard_energy` c_p of white noise: (p^2 - 1) / (HW - 1).

    White noise spreads its energy evenly over the HW - 1 non-zero frequencies, and the lattice
    Lambda_p has p^2 - 1 of them, so a share near this level is no checkerboard evidence.

    Example:
      >>> round(checkerboard_noise_level(8, 8, 2), 3), round(checkerboard_noise_level(8, 8, 4), 3)
      (0.048, 0.238)
    """
    height, width = check_positive_int(height, "height"), check_positive_int(width, "width")
    period = check_positive_int(period, "period")
    if height % period or width % period or height * width < 2:
        raise ValueError(f"period {period} must divide the image size {height}x{width}")
    return (period * period - 1) / (height * width - 1)


def input_gradient(model: nnx.Module, x) -> jax.Array:
    """Per-image gradient of ||f(x) - t||^2 w.r.t. x through the model, target t = x fixed.

    The backward pass of a strided encoder convolution is a transposed convolution, so this
    gradient shows whether the model's Jacobian-transpose paints checkerboards (Odena et al.
    2016, "artifacts in gradients").
    """
    x = jnp.asarray(x)
    target = jax.lax.stop_gradient(x)
    return jax.grad(lambda v: jnp.sum(jnp.square(model(v) - target)))(x)
