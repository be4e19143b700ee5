"""How the bench writes files, so that a process killed at any moment never leaves one half
written: appending a line to a results file, and replacing a whole (small) file.

* `append_line(path, line)` adds one line at the end of a JSON-lines file: the line and its
  newline in one `os.write` to a file opened with `O_APPEND`, then `os.fsync`. Earlier lines are
  never read or rewritten, so saving the n-th record costs the same as saving the first. A
  write that fails (disk full) or is interrupted (Ctrl-C) is taken back: the file is truncated
  to its length before the write. A process killed (SIGKILL, power loss) while it writes can
  leave a last line *cut short*: without its newline and not valid JSON (a strict prefix of a
  JSON object never is). Readers ignore such a line (`records.scan_records`); the next
  `append_line` first copies it to `<file>.damaged` (nothing is deleted) and truncates the file
  to its last newline. A last line without its newline that *is* valid JSON (a file edited by
  hand) is kept: the next line goes after a newline.
* `atomic_write_text(path, text)` replaces a whole file (a suite's CSV summary, a README section,
  a benchmark's JSON): a temporary file in the same folder, `fsync`, `os.replace` (atomic on
  POSIX). A killed process can leave its temporary file `.<name>.<pid>.<random>.tmp`;
  `remove_stale_temp_files` removes those of dead processes.

Example:
  >>> import os, tempfile
  >>> path = os.path.join(tempfile.mkdtemp(), "runs.jsonl")
  >>> append_line(path, b'{"run_id": "a"}')
  >>> with open(path, "ab") as fh:  # a process killed while it saved run b
  ...     _ = fh.write(b'{"run_id": "b", "fin')
  >>> append_line(path, b'{"run_id": "b"}')
  >>> open(path, "rb").read()
  b'{"run_id": "a"}\\n{"run_id": "b"}\\n'
  >>> open(path + ".damaged", "rb").read()
  b'{"run_id": "b", "fin\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from tiedae.bench.tempfiles import remove_orphans

__all__ = ["DAMAGED_SUFFIX", "FILE_MODE", "append_line", "atomic_write_text", "cut_short",
           "remove_stale_temp_files", "set_aside", "strict_json"]

DAMAGED_SUFFIX = ".damaged"
_TEMP_FILE = re.compile(r"\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


FILE_MODE = 0o666 & ~_read_umask()  # read once, at import, before any threads write files


def _reject_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")


def strict_json(raw: bytes):
    """The value of one line of strict JSON (no NaN or Infinity). Raises ValueError
    (UnicodeDecodeError included) or RecursionError when it is not one."""
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def cut_short(raw: bytes) -> bool:
    """Whether `raw`, a file's last line without its newline, is what a process killed while
    appending leaves (not valid strict JSON), rather than a line edited by hand."""
    try:
        strict_json(raw)
    except (ValueError, RecursionError):
        return True
    return False


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and os.replace.

    The file gets the usual permissions (0o666 minus the umask), not mkstemp's private 0o600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(folder) -> int:
    """Removes the temporary files of `atomic_write_text` in `folder` whose process is dead."""
    return remove_orphans(folder, _TEMP_FILE)


def set_aside(path, lines: list[bytes]) -> None:
    """Appends `lines` (each followed by a newline) to `<path>.damaged` and fsyncs it."""
    if lines:
        with open(Path(str(path) + DAMAGED_SUFFIX), "ab") as fh:
            fh.write(b"".join(raw + b"\n" for raw in lines))
            fh.flush()
            os.fsync(fh.fileno())


def _last_newline_end(fd: int, size: int, block: int = 65536) -> int:
    """The offset just after the file's last newline (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a regular file takes them in one call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_line(path, line: bytes) -> None:
    """Appends `line` (no newline in it) and a newline to `path`, created if need be, and
    fsyncs it; see the module docstring for a last line cut short and for failures.

    Raises:
      ValueError: `line` holds a newline.
      OSError: the file cannot be opened or written (it is left as it was).
    """
    if b"\n" in line:
        raise ValueError("a line to append must not hold a newline")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            end = _last_newline_end(fd, size)
            tail = os.pread(fd, size - end, end)
            if cut_short(tail):
                set_aside(path, [tail] if tail.strip() else [])
                os.ftruncate(fd, end)
                size = end
            else:
                line = b"\n" + line
        try:
            _write_all(fd, line + b"\n")
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # take back what was written of this line
            raise
    finally:
        os.close(fd)
