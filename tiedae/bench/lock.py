"""One `python -m tiedae.bench` at a time per results folder.

`folder_lock(folder)` holds an exclusive `fcntl.flock` on `folder/.tiedae-bench.lock` while a
command runs or repairs the results there; a second command on the same folder gets
`FolderBusy`, whose message names the holder (pid, host, start time, command line, which the
holder writes into the lock file). The kernel releases a flock when its process ends, however it
ends, so a killed command never leaves a stale lock: the next command takes over the file. The
holder removes the file when it is done; a command that locked a file that was removed meanwhile
(the holder let go between our open and our lock) opens it again. `report` and `list` only
read, and take no lock. Without `fcntl` (not POSIX), or on a file system that refuses flock
(some network ones), there is no locking.

Example:
  >>> import tempfile
  >>> folder = tempfile.mkdtemp()
  >>> with folder_lock(folder):
  ...     try:
  ...         with folder_lock(folder):  # a second holder, as another process would be
  ...             pass
  ...     except FolderBusy as busy:
  ...         print(busy.holder["pid"] == os.getpid())
  True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX)
    fcntl = None

__all__ = ["LOCK_NAME", "FolderBusy", "folder_lock"]

LOCK_NAME = ".tiedae-bench.lock"
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


class FolderBusy(Exception):
    """Another process holds the folder's lock; `holder` is what it wrote (may be empty)."""

    def __init__(self, folder: Path, holder: dict):
        self.folder, self.holder = Path(folder), holder
        if holder:
            who = (f"pid {holder.get('pid')} on {holder.get('host')}, started "
                   f"{holder.get('started')}: {holder.get('command')}")
        else:
            who = "a process that is starting"
        super().__init__(f"--out {folder} is in use by another python -m tiedae.bench ({who}); "
                         "wait until it ends, or choose another --out")


def _holder(fd: int) -> dict:
    try:
        info = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@contextlib.contextmanager
def folder_lock(folder, command: str | None = None) -> Iterator[None]:
    """Holds `folder`'s lock for the `with` block (see the module docstring).

    Raises:
      FolderBusy: another process holds it.
      OSError: the lock file cannot be created (e.g. a read-only folder).
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = Path(folder) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusy(Path(folder), holder) from None
        except OSError as err:
            os.close(fd)
            if err.errno not in _NO_LOCKS:
                raise
            with contextlib.suppress(OSError):
                if os.stat(path).st_size == 0:  # made just now: leave the folder as it was
                    os.unlink(path)
            yield  # a file system without flock (some network ones): run unlocked, as before
            return
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed it as we locked: lock the file now at `path`
    try:
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": started,
                "command": command or shlex.join(["python", "-m", "tiedae.bench",
                                                  *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # still locked: a process that opened it retries (see above)
        os.close(fd)
