r"""The compiled training step, alone (`make_train_step`) and fused (`compiled_segment`).

A step works on the model's state (`nnx.split`), not on the module: a compiled function of
arrays has no per-call NNX graph traversal, which dominates the cost of small models. It
evaluates objective = loss_fn(model, batch) + regularizer(model), takes its gradient, applies the
optax update, and guards against divergence: an update that makes the objective or the
parameters non-finite, or an objective that grows past `blowup_factor` times its value at the
first step, is not applied. From then on the parameters stay at their last finite value and
`first_bad_step` holds the step, so the caller can stop and say where it went wrong.

`fit` runs all the steps between two log points in one compiled call (a `lax.while_loop`): the
metrics of the starting parameters (computed with the first step's loss, at no extra cost) and
m steps, where m <= the log interval is an argument, so one compilation serves every interval.
When an interval takes several calls, only the first logs (the `log` argument, a `lax.cond`):
the others skip the metrics and the evaluation losses. XLA:CPU runs convolutions inside a while
loop several times slower than the same convolutions outside one, so on a CPU a model with
convolutions takes one step per call (`fuses_well`; `benchmarks/fused_convolutions.py`
measures both ways).

What is compiled is keyed by everything static (model structure, optimizer, loss, regularizer
and metrics code, data source kind); arrays inside those objects (a regularizer's coefficient,
a reference subspace) are arguments, so runs that differ only in data, seed or coefficients
reuse the compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.extend.core import subjaxprs

from tiedae.training.objectives import L2, reconstruction_error

__all__ = ["StepSpec", "TrainState", "compiled_segment", "fuses_well", "make_train_step",
           "trace_count"]


class TrainState(NamedTuple):
    """Everything a step changes.

    Attributes:
      params: the model's `nnx.Param` state.
      opt_state: the optimizer's state.
      step: number of steps taken (int32).
      first_bad_step: -1 until a step diverges; then that step, and the parameters stay frozen.
      initial_objective: the objective at step 0 (the reference of the blow-up test).
      bad_objective: the objective at `first_bad_step` (NaN until then).
    """

    params: Any
    opt_state: Any
    step: jax.Array
    first_bad_step: jax.Array
    initial_objective: jax.Array
    bad_objective: jax.Array

    @classmethod
    def create(cls, params, optimizer: optax.GradientTransformation) -> TrainState:
        """The state before the first step."""
        dtype = jax.tree.leaves(params)[0].dtype
        return cls(params, optimizer.init(params), jnp.array(0, jnp.int32),
                   jnp.array(-1, jnp.int32), jnp.array(0, dtype), jnp.array(jnp.nan, dtype))


def _all_finite(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def _objective_fn(graphdef, loss_fn, regularizer):
    def objective(params, rest, batch):
        model = nnx.merge(graphdef, params, rest)
        loss = loss_fn(model, batch)
        if regularizer is None:
            return loss, loss
        return loss + regularizer(model), loss

    return objective


def _apply(optimizer, state: TrainState, grads, objective, blowup_factor) -> TrainState:
    """One optax update with the divergence guard (see the module docstring)."""
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    initial = jnp.where(state.step == 0, objective, state.initial_objective).astype(
        state.initial_objective.dtype)
    ok = jnp.isfinite(objective) & _all_finite(params) & (state.first_bad_step < 0)
    if blowup_factor is not None:
        # Grown by the factor, and past the factor times sqrt(eps) in absolute terms so that
        # round-off growth of a loss that starts at ~0 does not count.
        floor = float(jnp.finfo(initial.dtype).eps) ** 0.5
        limit = blowup_factor * jnp.maximum(jnp.abs(initial), floor)
        ok &= jnp.abs(objective) <= limit
    keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
    params = jax.tree.map(keep, params, state.params)
    opt_state = jax.tree.map(keep, opt_state, state.opt_state)
    now_bad = (state.first_bad_step < 0) & ~ok
    first_bad = jnp.where(now_bad, state.step, state.first_bad_step)
    bad_objective = jnp.where(now_bad, objective, state.bad_objective).astype(initial.dtype)
    return TrainState(params, opt_state, state.step + 1, first_bad, initial, bad_objective)


def make_train_step(
    graphdef: nnx.GraphDef,
    rest: nnx.State,
    optimizer: optax.GradientTransformation,
    *,
    loss_fn: Callable = reconstruction_error,
    regularizer: Callable | None = None,
    l2: float = 0.0,
    blowup_factor: float | None = 1e6,
) -> Callable:
    r"""The jitted single step `step(state, batch) -> (state, {"loss", "objective"})`.

    The same computation as one step of `fit` (loss, gradient, optax update and the divergence
    guard), for a loop of one's own or for timing. `loss`/`objective` are those of the
    parameters before the update.

    Args:
      graphdef, rest: from `nnx.split(model, nnx.Param, ...)`.
      optimizer: an optax transformation.
      loss_fn: `loss_fn(model, batch)`; default the mean squared reconstruction error.
      regularizer: `regularizer(model)` added to the loss, or None.
      l2: shorthand for `regularizer=L2(l2)`.
      blowup_factor: see `fit`; None turns the blow-up test off.

    Example:
      >>> import jax, optax
      >>> from flax import nnx
      >>> import tiedae
      >>> from tiedae.training import TrainState, make_train_step
      >>> model = tiedae.LinearAE(8, 2, rngs=nnx.Rngs(0))
      >>> graphdef, params, rest = nnx.split(model, nnx.Param, ...)
      >>> tx = optax.sgd(0.1)
      >>> step = make_train_step(graphdef, rest, tx)
      >>> state = TrainState.create(params, tx)
      >>> X = jax.random.normal(jax.random.key(0), (64, 8))
      >>> state, logged = step(state, X)
      >>> sorted(logged), int(state.step)
      (['loss', 'objective'], 1)
    """
    if l2:
        if regularizer is not None:
            raise ValueError("give either l2 or regularizer, not both")
        regularizer = L2(l2)
    objective = _objective_fn(graphdef, loss_fn, regularizer)

    @jax.jit
    def step(state: TrainState, batch):
        (obj, loss), grads = jax.value_and_grad(objective, has_aux=True)(state.params, rest,
                                                                         batch)
        return _apply(optimizer, state, grads, obj, blowup_factor), {"loss": loss,
                                                                     "objective": obj}

    return step


# ---------------------------------------------------------------------------------------------
# Static / dynamic split of the objects a run is built from, and the compiled-segment cache.


def _is_array(x) -> bool:
    return isinstance(x, jax.Array | np.ndarray | np.generic)


def partition(tree) -> tuple[list, tuple]:
    """(array leaves, static description) of a pytree: the arrays become arguments of the
    compiled function, everything else (functions, ints, strings, the tree structure) part of
    its identity."""
    leaves, treedef = jax.tree.flatten(tree)
    dynamic = [leaf if _is_array(leaf) else None for leaf in leaves]
    static = tuple(None if _is_array(leaf) else leaf for leaf in leaves)
    return dynamic, (treedef, static)


def combine(dynamic: list, static: tuple):
    treedef, fixed = static
    leaves = [d if s is None else s for d, s in zip(dynamic, fixed, strict=True)]
    return jax.tree.unflatten(treedef, leaves)


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """What a compiled segment is specialised on (hashable). The parts (loss, regularizer,
    metrics) are given by their static descriptions (`partition`)."""

    graphdef: Any
    optimizer: optax.GradientTransformation
    select: Callable
    parts: tuple  # static description of (loss_fn, eval_loss_fn, regularizer, metrics)
    eval_names: tuple[str, ...]
    blowup_factor: float | None


def _segment_fn(spec: StepSpec) -> Callable:
    """segment(state, rest, resident, xs, m, eval_data, dynamic_parts, log) -> (state, logged),
    the logged scalars as one dict; with log False the metrics and evaluation losses are zeros,
    not computed."""

    def segment(state, rest, resident, xs, m, eval_data, dynamic_parts, log):
        loss_fn, eval_loss_fn, regularizer, metrics = combine(dynamic_parts, spec.parts)
        objective = _objective_fn(spec.graphdef, loss_fn, regularizer)

        def grad_at(params, t):
            step_input = None if xs is None else jax.tree.map(lambda a: a[t], xs)
            batch = spec.select(resident, step_input)
            (obj, loss), grads = jax.value_and_grad(objective, has_aux=True)(params, rest,
                                                                             batch)
            return obj, loss, grads

        obj0, loss0, grads0 = grad_at(state.params, 0)
        model = nnx.merge(spec.graphdef, state.params, rest)

        def evaluate(_):
            out = {} if metrics is None else dict(metrics(model, loss0))
            for name in spec.eval_names:
                out[f"{name}_loss"] = eval_loss_fn(model, eval_data[name])
            return out

        def skip(_):
            return jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype),
                                jax.eval_shape(evaluate, None))

        logged = {"loss": loss0, "objective": obj0, **jax.lax.cond(log, evaluate, skip, None)}
        state = _apply(spec.optimizer, state, grads0, obj0, spec.blowup_factor)

        def running(carry):
            t, s = carry
            return (t < m) & (s.first_bad_step < 0)

        def body(carry):
            t, s = carry
            obj, _, grads = grad_at(s.params, t)
            return t + 1, _apply(spec.optimizer, s, grads, obj, spec.blowup_factor)

        _, state = jax.lax.while_loop(running, body, (jnp.int32(1), state))
        return state, logged

    return segment


_TRACES = [0]


def _primitive_names(jaxpr) -> set[str]:
    """Names of the primitives in `jaxpr` and in every jaxpr nested in it."""
    names = {eqn.primitive.name for eqn in jaxpr.eqns}
    for sub in subjaxprs(jaxpr):
        names |= _primitive_names(sub)
    return names


def fuses_well(segment: Callable, *args) -> bool:
    """Whether fusing steps in a while loop pays for `segment` on these arguments: not on a
    CPU when the step has a convolution (XLA:CPU runs those several times slower in a loop
    body; `benchmarks/fused_convolutions.py` measures it)."""
    if jax.default_backend() != "cpu":
        return True
    return "conv_general_dilated" not in _primitive_names(segment.trace(*args).jaxpr.jaxpr)


@functools.lru_cache(maxsize=64)
def compiled_segment(spec: StepSpec) -> tuple[Callable, list[str]]:
    """(jitted segment, names of the logged values) for `spec`, one per structure: a run of the
    same structure (and shapes) is neither traced nor compiled again, and calls go through
    JAX's C++ dispatch. The segment returns (state, packed): the logged scalars stacked in one
    array (one transfer to the host per log point), in the order of `names`, which is filled
    when the segment is first traced."""
    segment = _segment_fn(spec)
    names: list[str] = []

    def traced(*args):
        _TRACES[0] += 1  # runs only while tracing
        state, logged = segment(*args)
        names[:] = list(logged)
        dtype = jnp.result_type(*logged.values())
        return state, jnp.stack([jnp.asarray(v, dtype) for v in logged.values()])

    return jax.jit(traced), names


def trace_count() -> int:
    """How many times a segment has been traced in this process (for tests)."""
    return _TRACES[0]
