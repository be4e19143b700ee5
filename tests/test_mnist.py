"""MNIST / Fashion-MNIST loaders on tiny files written here: IDX (plain and gzip) and .npz."""

import gzip
import struct

import numpy as np
import pytest

from tiedae.data import mnist


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def _write(path, arr, gz=False, code=0x08):
    data = _idx_bytes(arr, code)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def tiny(rng):
    return {
        "x_train": rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=5).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(2, 4, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=2).astype(np.uint8),
    }


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_roundtrip(tmp_path, rng, gz):
    arr = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    _write(path, arr, gz=gz)
    np.testing.assert_array_equal(mnist.load_idx(path), arr)
    ints = rng.integers(-1000, 1000, size=(6,)).astype(">i4")
    _write(tmp_path / "b.idx", ints, code=0x0C)
    out = mnist.load_idx(tmp_path / "b.idx")
    np.testing.assert_array_equal(out, ints.astype(np.int32))
    assert out.dtype.byteorder in ("=", "|", "<")


@pytest.mark.parametrize("gz", [False, True])
def test_load_directory(tmp_path, tiny, gz):
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    for key, name in names.items():
        _write(tmp_path / (name + (".gz" if gz else "")), tiny[key], gz=gz)
    data = mnist.load(tmp_path)
    assert data.x_train.shape == (5, 4, 3) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train, tiny["x_train"] / 255.0, rtol=1e-6)
    assert 0.0 <= data.x_test.min() and data.x_test.max() <= 1.0
    np.testing.assert_array_equal(data.y_test, tiny["y_test"])
    assert data.y_train.dtype == np.int64


def test_load_directory_dotted_names(tmp_path, tiny):
    names = {"x_train": "train-images.idx3-ubyte", "y_train": "train-labels.idx1-ubyte",
             "x_test": "t10k-images.idx3-ubyte", "y_test": "t10k-labels.idx1-ubyte"}
    for key, name in names.items():
        _write(tmp_path / name, tiny[key])
    assert mnist.load(tmp_path).x_test.shape == (2, 4, 3)


def test_load_npz(tmp_path, tiny):
    path = tmp_path / "mnist.npz"
    np.savez(path, **tiny)
    for data in (mnist.load(path), mnist.load_npz(path)):
        np.testing.assert_allclose(data.x_test, tiny["x_test"] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(data.y_train, tiny["y_train"])
    floats = {**tiny, "x_train": tiny["x_train"] / 255.0, "x_test": tiny["x_test"] / 255.0}
    np.savez(tmp_path / "f.npz", **floats)
    np.testing.assert_allclose(mnist.load(tmp_path / "f.npz").x_train, floats["x_train"],
                               rtol=1e-6)


def test_missing_and_malformed_files(tmp_path, tiny):
    with pytest.raises(ValueError, match="no such"):
        mnist.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="no such file"):
        mnist.load_idx(tmp_path / "nope.idx")
    with pytest.raises(ValueError, match="train-images"):
        mnist.load(tmp_path)  # empty directory
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01\x00")
    with pytest.raises(ValueError, match="magic"):
        mnist.load_idx(tmp_path / "bad.idx")
    (tmp_path / "code.idx").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="type code"):
        mnist.load_idx(tmp_path / "code.idx")
    truncated = _idx_bytes(np.zeros((3, 4), np.uint8))[:-2]
    (tmp_path / "short.idx").write_bytes(truncated)
    with pytest.raises(ValueError, match="header says"):
        mnist.load_idx(tmp_path / "short.idx")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x00garbage")
    with pytest.raises(ValueError, match="cannot read"):
        mnist.load_idx(tmp_path / "bad.gz")
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="npz"):
        mnist.load(tmp_path / "x.npz")
    np.savez(tmp_path / "partial.npz", x_train=tiny["x_train"])
    with pytest.raises(ValueError, match="lacks"):
        mnist.load(tmp_path / "partial.npz")
    np.savez(tmp_path / "obj.npz", **{**tiny, "y_test": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="unpickle"):
        mnist.load(tmp_path / "obj.npz")
    np.savez(tmp_path / "mismatch.npz", **{**tiny, "y_test": tiny["y_train"]})
    with pytest.raises(ValueError, match="labels"):
        mnist.load(tmp_path / "mismatch.npz")
    (tmp_path / "file.txt").write_text("hi")
    with pytest.raises(ValueError, match="expected a directory"):
        mnist.load(tmp_path / "file.txt")


@pytest.mark.parametrize("gz", [False, True])
def test_a_folder_with_only_the_test_files_is_split_with_a_fixed_seed(tmp_path, rng, gz):
    images = rng.integers(0, 256, size=(10, 4, 3), dtype=np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz=gz)
    _write(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz=gz)
    data = mnist.load(tmp_path)
    assert (len(data.x_train), len(data.x_test)) == (8, 2)  # ceil(0.2 * 10) held out
    perm = np.random.default_rng(mnist.SPLIT_SEED).permutation(10)
    np.testing.assert_array_equal(data.y_train, perm[:8])
    np.testing.assert_array_equal(data.y_test, perm[8:])
    np.testing.assert_allclose(data.x_test, images[perm[8:]] / 255.0, rtol=1e-6)
    again = mnist.load(tmp_path)
    np.testing.assert_array_equal(again.y_test, data.y_test)  # same split every time
    other = mnist.load(tmp_path, test_fraction=0.5, seed=1)
    assert len(other.x_test) == 5 and not np.array_equal(other.y_test[:2], data.y_test)


def test_three_images_split_and_an_npz_of_one_pair(tmp_path, rng):
    images = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "three.npz", x_test=images, y_test=np.array([1, 2, 3]))
    data = mnist.load(tmp_path / "three.npz")
    assert (len(data.x_train), len(data.x_test)) == (2, 1)
    assert sorted([*data.y_train, *data.y_test]) == [1, 2, 3]


def test_malformed_files_say_what_is_wrong(tmp_path, tiny):
    (tmp_path / "random.npz").write_bytes(bytes(range(7, 107)))
    with pytest.raises(ValueError, match="not a zip archive") as info:
        mnist.load(tmp_path / "random.npz")
    assert "unpickle" not in str(info.value)
    np.save(tmp_path / "array.npy", tiny["x_train"])
    (tmp_path / "array.npz").write_bytes((tmp_path / "array.npy").read_bytes())
    with pytest.raises(ValueError, match=r"a single \.npy array"):
        mnist.load(tmp_path / "array.npz")
    np.savez(tmp_path / "keys.npz", images=tiny["x_train"], labels=tiny["y_train"])
    with pytest.raises(ValueError, match=r"lacks a complete pair.*\['images', 'labels'\]"):
        mnist.load(tmp_path / "keys.npz")
    full = _idx_bytes(tiny["x_train"])
    (tmp_path / "short-idx3-ubyte").write_bytes(full[:-7])
    with pytest.raises(ValueError, match="the file is truncated"):
        mnist.load_idx(tmp_path / "short-idx3-ubyte")
    with gzip.open(tmp_path / "cut.gz", "wb") as f:
        f.write(full)
    (tmp_path / "cut.gz").write_bytes((tmp_path / "cut.gz").read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        mnist.load_idx(tmp_path / "cut.gz")
