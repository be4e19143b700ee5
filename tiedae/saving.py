"""`save` and `load`: a trained tiedae model in one file, restored bit for bit.

The file is an uncompressed `.npz` archive (numpy's zip of `.npy` arrays): one array per
variable of `nnx.state(model)` (every variable, not only the `nnx.Param`s: a `LinearAE`'s
`DataMean` too) and one more, `__tiedae__`, holding JSON: the format version, the model's class
and the constructor arguments that rebuild its structure. `load` reads it with
`np.load(allow_pickle=False)` (nothing is ever unpickled), rebuilds the model from the recorded
class (only tiedae's own: `LinearAE`, `MLPAE`, `ConvAE`, `GraphAE`, `SequentialAE`) and
arguments, checks that every variable's path, kind, shape and dtype match, and sets them.

`save` writes a temporary file in the target's folder, flushes it to disk and renames it over
the target, so an interrupted save leaves the old file (or none), never half a file. It replaces
an existing tiedae model file but refuses to overwrite any other file.

For a module of your own, save its whole state (`nnx.state(model)`, e.g. with Orbax, or its
leaves with `np.savez`) and `nnx.update` a freshly built module with it; restoring only
`nnx.state(model, nnx.Param)` loses every other variable, such as a `DataMean`.

Example:
  >>> import os, tempfile
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> import tiedae
  >>> model = tiedae.LinearAE(6, 2, decoder="pinv", rngs=nnx.Rngs(0))
  >>> model.mean.set_value(jnp.full((6,), 0.25, jnp.float32))  # as tiedae.fit would
  >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
  >>> tiedae.save(model, path)
  >>> restored = tiedae.load(path)
  >>> x = jnp.ones((3, 6))
  >>> bool(jnp.array_equal(restored(x), model(x))), restored.decoder
  (True, 'pinv')
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae.linear.model import DataMean, LinearAE
from tiedae.nonlinear import layers, sequential
from tiedae.nonlinear.conv import ConvAE
from tiedae.nonlinear.graph import GraphAE
from tiedae.nonlinear.mlp import MLPAE
from tiedae.nonlinear.sequential import SequentialAE

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]

FORMAT = "tiedae.model"
FORMAT_VERSION = 1
_META = "__tiedae__"
_VARIABLES = {"Param": nnx.Param, "DataMean": DataMean}
_LAYER_SPECS = {name: getattr(sequential, name) for name in sequential.__all__
                if name != "SequentialAE"}


def _activation_name(fn, model: str, what: str) -> str:
    for name, known in layers.ACTIVATIONS.items():
        if fn is known:
            return name
    raise TypeError(f"{model}'s {what} is a function of your own ({fn!r}): save records only "
                    f"the named activations {tuple(layers.ACTIVATIONS)}; build the model "
                    "with a name, or save nnx.state(model) yourself and rebuild it in code")


def _param_dtype(model) -> str:
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    return str(leaves[0].dtype) if leaves else "float32"


def _linear_config(m: LinearAE) -> dict:
    return {"d": m.d, "k": m.k, "decoder": m.decoder, "use_bias": bool(m.use_bias),
            "decoder_eps": m.decoder_eps, "param_dtype": str(m.dtype)}


def _mlp_config(m: MLPAE) -> dict:
    decoder = m.decoder_kind if m.decoder_kind != "custom" else list(m.decoder_widths[:-1])
    return {"d": m.d, "encoder_widths": list(m.encoder_widths),
            "activation": _activation_name(m.activation, "MLPAE", "activation"),
            "decoder": decoder, "decoder_width_multiplier": m.decoder_width_multiplier,
            "output_activation": _activation_name(m.output_activation, "MLPAE",
                                                  "output_activation"),
            "code_activation": _activation_name(m.code_activation, "MLPAE", "code_activation"),
            "use_bias": m.use_bias, "param_dtype": _param_dtype(m)}


def _conv_config(m: ConvAE) -> dict:
    return {"image_shape": list(m.image_shape), "channels": list(m.channels),
            "kernel_size": m.kernel_size, "stride": m.stride, "decoder": m.decoder,
            "activation": _activation_name(m.activation, "ConvAE", "activation"),
            "param_dtype": _param_dtype(m)}


def _graph_config(m: GraphAE) -> dict:
    mlp_hidden = ([int(W.shape[1]) for W in list(m.mlp_weights)[:-1]]
                  if m.decoder == "mlp" else [64])
    return {"n_nodes": m.n_nodes, "hidden": int(m.W0.shape[1]), "code_dim": int(m.W1.shape[1]),
            "decoder": m.decoder, "mlp_hidden": mlp_hidden,
            "decoder_propagation": m.decoder_propagation}


def _spec_json(spec) -> dict:
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    return {"layer": type(spec).__name__,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}


def _sequential_config(m: SequentialAE) -> dict:
    return {"input_shape": list(m.input_shape),
            "encoder": [_spec_json(s) for s in m.encoder_specs],
            "decoder": [_spec_json(s) for s in m.decoder_specs],
            "param_dtype": _param_dtype(m)}


_CONFIGS = {LinearAE: _linear_config, MLPAE: _mlp_config, ConvAE: _conv_config,
            GraphAE: _graph_config, SequentialAE: _sequential_config}
_CLASSES = {cls.__name__: cls for cls in _CONFIGS}


def _spec(entry, where: str):
    if not isinstance(entry, dict) or entry.get("layer") not in _LAYER_SPECS:
        raise ValueError(f"{where}: unknown layer spec {entry!r}")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()
              if k != "layer"}
    return _LAYER_SPECS[entry["layer"]](**fields)


def _build(name: str, config: dict, where: str) -> nnx.Module:
    """The model `name(**config)` with fresh (or, for a LinearAE, abstract) variables."""
    cls = _CLASSES[name]
    kwargs = dict(config)
    if "param_dtype" in kwargs:
        kwargs["param_dtype"] = jnp.dtype(kwargs["param_dtype"])
    try:
        if cls is SequentialAE:
            kwargs["encoder"] = [_spec(s, where) for s in kwargs.get("encoder", ())]
            kwargs["decoder"] = [_spec(s, where) for s in kwargs.get("decoder", ())]
        if cls is LinearAE:  # no random initialisation compiled for every new shape
            return nnx.eval_shape(lambda: cls(**kwargs, rngs=nnx.Rngs(0)))
        return cls(**kwargs, rngs=nnx.Rngs(0))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: the recorded {name} arguments {config} do not build a "
                         f"model: {err}") from err


def _flat(model) -> list:
    return list(nnx.to_flat_state(nnx.state(model)))


def _is_model_file(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{_META}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _path(path, caller: str) -> str:
    """`path` (str, bytes or os.PathLike) as a str with `~` expanded, or a clear error."""
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(f"{caller}'s path must be a file name (str or pathlib.Path); got "
                        f"{path!r}")
    path = os.path.expanduser(os.fsdecode(os.fspath(path)))
    if not path:
        raise ValueError(f"{caller}'s path is empty: give a file name")
    return path


def save(model: nnx.Module, path) -> None:
    """Writes `model` (its class, constructor arguments and every variable) to `path`.

    Args:
      model: a `LinearAE`, `MLPAE`, `ConvAE`, `GraphAE` or `SequentialAE` (activations given
        by name).
      path: the file to write, exactly as named (no suffix is added; `.npz` is customary;
        `~` is expanded). Its folder must exist. An existing tiedae model file there is
        replaced (atomically); any other file is refused.

    Raises:
      TypeError: `model` is not one of tiedae's models, or holds an activation function of
        one's own.
      FileExistsError: `path` exists and is not a tiedae model file.
    """
    if type(model) not in _CONFIGS and callable(getattr(model, "get_params", None)):
        raise TypeError(f"tiedae.save stores tiedae's models (nnx modules); "
                        f"{type(model).__name__} is a scikit-learn estimator: save it with "
                        "pickle.dump or joblib.dump")
    if type(model) not in _CONFIGS:
        raise TypeError(f"tiedae.save stores tiedae's own models ({', '.join(_CLASSES)}); got "
                        f"{type(model).__name__}. For a module of your own, save its whole "
                        "state nnx.state(model) (every variable, not only nnx.Param; e.g. with "
                        "orbax, or np.savez of its leaves) and nnx.update a freshly built "
                        "module with it")
    path = _path(path, "tiedae.save")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder: give tiedae.save a file name")
    if os.path.exists(path) and not _is_model_file(path):
        raise FileExistsError(f"{path} exists and is not a tiedae model file: refusing to "
                              "overwrite it (remove it or choose another name)")
    arrays, variables = {}, []
    for i, (key, var) in enumerate(_flat(model)):
        kind = type(var).__name__
        if kind not in _VARIABLES:
            raise TypeError(f"{type(model).__name__} holds a variable {key} of kind {kind}, "
                            "which tiedae.save does not know")
        if isinstance(var.get_value(), jax.core.Tracer):
            raise TypeError(f"tiedae.save got a traced {type(model).__name__} (called inside "
                            "jit, grad or vmap): save it outside, e.g. after fit or in a fit "
                            "callback")
        value = np.asarray(jax.device_get(var.get_value()))
        arrays[f"v{i}"] = value
        variables.append({"path": list(key), "kind": kind, "shape": list(value.shape),
                          "dtype": str(value.dtype)})
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "class": type(model).__name__,
            "config": _CONFIGS[type(model)](model), "variables": variables}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable (best effort: not every system allows it)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _read(path: str) -> tuple[dict, dict]:
    """(metadata, arrays) of a model file, or a ValueError saying what is wrong with it."""
    not_ours = (f"{path} is not a tiedae model file (tiedae.save writes an .npz archive with "
                f"a {_META!r} entry)")
    try:
        if os.path.isfile(path) and os.path.getsize(path):
            with open(path, "rb") as fh:
                head = fh.read(6)
            if not head.startswith((b"PK", b"\x93NUMPY")):  # numpy would try to unpickle it
                raise ValueError(f"{not_ours}: it is not an .npz (zip) archive")
        loaded = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except ValueError as err:
        if str(err).startswith(not_ours):
            raise
        raise ValueError(f"{not_ours}, or a corrupt or truncated one ({err})") from err
    except (EOFError, OSError, zipfile.BadZipFile) as err:
        raise ValueError(f"{not_ours}, or a corrupt or truncated one ({err})") from err
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{not_ours}: it holds a single array")
    try:
        with loaded as archive:
            if _META not in archive.files and "meta.json" in archive.files:
                raise ValueError(f"{path} is a checkpoint of tiedae.fit, not a model file: "
                                 "run the same fit call again with Checkpoint(..., "
                                 "resume=True) to get its model, then tiedae.save that")
            if _META not in archive.files:
                raise ValueError(f"{not_ours}: an .npz archive without it (restore a state "
                                 "saved by hand with nnx.update)")
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"{path} is corrupt or truncated ({err}); save the model again") \
            from err
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is corrupt: its metadata is not JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{not_ours}: its metadata names no tiedae model format")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format {version!r} by a newer tiedae; "
                         f"this one reads format {FORMAT_VERSION}: upgrade tiedae")
    if meta.get("class") not in _CLASSES:
        raise ValueError(f"{path} holds a model of unknown class {meta.get('class')!r}; "
                         f"tiedae.load rebuilds only {', '.join(_CLASSES)}")
    return meta, arrays


def load(path) -> nnx.Module:
    """The model `save` wrote to `path`, with every variable restored exactly.

    Args:
      path: a file written by `tiedae.save`.

    Returns:
      A new model of the recorded class, its variables equal (bit for bit, same dtype) to the
      saved ones.

    Raises:
      ValueError: not a tiedae model file, a corrupt or truncated one, one from a newer format
        version, an unknown model class, or variables that do not fit the recorded model.
      FileNotFoundError: no such file.
    """
    path = _path(path, "tiedae.load")
    meta, arrays = _read(path)
    where = path
    entries = meta.get("variables")
    if not isinstance(entries, list) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{where} is corrupt: its metadata lacks the variables or arguments")
    if not jax.config.read("jax_enable_x64") and any(
            isinstance(e, dict) and e.get("dtype") == "float64" for e in entries):
        raise ValueError(f"{where} holds float64 variables: call "
                         "jax.config.update('jax_enable_x64', True) before tiedae.load")
    model = _build(meta["class"], meta["config"], where)
    expected = _flat(model)
    if len(entries) != len(expected):
        raise ValueError(f"{where} holds {len(entries)} variables; a {meta['class']} with the "
                         f"recorded arguments has {len(expected)}: the file is corrupt")
    restored = []
    for i, ((key, var), entry) in enumerate(zip(expected, entries, strict=True)):
        value = arrays.get(f"v{i}")
        want = jax.ShapeDtypeStruct(np.shape(var.get_value()), var.get_value().dtype)
        if (value is not None and value.dtype.kind == "V" and isinstance(entry, dict)
                and entry.get("dtype") == str(want.dtype)
                and value.dtype.itemsize == want.dtype.itemsize):
            value = value.view(want.dtype)  # npy stores bfloat16 & co. as raw bytes (|V2)
        if (not isinstance(entry, dict) or tuple(entry.get("path", ())) != tuple(key)
                or entry.get("kind") != type(var).__name__ or value is None
                or value.shape != want.shape or value.dtype != want.dtype):
            got = None if value is None else f"{value.shape} {value.dtype}"
            raise ValueError(f"{where} is corrupt: variable {i} ({entry!r}, array {got}) does "
                             f"not fit {'/'.join(map(str, key))} of the {meta['class']}, a "
                             f"{type(var).__name__} of {want.shape} {want.dtype}")
        restored.append((key, var.replace(jnp.asarray(value))))
    nnx.update(model, nnx.from_flat_state(restored))
    return model
