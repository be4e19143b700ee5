r"""Rows read chunk by chunk, never all in memory: arrays, memory maps, `.npy` files, iterators.

A pass over n rows of d features holds one chunk of r rows at a time, so its memory does not
grow with n. Slicing a `numpy.memmap` is not enough for that: the pages a process has read
through a memory map stay mapped and count towards its resident memory (RSS), so a pass that
slices a memmap chunk by chunk ends up holding the whole file. `RowReader` instead reads the rows
of a memmap or `.npy` file with explicit reads (`readinto`) at the rows' offset in the file: the
file's pages then sit in the operating system's page cache, which the process's RSS does not
count, and only the chunk is in the process. A memmap whose rows are not contiguous in its file
(a Fortran-ordered or strided view) is sliced and its pages are dropped after each chunk with
`madvise(MADV_DONTNEED)`; a copy-on-write map (mode "c") is sliced as it is, since its changed
pages are its data.

Every chunk is checked (`check_chunk`): 2-D, real, of the same width as the first, finite (an
error names the chunk, the row and the column). Integer and boolean rows are converted to
floating point: to the requested dtype, by default float64, where every integer of magnitude
<= 2^53 is exact; a larger one raises rather than being rounded silently.

* `RowReader(rows)`: rows [start, stop) of an (n, d) array, memory map or `.npy` path.
* `iter_chunks(rows, chunk_size)`: the checked chunks of any of those, of an iterator of chunks
  (one pass), or of a function returning a fresh iterator.
* `check_chunk(chunk, ...)`: one chunk's check and conversion.
* `regroup(chunks, rows)`: batches of exactly `rows` rows from chunks of any size.

Example:
  >>> import numpy as np
  >>> X = np.arange(12.0).reshape(6, 2)
  >>> [c.shape for c in iter_chunks(X, 4)]
  [(4, 2), (2, 2)]
  >>> [c.sum() for c in iter_chunks(iter([X[:1], X[1:]]), 4)]
  [np.float64(1.0), np.float64(65.0)]
"""

from __future__ import annotations

import concurrent.futures
import functools
import mmap
import os
from collections.abc import Iterator

import numpy as np

__all__ = ["EmptyRows", "RowReader", "check_chunk", "check_finite", "iter_chunks", "open_npy",
           "regroup", "rows_kind", "stream"]

class EmptyRows(ValueError):
    """No rows at all: an empty array or file, an iterator that yields no chunks (e.g. a
    generator read before), or only chunks of 0 rows."""


_EXACT_INT = 2**53  # the largest integer magnitude float64 holds exactly (with all below it)


def rows_kind(rows) -> str:
    """"array" (random access: an array, memory map or `.npy` path), "iterator" (one pass) or
    "factory" (a function returning a fresh iterator); TypeError for anything else."""
    if isinstance(rows, str | os.PathLike | np.ndarray):
        return "array"
    if isinstance(rows, Iterator):
        return "iterator"
    if callable(rows):
        return "factory"
    if hasattr(rows, "shape") or isinstance(rows, list | tuple):
        return "array"
    raise TypeError("rows must be an (n, d) array, a numpy memmap, a path to a .npy file, an "
                    "iterator of (r, d) chunks, or a function returning such an iterator; got "
                    f"{type(rows).__name__}")


