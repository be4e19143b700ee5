"""Loaders for MNIST / Fashion-MNIST from local files: IDX (gzipped or not) and `.npz`.

Nothing is downloaded and nothing is unpickled (`np.load(..., allow_pickle=False)`). The IDX
format (LeCun et al. 1998) is a big-endian header: two zero bytes, a type code (0x08 uint8,
0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then
one uint32 per dimension, then the data in C order.

`load(path)` accepts

* a directory holding the four standard files ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each
  optionally ``.gz``; ``train-images.idx3-ubyte`` spelling also accepted);
* a single ``.npz`` file with arrays ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the
  layout of Keras's ``mnist.npz``).

Images come back as float32 in [0, 1] of shape (n, 28, 28) (uint8 inputs are divided by 255)
and labels as int64.

References:
  LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based learning applied to
  document recognition. Proc. IEEE 86(11) (the MNIST database and its IDX format).
  Xiao, H., Rasul, K. & Vollgraf, R. (2017). Fashion-MNIST. arXiv:1708.07747.

Example:
  >>> import os, tempfile
  >>> import numpy as np
  >>> from tiedae.data import mnist
  >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
  >>> np.savez(path, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.arange(4),
  ...          x_test=np.full((2, 28, 28), 255, np.uint8), y_test=np.arange(2))
  >>> data = mnist.load(path)
  >>> data.x_train.shape, data.x_train.dtype, float(data.x_test.max())
  ((4, 28, 28), dtype('float32'), 1.0)
"""

from __future__ import annotations

import gzip
import os
import zipfile
from typing import NamedTuple

import numpy as np

__all__ = ["ImageDataset", "load", "load_idx", "load_npz"]

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_STANDARD = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class ImageDataset(NamedTuple):
    x_train: np.ndarray  # float32 (n_train, H, W) in [0, 1]
    y_train: np.ndarray  # int64 (n_train,)
    x_test: np.ndarray
    y_test: np.ndarray


def _read_bytes(path) -> bytes:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path!r}")
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"cannot read {path!r}: {err}") from err


def load_idx(path) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into a numpy array of its stored dtype.

    Raises:
      ValueError: if the file is missing, not IDX (bad magic, unknown type code), or its size
        does not match the header.
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{os.fspath(path)!r} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{os.fspath(path)!r}: unknown IDX type code 0x{code:02X}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{os.fspath(path)!r}: truncated IDX header")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    body = len(raw) - 4 - 4 * ndim
    if body != expected:
        raise ValueError(
            f"{os.fspath(path)!r}: header says shape {shape} ({expected} bytes) but the file "
            f"holds {body} data bytes"
        )
    arr = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _images(x, name) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"{name} must be images of shape (n, H, W); got shape {x.shape}")
    if x.dtype == np.uint8:
        return (x / np.float32(255.0)).astype(np.float32)
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    if x.size and (x.min() < 0.0 or x.max() > 255.0):
        raise ValueError(f"{name} values must lie in [0, 1] or [0, 255]")
    return x / np.float32(255.0) if x.size and x.max() > 1.0 else x


def _labels(y, n, name) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array; got {y.dtype} shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} images")
    return y.astype(np.int64)


def _dataset(parts: dict) -> ImageDataset:
    x_train, x_test = _images(parts["x_train"], "x_train"), _images(parts["x_test"], "x_test")
    return ImageDataset(
        x_train, _labels(parts["y_train"], len(x_train), "y_train"),
        x_test, _labels(parts["y_test"], len(x_test), "y_test"),
    )


def load_npz(path) -> ImageDataset:
    """Reads a Keras-style ``.npz`` with x_train, y_train, x_test, y_test (no pickle)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path!r}")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _STANDARD if k not in f.files]
            if missing:
                raise ValueError(f"{path!r} lacks array(s) {missing}; found {f.files}")
            parts = {k: f[k] for k in _STANDARD}
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path!r} is not a readable .npz file: {err}") from err
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(f"{path!r} holds object arrays; refusing to unpickle") from err
        raise
    return _dataset(parts)


def _find(directory, stem) -> str:
    alt = stem.replace("-idx", ".idx")  # train-images.idx3-ubyte style
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    raise ValueError(f"{directory!r} has no {stem}[.gz] file")


def load(path) -> ImageDataset:
    """Loads MNIST-format data from a directory of IDX files or from a single ``.npz``.

    Raises:
      ValueError: for a missing path or file, a malformed file, or mismatched images/labels.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _dataset({k: load_idx(_find(path, stem)) for k, stem in _STANDARD.items()})
    if not os.path.exists(path):
        raise ValueError(f"no such file or directory: {path!r}")
    if path.endswith(".npz"):
        return load_npz(path)
    raise ValueError(
        f"{path!r}: expected a directory with the four MNIST IDX files or a .npz file"
    )
