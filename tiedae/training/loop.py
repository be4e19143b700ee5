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

import inspect
import time
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from tiedae._validation import check_data, check_positive_int
from tiedae.blas import blas_threads
from tiedae.linear.model import DataMean
from tiedae.training import _checks as checks
from tiedae.training import distributed
from tiedae.training import sources as sources_lib
from tiedae.training.objectives import L2, reconstruction_error
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


def _check_steps(steps, log_every) -> tuple[int, int]:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if log_every is None:
        log_every = max(1, -(-int(steps) // 100))  # ceil: at most about 100 log points
    try:
        log_every = check_positive_int(log_every, "log_every")
    except TypeError as err:
        raise ValueError(str(err)) from None
    return int(steps), log_every




def _mesh(devices) -> Mesh | None:
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f'devices must be None, an int, "all" or a list of devices; got '
                             f"{devices!r}")
        devices = jax.devices()
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        if devices < 1:
            raise ValueError(f"devices must be >= 1 (or a list of devices); got {devices}")
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices} but JAX sees {len(available)} device(s)")
        devices = available[:devices]
    return Mesh(np.asarray(distributed.ordered_devices(devices)), ("batch",))


def _callbacks(callback) -> list[Callable]:
    """Each callback as f(step, metrics, model); two-argument callbacks get (step, metrics)."""
    if callback is None:
        return []
    given = list(callback) if isinstance(callback, list | tuple) else [callback]
    out = []
    for cb in given:
        if not callable(cb):
            raise TypeError(f"callback must be callable; got {type(cb).__name__}")
        try:
            inspect.signature(cb).bind(0, {}, None)
            out.append(cb)
        except TypeError:
            out.append(lambda step, logged, model, cb=cb: cb(step, logged))
        except ValueError:  # no signature (builtins): assume the full form
            out.append(cb)
    return out


def _eval_data(eval_data, dtype, model_d) -> dict[str, jax.Array]:
    if eval_data is None:
        return {}
    named = dict(eval_data) if isinstance(eval_data, Mapping) else {"eval": eval_data}
    out = {}
    for name, X in named.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"eval_data names must be identifiers; got {name!r}")
        arr = np.asarray(X)
        flat = check_data(arr.reshape(len(arr), -1) if arr.ndim > 2 else arr,
                          f"eval_data[{name!r}]", min_samples=1, dtype=dtype)
        if model_d is not None and arr.ndim == 2 and arr.shape[1] != model_d:
            raise ValueError(f"eval_data[{name!r}] has d={arr.shape[1]} features but the model "
                             f"expects d={model_d}")
        out[name] = jnp.asarray(flat.reshape(arr.shape))
    return out








def _default_metrics(model, reference):
    if hasattr(model, "default_metrics"):
        return model.default_metrics(reference)
    if reference is not None:
        raise ValueError(f"reference metrics need a model with default_metrics() (a LinearAE); "
                         f"{type(model).__name__} has none: pass metrics= instead")
    return None


def _set_data_mean(model, source, center, mean=None) -> np.ndarray | None:
    """Sets every `DataMean` of the model to the data mean (when centring; `mean`, or the
    source's); returns the vector the model subtracts from each row (None when it has no
    `DataMean`)."""
    means = [v for _, v in nnx.iter_graph(model) if isinstance(v, DataMean)]
    if center is None:
        center = bool(means)
    if center:
        if not means:
            raise ValueError(
                "center=True needs a model with a tiedae.DataMean variable to hold the mean "
                "(LinearAE has one); centre X yourself or add one to the model")
        mu = np.asarray(source.mean() if mean is None else mean, np.float64)
        for var in means:
            if var[...].shape != mu.shape:
                raise ValueError(f"X has d={mu.size} features but the model expects "
                                 f"d={var[...].shape[0]} (the data's mean has {mu.size} entries)")
            if not np.isfinite(mu).all():
                raise ValueError("the data's mean contains NaN or inf (a mean given to "
                                 "RowChunks(mean=...)?)")
            var[...] = jnp.asarray(mu, var[...].dtype)
    return np.asarray(means[0][...], np.float64) if means else None


