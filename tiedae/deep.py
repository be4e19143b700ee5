r"""`MLPAE`: a deep fully connected autoencoder with a mirrored, tied, linear or free decoder.

The encoder maps x in R^d through hidden widths h_1, ..., h_L (the last one, h_L = k, is the
code) with

    a_l = phi(a_{l-1} W_l + b_l),  l < L;     z = a_{L-1} W_L + b_L   (linear code),

and the decoder maps z back to R^d. Decoder choices (posts asking "should an autoencoder be
symmetric?"):

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
linear unless `output_activation` is given. `train_autoencoder` is a small jitted mini-batch Adam
loop that also records the full-data loss every `eval_every` steps (for "steps to reach a loss").

References:
  Hinton, G. E. & Salakhutdinov, R. R. (2006). Reducing the dimensionality of data with neural
  networks. Science 313(5786), 504-507.
  Vincent, P. et al. (2010). Stacked denoising autoencoders. JMLR 11, 3371-3408 (tied weights).

Example:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> from tiedae.deep import MLPAE
  >>> model = MLPAE(64, (32, 2), decoder="tied", rngs=nnx.Rngs(0))
  >>> model(jnp.ones((5, 64))).shape
  (5, 64)
"""

from __future__ import annotations

import functools
import numbers
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tiedae._validation import check_data
from tiedae.train import reconstruction_error

__all__ = ["ACTIVATIONS", "MLPAE", "count_params", "steps_to_loss", "train_autoencoder"]

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "identity": lambda x: x,
}


def _activation(name, what="activation"):
    if name is None:
        return ACTIVATIONS["identity"]
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown {what} {name!r}; choose one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _check_widths(widths, name):
    try:
        widths = tuple(widths)
    except TypeError as err:
        raise TypeError(f"{name} must be a sequence of positive ints; got {widths!r}") from err
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1:
            raise ValueError(f"{name} must hold positive ints; got {widths!r}")
    return tuple(int(w) for w in widths)


