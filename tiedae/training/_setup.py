"""The set-up of a `fit` run, before its loop: the arguments checked and turned into what the
loop uses (steps, devices, callbacks, held-out data, the model's mean, hyperparameters)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from tiedae._validation import check_data, check_positive_int
from tiedae.linear.model import DataMean
from tiedae.training import _checks as checks
from tiedae.training import distributed
from tiedae.training import sources as sources_lib
from tiedae.training.checkpoint import Checkpoint
from tiedae.training.hooks import Hooks
from tiedae.training.objectives import L2


def check_steps(steps, log_every) -> tuple[int, int]:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if log_every is None:
        log_every = max(1, -(-int(steps) // 100))  # ceil: at most about 100 log points
    try:
        log_every = check_positive_int(log_every, "log_every")
    except TypeError as err:
        raise ValueError(str(err)) from None
    return int(steps), log_every


def check_objective(optimizer, default_optimizer, *, loss_fn, eval_loss_fn, regularizer, l2,
                    metrics, blowup_factor, checkpoint):
    """(optimizer, regularizer) after checking the parts of the objective and the options."""
    optimizer = default_optimizer if optimizer is None else optimizer
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax transformation such as optax.adam(1e-2); "
                        f"got {optimizer!r}")
    checks.check_callable(loss_fn, "loss_fn", "(model, batch) -> scalar")
    checks.check_callable(eval_loss_fn, "eval_loss_fn", "(model, batch) -> scalar")
    checks.check_callable(regularizer, "regularizer",
                          "(model) -> scalar, e.g. tiedae.training.L2(0.1)")
    checks.check_callable(metrics, "metrics", "(model, loss) -> {name: scalar}")
    if l2:
        if regularizer is not None:
            raise ValueError("give either l2 or regularizer, not both")
        regularizer = L2(l2)
    if blowup_factor is not None and not (np.isfinite(blowup_factor) and blowup_factor > 1):
        raise ValueError(f"blowup_factor must be a finite number > 1, or None; got "
                         f"{blowup_factor!r}")
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"checkpoint must be a tiedae.training.Checkpoint(directory, every=...) "
                        f"or None; got {checkpoint!r}")
    return optimizer, regularizer


_DEVICES = 'devices must be None, an int, "all" or a list of devices'


def mesh(devices) -> Mesh | None:
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"{_DEVICES}; got {devices!r}")
        devices = jax.devices()
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        if devices < 1:
            raise ValueError(f"devices must be >= 1 (or a list of devices); got {devices}")
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices} but JAX sees {len(available)} device(s)")
        devices = available[:devices]
    else:
        if isinstance(devices, bool) or not isinstance(devices, list | tuple):
            raise TypeError(f"{_DEVICES} (such as jax.devices()[:2]); got "
                            f"{type(devices).__name__} {devices!r}")
        wrong = [d for d in devices if not isinstance(d, jax.Device)]
        if wrong:
            raise TypeError(f"{_DEVICES}; the list holds {type(wrong[0]).__name__} "
                            f"{wrong[0]!r}, not a jax.Device (see jax.devices())")
        if not devices:
            raise ValueError(f"{_DEVICES}; got an empty {type(devices).__name__}")
    return Mesh(np.asarray(distributed.ordered_devices(devices)), ("batch",))


def callbacks(callback) -> list[Callable]:
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


def metrics(given, reference, hooks: Hooks):
    """The metrics function of the run: `given`, or the model's default ones."""
    if given is not None and reference is not None:
        raise ValueError("reference= sets up the model's default metrics; with metrics= given it "
                         "would be ignored: drop one (e.g. metrics=tiedae.metrics.LinearAEMetrics"
                         ".from_reference(ref, k=k, d=d))")
    return hooks.default_metrics(reference) if given is None else given


def eval_data(eval_data, dtype, model_d) -> dict[str, jax.Array]:
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


def set_data_mean(model, source, center, mean=None) -> np.ndarray | None:
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


def set_hyperparams(opt_state, hyperparams):
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


def settings(*, steps, log_every, seed, center, source, mesh, dtype, blowup_factor,
             hyperparams) -> dict:
    """The settings every process of a run must share, and a resumed run with its
    checkpoint (JSON values)."""
    return {"steps": steps, "log_every": log_every, "seed": seed, "center": center,
            "source": type(source).__name__, "devices": None if mesh is None else mesh.size,
            "dtype": str(dtype), "batch_size": getattr(source, "batch_size", None),
            "source seed": getattr(source, "seed", None), "blowup_factor": blowup_factor,
            "hyperparams": {k: float(v) for k, v in sorted((hyperparams or {}).items())}}


def local_rows(source, dtype) -> np.ndarray:
    """This process's rows, checked, for a run over several processes."""
    data = getattr(source, "data", None)
    pytree = isinstance(data, dict | tuple | list)
    if not isinstance(source, sources_lib.FullBatch | sources_lib.Minibatches) or pytree:
        raise TypeError(f"a run over several processes takes an array of this process's rows "
                        f"(full batch or minibatches); got {type(source).__name__}"
                        f"{' of a pytree' if pytree else ''}")
    return sources_lib._check_rows(data, "X", dtype)


def place(tree, mesh, multi: bool):
    """The run's arrays on its devices: replicated over the mesh (or as they are)."""
    if multi:
        return distributed.replicate(tree, mesh)
    if mesh is not None:
        return jax.device_put(tree, jax.sharding.NamedSharding(mesh,
                                                               jax.sharding.PartitionSpec()))
    return tree