def _set_hyperparams(opt_state, hyperparams):
    if not hyperparams:
        return opt_state
    if not hasattr(opt_state, "hyperparams"):
        raise ValueError("hyperparams= needs an optimizer made with optax.inject_hyperparams")
    for name, value in hyperparams.items():
        if name not in opt_state.hyperparams:
            raise ValueError(f"the optimizer has no hyperparameter {name!r}; it has "
                             f"{sorted(opt_state.hyperparams)}")
        old = opt_state.hyperparams[name]
        opt_state.hyperparams[name] = jnp.asarray(value, jnp.asarray(old).dtype)
    return opt_state


def _local_rows(source, dtype) -> np.ndarray:
    """This process's rows, checked, for a run over several processes."""
    data = getattr(source, "data", None)
    pytree = isinstance(data, dict | tuple | list)
    if not isinstance(source, sources_lib.FullBatch | sources_lib.Minibatches) or pytree:
        raise TypeError(f"a run over several processes takes an array of this process's rows "
                        f"(full batch or minibatches); got {type(source).__name__}"
                        f"{' of a pytree' if pytree else ''}")
    return sources_lib._check_rows(data, "X", dtype)


def _divergence_message(state, steps, model, bound, dtype, blowup_factor) -> str:
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
    hint = model.divergence_hint() if hasattr(model, "divergence_hint") else None
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
    steps, log_every = _check_steps(steps, log_every)
    optimizer = DEFAULT_OPTIMIZER if optimizer is None else optimizer
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax transformation such as optax.adam(1e-2); "
                        f"got {optimizer!r}")
    checks.check_callable(loss_fn, "loss_fn", "(model, batch) -> scalar")
    checks.check_callable(eval_loss_fn, "eval_loss_fn", "(model, batch) -> scalar")
    checks.check_callable(regularizer, "regularizer",
                          "(model) -> scalar, e.g. tiedae.training.L2(0.1)")
    checks.check_callable(metrics, "metrics", "(model, loss) -> {name: scalar}")
    seed = checks.check_seed(seed)
    data = checks.rows_as_array(data)
    if l2:
        if regularizer is not None:
            raise ValueError("give either l2 or regularizer, not both")
        regularizer = L2(l2)
    if blowup_factor is not None and not (np.isfinite(blowup_factor) and blowup_factor > 1):
        raise ValueError(f"blowup_factor must be a finite number > 1, or None; got "
                         f"{blowup_factor!r}")
    source = sources_lib.as_source(data, batch_size, chunk_size=chunk_size)
    if isinstance(source, sources_lib.Covariance):
        checks.check_covariance_model(model)
    mesh = _mesh(devices)
    callbacks = _callbacks(callback)
    if metrics is not None and reference is not None:
        raise ValueError("reference= sets up the model's default metrics; with metrics= given it "
                         "would be ignored: drop one (e.g. metrics=tiedae.metrics.LinearAEMetrics"
                         ".from_reference(ref, k=k, d=d))")
    metrics = _default_metrics(model, reference) if metrics is None else metrics
    initial = jax.tree.leaves(nnx.state(model, nnx.Param))
    if not initial:
        raise ValueError(f"{type(model).__name__} has no nnx.Param to train")
    dtype = np.dtype(initial[0].dtype)

    model_d = getattr(model, "d", None)
    multi = distributed.spans_processes(mesh)
    mean, evals = None, None
    if multi:  # see tiedae.training.distributed for the contract
        settings = {"steps": steps, "log_every": log_every, "seed": seed, "center": center,
                    "source": type(source).__name__, "devices": mesh.size, "dtype": str(dtype),
                    "batch_size": getattr(source, "batch_size", None),
                    "source seed": getattr(source, "seed", None),
                    "blowup_factor": blowup_factor, "hyperparams": {
                        k: float(v) for k, v in sorted((hyperparams or {}).items())}}
        mean, evals = distributed.agree_on_inputs(
            lambda: _local_rows(source, dtype),
            lambda: _eval_data(eval_data, dtype, model_d), initial, settings)
    offset = _set_data_mean(model, source, center, mean)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    bound = source.bind(dtype=dtype, mesh=mesh, seed=seed, offset=offset)
    if model_d is not None and bound.n_features is not None and bound.n_features != model_d:
        raise ValueError(f"X has d={bound.n_features} features but the model expects "
                         f"d={model_d}")
    if not multi:  # a process's source holds its own rows only; the reference is global
        checks.check_reference(reference, source, chunk_size)
    evals = _eval_data(eval_data, dtype, model_d) if evals is None else evals
    if eval_loss_fn is None:
        eval_loss_fn = reconstruction_error if loss_fn is None else loss_fn
    if loss_fn is None:
        loss_fn = source.default_loss

    state = TrainState.create(params, optimizer)
    state = state._replace(opt_state=_set_hyperparams(state.opt_state, hyperparams))
    if multi:
        state, rest, evals = distributed.replicate((state, rest, evals), mesh)
    elif mesh is not None:
        replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        state, rest = jax.device_put((state, rest), replicated)
        evals = jax.device_put(evals, replicated)
    dynamic_parts, static_parts = partition((loss_fn, eval_loss_fn, regularizer, metrics))
    spec = StepSpec(graphdef, optimizer, bound.select, static_parts, tuple(evals),
                    None if blowup_factor is None else float(blowup_factor))
    capacity = max(1, min(log_every, bound.max_fused_steps or log_every))

    with blas_threads(blas_threads_limit):
        segment, names = compiled_segment(spec)
        args = lambda cap: (state, rest, bound.resident, bound.next_inputs(cap, 0),  # noqa: E731
                            np.int32(1), evals, dynamic_parts, True)
        if capacity > 1 and not fuses_well(segment, *args(capacity)):
            capacity = 1
        # Compile (or find compiled) outside the timed loop: one call on placeholder inputs,
        # its result dropped.
        jax.block_until_ready(segment(*args(capacity)))
        run = (segment, names, rest, bound, evals, dynamic_parts, capacity, multi)
        return _train(model, state, run, steps, log_every, callbacks, dtype,
                      spec.blowup_factor)