def _normal(key, shape, std, dtype) -> jax.Array:
    """N(0, std^2) array drawn by numpy from a generator seeded with the JAX key's bits.

    Deterministic in `key` like `jax.random.normal`, but needs no XLA compilation per shape
    (which dominates the cost of building many small models on CPU).
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    rng = np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())
    return jnp.asarray(rng.standard_normal(shape) * float(std), dtype)


def _init_weight(key, shape, dtype):
    # LeCun-normal (fan-in) scaling; float() keeps the scale a Python float.
    return _normal(key, shape, 1.0 / float(shape[0]) ** 0.5, dtype)


def count_params(model: nnx.Module) -> int:
    """Number of scalar parameters; a tied `nnx.Param` used twice counts once."""
    state = nnx.state(model, nnx.Param)
    return int(sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(state)))


class MLPAE(nnx.Module):
    """Deep MLP autoencoder whose decoder mirrors, ties, simplifies or resizes the encoder.

    Args:
      d: input dimension.
      encoder_widths: hidden widths of the encoder; the last one is the code dimension k.
      activation: hidden-layer nonlinearity phi, a name in `ACTIVATIONS` or a callable.
      decoder: "mirror", "tied", "linear", or a tuple of decoder hidden widths (asymmetric).
      decoder_width_multiplier: scales the mirrored hidden widths (rounded, at least 1); only
        with decoder="mirror".
      output_activation: nonlinearity on the reconstruction (None = linear output).
      param_dtype: parameter dtype.
      rngs: `nnx.Rngs` for the initial weights.

    Attributes:
      encoder_weights: `nnx.List` of `nnx.Param` W_l of shape (h_{l-1}, h_l).
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
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"d must be a positive int; got {d!r}")
        widths = _check_widths(encoder_widths, "encoder_widths")
        if not widths:
            raise ValueError("encoder_widths must name at least the code dimension")
        if not decoder_width_multiplier > 0:
            raise ValueError(
                f"decoder_width_multiplier must be > 0; got {decoder_width_multiplier}"
            )
        self.activation = _activation(activation)
        self.output_activation = _activation(output_activation, "output_activation")
        self.d, self.encoder_widths, self.code_dim = int(d), widths, widths[-1]
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
            hidden = _check_widths(decoder, "decoder widths")
            self.decoder_kind = "custom"
        self.decoder_widths = (*hidden, self.d)
        keys = iter(rngs.params() for _ in range(len(widths) + len(self.decoder_widths)))
        fan_in = (self.d, *widths[:-1])
        self.encoder_weights = nnx.List(
            [
                nnx.Param(_init_weight(next(keys), (a, b), param_dtype))
                for a, b in zip(fan_in, widths, strict=True)
            ]
        )
        self.encoder_biases = nnx.List([nnx.Param(jnp.zeros((w,), param_dtype)) for w in widths])
        dec_in = (self.code_dim, *hidden)
        if self.decoder_kind == "tied":
            self.decoder_weights = nnx.List([])
        else:
            self.decoder_weights = nnx.List(
                [
                    nnx.Param(_init_weight(next(keys), (a, b), param_dtype))
                    for a, b in zip(dec_in, self.decoder_widths, strict=True)
                ]
            )
        self.decoder_biases = nnx.List(
            [nnx.Param(jnp.zeros((w,), param_dtype)) for w in self.decoder_widths]
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
        for i, (W, b) in enumerate(zip(self.encoder_weights, self.encoder_biases, strict=True)):
            h = h @ W[...] + b[...][None, :]
            if i < last:
                h = self.activation(h)
        return h

    def decode(self, z: jax.Array) -> jax.Array:
        """Reconstruction of shape (batch, d) from codes z of shape (batch, k)."""
        if z.ndim != 2 or z.shape[1] != self.code_dim:
            raise ValueError(f"z must have shape (batch, {self.code_dim}); got {z.shape}")
        h = z
        mats = self._decoder_matrices()
        for i, (W, b) in enumerate(zip(mats, self.decoder_biases, strict=True)):
            h = h @ W + b[...][None, :]
            h = self.activation(h) if i < len(mats) - 1 else self.output_activation(h)
        return h

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))

    def num_params(self) -> int:
        """Number of scalar parameters (tied pairs counted once)."""
        return count_params(self)


@functools.lru_cache(maxsize=64)
def _compiled(graphdef, learning_rate, loss_fn):
    """One jitted chunk runner per model structure (shared by seeds): `len(batches)` Adam steps
    and the losses on the full training and evaluation data after them (and before, if
    `first`)."""
    tx = optax.adam(learning_rate)

    def loss_of(p, rest, x):
        return loss_fn(nnx.merge(graphdef, p, rest), x)

    def losses(p, rest, X, X_eval):
        return jnp.stack([loss_of(p, rest, X), loss_of(p, rest, X_eval)])

    @jax.jit
    def run_chunk(p, s, rest, batches, X, X_eval, first):
        def step(carry, xb):
            p, s = carry
            loss, g = jax.value_and_grad(loss_of)(p, rest, xb)
            updates, s = tx.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        # The losses before the chunk are needed for the first chunk only (step 0).
        shape = jax.eval_shape(losses, p, rest, X, X_eval)
        skip = lambda *_: jnp.zeros(shape.shape, shape.dtype)  # noqa: E731
        before = jax.lax.cond(first, losses, skip, p, rest, X, X_eval)
        (p, s), _ = jax.lax.scan(step, (p, s), batches)
        after = losses(p, rest, X, X_eval)
        return p, s, before, after

    return run_chunk, tx


def _check_samples(X, name: str) -> np.ndarray:
    """`X` as a finite float32 array of shape (n, ...) with n >= 1, or a ValueError/TypeError
    naming `name` (the sample axis is checked by `check_data` on the flattened rows)."""
    arr = np.asarray(X)
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, ...) with n >= 1; got {arr.shape}")
    check_data(arr.reshape(arr.shape[0], -1), name, min_samples=1, dtype=np.float32)
    return arr.astype(np.float32, copy=False)


