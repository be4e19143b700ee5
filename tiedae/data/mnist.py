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
  layout of Keras's ``mnist.npz``);
* a directory (or ``.npz``) with only one of the two pairs, e.g. just MNIST's test files
  ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``: it is split into train
  and test with a fixed seed (`SPLIT_TEST_FRACTION` = 0.2 held out, `SPLIT_SEED` = 0; 10000
  images give 8000 train / 2000 test).

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
import math
import numbers
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["SPLIT_SEED", "SPLIT_TEST_FRACTION", "ImageDataset", "load", "load_idx", "load_npz"]

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


SPLIT_TEST_FRACTION = 0.2  # share of the images held out when one pair of files is split
SPLIT_SEED = 0  # seed of that split's permutation


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
    except (OSError, EOFError, zlib.error) as err:
        what = "a truncated or corrupt gzip file" if head == b"\x1f\x8b" else "unreadable"
        raise ValueError(f"cannot read {path!r}: {what} ({err})") from err


def load_idx(path) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into a numpy array of its stored dtype.

    Raises:
      ValueError: if the file is missing, not IDX (bad magic, unknown type code), or its size
        does not match the header (truncated, or extra bytes).
    """
    raw = _read_bytes(path)
    where = repr(os.fspath(path))
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{where} is not an IDX file (bad magic number: it should start with two zero "
            f"bytes, a type code and the number of dimensions; it starts with {raw[:4]!r})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X} (expected one of "
                         f"{', '.join(f'0x{c:02X}' for c in _IDX_TYPES)}): not an IDX file?")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{where}: truncated IDX header ({len(raw)} bytes for {ndim} "
                         "dimension(s))")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    body = len(raw) - 4 - 4 * ndim
    if body != expected:
        what = "truncated" if body < expected else "has extra bytes"
        raise ValueError(
            f"{where}: header says shape {shape} ({expected} bytes) but the file holds {body} "
            f"data bytes: the file is {what}"
        )
    arr = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _images(x, name) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"{name} must be images of shape (n, H, W); got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} holds no images (shape {x.shape})")
    if x.dtype == np.uint8:
        return (x / np.float32(255.0)).astype(np.float32)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    if x.min() < 0.0 or x.max() > 255.0:
        raise ValueError(f"{name} values must lie in [0, 1] or [0, 255]; got "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return x / np.float32(255.0) if x.max() > 1.0 else x


def _labels(y, n, name) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array of labels; got {y.dtype} shape "
                         f"{y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} images")
    return y.astype(np.int64)


def _split(x, y, test_fraction: float, seed: int) -> tuple:
    """(x_train, y_train, x_test, y_test): a seeded permutation, its last ceil(f n) held out."""
    n = len(x)
    n_test = math.ceil(test_fraction * n)
    if n < 2 or not 1 <= n_test < n:
        raise ValueError(f"cannot split {n} image(s) into train and test with test_fraction="
                         f"{test_fraction}: need at least one image on each side")
    perm = np.random.default_rng(seed).permutation(n)
    train, test = perm[: n - n_test], perm[n - n_test:]
    return x[train], y[train], x[test], y[test]


def _dataset(parts: dict, names: dict, test_fraction: float, seed: int) -> ImageDataset:
    """The data set from arrays `parts` (keys of `_STANDARD`; one pair may be missing, and the
    other is then split); `names` maps each key to what to call it in messages."""
    pairs = [p for p in (("x_train", "y_train"), ("x_test", "y_test"))
             if p[0] in parts and p[1] in parts]
    out = {}
    for xk, yk in pairs:
        out[xk] = _images(parts[xk], names[xk])
        out[yk] = _labels(parts[yk], len(out[xk]), names[yk])
    if len(pairs) == 1:
        out = dict(zip(_STANDARD, _split(out[pairs[0][0]], out[pairs[0][1]], test_fraction,
                                         seed), strict=True))
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise ValueError(f"train images are {out['x_train'].shape[1:]} but test images "
                         f"{out['x_test'].shape[1:]}")
    return ImageDataset(**out)


def _check_split_args(test_fraction, seed) -> tuple[float, int]:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or \
            not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1); got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return float(test_fraction), int(seed)


def _pairs_message(found: list[str], where: str) -> str:
    return (f"{where} lacks a complete pair of images and labels (x_train + y_train and/or "
            f"x_test + y_test); of those it holds {found or 'none'}")


def load_npz(path, *, test_fraction: float = SPLIT_TEST_FRACTION,
             seed: int = SPLIT_SEED) -> ImageDataset:
    """Reads a Keras-style ``.npz`` with x_train, y_train, x_test, y_test (no pickle); one with
    only one of the two pairs is split (see `load`)."""
    test_fraction, seed = _check_split_args(test_fraction, seed)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path!r}")
    with open(path, "rb") as f:
        head = f.read(6)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if head.startswith(b"\x93NUMPY"):
            what = "a single .npy array"
        elif head.startswith(b"\x1f\x8b"):
            what = "gzip-compressed data"
        elif not head:
            what = "empty"
        else:
            what = f"not a zip archive (it starts with {head[:4]!r})"
        raise ValueError(f"{path!r} is not an .npz file (a zip archive of .npy arrays, as "
                         f"written by numpy.savez): it is {what}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = list(f.files)
            pairs = [p for p in (("x_train", "y_train"), ("x_test", "y_test"))
                     if p[0] in arrays and p[1] in arrays]
            parts = {k: f[k] for pair in pairs for k in pair}
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path!r} is not a readable .npz file (truncated or corrupt zip "
                         f"archive: {err})") from err
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(f"{path!r} holds object arrays (Python objects, which only "
                             "unpickling could read); refusing to unpickle: save plain numeric "
                             "arrays") from err
        raise ValueError(f"{path!r}: an array in it cannot be read ({err})") from err
    if not pairs:
        found = [k for k in _STANDARD if k in arrays]
        raise ValueError(_pairs_message(found, repr(path)) + f"; its arrays: {arrays}")
    return _dataset(parts, {k: f"{path!r}[{k!r}]" for k in _STANDARD}, test_fraction, seed)


def _find(directory, stem) -> str | None:
    alt = stem.replace("-idx", ".idx")  # train-images.idx3-ubyte style
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load(path, *, test_fraction: float = SPLIT_TEST_FRACTION,
         seed: int = SPLIT_SEED) -> ImageDataset:
    """Loads MNIST-format data from a directory of IDX files or from a single ``.npz``.

    A directory (or .npz) holding only one of the two pairs, e.g. just the test files
    ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``, is split into train
    and test: a permutation from ``numpy.random.default_rng(seed)``, its last
    ceil(test_fraction * n) images held out as the test set. MNIST's 10000 test images give
    8000 train / 2000 test with the defaults (test_fraction 0.2, seed 0). With both pairs
    present, `test_fraction` and `seed` are not used.

    Raises:
      ValueError: for a missing path or file, a malformed file (not IDX or .npz, truncated,
        wrong arrays), mismatched images/labels, or too few images to split.
      TypeError: images that are not real numbers.
    """
    test_fraction, seed = _check_split_args(test_fraction, seed)
    path = os.fspath(path)
    if os.path.isdir(path):
        files = {k: _find(path, stem) for k, stem in _STANDARD.items()}
        pairs = [p for p in (("x_train", "y_train"), ("x_test", "y_test"))
                 if files[p[0]] and files[p[1]]]
        if not pairs:
            found = [os.path.basename(f) for f in files.values() if f]
            raise ValueError(
                f"{path!r} has neither the training files ({_STANDARD['x_train']}[.gz] and "
                f"{_STANDARD['y_train']}[.gz]) nor the test files ({_STANDARD['x_test']}[.gz] "
                f"and {_STANDARD['y_test']}[.gz]); found {found or 'none of them'}")
        parts = {k: load_idx(files[k]) for pair in pairs for k in pair}
        names = {k: f"{os.path.basename(f)} ({k})" for k, f in files.items() if f}
        return _dataset(parts, names, test_fraction, seed)
    if not os.path.exists(path):
        raise ValueError(f"no such file or directory: {path!r}")
    if path.endswith(".npz"):
        return load_npz(path, test_fraction=test_fraction, seed=seed)
    raise ValueError(
        f"{path!r}: expected a directory with MNIST IDX files or a .npz file"
    )