def _train(model, state, run, steps, log_every, callbacks, dtype, blowup_factor):
    """Host loop: one compiled call per log interval (several if the source streams less at
    once); log, call back, stop on divergence."""
    segment, names, rest, bound, evals, dynamic_parts, capacity, multi = run
    # Over several processes the state holds global (replicated) arrays: the model gets this
    # process's copy, which computations of one process alone can use.
    as_local = distributed.local_copy
    history: dict[str, list] = {"step": [], "wall_time": []}
    as_arrays = lambda: {key: np.asarray(val) for key, val in history.items()}  # noqa: E731
    t, start = 0, time.perf_counter()
    reached = 0.0  # when the parameters after t updates existed (seconds since start)
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
                _divergence_message(new_state, steps, model, bound, dtype, blowup_factor),
                step=bad, history=as_arrays())
        if t == steps:
            nnx.update(model, as_local(state.params))
            return model, as_arrays()
        state, t, reached = new_state, t + todo, done_at


def _refused(objective, state, dtype, blowup_factor) -> bool:
    """Whether the divergence guard refuses this objective (non-finite or blown up)."""
    if not np.isfinite(objective):
        return True
    if blowup_factor is None:
        return False
    floor = float(np.finfo(dtype).eps) ** 0.5
    return abs(objective) > blowup_factor * max(abs(float(state.initial_objective)), floor)
