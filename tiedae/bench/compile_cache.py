"""JAX's persistent compilation cache for `python -m tiedae.bench`: where it lives, and turning
it on only where it can work.

`use(True)` points JAX at `user_cache_dir()` (`$JAX_COMPILATION_CACHE_DIR` when set, else
`$XDG_CACHE_HOME/tiedae/jax`, else `~/.cache/tiedae/jax`) and makes every program cacheable
(`jax_persistent_cache_min_compile_time_secs=0`, `jax_persistent_cache_min_entry_size_bytes=-1`:
the bench compiles many small programs, each below JAX's default thresholds), so a later
command loads what an earlier one compiled instead of compiling it again. The cache keys on the
lowered program, the JAX/XLA version and the device, so a stale entry is never used; tracing and
lowering still run. A folder that cannot be created or written, or a disk with less than
`MIN_FREE_BYTES` free, is not used: `use` says why and falls back to `use(False)`, a folder
private to the process (`tiedae.bench.tempfiles.private_cache_dir`, deleted at exit) that only
runs of the same command share. Errors while reading or writing entries later (a full disk)
are JAX's warnings, never failures (`jax_raise_persistent_cache_errors` is off by default).

Example:
  >>> import tempfile
  >>> folder = Path(tempfile.mkdtemp(), "tiedae", "jax")
  >>> unusable(folder) is None  # created, writable, room to spare
  True
  >>> _ = Path(folder, "a-file").write_text("x")
  >>> unusable(Path(folder, "a-file", "jax"))
  'cannot write there (Not a directory)'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["MIN_FREE_BYTES", "unusable", "use", "user_cache_dir"]

MIN_FREE_BYTES = 100 * 2**20


def user_cache_dir() -> Path:
    """`$JAX_COMPILATION_CACHE_DIR` when set, else `$XDG_CACHE_HOME/tiedae/jax` (an absolute
    `XDG_CACHE_HOME` only, as the XDG spec says), else `~/.cache/tiedae/jax`. Raises
    RuntimeError when the home folder cannot be found."""
    explicit = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "tiedae" / "jax"


def unusable(folder: Path) -> str | None:
    """None when `folder` exists or can be created, a file can be written in it and its disk
    has `MIN_FREE_BYTES` free; else why not, in a few words."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".probe.{os.getpid()}.")
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(folder).free
    except OSError as err:
        return f"cannot write there ({err.strerror or err})"
    if free < MIN_FREE_BYTES:
        return f"only {free / 2**20:.0f} MiB free on its disk"
    return None


def use(persistent: bool = True) -> tuple[Path | None, str | None]:
    """Sets JAX's compilation cache folder; returns (the persistent folder or None, why the
    persistent folder was asked for but not used, or None). Call before compiling; calling
    again with another folder reopens JAX's cache there."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cc

    from tiedae.bench.tempfiles import private_cache_dir

    folder, why = None, None
    if persistent:
        try:
            folder = user_cache_dir()
        except RuntimeError as err:  # Path.home() without a home folder
            why = f"~/.cache/tiedae/jax not usable ({err})"
        else:
            reason = unusable(folder)
            if reason is not None:
                folder, why = None, f"{folder} not usable: {reason}"
    path = str(folder if folder is not None else private_cache_dir())
    if jax.config.jax_compilation_cache_dir != path:
        cc.reset_cache()  # JAX opens its cache once, at the first compilation after this
        jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder, why
