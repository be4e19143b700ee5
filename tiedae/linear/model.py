r"""`LinearAE`: a linear autoencoder x_hat = mu + V W (x - mu) whose decoder V is tied to W or free.

The encoder W (k, d) is the module's one parameter for tied decoders: `decode` recomputes V
from the same `W` variable, so an optimizer step moves encoder and decoder together and the
two can never drift apart. `decoder="untied"` adds a free decoder parameter `V` (d, k).

The data mean mu is part of the model, a `DataMean` variable (not a parameter) that
`tiedae.fit` sets to the mean of the training data: after training, `model(X_raw)`
reconstructs raw data, and the same holds for a LinearAE inside a module of one's own.

Give the model raw data: `model(X - mu)` subtracts the mean twice. The mean is not an
`nnx.Param`, so `nnx.state(model, nnx.Param)` leaves it out: save and restore the whole
`nnx.state(model)`, or use `tiedae.save` / `tiedae.load`. A call on concrete data (not inside
`jit`) whose reconstruction errors are mostly one constant offset raises a `CenteringWarning`
that names the likely cause (see `LinearAE.__call__` for the rule and how often it fires).
"""

from __future__ import annotations

import numbers
import warnings

import jax
import jax.numpy as jnp
from flax import nnx

from tiedae._validation import check_positive_int, check_rank
from tiedae.linear import closed_form, decoders, metrics

__all__ = ["CenteringWarning", "DataMean", "LINEAR_DECODERS", "LinearAE"]

LINEAR_DECODERS = (*decoders.TIED_DECODERS, "untied")


class DataMean(nnx.Variable):
    """The mean a model subtracts from its inputs and adds back to its outputs (not trained).

    `tiedae.fit` sets every `DataMean` of a model (including those of submodules) to the mean
    of the training data, unless `center=False`. It is model state, not an `nnx.Param`: the
    optimizer never moves it, and `nnx.state(model, nnx.Param)` does not contain it. To save a
    trained model, save the whole `nnx.state(model)` (or use `tiedae.save`); restoring only
    the parameters into a fresh model leaves its mean at zero (a `CenteringWarning` says so
    when such a model meets uncentred data).
    """


class CenteringWarning(UserWarning):
    """A `LinearAE` got data whose reconstruction errors are mostly one constant offset: data
    already centred (`model(X - mu)`), or a model whose `DataMean` was lost (restored from
    `nnx.state(model, nnx.Param)` only)."""


