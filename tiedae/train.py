r"""Training: one jitted step (loss, gradient, optax update, metrics) and the `fit` loop.

The step works on the model's state (`nnx.split`), not on the module: a jitted function of
arrays has no per-call NNX graph traversal, which dominates the cost of small models. It is
compiled once per (shape, dtype) and never retraced during a run.

Three ways to feed the data, all giving the same full-batch iterates where they overlap:

* ``batch_size=None``: full batch, loss (1/n) sum_i ||x_i - f(x_i)||^2, cost O(n d k) per step.
* ``batch_size=b``: minibatches of b rows from a fresh permutation each epoch (last partial
  batch dropped).
* ``batch_size="covariance"`` (linear models): C = X_c^T X_c / n is computed once, in row
  chunks (so X may be a memory-mapped array larger than memory), and each step evaluates
  L = tr C - 2 tr(V W C) + tr(V^T V W C W^T) at O(d^2 k), independent of n.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from tiedae import metrics, pca
from tiedae._validation import check_data
from tiedae.blas import blas_threads
from tiedae.linear import LinearAE

__all__ = [
    "TrainState",
    "TrainingDiverged",
    "blas_threads",
    "fit",
    "make_train_step",
    "reconstruction_error",
]


class TrainingDiverged(ValueError):
    """The loss became non-finite. The model keeps its last finite parameters.

    Attributes:
      step: the first step whose loss or update was non-finite.
      history: the history logged until then (same layout as `fit`'s).
    """

    def __init__(self, message: str, *, step: int, history: dict[str, np.ndarray]):
        super().__init__(message)
        self.step = step
        self.history = history


class TrainState(NamedTuple):
    """Everything a step changes. `first_bad_step` is -1 until a non-finite step is seen;
    from then on the parameters stay frozen at their last finite value."""

    params: Any
    opt_state: Any
    step: jax.Array
    first_bad_step: jax.Array

    @classmethod
    def create(cls, params, optimizer: optax.GradientTransformation) -> TrainState:
        """The state before the first step."""
        return cls(params, optimizer.init(params), jnp.array(0, jnp.int32),
                   jnp.array(-1, jnp.int32))


def reconstruction_error(model: nnx.Module, x: jax.Array) -> jax.Array:
    """Mean over the rows of x of the squared error summed over features."""
    err = model(x).reshape(x.shape) - x
    return jnp.mean(jnp.sum(err.reshape(x.shape[0], -1) ** 2, axis=1))


def _weight_matrices(model: nnx.Module) -> list[jax.Array]:
    if isinstance(model, LinearAE):
        return model.weight_matrices()
    return [v[...] for _, v in nnx.iter_graph(model) if isinstance(v, nnx.Param) and v.ndim >= 2]


def _all_finite(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def make_train_step(
    graphdef: nnx.GraphDef,
    rest: nnx.State,
    optimizer: optax.GradientTransformation,
    *,
    l2: float = 0.0,
    mode: str = "full",
    batch_size: int | None = None,
    reference: pca.PCAResult | None = None,
) -> Callable:
    r"""Builds the jitted training step `step(state, data, log_now) -> (state, metrics)`.

    The step computes the objective and its gradient, applies the optax update, and, when
    `log_now` is true, the metrics of the pre-update parameters (a `lax.cond`, so the metrics
    cost nothing on the other steps). A non-finite objective or update leaves the parameters
    and optimizer state unchanged and records the step in `state.first_bad_step`.

    Args:
      graphdef: from `nnx.split(model, nnx.Param, ...)`.
      rest: the non-parameter state from the same split, held constant.
      optimizer: an optax transformation.
      l2: coefficient of the sum of squared weight matrices added to the loss.
      mode: "full" (data = X, shape (n, d)); "minibatch" (data = (X, permutation, offset);
        the step trains on X[permutation[offset:offset + batch_size]]); or "covariance"
        (data = C, shape (d, d); the model must be a `LinearAE`).
      batch_size: rows per step in "minibatch" mode.
      reference: a `pca.fit` result; adds `loss_gap` and `subspace_distance` to the metrics.

    Returns:
      The jitted step. Its metrics: `objective` (loss plus L2 term) on every step and, when
      logged, `loss` and for a `LinearAE` `orthonormality` and `condition_number`, plus
      `loss_gap` and `subspace_distance` with a reference.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> import tiedae
      >>> from tiedae.train import TrainState, make_train_step
      >>> model = tiedae.LinearAE(8, 2, rngs=nnx.Rngs(0))
      >>> graphdef, params, rest = nnx.split(model, nnx.Param, ...)
      >>> tx = optax.sgd(0.1)
      >>> step = make_train_step(graphdef, rest, tx)
      >>> state = TrainState.create(params, tx)
      >>> X = jax.random.normal(jax.random.key(0), (64, 8))
      >>> state, logged = step(state, X, True)
      >>> sorted(logged)
      ['condition_number', 'loss', 'objective', 'orthonormality']
    """
    if mode not in ("full", "minibatch", "covariance"):
        raise ValueError(f"mode must be 'full', 'minibatch' or 'covariance'; got {mode!r}")
    if mode == "minibatch" and not batch_size:
        raise ValueError("mode='minibatch' needs a batch_size")
    components = None if reference is None else jnp.asarray(reference.components)
    optimal_loss = None if reference is None else float(reference.optimal_loss)

    def objective_and_loss(params, batch):
        model = nnx.merge(graphdef, params, rest)
        if mode == "covariance":
            loss = pca.reconstruction_loss(model.encoder_matrix(), model.decoder_matrix(), batch)
        else:
            loss = reconstruction_error(model, batch)
        if not l2:
            return loss, loss
        return loss + l2 * sum(jnp.sum(w**2) for w in _weight_matrices(model)), loss

    def measure(params, loss):
        model = nnx.merge(graphdef, params, rest)
        out = {"loss": loss}
        if isinstance(model, LinearAE):
            W = model.encoder_matrix()
            out["orthonormality"] = metrics.orthonormality_error(W)
            out["condition_number"] = metrics.condition_number(W)
            if components is not None:
                out["loss_gap"] = loss - optimal_loss
                out["subspace_distance"] = metrics.subspace_distance(W, components.astype(W.dtype))
        return out

    def step(state: TrainState, data, log_now):
        batch = data
        if mode == "minibatch":
            X, perm, offset = data
            batch = X[jax.lax.dynamic_slice_in_dim(perm, offset, batch_size)]
        (objective, loss), grads = jax.value_and_grad(objective_and_loss, has_aux=True)(
            state.params, batch
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ok = jnp.isfinite(objective) & _all_finite(params) & (state.first_bad_step < 0)
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
        params = jax.tree.map(keep, params, state.params)
        opt_state = jax.tree.map(keep, opt_state, state.opt_state)
        first_bad = jnp.where((state.first_bad_step < 0) & ~ok, state.step, state.first_bad_step)
        shapes = jax.eval_shape(measure, state.params, loss)
        logged = jax.lax.cond(
            log_now,
            lambda: measure(state.params, loss),
            lambda: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes),
        )
        logged["objective"] = objective
        return TrainState(params, opt_state, state.step + 1, first_bad), logged

    return jax.jit(step)


def _mesh(devices) -> Mesh | None:
    if devices is None:
        return None
    if isinstance(devices, int):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices} but JAX sees {len(available)} device(s)")
        devices = available[:devices]
    return Mesh(np.asarray(list(devices)), ("batch",))


def _feeder(data, mode: str, n: int, batch_size, seed: int) -> Callable:
    """The step's `data` argument, call after call: X, C, or (X, permutation, offset)."""
    if mode != "minibatch":
        return lambda: data
    rng = np.random.default_rng(seed)
    perm, offset = None, 0

    def feed():
        nonlocal perm, offset
        if perm is None or offset + batch_size > n:
            perm, offset = jnp.asarray(rng.permutation(n).astype(np.int32)), 0
        out = (data, perm, jnp.int32(offset))
        offset += batch_size
        return out

    return feed


def _check_steps(steps, log_every) -> tuple[int, int]:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if log_every is None:
        log_every = max(1, -(-int(steps) // 100))  # ceil: at most about 100 log points
    if isinstance(log_every, bool) or not isinstance(log_every, int | np.integer) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer; got {log_every!r}")
    return int(steps), int(log_every)


def fit(
    model: nnx.Module,
    X,
    *,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 1000,
    batch_size: int | str | None = None,
    reference: pca.PCAResult | None = None,
    l2: float = 0.0,
    log_every: int | None = None,
    seed: int = 0,
    devices=None,
    center: bool | None = None,
    chunk_size: int = 65536,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    blas_threads_limit: int | None = 1,
) -> tuple[nnx.Module, dict[str, np.ndarray]]:
    r"""Trains `model` to reconstruct the rows of X; returns `(model, history)`.

    Minimises (1/n) sum_i ||x_i - model(x_i)||^2 + l2 * sum_M ||M||_F^2 over the weight
    matrices M of the model (W, and V when untied, for a `LinearAE`; every parameter with two or
    more dimensions otherwise), with `optimizer`. The model is updated in place and returned.

    Args:
      model: an `nnx.Module` whose `__call__(x)` reconstructs a batch x of shape (b, d).
      X: data (n, d), samples as rows. Cast to the model's parameter dtype.
      optimizer: optax transformation; default `optax.adam(1e-2)`.
      steps: number of updates.
      batch_size: None (full batch), an int (minibatches, reshuffled every epoch), or
        "covariance" (full batch through C = X_c^T X_c / n, at a cost independent of n; a
        `LinearAE` without bias only).
      reference: `pca.fit(X, k)` of the same data; adds `loss_gap` (loss - optimal_loss) and
        `subspace_distance` to the history. With minibatches the logged loss and gap are
        those of the current batch.
      l2: non-negative L2 coefficient.
      log_every: metrics are computed and pulled to the host every `log_every` steps (and
        after the last one). Default: about 100 log points.
      seed: seed of the minibatch shuffling.
      devices: an int (the first that many devices) or a list of devices: X's rows are sharded
        over them and the parameters replicated (n must be divisible by their number).
      center: subtract the mean of X first. Default: True for a `LinearAE` without bias,
        False for other models.
      chunk_size: rows per chunk when computing the covariance.
      callback: called as `callback(step, metrics)` at every log point (e.g. a progress bar).
      blas_threads_limit: BLAS threads while training on the CPU (see `blas_threads`); None
        leaves the pools alone.

    Returns:
      `(model, history)`: history maps `step`, `loss`, `objective`, `wall_time` (seconds
      from the start of training until that entry's metrics were on the host, compilation
      excluded; it includes the metric evaluations at earlier log points) and, for a `LinearAE`,
      `orthonormality` and `condition_number` (and `loss_gap`, `subspace_distance` with a
      reference) to numpy arrays, one entry per log point. Entry i holds the metrics of the
      parameters after `step[i]` updates.

    Raises:
      TypeError, ValueError: bad model, data or arguments (the message names the problem).
      TrainingDiverged: the objective became non-finite; the model keeps the last finite
        parameters and the exception carries the step and the history so far.

    Example:
      >>> import numpy as np, optax
      >>> from flax import nnx
      >>> import tiedae
      >>> X = tiedae.data.spiked_covariance(500, 10, k=2, gap=5.0).X
      >>> ref = tiedae.pca.fit(X, 2)
      >>> model = tiedae.LinearAE(10, 2, rngs=nnx.Rngs(0))
      >>> model, hist = tiedae.fit(model, X, steps=300, reference=ref)
      >>> bool(hist["subspace_distance"][-1] < 1e-3)
      True
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be an nnx.Module; got {type(model).__name__}")
    steps, log_every = _check_steps(steps, log_every)
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be finite and >= 0; got {l2}")
    linear = isinstance(model, LinearAE)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    dtype = np.dtype(jax.tree.leaves(params)[0].dtype)
    model_d = getattr(model, "d", None)
    if center is None:
        center = linear and not model.use_bias
    mesh = _mesh(devices)

    if batch_size == "covariance":
        if not linear or model.use_bias:
            raise ValueError('batch_size="covariance" needs a LinearAE with use_bias=False')
        if mesh is not None:
            raise ValueError('batch_size="covariance" works on the d x d covariance; '
                             "drop devices=")
        if getattr(X, "ndim", None) != 2:
            X = check_data(X)
        n, d = X.shape
        mode, data = "covariance", jnp.asarray(pca.covariance(X, chunk_size=chunk_size)[1], dtype)
    else:
        X = check_data(X, dtype=dtype)
        n, d = X.shape
        if center:
            X = (X - X.mean(axis=0, dtype=np.float64)).astype(dtype)
        if batch_size is None:
            mode = "full"
        elif isinstance(batch_size, int | np.integer) and not isinstance(batch_size, bool):
            if not 1 <= batch_size <= n:
                raise ValueError(f"batch_size must be in [1, n={n}]; got {batch_size}")
            mode = "minibatch"
        else:
            raise ValueError(f'batch_size must be None, an int or "covariance"; got {batch_size!r}')
        data = jnp.asarray(X)
        if mesh is not None:
            if n % mesh.size:
                raise ValueError(f"n={n} rows cannot be split evenly over {mesh.size} devices")
            data = jax.device_put(data, NamedSharding(mesh, P("batch", None)))
    if model_d is not None and d != model_d:
        raise ValueError(f"X has d={d} features but the model expects d={model_d}")
    if reference is not None:
        if not linear:
            raise ValueError("reference metrics need a LinearAE")
        if not isinstance(reference, pca.PCAResult):
            raise TypeError(f"reference must be a pca.PCAResult; got {type(reference).__name__}")
        if reference.components.shape != (model.k, d):
            raise ValueError(
                f"reference has components of shape {reference.components.shape}; the model "
                f"needs ({model.k}, {d}): call pca.fit(X, k={model.k}) on the same data"
            )

    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    state = TrainState.create(params, optimizer)
    if mesh is not None:
        state = jax.device_put(state, NamedSharding(mesh, P()))
    step_fn = make_train_step(graphdef, rest, optimizer, l2=float(l2), mode=mode,
                              batch_size=None if mode != "minibatch" else int(batch_size),
                              reference=reference)

    with blas_threads(blas_threads_limit):
        first = _feeder(data, mode, n, batch_size, seed)()
        compiled = step_fn.lower(state, first, True).compile()
        feed = _feeder(data, mode, n, batch_size, seed)
        return _train(model, compiled, state, feed, steps, log_every, callback)


def _train(model, compiled, state, feed, steps, log_every, callback):
    history: dict[str, list] = {"step": [], "wall_time": []}
    start = time.perf_counter()

    def record(t: int, logged, state: TrainState) -> None:
        logged = jax.device_get(logged)
        bad = int(state.first_bad_step)
        if bad >= 0:
            nnx.update(model, state.params)
            raise TrainingDiverged(
                f"training diverged: the objective or the update became non-finite at step {bad} "
                f"of {steps}; the model keeps the last finite parameters (after {bad} updates). "
                "Lower the learning rate or l2.",
                step=bad,
                history={key: np.asarray(val) for key, val in history.items()},
            )
        history["step"].append(t)
        history["wall_time"].append(time.perf_counter() - start)
        for key, val in logged.items():
            history.setdefault(key, []).append(float(val))
        if callback is not None:
            callback(t, {key: float(val) for key, val in logged.items()})

    for t in range(steps):
        log_now = t % log_every == 0
        state, logged = compiled(state, feed(), log_now)
        if log_now:
            record(t, logged, state)
    _, logged = compiled(state, feed(), True)  # metrics of the final parameters; update dropped
    record(steps, logged, state)
    nnx.update(model, state.params)
    return model, {key: np.asarray(val) for key, val in history.items()}
