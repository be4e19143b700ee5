r"""Transposed convolutions computed as sub-pixel (depth-to-space) convolutions.

A stride-s transposed convolution (Keras's ``Conv2DTranspose``, `flax.nnx.ConvTranspose`,
`jax.lax.conv_transpose` with ``transpose_kernel=False``) inserts s - 1 zeros between input
samples, pads by (a, b) and correlates with the kernel K (size k):

    y[o] = sum_t xp[o + t] K[t],   xp[a + s i] = x[i], zero elsewhere.

Writing the output index as o = s q + r (phase r = 0, ..., s - 1) only the taps
t = a - r + s m hit a sample, x[q + m], so every phase is a stride-1 correlation of the
*undilated* input with the sub-kernel K_r[m] = K[a - r + s m] (zero where the tap falls outside
the kernel):

    y[s q + r] = sum_m x[q + m] K_r[m].

`conv_transpose` stacks the s^2 sub-kernels of a 2-D kernel as output channels (one
(L, L, C_in, s^2 C_out) kernel, L = the span of m over all phases), runs one stride-1 convolution
on the low-resolution input and interleaves the phases (depth-to-space, the "sub-pixel
convolution" of Shi et al. 2016). It computes the same numbers as `jax.lax.conv_transpose`
without its zeros, and its gradients are stride-1 convolutions with small kernels rather than
the kernel gradient of an input-dilated convolution, which XLA's CPU backend evaluates slowly
(the training step of post 001's model is what the conv-capacity suite times).

References:
  Shi, W. et al. (2016). Real-time single image and video super-resolution using an efficient
  sub-pixel convolutional neural network. CVPR.
  Dumoulin, V. & Visin, F. (2016). A guide to convolution arithmetic for deep learning.
  arXiv:1603.07285.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from tiedae.nonlinear.transposed import conv_transpose
  >>> x = jnp.arange(2 * 3 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 3, 2)
  >>> K = jnp.linspace(-1, 1, 4 * 4 * 2 * 5, dtype=jnp.float32).reshape(4, 4, 2, 5)
  >>> y = conv_transpose(x, K, 2, "SAME")
  >>> ref = jax.lax.conv_transpose(x, K, (2, 2), "SAME",
  ...                              dimension_numbers=("NHWC", "HWIO", "NHWC"))
  >>> y.shape, bool(jnp.allclose(y, ref, atol=1e-4))
  ((2, 6, 6, 5), True)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tiedae._validation import check_positive_int

__all__ = ["conv_transpose", "transpose_padding"]

_DIMS = ("NHWC", "HWIO", "NHWC")


def transpose_padding(kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of the dilated input, as `jax.lax.conv_transpose` uses them:
    "SAME" gives an output of s times the input size, "VALID" one of (n - 1) s + max(k, s)."""
    if padding == "SAME":
        total = kernel + stride - 2
        before = kernel - 1 if stride > kernel - 1 else -(-total // 2)
    elif padding == "VALID":
        total = kernel + stride - 2 + max(kernel - stride, 0)
        before = kernel - 1
    else:
        raise ValueError(f"padding must be 'SAME' or 'VALID'; got {padding!r}")
    return before, total - before


def _phase_taps(kernel: int, stride: int, before: int) -> tuple[int, np.ndarray]:
    """(m_lo, taps): taps[j, r] = the kernel tap a - r + s (j + m_lo) used by phase r at offset
    j, or `kernel` (an index of a zero row) where that tap is outside the kernel."""
    ms = [m for r in range(stride) for m in range(-kernel - 1, kernel + 2)
          if 0 <= before - r + stride * m < kernel]
    m_lo, m_hi = min(ms), max(ms)
    taps = np.full((m_hi - m_lo + 1, stride), kernel, dtype=np.int64)
    for j in range(m_hi - m_lo + 1):
        for r in range(stride):
            t = before - r + stride * (j + m_lo)
            if 0 <= t < kernel:
                taps[j, r] = t
    return m_lo, taps


def conv_transpose(x: jax.Array, kernel: jax.Array, stride: int, padding: str = "SAME"):
    """Stride-`stride` transposed convolution of NHWC `x` with an HWIO `kernel` (k, k, C_in,
    C_out), equal to ``jax.lax.conv_transpose(x, kernel, (s, s), padding,
    dimension_numbers=("NHWC", "HWIO", "NHWC"))``, computed in sub-pixel form (module
    docstring).

    Returns:
      (n, H_out, W_out, C_out) with H_out = s H for "SAME" and (H - 1) s + max(k, s) for "VALID".

    Raises:
      ValueError: a non-square kernel, channels that do not match, or an unknown padding.
    """
    stride = check_positive_int(stride, "stride")
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"x must be NHWC and kernel HWIO; got shapes {x.shape} and "
                         f"{kernel.shape}")
    k, k2, c_in, c_out = kernel.shape
    if k != k2 or c_in != x.shape[3]:
        raise ValueError(f"kernel {kernel.shape} must be square with C_in = {x.shape[3]}")
    before, after = transpose_padding(k, stride, padding)
    m_lo, taps = _phase_taps(k, stride, before)
    span = taps.shape[0]
    n, h, w, _ = x.shape
    out_h, out_w = ((size - 1) * stride + 1 + before + after - k + 1 for size in (h, w))
    q_h, q_w = -(-out_h // stride), -(-out_w // stride)
    padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))  # row/column k: zeros
    sub = padded[taps[:, None, :, None], taps[None, :, None, :]]  # (L, L, s, s, C_in, C_out)
    sub = sub.transpose(0, 1, 4, 2, 3, 5).reshape(span, span, c_in, stride * stride * c_out)
    zero = jnp.zeros((), x.dtype)
    xp = jax.lax.pad(x, zero, [(0, 0, 0), (-m_lo, q_h + span - 1 - h + m_lo, 0),
                               (-m_lo, q_w + span - 1 - w + m_lo, 0), (0, 0, 0)])
    y = jax.lax.conv_general_dilated(xp, sub.astype(x.dtype), (1, 1), "VALID",
                                     dimension_numbers=_DIMS)
    y = y.reshape(n, q_h, q_w, stride, stride, c_out).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, q_h * stride, q_w * stride, c_out)[:, :out_h, :out_w, :]