def _positive_number(value, name: str) -> float:
    """`value` as a finite float > 0, or a TypeError (not a number) / ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number > 0; got {value!r}")
    if not 0.0 < float(value) < float("inf"):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _add_bias(x: jax.Array, b: jax.Array) -> jax.Array:
    return x + b.reshape((1,) * (x.ndim - 1) + b.shape)


class LinearAE(nnx.Module):
    """Linear autoencoder with encoder W (k, d) and a tied or untied decoder.

    Args:
      d: input dimension.
      k: code dimension, 1 <= k <= d.
      decoder: "transpose" (V = W^T), "pinv" (V = W^+), "right_inverse"
        (V = W^T (W W^T)^{-1}) or "untied" (a free parameter V).
      use_bias: adds an encoder bias (k,) and a decoder bias (d,) (trained, unlike the mean).
      init_scale: entries of W are N(0, init_scale^2 / d), so each row has norm about
        `init_scale`; entries of V (untied) are N(0, init_scale^2 / k). Small values start near
        the origin, where the linear-AE dynamics are best understood (Saxe et al. 2014).
      param_dtype: float32 or float64 (float64 needs `jax.config.update("jax_enable_x64",
        True)`).
      decoder_eps: ridge for `right_inverse` (0 = exact right inverse).
      rngs: `nnx.Rngs` for the initial weights.

    The model takes raw data and holds the data mean in `self.mean`, a `DataMean` (set by
    `tiedae.fit`): it is not an `nnx.Param`, so save the whole `nnx.state(model)` (or use
    `tiedae.save` / `tiedae.load`), not `nnx.state(model, nnx.Param)`.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import tiedae
      >>> model = tiedae.LinearAE(6, 2, rngs=nnx.Rngs(0))
      >>> model(jnp.ones((3, 6))).shape
      (3, 6)
    """

    def __init__(
        self,
        d: int,
        k: int,
        *,
        decoder: str = "transpose",
        use_bias: bool = False,
        init_scale: float = 1.0,
        param_dtype=jnp.float32,
        decoder_eps: float = 0.0,
        rngs: nnx.Rngs,
    ):
        d = check_positive_int(d, "d")
        k = check_rank(k, d, "k")
        if decoder not in LINEAR_DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {LINEAR_DECODERS}")
        param_dtype = jnp.dtype(param_dtype)
        if not jnp.issubdtype(param_dtype, jnp.floating):
            raise TypeError(f"param_dtype must be a floating dtype; got {param_dtype}")
        if param_dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
            raise ValueError(
                "param_dtype=float64 needs jax.config.update('jax_enable_x64', True) first"
            )
        init_scale = _positive_number(init_scale, "init_scale")
        if isinstance(decoder_eps, bool) or not isinstance(decoder_eps, numbers.Real) or \
                not 0.0 <= float(decoder_eps) < float("inf"):
            raise ValueError(f"decoder_eps must be a finite number >= 0; got {decoder_eps!r}")
        if not isinstance(rngs, nnx.Rngs):
            raise TypeError(f"rngs must be an nnx.Rngs, e.g. nnx.Rngs(0); got {rngs!r}")
        self.d, self.k, self.decoder, self.use_bias = d, k, decoder, use_bias
        self.decoder_eps = float(decoder_eps)
        std_w = float(init_scale) / float(d) ** 0.5
        self.W = nnx.Param(std_w * jax.random.normal(rngs.params(), (k, d), param_dtype))
        if decoder == "untied":
            std_v = float(init_scale) / float(k) ** 0.5
            self.V = nnx.Param(std_v * jax.random.normal(rngs.params(), (d, k), param_dtype))
        if use_bias:
            self.encoder_bias = nnx.Param(jnp.zeros((k,), param_dtype))
            self.decoder_bias = nnx.Param(jnp.zeros((d,), param_dtype))
        self.mean = DataMean(jnp.zeros((d,), param_dtype))

    @property
    def dtype(self):
        return self.W[...].dtype

    def encoder_matrix(self) -> jax.Array:
        """W, shape (k, d)."""
        return self.W[...]

    def decoder_matrix(self) -> jax.Array:
        """V, shape (d, k): a function of W for tied decoders, the parameter V when untied."""
        if self.decoder == "untied":
            return self.V[...]
        if self.decoder == "right_inverse":
            return decoders.right_inverse(self.W[...], self.decoder_eps)
        return decoders.tied(self.decoder)(self.W[...])

    def weight_matrices(self) -> list[jax.Array]:
        """The weight matrices an L2 penalty acts on: [W] when tied, [W, V] when untied."""
        if self.decoder == "untied":
            return [self.W[...], self.V[...]]
        return [self.W[...]]

    def encode(self, x: jax.Array) -> jax.Array:
        """z = W (x - mu) for raw x of shape (..., d); returns (..., k).

        The model subtracts its own mean mu: pass raw data, not `x - mu` (that would subtract
        it twice). The same holds for `__call__` and `reconstruction_error`.
        """
        if x.ndim < 1 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (..., {self.d}) (d={self.d} features); got "
                             f"{x.shape}")
        W = self.W[...]
        z = _add_bias(x @ W.T, -(self.mean[...] @ W.T))  # W mu: O(dk), no (n, d) copy
        return _add_bias(z, self.encoder_bias[...]) if self.use_bias else z

    def decode(self, z: jax.Array) -> jax.Array:
        """x_hat = mu + V z for z of shape (..., k); returns (..., d)."""
        if z.ndim < 1 or z.shape[-1] != self.k:
            raise ValueError(f"z must have shape (..., {self.k}) (a code of size k={self.k}); "
                             f"got {z.shape}")
        x = _add_bias(z @ self.decoder_matrix().T, self.mean[...])
        return _add_bias(x, self.decoder_bias[...]) if self.use_bias else x

    def reconstruction_error(self, x: jax.Array) -> jax.Array:
        r"""(1/n) sum_i ||x_i - self(x_i)||^2 over the rows of x (n, d), with its exact gradient
        from two (n, d) x (d, k)-sized products (`tiedae.linear.closed_form`).

        The same number as `mean(sum((self(x) - x)**2, axis=1))`; its gradient costs 4ndk FLOPs
        for the tied decoders (8ndk untied) where autodiff through `self(x)` costs 10ndk.
        `tiedae.fit` and `tiedae.training.reconstruction_error` use it. For x of shape
        (n, ..., d) the squared error is summed over all but the first axis.

        Example:
          >>> import jax, jax.numpy as jnp
          >>> from flax import nnx
          >>> import tiedae
          >>> model = tiedae.LinearAE(6, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
          >>> x = jax.random.normal(jax.random.key(0), (40, 6), jnp.float64)
          >>> direct = jnp.mean(jnp.sum((model(x) - x) ** 2, axis=1))
          >>> bool(jnp.allclose(model.reconstruction_error(x), direct, rtol=1e-12))
          True
        """
        x = jnp.asarray(x)
        if x.ndim < 2 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}) (or (n, ..., {self.d})); got "
                             f"{x.shape}")
        rows = x.reshape(-1, self.d)
        W, V = self.W[...], self.decoder_matrix()
        offset = None
        if self.use_bias:
            offset = self.decoder_bias[...] + V @ self.encoder_bias[...]
        coefficients = None
        if self.decoder != "untied":
            coefficients = closed_form.row_space_coefficients(self.decoder, W, V,
                                                              self.decoder_eps)
        loss = closed_form.reconstruction_error(W, V, self.mean[...], rows, offset=offset,
                                                coefficients=coefficients)
        per_row = 1
        for size in x.shape[1:-1]:
            per_row *= size
        return loss * per_row if per_row != 1 else loss

    def default_metrics(self, reference=None) -> metrics.LinearAEMetrics:
        """What `tiedae.fit` logs for this model: ||W W^T - I||_F, cond(W), and with a
        `pca.fit` reference the loss gap and the subspace distance."""
        return metrics.LinearAEMetrics.from_reference(reference, k=self.k, d=self.d)

    def divergence_hint(self) -> str | None:
        """Why training may have diverged, from the current W (for `tiedae.fit`'s message)."""
        if self.decoder != "right_inverse" or self.decoder_eps > 0:
            return None
        s = jnp.linalg.svd(self.W[...], compute_uv=False)
        if not bool(s[-1] > s[0] * float(jnp.finfo(s.dtype).eps) ** 0.5):
            return (f"W is (nearly) rank-deficient (singular values {float(s[0]):.3g} .. "
                    f"{float(s[-1]):.3g}), so the right inverse's Cholesky factor of W W^T "
                    "fails: use decoder_eps > 0 or decoder='pinv'")
        return None

    def __call__(self, x: jax.Array) -> jax.Array:
        r"""The reconstruction mu + V W (x - mu) of raw x (..., d) (plus the biases).

        On concrete data (not traced: never inside `jit`, `grad` or `tiedae.fit`) with n >= 2
        rows, the call checks its own errors e_i = x_i - x_hat_i, with mean e_bar and spread
        v = (1/n) sum_i ||e_i - e_bar||^2, and warns (`CenteringWarning`) when one constant
        offset is most of the error and no sampling accident:

            eps ||e_bar||^2 < v < ||e_bar||^2   and   (n - 1) ||e_bar||^2 > 25 v

        (v of rounding size, identical rows such as a shape check on `jnp.ones`, tells
        nothing; eps is the dtype's machine epsilon), and,
        when the model's mean mu is set, the batch mean m is nearer 0 than mu
        (||m|| < ||m - mu||: the data look centred), or, when mu = 0, the model may have lost
        its mean. The check costs O(n d) and one read back of four scalars. Measured by
        `python benchmarks/mean_offset_warning.py` (PCA-optimal models of digits and of spiked
        data plus an offset, k = 2, 8, 16, on held-out rows: 200 random batches each of 2, 5,
        10 and 50 rows, all rows, and for digits the rows of each class): raw data never warn
        for a model with its mean; for a model trained without centring (mean 0) random
        batches never warn, per-class batches of digits do in 2 of 10 classes at k = 2 (none
        at k = 8, 16); an untrained model (mean 0) warns on any 50 or more uncentred rows (rightly:
        its error is then mostly the offset). Data centred twice and a model restored from
        its parameters only warn on every batch of 50 rows or more, and on 10 rows in at least
        95% of the batches in 5 of the 6 settings (digits, k = 16: 0.425 and 0.115). The usual
        warning filters apply (shown once per call site; silenced by
        `warnings.simplefilter("ignore", tiedae.CenteringWarning)`).
        """
        out = self.decode(self.encode(x))
        n = out.size // self.d
        if (n >= 2 and not isinstance(out, jax.core.Tracer)
                and out.is_fully_addressable):  # not a global array of several processes
            mean_set, offset, spread, centred = (v.item() for v in jax.device_get(
                _offset_statistics(jnp.asarray(x), out, self.mean[...])))
            eps = float(jnp.finfo(out.dtype).eps)
            if eps * offset < spread < offset and (n - 1) * offset > 25.0 * spread:
                share = offset / (offset + spread)
                if mean_set and centred:
                    warnings.warn(
                        f"{share:.0%} of this reconstruction error is one constant offset and "
                        "the data look centred already: LinearAE subtracts its own mean "
                        "(model.mean), so pass raw data (model(X), not model(X - mean))",
                        CenteringWarning, stacklevel=2)
                elif not mean_set:
                    warnings.warn(
                        f"{share:.0%} of this reconstruction error is one constant offset and "
                        "the model's mean (model.mean, a tiedae.DataMean) is zero: if its "
                        "parameters were restored from nnx.state(model, nnx.Param), the mean "
                        "was lost (restore nnx.state(model), or use tiedae.save/tiedae.load); "
                        "to centre, set model.mean (tiedae.fit does unless center=False)",
                        CenteringWarning, stacklevel=2)
        return out


@jax.jit
def _offset_statistics(x, out, mu):
    """(mean set, ||e_bar||^2, spread v, batch mean nearer 0 than mu) of `__call__`'s check."""
    d = mu.shape[0]
    dtype = jnp.result_type(x.dtype, out.dtype)
    e = (x.reshape(-1, d) - out.reshape(-1, d)).astype(dtype)
    e_bar = jnp.mean(e, axis=0)
    offset = jnp.sum(e_bar**2)
    spread = jnp.mean(jnp.sum((e - e_bar[None, :]) ** 2, axis=1))
    m = jnp.mean(x.reshape(-1, d).astype(dtype), axis=0)
    mu = mu.astype(dtype)
    centred = jnp.sum(m**2) < jnp.sum((m - mu) ** 2)
    return jnp.any(mu != 0), offset, spread, centred