def check_chunk(chunk, *, index: int, first_row: int = 0, width: int | None = None,
                dtype=None, name: str | None = None, finite: bool = True) -> np.ndarray:
    """Returns `chunk` as a finite 2-D floating array, or raises naming the chunk and the row.

    Args:
      chunk: array-like (r, d); r = 0 is allowed.
      index: the chunk's number in its stream (for messages).
      first_row: the stream's row number of the chunk's first row (for messages).
      width: the d of the chunks before it, or None for the first chunk.
      dtype: floating dtype to convert to; default: a floating chunk keeps its dtype (in native
        byte order), an integer or boolean one becomes float64.
      name: what messages call the chunk (default "chunk <index>").
      finite: check for NaN/inf here (`check_finite`); False leaves that to the caller (the
        covariance pass finds them in its product: `tiedae.data.moments`).

    Raises:
      TypeError: not numeric (strings, objects, complex).
      ValueError: not 2-D, no columns, another width than `width`, an integer beyond 2^53, or a
        NaN/inf (the message gives the chunk, the row in the stream and in the chunk, and the
        column).
    """
    name = f"chunk {index}" if name is None else name
    try:
        arr = np.asarray(chunk)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of shape (rows, d); got "
                        f"{type(chunk).__name__}") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)
                                   or np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"{name} must hold real numbers (float or int); got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (for a single row use row[None, :])" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D with shape (rows, d); got {arr.ndim}-D shape "
                         f"{arr.shape}{hint}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no features (d=0)")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} has {arr.shape[1]} columns; the chunks before it have {width}")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype.itemsize >= 8 and arr.size:
        if arr.max() > _EXACT_INT or arr.min() < -_EXACT_INT:
            raise ValueError(f"{name} holds integers beyond 2^53, which no float has exactly; "
                             "convert them yourself")
    if dtype is None:
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    arr = arr.astype(np.dtype(dtype).newbyteorder("="), copy=False)
    if finite:
        check_finite(arr, name=name, first_row=first_row)
    return arr


def check_finite(block: np.ndarray, *, name: str, first_row: int = 0, offset: int = 0) -> None:
    """Raises ValueError naming `name`, the row and the column of the first NaN/inf in
    `block`, whose first row is row `first_row` of the stream and row `offset` of the chunk.

    Example:
      >>> import numpy as np
      >>> try:
      ...     check_finite(np.array([[1.0, np.nan]]), name="chunk 3", first_row=10)
      ... except ValueError as err:
      ...     print(str(err)[:69])
      chunk 3 contains 1 non-finite value(s) (NaN or inf), the first (nan)
    """
    finite = np.isfinite(block)
    if finite.all():
        return
    row, col = (int(i[0]) for i in np.nonzero(~finite))
    count = int(finite.size - np.count_nonzero(finite))
    raise ValueError(f"{name} contains {count} non-finite value(s) (NaN or inf), the first "
                     f"({block[row, col]}) at row {first_row + row} (row {offset + row} of the "
                     f"chunk), column {col}")


def _file_rows(X: np.ndarray):
    """(filename, file offset of X[0, 0], the top memmap) when X's rows lie contiguously in a
    file it maps shared; (None, None, top memmap or None) otherwise."""
    top = X
    while isinstance(top, np.ndarray) and not isinstance(top.base, mmap.mmap):
        top = top.base
    if not isinstance(top, np.memmap):
        return None, None, None
    if getattr(top, "mode", None) == "c" or not getattr(top, "filename", None):
        return None, None, top
    row_bytes = X.shape[1] * X.dtype.itemsize
    rows_apart = X.shape[0] > 1 and X.strides[0] != row_bytes
    columns_apart = X.shape[1] > 1 and X.strides[1] != X.dtype.itemsize
    if rows_apart or columns_apart:
        return None, None, top
    delta = X.__array_interface__["data"][0] - top.__array_interface__["data"][0]
    return top.filename, top.offset + delta, top


def open_npy(path) -> np.memmap:
    """The rows of a `.npy` file as a read-only memory map (never unpickled), or a ValueError
    naming the file: empty, not a `.npy` file (an `.npz` archive, anything else), a header it
    cannot parse, object dtype, or shorter than its header says.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "empty.npy")
      >>> open(path, "wb").close()
      >>> try:
      ...     open_npy(path)
      ... except ValueError as err:
      ...     print(str(err).replace(path, "empty.npy"))
      empty.npy is not a .npy file: it is empty (0 bytes)
    """
    name = os.fspath(path)
    with open(name, "rb") as fh:
        magic = fh.read(6)
    if magic[:4] == b"PK\x03\x04":
        raise ValueError(f"{name} is an .npz archive; a path must name one .npy file of shape "
                         "(n, d): load the array from the archive yourself")
    if magic != b"\x93NUMPY":
        what = "it is empty (0 bytes)" if not magic else "it does not start with .npy's magic " \
            "string (a file numpy.save wrote)"
        raise ValueError(f"{name} is not a .npy file: {what}")
    try:
        rows = np.load(name, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"{name} cannot be read as rows: {err or type(err).__name__}") from None
    return rows


