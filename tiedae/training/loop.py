r"""`fit`: the one training loop every model and experiment in tiedae goes through.

    model, history = tiedae.fit(model, data, optimizer=optax.adam(1e-2), steps=1000)

The objective is `loss_fn(model, batch) + regularizer(model)` (default: the mean squared
reconstruction error, no regularizer), minimised by an optax transformation. The data come
from a source (`tiedae.training.sources`): the full batch, reshuffled minibatches, the
covariance of a linear model's data, or rows streamed from the host. Every `log_every` steps the
loop logs the loss, `metrics(model, loss)` (e.g. a linear encoder's orthonormality and distance
to the PCA subspace), the loss on held-out `eval_data`, and calls the callbacks with the current
model; the steps in between run in one compiled call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
from flax import nnx

from tiedae.blas import blas_threads
from tiedae.training import _checks as checks
from tiedae.training import _setup as setup
from tiedae.training import checkpoint as checkpoint_lib
from tiedae.training import distributed
from tiedae.training import sources as sources_lib
from tiedae.training.hooks import model_hooks
from tiedae.training.objectives import reconstruction_error
from tiedae.training.step import StepSpec, TrainState, compiled_segment, fuses_well, partition

__all__ = ["TrainingDiverged", "fit"]

# One instance: the compiled step is keyed by the optimizer, so a new `optax.adam(1e-2)` per
# call would compile every default run again.
DEFAULT_OPTIMIZER = optax.adam(1e-2)


class TrainingDiverged(ValueError):
    """Training diverged: the objective or the parameters became non-finite, or the objective
    grew by `blowup_factor` times its starting value. The model keeps its last finite
    parameters.

    Attributes:
      step: the first step whose update was refused.
      history: the history logged until then (same layout as `fit`'s).
    """

    def __init__(self, message: str, *, step: int, history: dict[str, np.ndarray]):
        super().__init__(message)
        self.step = step
        self.history = history


def _divergence_message(state, steps, hooks, bound, dtype, blowup_factor) -> str:
    step = int(state.first_bad_step)
    bad, start = float(state.bad_objective), float(state.initial_objective)
    floor = float(np.finfo(dtype).eps) ** 0.5
    if not np.isfinite(bad):
        what = f"the objective became non-finite ({bad}) at step {step}"
    elif blowup_factor is not None and abs(bad) > blowup_factor * max(abs(start), floor):
        what = (f"the objective grew from {start:.4g} at step 0 to {bad:.4g} at step {step}, "
                f"more than {blowup_factor:g} times its start")
    else:
        what = f"the update made the parameters non-finite at step {step}"
    causes = []
    if bound.max_abs is not None and bound.n_features:
        if bound.max_abs ** 2 * bound.n_features >= float(np.finfo(dtype).max):
            causes.append(f"the data's largest |value| is {bound.max_abs:.3g}: squared and "
                          f"summed over {bound.n_features} features it overflows "
                          f"{np.dtype(dtype)} (rescale the data or train in float64)")
    hint = hooks.divergence_hint()
    if hint:
        causes.append(hint)
    causes.append("a step size too large for this data (try a smaller learning rate), or a "
                  "negative one (optax's learning rates must be positive to descend)")
    return (f"training diverged: {what} (of {steps} steps). Likely cause: "
            f"{'; or '.join(causes)}. The model keeps its last finite parameters (after "
            f"{step} updates).")


def fit(
    model: nnx.Module,
    data,
    *,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 1000,
    batch_size: int | str | None = None,
    loss_fn: Callable | None = None,
    regularizer: Callable | None = None,
    l2: float = 0.0,
    metrics: Callable | None = None,
    reference=None,
    eval_data=None,
    eval_loss_fn: Callable | None = None,
    log_every: int | None = None,
    callback=None,
    seed: int = 0,
    devices=None,
    center: bool | None = None,
    hyperparams: Mapping[str, float] | None = None,
    chunk_size: int = sources_lib.DEFAULT_CHUNK_ROWS,
    blowup_factor: float | None = 1e6,
    blas_threads_limit: int | None = 1,
    checkpoint: checkpoint_lib.Checkpoint | None = None,
) -> tuple[nnx.Module, dict[str, np.ndarray]]:
    r"""Trains `model` on `data`; returns `(model, history)`. The model is updated in place.

    Minimises loss_fn(model, batch) + regularizer(model) with `optimizer`, by default the mean
    squared reconstruction error (1/b) sum_i ||x_i - model(x_i)||^2 and no regularizer.

    Args:
      model: an `nnx.Module`; with the default loss, `model(x)` reconstructs a batch x.
      data: an (n, ...) array or a list of rows (samples as rows; cast to the model's parameter
        dtype), or a data source (`tiedae.training.FullBatch`, `Minibatches`, `Covariance`,
        `RowChunks`).
      optimizer: an optax transformation; default `optax.adam(1e-2)`.
      steps: number of updates.
      batch_size: with an array: None (full batch), an int (minibatches reshuffled every
        epoch) or "covariance" (the `Covariance` source).
      loss_fn: `loss_fn(model, batch) -> scalar`; default the source's (reconstruction error,
        or its covariance form).
      regularizer: `regularizer(model) -> scalar` added to the loss (e.g. `L2(0.1)`,
        `NonuniformL2(w)`).
      l2: shorthand for `regularizer=L2(l2)`.
      metrics: `metrics(model, loss) -> {name: scalar}` computed inside the compiled step at
        each log point. Default: the model's `default_metrics(reference)` if it has one (a
        `LinearAE`: orthonormality, condition number, and with a reference the loss gap and
        subspace distance).
      reference: `pca.fit(X, k)` of the same data, for a LinearAE's default metrics. Its
        mean, number of rows and total variance are checked against the data's (as far as the
        source can tell them: a stream of unknown length is checked on its mean only).
      eval_data: held-out data, an array (logged as `eval_loss`) or a mapping name -> array
        (logged as `<name>_loss`), evaluated with `eval_loss_fn` at each log point.
      eval_loss_fn: `eval_loss_fn(model, batch) -> scalar` for `eval_data`; default `loss_fn`
        (the reconstruction error when the loss is the source's covariance form). E.g. train
        on `binary_cross_entropy` and report `reconstruction_error`.
      log_every: log every that many steps (and after the last); default about 100 log points.
        The steps between two log points run in one compiled call, except on a CPU for a
        model with convolutions, which XLA:CPU runs slower inside a loop: one call per step
        (`tiedae.training.step.fuses_well`).
      callback: a function or list of functions `cb(step, metrics, model)` called at each log
        point with the model at that step (two-argument `cb(step, metrics)` works too). A
        callback that returns True stops training there (the history ends at that point).
      seed: seed of the minibatch order.
      devices: an int (the first that many devices), "all" (`jax.devices()`) or a list of
        devices: the rows of each batch are sharded over them and the parameters replicated.
        After `tiedae.training.distributed.initialize()` the devices of all processes count:
        then each process passes its own rows as `data` (full batch or minibatches; the
        global data are the processes' rows in process order, `batch_size` is the global
        batch), every process gets the same history and model, and callbacks run on every
        process (see `tiedae.training.distributed`).
      center: set the model's `DataMean` to the mean of the data, so that the model subtracts
        it on the way in and adds it back on the way out (`model(X_raw)` reconstructs raw
        data). Default: True when the model (or any submodule) has a `DataMean`.
      hyperparams: values for the hyperparameters of an `optax.inject_hyperparams` optimizer,
        e.g. {"learning_rate": 0.1}: runs that differ only in them share one compilation.
      chunk_size: rows per chunk when `batch_size="covariance"` computes the covariance.
      blowup_factor: stop when the objective exceeds this many times its value at step 0
        (finite blow-up); None turns the test off.
      blas_threads_limit: BLAS threads while training on the CPU (`tiedae.blas.blas_threads`);
        None leaves the pools alone.
      checkpoint: a `tiedae.training.Checkpoint(directory, every=N)`: write atomic checkpoints
        (state, model variables, history, data position) at the first log point at or after
        each multiple of N steps and after the last; with `resume=True` the same call
        continues from the latest one to the same parameters and history as an uninterrupted
        run, and refuses a checkpoint of another run (`tiedae.training.checkpoint`). One
        process only.

    Returns:
      `(model, history)`: history maps `step`, `wall_time` (seconds from the start of
      training, compilation excluded, until the parameters after `step` updates were computed
      and their divergence check was on the host; 0 for step 0), `loss` and
      `objective` (on the step's batch: the full data for the full batch and the covariance),
      each metric and eval loss, to numpy arrays with one entry per log point. Entry i is
      about the parameters after `step[i]` updates.

    Raises:
      TypeError, ValueError: bad model, data or arguments (the message names the problem).
      TrainingDiverged: the run diverged (see the class); the model keeps its last finite
        parameters and the exception carries the step and the history so far.

    Example:
      >>> import optax
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
    hooks = model_hooks(model)  # what the model offers beyond model(x), looked up once
    steps, log_every = setup.check_steps(steps, log_every)
    optimizer, regularizer = setup.check_objective(
        optimizer, DEFAULT_OPTIMIZER, loss_fn=loss_fn, eval_loss_fn=eval_loss_fn,
        regularizer=regularizer, l2=l2, metrics=metrics, blowup_factor=blowup_factor,
        checkpoint=checkpoint)
    seed = checks.check_seed(seed)
    source = sources_lib.as_source(checks.rows_as_array(data), batch_size, chunk_size=chunk_size)
    if isinstance(source, sources_lib.Covariance):
        checks.check_covariance_model(hooks)
    mesh = setup.mesh(devices)
    callbacks = setup.callbacks(callback)
    metrics = setup.metrics(metrics, reference, hooks)
    initial = jax.tree.leaves(nnx.state(model, nnx.Param))
    if not initial:
        raise ValueError(f"{type(model).__name__} has no nnx.Param to train")
    dtype = np.dtype(initial[0].dtype)
    settings = setup.settings(steps=steps, log_every=log_every, seed=seed, center=center,
                              source=source, mesh=mesh, dtype=dtype,
                              blowup_factor=blowup_factor, hyperparams=hyperparams)
    multi = distributed.spans_processes(mesh)
    mean, evals = None, None
    if multi:  # see tiedae.training.distributed for the contract
        if checkpoint is not None:
            raise ValueError("checkpoint= is not supported for a run over several processes")
        mean, evals = distributed.agree_on_inputs(
            lambda: setup.local_rows(source, dtype),
            lambda: setup.eval_data(eval_data, dtype, hooks.d), initial, settings)
    offset = setup.set_data_mean(model, source, center, mean)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    bound = source.bind(dtype=dtype, mesh=mesh, seed=seed, offset=offset)
    if hooks.d is not None and bound.n_features is not None and bound.n_features != hooks.d:
        raise ValueError(f"X has d={bound.n_features} features but the model expects "
                         f"d={hooks.d}")
    if not multi:  # a process's source holds its own rows only; the reference is global
        checks.check_reference(reference, source, chunk_size)
    evals = setup.eval_data(eval_data, dtype, hooks.d) if evals is None else evals
    if eval_loss_fn is None:
        eval_loss_fn = reconstruction_error if loss_fn is None else loss_fn
    if loss_fn is None:
        loss_fn = source.default_loss

    state = TrainState.create(params, optimizer)
    state = state._replace(opt_state=setup.set_hyperparams(state.opt_state, hyperparams))
    parts = partition((loss_fn, eval_loss_fn, regularizer, metrics))
    session, restored = None, None
    if checkpoint is not None:
        session, restored = checkpoint_lib.start(
            checkpoint, model=model, state=state, rest=rest, optimizer=optimizer, source=source,
            bound=bound, parts=parts, evals=evals, settings=settings)
        bound = session.bound
        if restored is not None:
            state, rest = restored.state, restored.rest
    with contextlib.nullcontext() if session is None else session:  # releases its directory
        state, rest, evals = setup.place((state, rest, evals), mesh, multi)
        dynamic_parts, static_parts = parts
        spec = StepSpec(graphdef, optimizer, bound.select, static_parts, tuple(evals),
                        None if blowup_factor is None else float(blowup_factor))
        capacity = max(1, min(log_every, bound.max_fused_steps or log_every))

        with blas_threads(blas_threads_limit):
            segment, names = compiled_segment(spec)
            args = lambda cap: (  # noqa: E731
                state, rest, bound.resident, bound.next_inputs(cap, 0), np.int32(1), evals,
                dynamic_parts, True)
            if capacity > 1 and not fuses_well(segment, *args(capacity)):
                capacity = 1
            # Compile (or find compiled) outside the timed loop: one call on placeholder inputs,
            # its result dropped.
            jax.block_until_ready(segment(*args(capacity)))
            if session is not None:
                session.seek(restored, capacity)
            run = _Run(segment, names, rest, bound, evals, dynamic_parts, capacity, multi, hooks,
                       session)
            return _train(model, state, run, steps, log_every, callbacks, dtype,
                          spec.blowup_factor, restored)


class _Run(NamedTuple):
    """What the host loop of one run works with."""

    segment: Callable
    names: list[str]
    rest: Any
    bound: sources_lib.Bound
    evals: dict
    dynamic_parts: list
    capacity: int
    multi: bool
    hooks: Any
    session: checkpoint_lib.Session | None


def _train(model, state, run: _Run, steps, log_every, callbacks, dtype, blowup_factor,
           restored: checkpoint_lib.Restored | None = None):
    """Host loop: one compiled call per log interval (several if the source streams less at
    once); log, call back, write checkpoints, stop on divergence. `restored`: resume after
    `restored.step` steps, with its history."""
    segment, names, rest, bound, evals, dynamic_parts, capacity, multi, hooks, session = run
    # Over several processes the state holds global (replicated) arrays: the model gets this
    # process's copy, which computations of one process alone can use.
    as_local = distributed.local_copy
    t, reached = (0, 0.0) if restored is None else (restored.step, restored.reached)
    history: dict[str, list] = ({"step": [], "wall_time": []} if restored is None
                                else restored.history)
    as_arrays = lambda: {key: np.asarray(val) for key, val in history.items()}  # noqa: E731
    start = time.perf_counter() - reached  # reached: when the parameters after t updates existed
    while True:
        todo = min(log_every, steps - t) if t < steps else 1  # the last call only measures
        new_state, logged, done = state, None, 0
        while done < todo and int(new_state.first_bad_step) < 0:
            m = min(capacity, todo - done)
            # an interval of several calls logs in its first only
            new_state, out = segment(new_state, rest, bound.resident,
                                     bound.next_inputs(capacity, m), np.int32(m), evals,
                                     dynamic_parts, logged is None)
            logged = out if logged is None else logged
            done += m
        logged = dict(zip(names, np.asarray(logged).tolist(), strict=True))
        bad = int(new_state.first_bad_step)
        done_at = time.perf_counter() - start
        if t == steps and bad == t and not _refused(logged["objective"], new_state, dtype,
                                                    blowup_factor):
            bad = -1  # only the discarded update of the measuring call failed
        if bad != t:  # the parameters after t updates were fine: log them
            history["step"].append(t)
            history["wall_time"].append(reached)
            for key, val in logged.items():
                history.setdefault(key, []).append(val)
            if callbacks:
                nnx.update(model, as_local(state.params))
                stop = any([bool(cb(t, dict(logged), model)) for cb in callbacks])
                if distributed.any_process(stop) if multi else stop:
                    return model, as_arrays()
        if bad >= 0:
            nnx.update(model, as_local(new_state.params))
            raise TrainingDiverged(
                _divergence_message(new_state, steps, hooks, bound, dtype, blowup_factor),
                step=bad, history=as_arrays())
        if t == steps:
            nnx.update(model, as_local(state.params))
            return model, as_arrays()
        state, t, reached = new_state, t + todo, done_at
        if session is not None and session.due(t):  # its time is not the run's
            paused = time.perf_counter()
            session.save(t, state, rest, history, reached)
            start += time.perf_counter() - paused


def _refused(objective, state, dtype, blowup_factor) -> bool:
    """Whether the divergence guard refuses this objective (non-finite or blown up)."""
    if not np.isfinite(objective):
        return True
    if blowup_factor is None:
        return False
    floor = float(np.finfo(dtype).eps) ** 0.5
    return abs(objective) > blowup_factor * max(abs(float(state.initial_objective)), floor)
