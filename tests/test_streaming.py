"""Streaming fits: covariance, PCA and training from row chunks that never sit whole in memory."""

import sys

import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae import pca
from tiedae.data import chunks
from tiedae.training import Covariance, RowChunks, StopWhen


@pytest.fixture
def spiked():
    return tiedae.data.spiked_covariance(1003, 7, k=2, gap=4.0, seed=3).X + 5.0


def _save(tmp_path, X, name="x.npy"):
    path = tmp_path / name
    np.save(path, X)
    return path


def _numpy_moments(X):
    X = np.asarray(X, np.float64)
    Xc = X - X.mean(axis=0)
    return X.mean(axis=0), Xc.T @ Xc / len(X)


def _assert_covariance(C, ref, rtol=1e-12):
    np.testing.assert_allclose(C, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


def _linear(d=7, k=2, dtype=np.float64, seed=0):
    return tiedae.LinearAE(d, k, param_dtype=dtype, init_scale=0.1, rngs=nnx.Rngs(seed))


def test_streamed_covariance_of_a_file_larger_than_a_chunk_equals_numpys(tmp_path, spiked):
    X32 = spiked.astype(np.float32)
    path = _save(tmp_path, X32)
    mean_ref, C_ref = _numpy_moments(X32)
    mm = np.load(path, mmap_mode="r")
    with chunks.RowReader(mm) as reader:
        assert reader.reads_file  # explicit reads at the rows' offset, not the map's pages
    sources = {"path": path, "memmap": mm, "iterator": lambda: iter(np.array_split(X32, 9)),
               "function": lambda: (X32[i: i + 77] for i in range(0, 1003, 77))}
    # float64 products: exact; float32 products (the default for float32 rows): to the bound
    # of tiedae.data.moments, (r u) sqrt(M_ii M_jj) with r = 100 rows per product here
    for dtype, rtol in ((np.float64, 1e-12), (None, 1e-5)):
        for name, rows in sources.items():
            rows = rows() if name == "iterator" else rows
            m = pca.moments(rows, chunk_size=100, dtype=dtype)
            assert m.n_samples == 1003, name
            np.testing.assert_allclose(m.mean, mean_ref, rtol=rtol, err_msg=name)
            _assert_covariance(m.covariance, C_ref, rtol)
    # a slice of the map is read from its own offset in the file
    _assert_covariance(pca.moments(mm[250:900], chunk_size=64, dtype=np.float64).covariance,
                       _numpy_moments(X32[250:900])[1])
    # the Covariance source computes the same moments, once
    src = Covariance(path, chunk_size=128)
    _assert_covariance(src.mean_and_covariance()[1], C_ref, 1e-5)
    assert src.n_samples == 1003


def test_reads_see_what_the_map_holds(tmp_path, spiked):
    """Explicit reads of a shared map see its writes; a copy-on-write map and strided or
    Fortran-ordered views are read through the map itself."""
    path = _save(tmp_path, spiked)
    shared = np.load(path, mmap_mode="r+")
    shared[5, 2] = 1e3  # in the page cache, not yet flushed
    private = np.load(_save(tmp_path, spiked, "c.npy"), mmap_mode="c")
    private[5, 2] = 1e3  # only in this process's copy
    expected = spiked.copy()
    expected[5, 2] = 1e3
    for rows in (shared, private):
        _assert_covariance(pca.moments(rows, chunk_size=100).covariance,
                           _numpy_moments(expected)[1])
    fortran = np.load(_save(tmp_path, np.asfortranarray(spiked), "f.npy"), mmap_mode="r")
    for view, ref in ((fortran, spiked), (shared[::3], expected[::3])):
        with chunks.RowReader(view) as reader:
            assert not reader.reads_file
        _assert_covariance(pca.moments(view, chunk_size=50).covariance, _numpy_moments(ref)[1])
    big_endian = _save(tmp_path, spiked.astype(">f8"), "be.npy")
    _assert_covariance(pca.moments(big_endian).covariance, _numpy_moments(spiked)[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_pass_over_a_memory_map_does_not_keep_its_pages(tmp_path):
    def rss_file_kb():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("RssFile:"))

    rows = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    path = _save(tmp_path, rows)  # 16 MiB
    del rows
    mm = np.load(path, mmap_mode="r")
    before = rss_file_kb()
    pca.moments(mm, chunk_size=256)
    streamed = rss_file_kb() - before
    for start in range(0, 2048, 256):  # the naive pass: slices of the map
        np.array(mm[start: start + 256]).sum()
    sliced = rss_file_kb() - before
    assert sliced > 12 * 1024  # the file's pages stayed mapped: the measure sees them
    assert streamed < 2 * 1024


def _distance(A, B):
    """sum(sin^2 theta) / k between the row spaces of two orthonormal (k, d) matrices."""
    cos = np.linalg.svd(A @ B.T, compute_uv=False)
    return float(np.sum(1.0 - np.clip(cos, 0.0, 1.0) ** 2) / A.shape[0])


def test_float32_products_match_the_float64_pass_on_a_large_mean_and_wide_spectrum(tmp_path):
    """float32 products of shifted chunks, float64 accumulation (tiedae.data.moments): the
    covariance within 1e-6 of the float64 pass in spectral norm (the bound (r u) ||M||, r = 4096
    rows per product, u = 2^-24: 2.4e-4 worst case, about sqrt(r) u in practice), the top-k
    subspace within 1e-6, on rows with a mean 1e4 times their spread and eigenvalues over six
    decades; data scaled by 1e30 or 1e-30 (outside float32's products) to the same bound."""
    rng = np.random.default_rng(0)
    n, d, k = 16384, 48, 4
    spectrum = np.concatenate([np.geomspace(100.0, 10.0, k), np.geomspace(1.0, 1e-4, d - k)])
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (rng.standard_normal((n, d)) * np.sqrt(spectrum)) @ Q.T + 1e4 * rng.uniform(1, 2, d)
    X32 = X.astype(np.float32)
    path = _save(tmp_path, X32)
    exact = pca.moments(path, chunk_size=4096, dtype=np.float64)
    fast = pca.moments(path, chunk_size=4096)
    norm = np.linalg.norm(exact.covariance, 2)
    assert np.linalg.norm(fast.covariance - exact.covariance, 2) <= 1e-6 * norm
    np.testing.assert_allclose(fast.mean, exact.mean, rtol=1e-9)
    top = pca.fit_covariance(*exact, k).components
    assert _distance(pca.fit_covariance(*fast, k).components, top) <= 1e-6
    assert _distance(pca.fit_chunks(path, k, chunk_size=4096).components, top) <= 1e-6
    # float64 chunks first, then float32 ones: the float64 shift is no float32 number, so the
    # float32 chunks are multiplied in float64 (shifted by float32 numbers they would be off)
    mixed = pca.moments(iter([X[:4096], X32[4096:]]))
    ref = pca.moments(np.concatenate([X[:4096], X32[4096:].astype(np.float64)]))
    assert np.linalg.norm(mixed.covariance - ref.covariance, 2) <= 1e-12 * norm
    for scale in (np.float32(1e30), np.float32(1e-30)):
        scaled = (X32 - X32.mean(axis=0)) * scale  # finite float32 rows
        ref = pca.moments(scaled, dtype=np.float64).covariance
        got = pca.moments(iter(np.array_split(scaled, 4))).covariance
        assert np.linalg.norm(got - ref, 2) <= 1e-6 * np.linalg.norm(ref, 2), scale


def test_pca_from_chunks_equals_pca_fit_on_the_array(tmp_path):
    for n, d, k in ((600, 12, 3), (15, 40, 5)):  # n >= d (eigh) and n < d (fit's SVD)
        X = tiedae.data.spiked_covariance(n, d, k=k, gap=6.0, seed=1).X + 2.0
        ref = pca.fit(X, k)
        for rows in (_save(tmp_path, X), iter(np.array_split(X, 4))):
            res = pca.fit_chunks(rows, k, chunk_size=64)
            signs = np.sign(np.sum(res.components * ref.components, axis=1))
            np.testing.assert_allclose(res.components * signs[:, None], ref.components,
                                       atol=1e-9)
            np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-10,
                                       atol=1e-12 * ref.eigenvalues[0])
            assert res.optimal_loss == pytest.approx(ref.optimal_loss, rel=1e-10)
            np.testing.assert_allclose(res.mean, ref.mean, rtol=1e-13)
            assert res.n_samples == n and res.k == k


def test_fit_on_the_streamed_covariance_has_the_in_memory_iterates(tmp_path, spiked):
    path = _save(tmp_path, spiked)
    ref = pca.fit(spiked, 2)
    runs = {}
    m = pca.moments(path, chunk_size=100)
    sources = {"memory": Covariance(spiked), "file": Covariance(path, chunk_size=100),
               "iterator": Covariance(iter(np.array_split(spiked, 6))),
               "moments": Covariance.from_moments(*m)}
    for name, src in sources.items():
        model, hist = tiedae.fit(_linear(), src, optimizer=optax.sgd(0.02), steps=60,
                                 log_every=10, reference=ref)
        runs[name] = (np.asarray(model.W[...]), hist)
    W0, hist0 = runs["memory"]
    for name, (W, hist) in runs.items():
        np.testing.assert_allclose(W, W0, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(hist["loss"], hist0["loss"], rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(hist["subspace_distance"], hist0["subspace_distance"],
                                   rtol=1e-8, atol=1e-14, err_msg=name)


def test_row_chunks_sgd_on_a_memory_map_reaches_the_subspace(tmp_path):
    data = tiedae.data.spiked_covariance(4096, 10, k=2, gap=8.0, seed=2)
    path = _save(tmp_path, data.X.astype(np.float32) + 1.0)
    mm = np.load(path, mmap_mode="r")
    ref = pca.fit_chunks(path, 2)
    stop = StopWhen("subspace_distance", 1e-2)
    model, hist = tiedae.fit(_linear(10, 2, np.float32), RowChunks(mm, 128, seed=0),
                             optimizer=optax.adam(3e-3), steps=3000, log_every=50,
                             reference=ref, callback=stop)
    assert stop.step is not None and hist["subspace_distance"][-1] <= 1e-2
    np.testing.assert_allclose(model.mean[...], ref.mean, rtol=1e-5)


def _bad_streams(X):
    """(description, rows, error type, message pattern) for a stream of chunks."""
    nan = X.copy()
    nan[205, 3] = np.nan
    return [
        ("varying width", lambda: iter([X[:100], X[100:200, :5]]), ValueError,
         "chunk 1 has 5 columns; the chunks before it have 7"),
        ("NaN", lambda: iter(np.array_split(nan, 5)), ValueError,
         r"chunk 1 contains 1 non-finite value\(s\) \(NaN or inf\), the first \(nan\) at row 205 "
         r"\(row 4 of the chunk\), "
         "column 3"),
        ("empty iterator", lambda: iter([]), ValueError, "the rows are empty"),
        ("1-D chunks", lambda: iter(list(X[:20])), ValueError,
         r"chunk 0 must be 2-D .* 1-D shape \(7,\) \(for a single row"),
        ("complex", lambda: iter([X[:10] * 1j]), TypeError, "real numbers"),
        ("not rows", lambda: 3.5, TypeError, "rows must be an"),
    ]


@pytest.mark.parametrize("case", range(6))
def test_bad_streams_are_named_by_every_streaming_entry_point(spiked, case):
    what, make, error, match = _bad_streams(spiked)[case]
    with pytest.raises(error, match=match):
        pca.moments(make())
    with pytest.raises(error, match=match):
        pca.fit_chunks(make(), 2)
    with pytest.raises(error, match=match):
        tiedae.fit(_linear(), Covariance(make()), steps=2)
    with pytest.raises(error, match=match):
        tiedae.fit(_linear(), RowChunks(make(), 150, mean=np.zeros(7)), steps=2)
    # default centring: the problem, not "cannot compute the mean" (the problems sit in the
    # first batch of 300 rows, which is read and checked before that message)
    with pytest.raises(error, match=match):
        tiedae.fit(_linear(), RowChunks(make(), 300), steps=2)


def _generator(X, parts=4):
    yield from np.array_split(X, parts)


def test_spent_short_and_empty_streams_say_so(spiked):
    """Each problem of a stream is named, with or without centring (before, RowChunks with the
    default centring called them all "cannot compute the mean ... pass center=False")."""
    spent = _generator(spiked)
    list(spent)
    cases = [
        (lambda: spent, "the rows are empty: the iterator yielded no chunks \\(a generator "
                        "that was read before"),
        (lambda: iter([spiked[:0], spiked[:0]]), "the rows are empty: every chunk has 0 rows"),
        (lambda: iter([spiked[:100]]), "the rows ran out: the iterator holds 100 rows, fewer "
                                      "than one batch \\(batch_size=150\\)"),
    ]
    for make, match in cases:
        for center in (None, False):
            with pytest.raises(ValueError, match=match):
                tiedae.fit(_linear(), RowChunks(make(), 150), steps=2, center=center)
    for center in (None, False):  # a plain iterator shorter than the training
        with pytest.raises(ValueError, match="the rows ran out: a plain iterator is read once"
                           if center is False else "cannot compute the mean of a one-pass"):
            tiedae.fit(_linear(), RowChunks(iter([spiked[:300]]), 150), steps=5,
                       center=center)
    # a function that returns the same generator: empty from its second call on
    once = _generator(spiked, 2)
    with pytest.raises(ValueError, match="the rows function returned no rows on its call 2: "
                                         "it must return a fresh iterator"):
        tiedae.fit(_linear(), RowChunks(lambda: once, 150), steps=10)
    # a fresh generator per call trains
    tiedae.fit(_linear(), RowChunks(lambda: _generator(spiked), 150), steps=10)


def test_empty_corrupt_and_foreign_npy_files_are_named(tmp_path, spiked):
    """A 0-byte, truncated or non-.npy file raises a ValueError naming the file from every
    entry point (before: numpy's "pickled data ... allow_pickle" advice or a bare EOFError)."""
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"these are not rows" * 20)
    cut = _save(tmp_path, spiked, "cut.npy")
    cut.write_bytes(cut.read_bytes()[:60])  # half a header
    cases = [(empty, "empty.npy is not a .npy file: it is empty \\(0 bytes\\)"),
             (garbage, "garbage.npy is not a .npy file: it does not start with .npy's magic"),
             (cut, "cut.npy cannot be read as rows")]
    calls = (lambda p: pca.moments(p), lambda p: pca.fit_chunks(p, 2), chunks.RowReader,
             lambda p: tiedae.fit(_linear(), Covariance(p), steps=2),
             lambda p: tiedae.fit(_linear(), RowChunks(p, 100), steps=2))
    for path, match in cases:
        for call in calls:
            with pytest.raises(ValueError, match=match):
                call(path)


def test_a_bad_chunk_leaves_no_state_half_updated(spiked):
    acc = pca.CovarianceAccumulator()
    acc.update(spiked[:100])
    before = acc.result()
    bad = spiked[100:200].copy()
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"chunk 1 contains 1 non-finite value\(s\) \(NaN or "
                                         r"inf\), the first \(inf\) at row "
                                         r"107 \(row 7 of the chunk\)"):
        acc.update(bad)
    with pytest.raises(ValueError, match="chunk 1 has 3 columns"):
        acc.update(spiked[100:200, :3])
    assert (acc.n, acc.n_chunks) == (100, 1)
    np.testing.assert_array_equal(acc.result()[1], before[1])
    # fit: a bad chunk found while computing the moments changes nothing in the model
    model = _linear()
    W, mean = np.asarray(model.W[...]), np.asarray(model.mean[...])
    src = Covariance(iter([spiked[:100], bad]))
    with pytest.raises(ValueError, match="non-finite"):
        tiedae.fit(model, src, steps=5)
    np.testing.assert_array_equal(model.W[...], W)
    np.testing.assert_array_equal(model.mean[...], mean)
    # a bad chunk met while training: fit stops with the error, the model keeps its weights
    stream = RowChunks(iter([spiked[:100], spiked[100:200], bad]), 100, mean=np.zeros(7))
    with pytest.raises(ValueError, match=r"chunk 2 contains \d+ non-finite value"):
        tiedae.fit(model, stream, steps=5, log_every=1)
    np.testing.assert_array_equal(model.W[...], W)


def test_integer_rows_are_converted_exactly_and_huge_integers_refused(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, size=(500, 6), dtype=np.uint8)
    mm = np.load(_save(tmp_path, X), mmap_mode="r")
    m = pca.moments(mm, chunk_size=64)
    _assert_covariance(m.covariance, _numpy_moments(X.astype(np.float64))[1])
    ref = pca.fit(X.astype(np.float64), 2)
    assert pca.fit_chunks(mm, 2).optimal_loss == pytest.approx(ref.optimal_loss, rel=1e-12)
    model, _ = tiedae.fit(_linear(6, 2, np.float32), RowChunks(mm, 50), steps=3)
    assert model.W[...].dtype == np.float32
    huge = np.array([[2**53 + 1, 0], [0, 1]], dtype=np.int64)
    with pytest.raises(ValueError, match="integers beyond 2\\^53"):
        pca.moments(iter([huge]))


def test_k_larger_than_n_or_d_and_bad_files_are_named(tmp_path, spiked):
    with pytest.raises(ValueError, match="k must be <= n .* k=5 > n=3"):
        pca.fit_chunks(iter([spiked[:2], spiked[2:3]]), 5)
    with pytest.raises(ValueError, match="k must be <= n .* k=5 > n=4"):
        pca.fit_chunks(_save(tmp_path, spiked[:4]), 5)  # known shape: before the pass
    with pytest.raises(ValueError, match="k must be <= d"):
        pca.fit_chunks(spiked, 8)
    with pytest.raises(ValueError, match="at least 2 rows"):
        pca.moments(iter([spiked[:1]]))
    with pytest.raises(ValueError, match="2-D with shape \\(n, d\\); got 1-D"):
        pca.moments(_save(tmp_path, spiked[0], "row.npy"))
    with pytest.raises(ValueError, match="cannot be read as rows"):
        pca.moments(_save(tmp_path, np.array([[object()]], dtype=object), "obj.npy"))
    npz = tmp_path / "x.npz"
    np.savez(npz, X=spiked)
    with pytest.raises(ValueError, match="one .npy file"):
        pca.moments(npz)
    path = _save(tmp_path, spiked, "cut.npy")
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 100)
    with pytest.raises(ValueError, match="cannot be read as rows|bytes early"):
        pca.moments(path)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        pca.moments(spiked, chunk_size=0)