class RowReader:
    """Random access to the rows of an (n, d) array, memory map or `.npy` file.

    `read(start, stop)` returns rows [start, stop): a view of an in-memory array, or a fresh
    (or the given) buffer filled by an explicit read from the file, so the file's pages never
    count towards the process's RSS (see the module docstring). Use it as a context manager or
    call `close()`.

    Args:
      rows: an (n, d) numpy array or memmap, a path to a `.npy` file (opened without pickles),
        or an array-like with `shape` and slicing (each slice is converted with np.asarray).

    Example:
      >>> import numpy as np, tempfile, os
      >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
      >>> np.save(path, np.arange(10.0).reshape(5, 2))
      >>> with RowReader(path) as reader:
      ...     reader.shape, reader.read(3, 5).tolist()
      ((5, 2), [[6.0, 7.0], [8.0, 9.0]])
    """

    def __init__(self, rows):
        self._file = self._mmap = None
        self._array = None
        if isinstance(rows, str | os.PathLike):
            rows = open_npy(rows)
        elif not isinstance(rows, np.ndarray) and not hasattr(rows, "shape"):
            rows = np.asarray(rows)
        shape = tuple(rows.shape)
        if len(shape) != 2:
            raise ValueError(f"rows must be 2-D with shape (n, d); got {len(shape)}-D shape "
                             f"{shape}")
        self.shape, self.dtype = shape, np.dtype(rows.dtype)
        if not isinstance(rows, np.ndarray):
            self._array = rows
            return
        filename, offset, top = _file_rows(rows)
        if filename is not None:
            self._file = open(filename, "rb", buffering=0)  # noqa: SIM115 (closed by close())
            self._offset = offset
        else:
            self._array = rows
            if top is not None and top.mode != "c" and hasattr(mmap, "MADV_DONTNEED"):
                self._mmap = top._mmap

    @property
    def reads_file(self) -> bool:
        """Whether rows are read from the file with explicit reads."""
        return self._file is not None

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows [start, stop) (clipped to n), in `out[:stop - start]` when given."""
        n, d = self.shape
        start, stop = max(0, int(start)), min(n, int(stop))
        count = max(0, stop - start)
        if self._file is None:
            block = self._array[start:stop]
            if self._mmap is not None:
                block = np.array(block)
                self._mmap.madvise(mmap.MADV_DONTNEED)
            elif not isinstance(block, np.ndarray):
                block = np.asarray(block)
            if out is None:
                return block
            out[:count] = block
            return out[:count]
        buf = np.empty((count, d), self.dtype) if out is None else out[:count]
        if buf.dtype != self.dtype or not buf.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous buffer of dtype {self.dtype}")
        view, pos = memoryview(buf).cast("B"), self._offset + start * d * self.dtype.itemsize
        done = 0
        self._file.seek(pos)
        while done < view.nbytes:
            got = self._file.readinto(view[done:])
            if not got:
                raise ValueError(f"{self._file.name} ended {view.nbytes - done} bytes early: "
                                 "the file is shorter than its header says")
            done += got
        return buf

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


def iter_chunks(rows, chunk_size: int = 65536, *, dtype=None, reuse_buffer: bool = False,
                starts=None, finite: bool = True, read_ahead: bool | None = None
                ) -> Iterator[np.ndarray]:
    """The checked chunks of `rows` (`check_chunk`), in order; one pass.

    Args:
      rows: an (n, d) array, memmap or `.npy` path (read `chunk_size` rows at a time with
        `RowReader`), an iterator of (r, d) chunks (r may vary, and be 0), or a function
        returning such an iterator (called once).
      chunk_size: rows per chunk read from an array or file.
      dtype: floating dtype of the chunks (see `check_chunk`).
      reuse_buffer: read file rows into buffers that later chunks overwrite (a chunk is valid
        until the next one is asked for).
      starts: for an array or file, the first rows of the chunks to read, in that order
        (default: 0, chunk_size, 2 chunk_size, ...).
      finite: check each chunk for NaN/inf (False: the caller does; see `check_chunk`).
      read_ahead: with `reuse_buffer` on a file, read the next chunk on a thread (into a
        second buffer) while the caller works on this one. Default: on.

    Raises:
      ValueError: a bad chunk (see `check_chunk`), or no rows at all (an empty iterator, or an
        array with n = 0).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    kind = rows_kind(rows)
    if kind == "array":
        reader = RowReader(rows)
        if reader.shape[0] == 0:
            reader.close()
            raise EmptyRows(f"the rows are empty: shape {reader.shape}")
        if starts is None:
            starts = range(0, reader.shape[0], int(chunk_size))
        check = functools.partial(check_chunk, dtype=dtype, finite=finite)
        if reuse_buffer and reader.reads_file and (read_ahead is None or read_ahead):
            return _read_ahead_chunks(reader, int(chunk_size), starts, check)
        return _array_chunks(reader, int(chunk_size), starts, check, reuse_buffer)
    return _stream_chunks(stream(rows), dtype, finite)


