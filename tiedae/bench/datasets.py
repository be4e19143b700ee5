"""The data sets the suites train on, loaded once per process: all offline.

Row data (`load`):

* ``spiked``: `tiedae.data.spiked_covariance` (known population spectrum).
* ``linear``: Bao et al. (2020)'s synthetic set, eigenvalues linearly spaced from d/10 down to 1.
* ``digits``: scikit-learn's bundled 8x8 digits (1797 x 64), values in [0, 1].
* ``user``: the training images of a user's MNIST / Fashion-MNIST data (a folder of IDX files
  or a .npz) via `tiedae.data.mnist.load`, flattened to rows and scaled to [0, 1] (a folder
  with only the test files is split by `mnist.load`: 80 % train, seed 0).

Labelled image splits (`image_split`): the digits, or a user's MNIST-format data, as flattened
train/test rows with labels.

A user's data is read once per process (`user_images`); `check_user_data` validates it before
any run (enough images for the suites, one image size, two classes) and returns its sha256,
which goes into the records of the runs that read it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os

import numpy as np

from tiedae import data
from tiedae.data import mnist

__all__ = ["DATA_KINDS", "DIGITS_TEST_FRACTION", "MIN_GRAPH_EDGES", "MIN_IMAGE_SIDE",
           "MIN_TEST_IMAGES", "MIN_TRAIN_IMAGES", "check_data", "check_user_data",
           "check_user_graph", "image_config", "image_split", "load", "load_images",
           "resolve_data", "user_graph", "user_images"]

DIGITS_TEST_FRACTION = 0.2  # of the 1797 digits: 1437 train / 360 test
# What the suites that read a user's data need: minibatches of 64, codes of up to 16
# components, two strided convolutions, a linear probe on the labels, checkerboard energy at
# periods 2 and 4 (image sides a multiple of 4). The quick suites run on 100 / 10 images of 8x8.
MIN_TRAIN_IMAGES, MIN_TEST_IMAGES, MIN_IMAGE_SIDE = 100, 10, 8
MIN_GRAPH_EDGES = 20  # enough to hold out 10% for test and 5% for validation


@functools.lru_cache(maxsize=1)
def user_images(path: str) -> mnist.ImageDataset:
    """`tiedae.data.mnist.load(path)`, read once per process (arrays made read-only)."""
    ds = mnist.load(path)
    for a in ds:
        a.setflags(write=False)
    return ds


@functools.lru_cache(maxsize=1)
def check_user_data(path: str) -> str:
    """Reads a user's MNIST-format data (`user_images`), checks that the suites can use it and
    returns the sha256 (hex) of its four arrays (dtype, shape and bytes).

    Raises:
      ValueError: the data cannot be read (the loader's message) or is too small for the
        suites: fewer than MIN_TRAIN_IMAGES training or MIN_TEST_IMAGES test images, images
        smaller than MIN_IMAGE_SIDE pixels a side or with sides not a multiple of 4, test and
        training images of different sizes, or a single class among the training labels.
    """
    ds = user_images(path)
    shape, test_shape = ds.x_train.shape[1:], ds.x_test.shape[1:]
    problems = []
    if len(ds.x_train) < MIN_TRAIN_IMAGES:
        problems.append(f"{len(ds.x_train)} training images (need {MIN_TRAIN_IMAGES})")
    if len(ds.x_test) < MIN_TEST_IMAGES:
        problems.append(f"{len(ds.x_test)} test images (need {MIN_TEST_IMAGES})")
    if min(shape) < MIN_IMAGE_SIDE:
        problems.append(f"images of {shape[0]}x{shape[1]} pixels (need at least "
                        f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE})")
    if shape[0] % 4 or shape[1] % 4:
        problems.append(f"images of {shape[0]}x{shape[1]} pixels (sides must be multiples of 4)")
    if test_shape != shape:
        problems.append(f"test images of {test_shape} but training images of {shape}")
    if len(ds.x_train) and len(np.unique(ds.y_train)) < 2:
        problems.append("a single class among the training labels (need two or more)")
    if problems:
        raise ValueError("too small for the suites: " + "; ".join(problems))
    digest = hashlib.sha256()
    for a in ds:
        digest.update(f"{a.dtype.str}{a.shape};".encode())
        digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


DATA_KINDS = ("mnist", "graph")
_EDGE_LIST_SUFFIXES = (".cites", ".edges", ".edgelist", ".txt", ".tsv")


def _looks_like_mnist_folder(path: str) -> bool:
    names = os.listdir(path)
    return any("idx" in name and "ubyte" in name for name in names)


def _looks_like_edge_list(path: str) -> bool:
    """An edge-list suffix, and the first lines (comments aside) are pairs of tokens."""
    if not path.endswith(_EDGE_LIST_SUFFIXES):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096).splitlines()[:20]
    except (OSError, UnicodeDecodeError):
        return False
    lines = [line.split() for line in head if line.strip() and not line.startswith("#")]
    return bool(lines) and all(len(tokens) == 2 for tokens in lines[:-1] or lines)


def _classify(path: str, depth: int = 1) -> list[tuple[str, str]]:
    """(kind, path) of the data sets at `path`: a file, a folder of MNIST files, or a folder
    whose files and (up to `depth` levels of) subfolders hold such data (e.g. a data folder
    with mnist/ and cora/)."""
    if os.path.isfile(path):
        if path.endswith(".npz") or "ubyte" in os.path.basename(path):
            return [("mnist", path)]
        return [("graph", path)] if _looks_like_edge_list(path) else []
    if _looks_like_mnist_folder(path):
        return [("mnist", path)]
    found = []
    for name in sorted(os.listdir(path)):
        inner = os.path.join(path, name)
        if os.path.isdir(inner):
            if depth > 0:
                found += _classify(inner, depth - 1)
        elif name.endswith(".npz"):
            found.append(("mnist", inner))
        elif _looks_like_edge_list(inner):
            found.append(("graph", inner))
    return found


def resolve_data(paths) -> dict[str, str]:
    """The user's data sets by kind ("mnist", "graph") from `--data` paths.

    A path is an MNIST-format folder or .npz, an edge-list file (.cites, .edges, .edgelist,
    .txt, .tsv), or a folder holding such data directly or one level down (the layout of a
    data folder with mnist/ and cora/).

    Raises:
      ValueError: a missing path, a path with no recognisable data, or two data sets of one
        kind (naming both).
    """
    found: dict[str, str] = {}
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file or folder")
        kinds = _classify(path)
        if not kinds:
            raise ValueError(f"{path}: no MNIST-format data (IDX files or a .npz) and no edge "
                             "list (.cites, .edges, .txt) found there")
        for kind, where in kinds:
            if kind in found and found[kind] != where:
                raise ValueError(f"two {kind} data sets given: {found[kind]} and {where}; pass "
                                 "one")
            found[kind] = where
    return found


@functools.lru_cache(maxsize=2)
def user_graph(path: str):
    """`tiedae.data.graphs.load_edge_list(path)`, read once per process."""
    from tiedae.data import graphs

    A, ids = graphs.load_edge_list(path)
    A.setflags(write=False)
    return A, ids


def check_user_graph(path: str) -> str:
    """Reads a user's edge list (`user_graph`), checks the graph suite can hold out edges from
    it (at least MIN_GRAPH_EDGES edges), and returns the sha256 of its adjacency matrix."""
    A, _ = user_graph(path)
    edges = int(A.sum() // 2)
    if edges < MIN_GRAPH_EDGES:
        raise ValueError(f"too small for the graph suite: {edges} edges (need "
                         f"{MIN_GRAPH_EDGES})")
    digest = hashlib.sha256(f"{A.shape};".encode())
    digest.update(np.packbits(A.astype(bool)).tobytes())
    return digest.hexdigest()


def check_data(kind: str, path: str) -> str:
    """Checks a user's data set of `kind` once; returns its sha256."""
    return check_user_data(path) if kind == "mnist" else check_user_graph(path)


@functools.lru_cache(maxsize=16)
def _load(name: str, n: int, d: int, k: int, gap: float, seed: int, path: str | None):
    if name == "spiked":
        return data.spiked_covariance(n, d, k=k, gap=gap, seed=seed).X
    if name == "linear":
        return data.spiked_covariance(n, d, eigenvalues=data.linear_spectrum(d), seed=seed).X
    if name == "digits":
        return data.digits().astype(np.float64)
    if name == "user":
        if path is None:
            raise ValueError("data set 'user' needs --data PATH")
        X = user_images(path).x_train  # the training images; labels are not used here
        if len(X) <= max(k, 1):
            raise ValueError(f"--data {path}: {len(X)} training image(s); this run needs more "
                             f"than k={k} (use the whole data set)")
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)  # in [0, 1] already
    raise ValueError(f"unknown data set {name!r}")


