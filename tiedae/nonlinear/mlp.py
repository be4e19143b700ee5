r"""`MLPAE`: a deep fully connected autoencoder with a mirrored, tied, linear or free decoder.

The encoder maps x in R^d through hidden widths h_1, ..., h_L (the last one, h_L = k, is the
code) with

    a_l = phi(a_{l-1} W_l + b_l),  l < L;     z = s(a_{L-1} W_L + b_L)   (the code),

with s the `code_activation` (default: none, a linear code), and the decoder maps z back to R^d.
With one width (k,), a nonlinear `code_activation`, decoder "tied" and "linear" this is the
shallow autoencoder x_hat = s(x W + b) W^T + c against x_hat = s(x W + b) V + c analysed by
Refinetti & Goldt (2022). `use_bias=False` drops every bias b_l and c (the model has none:
`encoder_biases` and `decoder_biases` are empty). Decoder choices (posts asking "should an
autoencoder be symmetric?"):

* ``"mirror"``: widths h_{L-1}, ..., h_1, d with their own weights (Hinton & Salakhutdinov 2006
  after fine-tuning);
* ``"tied"``: with N = 2L weight layers in all (encoder layers 1..L, decoder layers L+1..N),
  layer N-l+1 uses W_l^T for l = 1..L, i.e. decoder layer j (counted from the code, j = 1..L)
  uses W_{L+1-j}^T: the *same* `nnx.Param` as encoder layer L+1-j read transposed (one
  parameter per pair, its own decoder bias), as in the stacked-RBM initialisation of Hinton &
  Salakhutdinov (2006);
* ``"linear"``: one weight matrix from the code to the output, x_hat = z F + c (the "simple
  decoder FW");
* a tuple of widths: an asymmetric decoder with those hidden widths, then d.

`decoder_width_multiplier` scales the mirrored hidden widths (0.5x, 1x, 2x). The output layer is
linear unless `output_activation` is given. Train it with `tiedae.fit` (e.g. minibatches with
`batch_size=64` and a held-out set as `eval_data`).

References:
  Hinton, G. E. & Salakhutdinov, R. R. (2006). Reducing the dimensionality of data with neural
  networks. Science 313(5786), 504-507.
  Vincent, P. et al. (2010). Stacked denoising autoencoders. JMLR 11, 3371-3408 (tied weights).
  Refinetti, M. & Goldt, S. (2022). The dynamics of representation learning in shallow,
  non-linear autoencoders. ICML, PMLR 162.

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> from tiedae import MLPAE
  >>> model = MLPAE(64, (32, 2), decoder="tied", rngs=nnx.Rngs(0))
  >>> model(jnp.ones((5, 64))).shape
  (5, 64)

The shallow tied sigmoid autoencoder without biases, x_hat = sigmoid(x W) W^T (one parameter):

  >>> shallow = MLPAE(64, (8,), code_activation="sigmoid", decoder="tied", use_bias=False,
  ...                 rngs=nnx.Rngs(0))
  >>> [W.shape for W in shallow.weight_matrices()], len(shallow.decoder_biases)
  ([(64, 8)], 0)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae._validation import check_positive_int
from tiedae.nonlinear import layers

__all__ = ["MLPAE"]


class MLPAE(nnx.Module):
    """Deep MLP autoencoder whose decoder mirrors, ties, simplifies or resizes the encoder.

    Args:
      d: input dimension.
      encoder_widths: hidden widths of the encoder; the last one is the code dimension k.
      activation: hidden-layer nonlinearity phi, a name in
        `tiedae.nonlinear.layers.ACTIVATIONS` or a callable.
      decoder: "mirror", "tied", "linear", or a tuple of decoder hidden widths (asymmetric).
      decoder_width_multiplier: scales the mirrored hidden widths (rounded, at least 1); only
        with decoder="mirror".
      output_activation: nonlinearity on the reconstruction (None = linear output).
      code_activation: nonlinearity s on the code (None = linear code), a name or a callable
        like `activation`.
      use_bias: whether every layer has a (trained) bias; False: no biases at all.
      param_dtype: parameter dtype.
      rngs: `nnx.Rngs` for the initial weights.

    Attributes:
      encoder_weights: `nnx.List` of `nnx.Param` W_l of shape (h_{l-1}, h_l).
      encoder_biases: `nnx.List` of `nnx.Param` biases, one per encoder layer (empty when
        use_bias is False).
      decoder_biases: the same for the decoder's layers.
      decoder_weights: `nnx.List` of own decoder weights (empty when tied).
      decoder_widths: the widths the decoder produces, ending with d.
    """

    def __init__(
        self,
        d: int,
        encoder_widths,
        *,
        activation="relu",
        decoder="mirror",
        decoder_width_multiplier: float = 1.0,
        output_activation=None,
        code_activation=None,
        use_bias: bool = True,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        d = check_positive_int(d, "d")
        widths = layers.check_widths(encoder_widths, "encoder_widths")
        if not widths:
            raise ValueError("encoder_widths must name at least the code dimension")
        if not decoder_width_multiplier > 0:
            raise ValueError(
                f"decoder_width_multiplier must be > 0; got {decoder_width_multiplier}"
            )
        self.activation = layers.activation(activation)
        self.output_activation = layers.activation(output_activation, "output_activation")
        self.code_activation = layers.activation(code_activation, "code_activation")
        if not isinstance(use_bias, bool | np.bool_):
            raise TypeError(f"use_bias must be True or False; got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.d, self.encoder_widths, self.code_dim = int(d), widths, widths[-1]
        self.decoder_width_multiplier = float(decoder_width_multiplier)  # for tiedae.save
        mirrored = widths[-2::-1]
        if isinstance(decoder, str):
            if decoder not in ("mirror", "tied", "linear"):
                raise ValueError(
                    f"unknown decoder {decoder!r}; choose 'mirror', 'tied', 'linear' or a tuple "
                    "of hidden widths"
                )
            if decoder != "mirror" and decoder_width_multiplier != 1.0:
                raise ValueError("decoder_width_multiplier only applies to decoder='mirror'")
            if decoder == "linear":
                hidden = ()
            else:
                hidden = tuple(
                    max(1, round(w * float(decoder_width_multiplier))) for w in mirrored
                )
            self.decoder_kind = decoder
        else:
            hidden = layers.check_widths(decoder, "decoder widths")
            self.decoder_kind = "custom"
        self.decoder_widths = (*hidden, self.d)
        keys = iter(rngs.params() for _ in range(len(widths) + len(self.decoder_widths)))
        fan_in = (self.d, *widths[:-1])
        self.encoder_weights = nnx.List(
            [
                nnx.Param(layers.lecun_normal(next(keys), (a, b), param_dtype))
                for a, b in zip(fan_in, widths, strict=True)
            ]
        )
        self.encoder_biases = nnx.List(
            [nnx.Param(jnp.zeros((w,), param_dtype)) for w in widths] if self.use_bias else []
        )
        dec_in = (self.code_dim, *hidden)
        if self.decoder_kind == "tied":
            self.decoder_weights = nnx.List([])
        else:
            self.decoder_weights = nnx.List(
                [
                    nnx.Param(layers.lecun_normal(next(keys), (a, b), param_dtype))
                    for a, b in zip(dec_in, self.decoder_widths, strict=True)
                ]
            )
        self.decoder_biases = nnx.List(
            [nnx.Param(jnp.zeros((w,), param_dtype)) for w in self.decoder_widths]
            if self.use_bias else []
        )

    def _decoder_matrices(self) -> list[jax.Array]:
        if self.decoder_kind == "tied":
            return [W[...].T for W in reversed(self.encoder_weights)]
        return [W[...] for W in self.decoder_weights]

    def weight_matrices(self) -> list[jax.Array]:
        """Every distinct weight matrix (a tied one appears once)."""
        return [W[...] for W in self.encoder_weights] + [W[...] for W in self.decoder_weights]

    def encode(self, x: jax.Array) -> jax.Array:
        """Code z of shape (batch, k) for x of shape (batch, d)."""
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (batch, {self.d}); got {x.shape}")
        h = x
        last = len(self.encoder_weights) - 1
        for i, W in enumerate(self.encoder_weights):
            h = h @ W[...]
            if self.use_bias:
                h = h + self.encoder_biases[i][...][None, :]
            h = self.activation(h) if i < last else self.code_activation(h)
        return h

    def decode(self, z: jax.Array) -> jax.Array:
        """Reconstruction of shape (batch, d) from codes z of shape (batch, k)."""
        if z.ndim != 2 or z.shape[1] != self.code_dim:
            raise ValueError(f"z must have shape (batch, {self.code_dim}); got {z.shape}")
        h = z
        mats = self._decoder_matrices()
        for i, W in enumerate(mats):
            h = h @ W
            if self.use_bias:
                h = h + self.decoder_biases[i][...][None, :]
            h = self.activation(h) if i < len(mats) - 1 else self.output_activation(h)
        return h

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))