def train_autoencoder(
    model: nnx.Module,
    X,
    *,
    steps: int = 1000,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    eval_every: int = 50,
    X_eval=None,
    seed: int = 0,
    loss_fn=None,
):
    """Mini-batch Adam on the reconstruction loss, evaluated on the full data every few steps.

    The loss is (1/n) sum_i ||x_i - f(x_i)||^2 (squared error summed over features, averaged
    over samples, as in `tiedae.fit`). `eval_every` steps run inside one jitted `lax.scan`, so
    models with the same structure share one compilation across seeds.

    Args:
      model: an `nnx.Module` whose `__call__` reconstructs its input; updated in place.
      X: training data, shape (n, ...) (not centred here).
      steps: optimizer steps (rounded up to a multiple of `eval_every`).
      batch_size: mini-batch size (clipped to n); batches are drawn without replacement per
        epoch from a permutation seeded by `seed`.
      learning_rate: Adam step size.
      eval_every: steps between full-data loss evaluations.
      X_eval: optional held-out data whose loss is also recorded.
      seed: seed of the batch order.
      loss_fn: optional `loss_fn(model, x)`; defaults to the reconstruction loss.

    Returns:
      (model, history): history holds numpy arrays "step", "loss" (full training loss),
      "wall_time" and, with X_eval, "eval_loss"; step 0 is the initial model.

    Raises:
      TypeError: if X or X_eval is not real-valued.
      ValueError: for empty data or data with NaN/inf (X or X_eval, named in the message),
        non-positive steps/batch size, or a non-finite loss.
    """
    X = _check_samples(X, "X")
    if steps < 1 or batch_size < 1 or eval_every < 1:
        raise ValueError("steps, batch_size and eval_every must be >= 1")
    loss_fn = loss_fn or reconstruction_error
    n = X.shape[0]
    batch_size = min(int(batch_size), n)
    n_chunks = -(-int(steps) // int(eval_every))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    run_chunk, tx = _compiled(graphdef, float(learning_rate), loss_fn)
    opt_state = tx.init(params)
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    order: list[int] = []
    Xj = jnp.asarray(X)
    Xe = Xj[:1] if X_eval is None else jnp.asarray(_check_samples(X_eval, "X_eval"))
    hist = {"step": [0], "loss": [], "wall_time": [0.0], "eval_loss": []}
    start = time.perf_counter()
    for c in range(n_chunks):
        while len(order) < eval_every * batch_size:
            perm = rng.permutation(n)[: per_epoch * batch_size]
            order.extend(perm.tolist())
        idx = np.asarray(order[: eval_every * batch_size]).reshape(eval_every, batch_size)
        del order[: eval_every * batch_size]
        params, opt_state, before, after = run_chunk(
            params, opt_state, rest, Xj[idx], Xj, Xe, c == 0
        )
        before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
        if c == 0:
            hist["loss"].append(before[0])
            hist["eval_loss"].append(before[1])
        if not np.isfinite(after).all():
            raise ValueError(f"training loss became non-finite by step {(c + 1) * eval_every}")
        hist["step"].append((c + 1) * eval_every)
        hist["loss"].append(after[0])
        hist["eval_loss"].append(after[1])
        hist["wall_time"].append(time.perf_counter() - start)
    if X_eval is None:
        del hist["eval_loss"]
    nnx.update(model, params)
    return model, {k: np.asarray(v) for k, v in hist.items()}


def steps_to_loss(history: dict, target: float) -> float:
    """First recorded step whose training loss is <= target (inf if never reached)."""
    hit = np.nonzero(np.asarray(history["loss"]) <= target)[0]
    return float(history["step"][hit[0]]) if hit.size else float("inf")