def load(name: str, *, n: int = 0, d: int = 0, k: int = 0, gap: float = 0.0, seed: int = 0,
         path: str | None = None) -> np.ndarray:
    """Returns the float64 (n, d) data set `name` (see the module docstring); cached."""
    X = _load(name, int(n), int(d), int(k), float(gap), int(seed), path)
    X.setflags(write=False)
    return X


@functools.lru_cache(maxsize=8)
def image_split(path: str | None, n_train: int | None, n_test: int | None) -> tuple:
    """(X_train, y_train, X_test, y_test, image_shape), flattened float32 rows in [0, 1]: the
    digits (path None; `DIGITS_TEST_FRACTION` held out) or a user's MNIST-format data: the
    first n_train / n_test images of each split (None: all) after a fixed shuffle (seed 0)."""
    rng = np.random.default_rng(0)
    if path:
        ds = user_images(path)
        shape = (*ds.x_train.shape[1:], 1)
        tr = rng.permutation(len(ds.x_train))[:n_train]
        te = rng.permutation(len(ds.x_test))[:n_test]
        parts = (ds.x_train[tr].reshape(len(tr), -1), ds.y_train[tr],
                 ds.x_test[te].reshape(len(te), -1), ds.y_test[te])
    else:
        X, y = data.digits(return_labels=True)
        perm = rng.permutation(len(X))
        n_test_digits = math.ceil(DIGITS_TEST_FRACTION * len(X))  # as scikit-learn rounds
        tr, te = perm[: len(X) - n_test_digits][:n_train], perm[len(X) - n_test_digits:][:n_test]
        parts = (X[tr], y[tr], X[te], y[te])
        shape = (8, 8, 1)
    out = tuple(np.ascontiguousarray(a) for a in parts)
    for a in out:
        a.setflags(write=False)
    return (*out, shape)


def image_config(options) -> dict:
    """The image data of a run, for its config: a user's data (`--data`) or the digits."""
    if options.mnist:
        return {"data": options.mnist, "n_train": 5000 if options.quick else 20000,
                "n_test": 2000 if options.quick else 5000}
    n = len(data.digits())
    n_test = math.ceil(DIGITS_TEST_FRACTION * n)
    return {"data": None, "n_train": n - n_test, "n_test": n_test}


def load_images(config: dict) -> tuple:
    """`image_split` of a run's config."""
    return image_split(config.get("data"), config.get("n_train"), config.get("n_test"))
