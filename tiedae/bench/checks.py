"""What `python -m tiedae.bench` checks before any run: the output folder (and its lock) and
`--data`. Each problem is a `UsageError`: one message, exit status 2, nothing run or changed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from tiedae.bench.files import remove_stale_temp_files
from tiedae.bench.lock import FolderBusy, folder_lock

__all__ = ["UsageError", "check_data", "check_out", "locked", "prepare_out"]


class UsageError(Exception):
    """A command that cannot run as given; printed as one message, exit status 2."""


def check_out(text: str) -> Path:
    """The output folder, checked without creating it (see `prepare_out`)."""
    out = Path(text).expanduser()
    try:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {text} is a file, not a folder; choose a folder")
        if not out.exists() and not out.parent.is_dir():
            raise UsageError(f"--out {text}: its parent folder {out.parent} does not exist; "
                             "create it first or choose another --out")
    except OSError as err:
        raise UsageError(f"--out {text}: cannot look at it ({err.strerror or err})") from None
    return out


def prepare_out(out: Path) -> None:
    """Creates the output folder, checks that a file can be written there, removes temporary
    files of killed runs. Runs before any run, so no compute is spent on an unwritable folder."""
    try:
        out.mkdir(exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=f".probe.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err}); choose a "
                         "writable folder") from None
    remove_stale_temp_files(out)


def check_data(paths) -> tuple[dict[str, str], dict[str, str]]:
    """Resolves, loads and checks `--data` once, before any run: returns (the data sets by
    kind, the sha256 of each data path); both empty without --data."""
    if not paths:
        return {}, {}
    from tiedae.bench import datasets

    try:
        found = datasets.resolve_data(paths)
    except ValueError as err:
        raise UsageError(f"--data {err}. Give MNIST-format data (a folder of IDX files or a "
                         ".npz) and/or an edge list (e.g. Cora's cora.cites), or a folder "
                         "holding them") from None
    digests = {}
    for kind, path in found.items():
        try:
            digests[path] = datasets.check_data(kind, path)
        except Exception as err:  # whatever the loader raises, the data is unusable: say so once
            what = "" if isinstance(err, ValueError) else f"{type(err).__name__}: "
            hint = ("Give a folder with the MNIST IDX files or a .npz with x_train, y_train, "
                    "x_test, y_test" if kind == "mnist" else
                    "Give a text file with one 'a b' pair of node ids per line")
            raise UsageError(f"--data {path}: {what}{err}. {hint}") from None
    return found, digests


@contextlib.contextmanager
def locked(out: Path):
    """Holds the lock of results folder `out` (see `tiedae.bench.lock`)."""
    held = False
    try:
        with folder_lock(out):
            held = True
            yield
    except FolderBusy as busy:
        raise UsageError(str(busy)) from None
    except OSError as err:
        if held:  # not the lock's: e.g. a broken pipe, handled by `main`
            raise
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err}); choose a "
                         "writable folder") from None