def _array_chunks(reader: RowReader, chunk_size: int, starts, check, reuse_buffer: bool):
    with reader:
        buf = None
        if reuse_buffer and reader.reads_file:
            buf = np.empty((min(chunk_size, reader.shape[0]), reader.shape[1]), reader.dtype)
        for index, start in enumerate(starts):
            block = reader.read(start, start + chunk_size, buf)
            yield check(block, index=index, first_row=int(start))


def _read_ahead_chunks(reader: RowReader, chunk_size: int, starts, check):
    """`_array_chunks` with two buffers: chunk i + 1 is read by a thread (file reads release
    the GIL) while the caller holds chunk i."""
    starts = [int(s) for s in starts]
    if not starts:
        reader.close()
        return
    shape = (min(chunk_size, reader.shape[0]), reader.shape[1])
    buffers = [np.empty(shape, reader.dtype), np.empty(shape, reader.dtype)]
    with reader, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(reader.read, starts[0], starts[0] + chunk_size, buffers[0])
        try:
            for index, start in enumerate(starts):
                block = pending.result()
                if index + 1 < len(starts):
                    nxt = starts[index + 1]
                    pending = pool.submit(reader.read, nxt, nxt + chunk_size,
                                          buffers[(index + 1) % 2])
                yield check(block, index=index, first_row=start)
        finally:
            pending.cancel()
            concurrent.futures.wait([pending])


def _stream_chunks(source: Iterator, dtype, finite: bool = True):
    width, first = None, 0
    for index, chunk in enumerate(source):
        block = check_chunk(chunk, index=index, first_row=first, width=width, dtype=dtype,
                            finite=finite)
        width, first = block.shape[1], first + len(block)
        yield block
    if first == 0:
        raise EmptyRows("the rows are empty: the iterator yielded no chunks (a generator that "
                        "was read before yields nothing)" if width is None
                        else "the rows are empty: every chunk has 0 rows")


def stream(rows) -> Iterator:
    """The iterator of chunks of `rows`: itself for an iterator, a fresh one from a function."""
    if isinstance(rows, Iterator):
        return rows
    it = rows()
    if not isinstance(it, Iterator):
        try:
            it = iter(it)
        except TypeError:
            raise TypeError("the rows function must return an iterator of (r, d) chunks; got "
                            f"{type(it).__name__}") from None
    return it


def regroup(chunks: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Batches of exactly `rows` rows from 2-D chunks of any row count; the rows left over at
    the end (fewer than `rows`) are dropped. A chunk of another width raises ValueError.

    Example:
      >>> import numpy as np
      >>> [b.ravel().tolist() for b in regroup(iter([np.ones((3, 1)), np.zeros((4, 1))]), 2)]
      [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    """
    pending: list[np.ndarray] = []
    held, width = 0, None
    for chunk in chunks:
        if width is not None and chunk.shape[1] != width:
            raise ValueError(f"a chunk has {chunk.shape[1]} columns; the chunks before it have "
                             f"{width}")
        width = chunk.shape[1]
        if not len(chunk):
            continue
        pending.append(chunk)
        held += len(chunk)
        while held >= rows:
            block = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield block[:rows]
            rest = block[rows:]
            pending, held = ([rest] if len(rest) else []), len(rest)
