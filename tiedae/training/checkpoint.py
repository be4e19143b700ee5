r"""Checkpoints of a `fit` run, and resuming an interrupted run from the latest one.

    ckpt = tiedae.training.Checkpoint("runs/ae", every=500, resume=True)
    model, history = tiedae.fit(model, X, steps=20_000, checkpoint=ckpt)

Run the same call again after an interruption (a crash, a SIGKILL, a pre-empted job): it
continues from the latest checkpoint and ends with the same parameters and history as a run
that was never interrupted (bitwise on a CPU; `wall_time` aside, which counts the time of the
run that logged each point). With no checkpoint in the directory it starts from step 0, so one
command serves the first start and every restart.

**What is saved.** A checkpoint after t steps holds the `TrainState` (parameters, optimizer
state, step, divergence guard), every other variable of the model (its `DataMean`), the
history logged before step t, the wall time reached, and the position in the data: the
minibatch generator's state and permutation, or, for sources without one (`RowChunks`), the
number of batches read and a running SHA-256 of them, checked when they are read again on
resume. Arrays are flattened from pytrees whose structure the resuming run rebuilds itself, and
stored with `numpy.savez` next to JSON metadata in one `.npz` file, read back with
`allow_pickle=False`: nothing is ever unpickled.

**When.** `every` is in steps. Checkpoints are written at log points (between the compiled
calls): at the first log point at or after each multiple of `every`, and after the last step
(so a finished run started again with `resume=True` returns its result without training).
With `every` a multiple of `log_every` they fall exactly on the multiples of `every`.

**Atomic.** A checkpoint is written to a temporary file in the directory, flushed to disk
(`fsync`), then renamed over its final name (`os.replace`): a file under the final name is
always complete, and an older checkpoint is removed only after a newer one is complete. The
last `keep` checkpoints are kept (default 2). A stale temporary file from a killed write is
ignored, and removed by the next write. While a `fit` runs it holds an exclusive lock (`flock`) on
its directory (released when it ends, even by a kill): a second run into the same directory at
the same time is refused instead of removing the first one's files (where the system has
`fcntl`).

**Another run's checkpoint is refused**, not loaded: the checkpoint records the run's
fingerprint (model class, the layout and digest of the initial variables, the optimizer state's
layout and the optimizer's settings (the numbers, arrays and functions its closures hold:
learning rate, schedule, ...), the loss, regularizer and metrics with their arrays and the
numbers their closures and partials hold, the data's source, shape and SHA-256, the held-out
data, and the settings steps, log_every, batch size, seed, centring, blow-up factor,
hyperparameters and devices), and a resumed call with any of them different raises
ValueError naming what differs. Without `resume=True` a directory that already holds
checkpoints is refused too (nothing is overwritten).

**More steps is another run.** A call with a larger `steps` than the checkpointed run is
refused, with a message saying so: resuming continues a run to the end it was started for
(its log points, its last checkpoint and a schedule's length depend on `steps`), it does not
extend a finished one. To train a finished run further, get its model (the same call again)
and `fit` that model for the extra steps, with a fresh optimizer state, into another
directory.

**Not saved:** callbacks (their state is theirs; they are called at the log points after the
resumed step only). Runs over several processes cannot be checkpointed yet (`fit` refuses).

**Cost.** One write costs a device-to-host copy of the state and a write of its bytes (about 3
times the parameters' size with Adam); `benchmarks/checkpoint_cost.py` measures it against the
time of one training step and of one log interval (`python benchmarks/checkpoint_cost.py`,
results in `benchmarks/results/checkpoint_cost.json`). The data's SHA-256 is computed once per
call (one pass over an in-memory array); a `RowChunks` stream is hashed as it is read.

Example:
  >>> import pathlib, tempfile
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.training import Checkpoint
  >>> X = tiedae.data.spiked_covariance(200, 8, k=2, gap=5.0).X
  >>> folder = pathlib.Path(tempfile.mkdtemp())
  >>> def run():
  ...     model = tiedae.LinearAE(8, 2, rngs=nnx.Rngs(0))
  ...     return tiedae.fit(model, X, steps=40, log_every=10, batch_size=50,
  ...                       checkpoint=Checkpoint(folder, every=20, resume=True))
  >>> first, hist = run()
  >>> sorted(p.name for p in folder.iterdir())
  ['checkpoint-000000020.npz', 'checkpoint-000000040.npz']
  >>> again, hist2 = run()  # finds the finished run's checkpoint: no training
  >>> bool((again.W[...] == first.W[...]).all()), hist2["step"].tolist()
  (True, [0, 10, 20, 30, 40])
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import warnings
import zipfile
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one run per directory is up to the user
    fcntl = None

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae._validation import check_positive_int
from tiedae.training._fingerprint import FORMAT, differences, fingerprint

__all__ = ["Checkpoint", "Restored", "Session"]

_NAME = re.compile(r"^checkpoint-(\d{9})\.npz$")
_TEMP = re.compile(r"^\.checkpoint-(\d{9})\.npz\.tmp$")
_META = "meta.json"


class Checkpoint:
    """Where and how often `fit` writes checkpoints, and whether it resumes from them.

    Args:
      directory: the folder of the checkpoints (created if missing; `~` is expanded); one
        run per folder.
      every: write a checkpoint at the first log point at or after each multiple of `every`
        steps (and after the last step). A multiple of fit's `log_every` puts them exactly on
        the multiples.
      resume: continue from the latest checkpoint in `directory` when there is one (it must
        be of this same run: see the module docstring); start from step 0 when there is
        none. Without it a folder that already holds checkpoints is refused.
      keep: how many of the latest checkpoints to keep (>= 1).

    Example:
      >>> Checkpoint("runs/ae", every=100, resume=True)
      Checkpoint('runs/ae', every=100, resume=True, keep=2)
    """

    def __init__(self, directory, every: int, *, resume: bool = False, keep: int = 2):
        if not isinstance(directory, str | os.PathLike) or not str(directory):
            raise TypeError(f"Checkpoint's directory must be a path (str or pathlib.Path); got "
                            f"{directory!r}")
        self.directory = pathlib.Path(directory).expanduser()
        self.every = check_positive_int(every, "Checkpoint's every")
        if not isinstance(resume, bool):
            raise TypeError(f"Checkpoint's resume must be True or False; got {resume!r}")
        self.resume = resume
        self.keep = check_positive_int(keep, "Checkpoint's keep")

    def __repr__(self) -> str:
        return (f"Checkpoint({str(self.directory)!r}, every={self.every}, "
                f"resume={self.resume}, keep={self.keep})")


class Restored(NamedTuple):
    """What a run resumes from: the state and variables after `step` steps, the history logged
    before it, and the wall time then."""

    step: int
    state: Any
    rest: Any
    history: dict[str, list]
    reached: float


# ---------------------------------------------------------------------------------------------
# Files.


def _flat(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _unflat(template, arrays: list[np.ndarray], what: str, path):
    leaves, treedef = jax.tree.flatten(template)
    if len(leaves) != len(arrays):
        raise ValueError(f"{path}: the checkpoint holds {len(arrays)} arrays of {what}; this run "
                         f"has {len(leaves)}")
    out = []
    for leaf, arr in zip(leaves, arrays, strict=True):
        if arr.shape != np.shape(leaf) or arr.dtype != np.asarray(leaf).dtype:
            raise ValueError(f"{path}: an array of {what} is {arr.dtype}{list(arr.shape)} in the "
                             f"checkpoint, {np.asarray(leaf).dtype}{list(np.shape(leaf))} here")
        out.append(jnp.asarray(arr))
    return jax.tree.unflatten(treedef, out)


def _fsync_directory(directory: pathlib.Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported here (e.g. Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lock(directory: pathlib.Path) -> int | None:
    """An exclusive advisory lock (`flock`) on `directory` itself, held by the open descriptor
    returned (None where locks are not supported); the system releases it when the process
    ends, even by SIGKILL. A directory another running fit holds is refused."""
    if fcntl is None:
        return None
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ValueError(f"the checkpoint directory {directory} is in use by another running "
                         "fit (one run per directory): wait for it to end, or use another "
                         "directory") from None
    except OSError:  # a file system without locks
        os.close(fd)
        return None
    return fd


def _checkpoints(directory: pathlib.Path) -> list[tuple[int, pathlib.Path]]:
    """(step, path) of the checkpoints in `directory`, newest first."""
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def _read(path: pathlib.Path) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if _META not in arrays:
        raise ValueError(f"{path} is not a tiedae checkpoint (it has no {_META})")
    meta = json.loads(bytes(arrays.pop(_META)).decode())
    needed = {"format", "step", "identity", "reached", "history", "batches", "input digest",
              "position"}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not needed <= set(meta):
        raise ValueError(f"{path} is not a tiedae checkpoint of format {FORMAT}")
    return meta, arrays


def _numbered(arrays: dict, prefix: str) -> list[np.ndarray]:
    count = sum(name.startswith(prefix) for name in arrays)
    return [arrays[f"{prefix}{i}"] for i in range(count)]


class Session:
    """One run's checkpointing: built by `fit` from a `Checkpoint`, the run's fingerprint and
    the bound data source; `restore`, `seek`, then `due`/`save` at each log point."""

    def __init__(self, config: Checkpoint, identity: dict, bound, steps: int):
        self.config, self.identity, self.steps = config, identity, steps
        directory = config.directory
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"the checkpoint directory {directory} is a file")
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ValueError(f"the checkpoint directory {directory} is not writable")
        self._lock = _lock(directory)
        self.position = bound.position
        self.last = 0
        # Sources without a position: the number of steps' inputs read, and their running
        # SHA-256, step by step (so it does not depend on how the reads were grouped in calls).
        self.batches = 0
        self._hash = None if bound.position is not None else hashlib.sha256()
        self._bound = bound if bound.position is not None else bound._replace(
            next_inputs=self._hashed(bound.next_inputs))

    def close(self) -> None:
        """Releases the directory for another run (fit calls it when the run ends)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def input_digest(self) -> str:
        return "" if self._hash is None else self._hash.hexdigest()

    @property
    def bound(self):
        """The bound source, whose inputs are hashed as they are read when it has no position
        of its own."""
        return self._bound

    def _hashed(self, next_inputs):
        def hashed(capacity: int, m: int):
            out = next_inputs(capacity, m)
            if m and out is not None:
                leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(out)]
                for i in range(m):
                    for leaf in leaves:
                        self._hash.update(np.ascontiguousarray(leaf[i]).tobytes())
                self.batches += m
            return out

        return hashed

    def restore(self, state, rest) -> Restored | None:
        """The latest checkpoint of this run (None when the folder has none); refuses a
        checkpoint of another run, and existing checkpoints without `resume`."""
        found = _checkpoints(self.config.directory)
        if not found:
            return None
        if not self.config.resume:
            raise ValueError(f"the checkpoint directory {self.config.directory} already holds "
                             f"checkpoints (the latest after step {found[0][0]}): pass "
                             f"Checkpoint(..., resume=True) to continue that run, or use "
                             f"another directory")
        errors = []
        for step, path in found:
            try:
                meta, arrays = _read(path)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
                errors.append(f"{path.name}: {err}")
                warnings.warn(f"cannot read the checkpoint {path} ({err}); trying an older one",
                              stacklevel=4)
                continue
            return self._resume_from(step, path, meta, arrays, state, rest)
        raise ValueError(f"no checkpoint in {self.config.directory} can be read: "
                         f"{'; '.join(errors)}")

    def _resume_from(self, step, path, meta, arrays, state, rest) -> Restored:
        differ = differences(meta["identity"], self.identity)
        if differ:
            saved_steps = meta["identity"].get("settings", {}).get("steps")
            more = ""
            if saved_steps != self.steps:
                more = (f" A checkpoint resumes the same run; it cannot extend a run of "
                        f"steps={saved_steps} to steps={self.steps} (its log points, last "
                        f"checkpoint and any schedule depend on steps). To train further, get "
                        f"that run's model (the same call, steps={saved_steps}) and fit it "
                        f"again, with a new optimizer state, into another directory.")
            raise ValueError(f"the checkpoint {path} is of another run; it differs from this "
                             f"call in: {'; '.join(differ)}. Resume with the same arguments, "
                             f"or use another directory.{more}")
        restored_state = _unflat(state, _numbered(arrays, "state/"), "the training state", path)
        restored_rest = _unflat(rest, _numbered(arrays, "rest/"), "the model's variables", path)
        history = {key[len("history/"):]: arrays[key].tolist() for key in meta["history"]}
        self.last = step
        self.saved_batches, self.saved_digest = meta["batches"], meta["input digest"]
        if self.position is not None:
            position = dict(meta["position"])
            position.update({k[len("position/"):]: v for k, v in arrays.items()
                             if k.startswith("position/")})
            self.position.set(position)
        return Restored(step, restored_state, restored_rest, history, float(meta["reached"]))

    def seek(self, restored: Restored | None, capacity: int) -> None:
        """Reads the inputs of the first `restored.step` steps again (sources without a position
        of their own) and checks them against the checkpoint's digest."""
        if restored is None or self.position is not None:
            return
        done = 0
        while done < restored.step:
            m = min(capacity, restored.step - done)
            self._bound.next_inputs(capacity, m)
            done += m
        if (self.batches, self.input_digest) != (self.saved_batches, self.saved_digest) and \
                self.saved_batches:
            raise ValueError(f"the data read again up to step {restored.step} differ from those "
                             f"the checkpointed run read (SHA-256 of the streamed batches): "
                             f"resume with the same rows, from their start")

    def due(self, t: int) -> bool:
        """Whether to write a checkpoint at log point t (after t steps)."""
        every = self.config.every
        return t > self.last and (t // every > self.last // every or t == self.steps)

    def save(self, t: int, state, rest, history: dict[str, list], reached: float) -> None:
        """Writes the checkpoint after t steps atomically, then removes the older ones beyond
        `keep` and stale temporary files."""
        directory = self.config.directory
        arrays: dict[str, np.ndarray] = {}
        for prefix, leaves in (("state/", _flat(state)), ("rest/", _flat(rest))):
            arrays.update({f"{prefix}{i}": leaf for i, leaf in enumerate(leaves)})
        for key, values in history.items():
            arrays[f"history/{key}"] = np.asarray(values)
        position = {} if self.position is None else self.position.get()
        arrays.update({f"position/{k}": v for k, v in position.items()
                       if isinstance(v, np.ndarray)})
        meta = {"format": FORMAT, "step": t, "identity": self.identity, "reached": reached,
                "history": [f"history/{key}" for key in history], "batches": self.batches,
                "input digest": self.input_digest,
                "position": {k: v for k, v in position.items() if not isinstance(v, np.ndarray)}}
        arrays[_META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        final = directory / f"checkpoint-{t:09d}.npz"
        temp = directory / f".checkpoint-{t:09d}.npz.tmp"
        try:
            with open(temp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, final)
        except BaseException:  # e.g. a full disk: free what the failed write took
            temp.unlink(missing_ok=True)
            raise
        _fsync_directory(directory)
        self.last = t
        for _, old in _checkpoints(directory)[self.config.keep:]:
            old.unlink(missing_ok=True)
        for path in directory.iterdir():
            if _TEMP.match(path.name):
                path.unlink(missing_ok=True)


def start(config: Checkpoint, *, model, state, rest, optimizer, source, bound, parts, evals,
          settings) -> tuple[Session, Restored | None]:
    """`fit`'s side: the session of this run, and what it resumes from (None: step 0). A
    restored run's model gets the checkpoint's other variables (its `DataMean`). The session
    holds the directory's lock until closed (`with session:`)."""
    identity = fingerprint(model=model, state=state, rest=rest, optimizer=optimizer,
                           source=source, parts=parts, evals=evals, settings=settings)
    session = Session(config, identity, bound, settings["steps"])
    try:
        restored = session.restore(state, rest)
    except BaseException:
        session.close()
        raise
    if restored is not None:
        nnx.update(model, restored.rest)
    return session, restored
