"""Temporary files and folders of `python -m tiedae.bench`, named after the process that owns
them, so that a later run can remove those whose process died (a SIGKILL runs no clean-up).

Every temporary name carries ``.<pid>.`` (files) or ``-<pid>-`` (folders). `remove_orphans`
deletes the entries of a folder that match a pattern and whose process is no longer alive
(`os.kill(pid, 0)` fails with ProcessLookupError). Entries of live processes, entries owned by
other users and names without a pid are left alone; a reused pid only delays the clean-up.

Example:
  >>> import os, re, tempfile
  >>> folder = tempfile.mkdtemp()
  >>> dead = os.path.join(folder, "cache-4194305-x")  # above the largest Linux pid
  >>> os.mkdir(dead)
  >>> remove_orphans(folder, re.compile(r"cache-(?P<pid>\\d+)-.*"))
  1
  >>> os.path.exists(dead)
  False
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["owner_alive", "private_cache_dir", "remove_orphans"]

XLA_CACHE_PREFIX = "tiedae-bench-xla-"
_XLA_CACHE = re.compile(re.escape(XLA_CACHE_PREFIX) + r"(?P<pid>\d+)-.+")


def owner_alive(pid: int) -> bool:
    """Whether process `pid` exists (True when unsure: permission denied, odd values)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return True  # os.kill(0, ...) would signal the process group: never treat as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True
    return True


def remove_orphans(folder, pattern: re.Pattern) -> int:
    """Removes the entries of `folder` whose name fully matches `pattern` (which has a `pid`
    group) and whose process is dead; returns how many were removed. Never raises OSError."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or owner_alive(int(match["pid"])):
            continue
        try:
            if uid is not None and entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def private_cache_dir() -> Path:
    """A new folder in the system temp directory, removed at exit; folders of this kind left
    by dead processes (killed before their exit handlers ran) are removed first."""
    root = tempfile.gettempdir()
    remove_orphans(root, _XLA_CACHE)
    path = tempfile.mkdtemp(prefix=f"{XLA_CACHE_PREFIX}{os.getpid()}-", dir=root)
    atexit.register(shutil.rmtree, path, True)
    return Path(path)
