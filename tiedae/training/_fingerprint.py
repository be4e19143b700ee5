"""The fingerprint of a `fit` run, which a checkpoint records and a resumed call must match
(`tiedae.training.checkpoint`): JSON values only, no pickled objects."""

from __future__ import annotations

import functools
import hashlib
import json

import jax
import numpy as np

from tiedae.training import sources as sources_lib

FORMAT = 1


def _digest(tree) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        arr = np.asarray(leaf)
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:32]


def _layout(tree) -> list:
    return [[jax.tree_util.keystr(path), list(np.shape(leaf)), str(np.asarray(leaf).dtype)]
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _describe(value) -> str:
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    named = value if callable(value) and hasattr(value, "__qualname__") else type(value)
    return f"{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', '?')}"


def _data_fingerprint(source) -> dict:
    kind = type(source).__name__
    if isinstance(source, sources_lib.Covariance):
        mean, C = source.mean_and_covariance()
        return {"source": kind, "shape": [source.n_samples, len(mean)], "digest": _digest((mean,
                                                                                          C))}
    if isinstance(source, sources_lib.FullBatch | sources_lib.Minibatches):
        leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(source.data)]
        return {"source": kind, "shape": [list(leaf.shape) for leaf in leaves],
                "digest": _digest(leaves)}
    return {"source": kind, "shuffle": getattr(source, "shuffle", None),
            "digest": "checked batch by batch"}


def _settings_of(value, seen: set[int] | None = None, depth: int = 0):
    """A JSON description of a function and what its closure holds (numbers, arrays by digest,
    the functions it calls, recursively): an optax transformation is a pair of closures over
    its hyperparameters and schedules, so two optimizers (or learning rates, schedules) that
    differ get different descriptions. Costs no computation."""
    seen = set() if seen is None else seen
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.ndarray | np.generic | jax.Array):
        return f"array {_digest(value)}"
    if depth > 12 or id(value) in seen:
        return f"{type(value).__name__} ..."
    seen.add(id(value))
    if isinstance(value, tuple | list):
        return [_settings_of(v, seen, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _settings_of(v, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, functools.partial):
        return {"partial": _settings_of((value.func, value.args, value.keywords), seen,
                                        depth + 1)}
    cells = getattr(value, "__closure__", None)
    if callable(value) and cells is not None or hasattr(value, "__code__"):
        held = []
        for cell in cells or ():
            try:
                held.append(_settings_of(cell.cell_contents, seen, depth + 1))
            except ValueError:  # an empty cell
                held.append(None)
        return {"function": _describe(value), "closure": held}
    return _describe(value)


def _first_difference(a, b, where: str = "") -> str:
    """Where two JSON values first differ, with both values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where.lstrip('.') or 'value'}: checkpoint {_short(a)}, this call {_short(b)}"


def fingerprint(*, model, state, rest, optimizer, source, parts, evals, settings) -> dict:
    """The JSON fingerprint of a run: what must agree to resume it."""
    dynamic, (treedef, static) = parts
    objective = {"structure": str(treedef), "functions": [_settings_of(s) for s in static],
                 "arrays": _digest([d for d in dynamic if d is not None])}
    identity = {
        "format": FORMAT,
        "model": type(model).__name__,
        "parameters": _layout(state.params),
        "initial parameters": _digest(state.params),
        "other variables": _layout(rest) + [_digest(rest)],
        "optimizer state": _layout(state.opt_state),
        "optimizer": _settings_of(optimizer),
        "objective": objective,
        "data": _data_fingerprint(source),
        "eval_data": {name: _digest(value) for name, value in evals.items()},
        "settings": dict(settings),
    }
    return json.loads(json.dumps(identity))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def differences(saved: dict, mine: dict) -> list[str]:
    out = []
    for key in sorted(set(saved) | set(mine)):
        a, b = saved.get(key), mine.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key in ("settings", "data",
                                                                   "objective"):
            out += [f"{key}: {d}" for d in differences(a, b)]
        elif key == "optimizer":
            out.append(f"optimizer (another optimizer or its settings; first difference at "
                       f"{_first_difference(a, b)})")
        else:
            out.append(f"{key} (checkpoint: {_short(a)}; this call: {_short(b)})")
    return out