def test_fit_covariance_checks_the_moments(spiked):
    mean, C = _numpy_moments(spiked)
    with pytest.raises(ValueError, match="symmetric"):
        pca.fit_covariance(mean, C + np.triu(np.ones_like(C), 1), 100, 2)
    with pytest.raises(ValueError, match="positive semi-definite"):
        pca.fit_covariance(mean, -C, 100, 2)
    with pytest.raises(ValueError, match="mean must have shape"):
        pca.fit_covariance(mean[:3], C, 100, 2)
    with pytest.raises(ValueError, match="finite"):
        Covariance.from_moments(mean, C * np.nan, 100)
    with pytest.raises(TypeError, match="n_samples must be a positive integer"):
        pca.fit_covariance(mean, C, 10.5, 2)


@pytest.mark.slow
def test_streaming_benchmark_runs_and_renders(tmp_path):
    """The benchmark end to end at a tiny size (six child processes), then its report."""
    import importlib
    import json
    import os
    import pathlib
    import subprocess

    bench = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
    out = tmp_path / "results" / "streaming.json"
    env = {**os.environ, "PYTHONPATH": str(bench.parent)}  # the children import this checkout
    proc = subprocess.run([sys.executable, str(bench / "streaming.py"), "--rows", "1024", "--d",
                           "24", "--k", "3", "--chunk-rows", "100", "--workdir",
                           str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 1000
    assert not list((tmp_path / "work").glob("*.npy"))  # the rows were deleted
    assert sorted({r["n"] for r in res["rows"]}) == [256, 512, 1024]
    ours = {r["n"]: r for r in res["rows"] if r["method"] == "tiedae"}
    assert all(r["final_distance"] <= 1e-6 and r["covariance_error_vs_float64"] <= 1e-5
               for r in ours.values())
    assert {r["method"] for r in res["rows"]} == {"tiedae", "sklearn_pca", "incremental_pca"}
    assert res["rss_growth"] == pytest.approx(ours[1024]["peak_rss_mb"]
                                              / ours[256]["peak_rss_mb"] - 1)
    assert res["pass_vs_floor"] == pytest.approx(ours[1024]["pass_s"] / ours[1024]["floor_s"])
    sys.path.insert(0, str(bench))
    try:
        report = importlib.import_module("report")
    finally:
        sys.path.pop(0)
    text = report.markdown(out.parent)
    assert "IncrementalPCA" in text and text.count("\n| 512 |") == 1
