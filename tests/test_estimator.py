"""`tiedae.LinearAutoencoder`: scikit-learn's estimator checks, PCA's numbers on digits, pipelines
and grid search, streaming with partial_fit, parameter validation, and the optional import."""

import pathlib
import subprocess
import sys
import warnings

import numpy as np
import optax
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import tiedae
from tiedae import LinearAutoencoder

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    return load_digits().data


def _subspace_distance(A, B) -> float:
    """||P_A - P_B||_F of the orthogonal projectors onto the row spaces of A and B."""
    return float(np.linalg.norm(A.T @ A - B.T @ B))


# Every check passes (none is marked as an expected failure). Only the default configuration
# runs them: each check fits new shapes and each shape is compiled once, so a second
# configuration would double the cost; the other decoders and minibatches have tests below.
@parametrize_with_checks([LinearAutoencoder(2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_digits_match_pca(digits):
    ae = LinearAutoencoder(10, random_state=0).fit(digits)
    pca = PCA(10).fit(digits)
    assert ae.converged_ and ae.n_iter_ < ae.max_steps
    np.testing.assert_allclose(ae.explained_variance_ratio_, pca.explained_variance_ratio_,
                               rtol=0, atol=1e-3)
    np.testing.assert_allclose(ae.explained_variance_ratio_, pca.explained_variance_ratio_,
                               rtol=1e-6)  # what training to the default tol=1e-10 reaches
    np.testing.assert_allclose(ae.explained_variance_, pca.explained_variance_, rtol=1e-6)
    assert _subspace_distance(ae.components_, pca.components_) < 1e-4
    # Same sign convention (svd_flip): components and codes equal, not just up to signs.
    np.testing.assert_allclose(ae.components_, pca.components_, atol=1e-4)
    Z = ae.transform(digits)
    np.testing.assert_allclose(Z, pca.transform(digits), atol=1e-3 * np.abs(Z).max())
    np.testing.assert_allclose(ae.inverse_transform(Z), pca.inverse_transform(Z), atol=1e-3)
    np.testing.assert_allclose(ae.mean_, pca.mean_, rtol=1e-12)
    np.testing.assert_allclose(ae.noise_variance_, pca.noise_variance_, rtol=1e-6)
    cov = pca.get_covariance()
    np.testing.assert_allclose(ae.get_covariance(), cov, atol=1e-4 * np.abs(cov).max())
    np.testing.assert_allclose(ae.score_samples(digits), pca.score_samples(digits), rtol=1e-4)
    assert ae.score(digits) == pytest.approx(pca.score(digits), rel=1e-6)
    # The raw trained encoder: orthonormal rows (V = W^T) spanning the same subspace.
    W = ae.encoder_
    np.testing.assert_allclose(W @ W.T, np.eye(10), atol=1e-5)
    np.testing.assert_array_equal(ae.decoder_, W.T)
    assert _subspace_distance(W, pca.components_) < 1e-4
    assert set(ae.history_) >= {"step", "loss", "objective", "wall_time"}
    assert ae.history_["step"][-1] == ae.n_iter_


@pytest.mark.parametrize("decoder", ["pinv", "right_inverse", "untied"])
def test_every_decoder_finds_the_principal_subspace(decoder):
    X = tiedae.data.spiked_covariance(400, 12, k=3, gap=5.0, seed=1).X
    ae = LinearAutoencoder(3, decoder=decoder, max_steps=3000, random_state=0).fit(X)
    pca = PCA(3).fit(X)
    assert _subspace_distance(ae.components_, pca.components_) < 1e-3
    np.testing.assert_allclose(ae.explained_variance_ratio_, pca.explained_variance_ratio_,
                               atol=1e-6)
    assert ae.decoder_.shape == (12, 3)


def test_the_default_step_converges_at_any_data_scale():
    """The step is scaled by 1 / lambda_1 and the stopping rule by tr C: rescaling the data
    rescales C and leaves the iterates (and the number of steps) as they were."""
    X = tiedae.data.spiked_covariance(300, 10, k=2, gap=4.0, seed=2).X.astype(np.float64)
    fitted = {}
    for scale in [1e-3, 1.0, 1e3]:
        Xs = scale * X + 5.0 * scale
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no ConvergenceWarning
            ae = LinearAutoencoder(2, random_state=0).fit(Xs)
        pca = PCA(2).fit(Xs)
        assert ae.converged_
        np.testing.assert_allclose(ae.explained_variance_ratio_, pca.explained_variance_ratio_,
                                   rtol=1e-6)
        np.testing.assert_allclose(ae.explained_variance_, pca.explained_variance_, rtol=1e-6)
        assert _subspace_distance(ae.components_, pca.components_) < 1e-4
        fitted[scale] = ae
    for scale in [1e-3, 1e3]:
        assert abs(fitted[scale].n_iter_ - fitted[1.0].n_iter_) <= fitted[1.0].log_every
        np.testing.assert_allclose(fitted[scale].components_, fitted[1.0].components_,
                                   atol=1e-6)


@pytest.mark.parametrize("scale, dtype", [(1e100, np.float64), (1e-100, np.float64),
                                          (1e30, np.float32), (1e-30, np.float32)])
def test_extreme_data_scales_train_to_the_same_subspace(scale, dtype):
    """Data scaled by 1e+-100 (float64) or 1e+-30 (float32) trains like the data at scale 1:
    training sees C / (tr C / d), so its step, its stopping rule and its iterates do not depend
    on the scale (before, the power iteration's norm over- or underflowed to lambda_1 = 0:
    n_iter_ = 0, converged_ and a random subspace)."""
    X = tiedae.data.spiked_covariance(300, 8, k=2, gap=5.0, seed=1).X
    ref = LinearAutoencoder(2, random_state=0).fit(X)
    ae = LinearAutoencoder(2, random_state=0).fit((X * scale).astype(dtype))
    assert ae.converged_ and abs(ae.n_iter_ - ref.n_iter_) <= ref.log_every
    assert _subspace_distance(ae.components_, ref.components_) < 1e-4
    np.testing.assert_allclose(ae.explained_variance_ / scale**2, ref.explained_variance_,
                               rtol=1e-5)
    for batch_size in (None, 100):  # minibatches: the rows are rescaled too
        ae = LinearAutoencoder(2, random_state=0, batch_size=batch_size, max_steps=50, tol=0)
        ae.fit((X * scale).astype(dtype))
        assert ae.n_iter_ == 50 and np.isfinite(ae.components_).all()


def test_variations_beyond_float64_raise_instead_of_a_random_subspace():
    X = tiedae.data.spiked_covariance(50, 4, k=1, gap=5.0, seed=1).X
    for scale, what in ((1e-170, "underflows"), (1e170, "overflows")):
        with pytest.raises(ValueError, match=f"covariance of X {what} float64"):
            LinearAutoencoder(1).fit(X * scale)


def _rss_file_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_fit_and_partial_fit_on_a_memory_map_read_it_in_chunks(tmp_path, monkeypatch):
    """fit(memmap) and partial_fit(memmap slices) read the rows in chunks with explicit reads:
    no read holds more than a chunk and the file's pages do not stay mapped (before, the whole
    map was checked and sliced through its pages, which then counted towards the RSS)."""
    from tiedae.data import chunks

    rng = np.random.default_rng(0)
    weights = np.ones(512, np.float32)
    weights[:2] = 8.0, 5.0  # a clear top-2 subspace
    X = rng.standard_normal((8192, 512), dtype=np.float32) * weights + 3.0
    path = tmp_path / "x.npy"
    np.save(path, X)
    reads = []
    original = chunks.RowReader.read

    def counting_read(self, start, stop, out=None):
        reads.append(min(stop, self.shape[0]) - start)
        return original(self, start, stop, out)

    monkeypatch.setattr(chunks.RowReader, "read", counting_read)
    monkeypatch.setattr(tiedae.estimator, "_CHUNK_ROWS", 512)
    ref = LinearAutoencoder(2, random_state=0).fit(X)  # (and compiles: loads libraries)
    del X
    reads.clear()
    mm = np.load(path, mmap_mode="r")
    before = _rss_file_kb()
    ae = LinearAutoencoder(2, random_state=0).fit(mm)
    assert _rss_file_kb() - before < 4 * 1024  # the file is 16 MiB
    assert sum(reads) == 8192 and max(reads) <= 512
    np.testing.assert_allclose(ae.components_, ref.components_, atol=1e-6)
    np.testing.assert_allclose(ae.mean_, ref.mean_, rtol=1e-6)
    assert _subspace_distance(ae.components_, np.eye(512)[:2]) < 0.2  # sampling noise
    reads.clear()
    part = LinearAutoencoder(2, random_state=0)
    for start in range(0, 8192, 4096):
        part.partial_fit(mm[start: start + 4096])
    assert sum(reads) == 8192 and max(reads) <= 512
    assert _rss_file_kb() - before < 4 * 1024
    np.testing.assert_allclose(part.explained_variance_, ref.explained_variance_, rtol=1e-5)
    # a bad chunk of a map is named by its rows, and leaves the estimator as it was
    bad = np.lib.format.open_memmap(tmp_path / "bad.npy", "w+", np.float32, (2048, 512))
    bad[:] = mm[:2048]
    bad[1500, 7] = np.nan
    bad.flush()
    saved = part.explained_variance_.copy()
    with pytest.raises(ValueError, match=r"X\[1024:1536\] contains 1 non-finite .* row 1500"):
        part.partial_fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    np.testing.assert_array_equal(part.explained_variance_, saved)
    assert part.n_samples_ == 8192


def test_an_integer_memory_map_is_converted_chunk_by_chunk(tmp_path):
    """An integer memmap is read in chunks and converted exactly to float64 (as an integer
    array is by scikit-learn's checks), never copied whole."""
    X = (tiedae.data.spiked_covariance(400, 6, k=2, gap=5.0, seed=3).X * 100).astype(np.int16)
    np.save(tmp_path / "int.npy", X)
    mm = np.load(tmp_path / "int.npy", mmap_mode="r")
    ae = LinearAutoencoder(2, random_state=0).fit(mm)
    ref = LinearAutoencoder(2, random_state=0).fit(X.astype(np.float64))
    np.testing.assert_allclose(ae.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ae.explained_variance_, ref.explained_variance_, rtol=1e-9)
    assert ae.transform(mm[:5]).dtype == np.float64


def test_minibatches_and_a_custom_optimizer(digits):
    X = digits[:600]
    pca = PCA(4).fit(X)
    ae = LinearAutoencoder(4, batch_size=128, tol=0.0, max_steps=2000, random_state=0).fit(X)
    assert ae.n_iter_ == 2000 and not ae.converged_
    assert _subspace_distance(ae.components_, pca.components_) < 0.2
    np.testing.assert_allclose(ae.explained_variance_ratio_, pca.explained_variance_ratio_,
                               atol=5e-3)
    adam = LinearAutoencoder(4, optimizer=optax.adam(1e-2), tol=0.0, max_steps=1500,
                             random_state=0)
    adam = clone(adam).fit(X)
    np.testing.assert_allclose(adam.explained_variance_ratio_, pca.explained_variance_ratio_,
                               atol=1e-3)


def test_max_steps_running_out_warns():
    X = tiedae.data.spiked_covariance(200, 10, k=2, gap=4.0).X
    with pytest.warns(ConvergenceWarning, match="max_steps=5"):
        ae = LinearAutoencoder(2, max_steps=5, random_state=0).fit(X)
    assert ae.n_iter_ == 5 and not ae.converged_


def test_fit_is_reproducible_with_a_random_state():
    X = tiedae.data.spiked_covariance(200, 10, k=2, gap=4.0).X
    a = LinearAutoencoder(2, max_steps=20, tol=0, random_state=3).fit(X)
    b = LinearAutoencoder(2, max_steps=20, tol=0, random_state=3).fit(X)
    c = LinearAutoencoder(2, max_steps=20, tol=0, random_state=4).fit(X)
    np.testing.assert_array_equal(a.encoder_, b.encoder_)
    assert not np.allclose(a.encoder_, c.encoder_)


def test_pipeline_and_grid_search_over_n_components(digits):
    X, y = load_digits(return_X_y=True)
    ae = LinearAutoencoder(2, tol=1e-8, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("ae", ae),
                     ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"ae__n_components": [2, 16]}, cv=3).fit(X, y)
    assert search.best_params_ == {"ae__n_components": 16}
    assert search.best_score_ > 0.85
    assert search.best_estimator_.named_steps["ae"].components_.shape == (16, 64)
    # Unsupervised: the probabilistic-PCA score chooses n_components as it does for PCA.
    grid = {"n_components": [2, 5, 12]}
    ours = GridSearchCV(LinearAutoencoder(1, random_state=0), grid, cv=3).fit(X)
    theirs = GridSearchCV(PCA(), grid, cv=3).fit(X)
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=1e-3)


def test_partial_fit_equals_fit_on_the_concatenated_rows(digits):
    full = LinearAutoencoder(5, random_state=0).fit(digits)
    streamed = LinearAutoencoder(5, random_state=1)
    for chunk in np.array_split(digits, 4):
        streamed.partial_fit(chunk)
    assert streamed.n_samples_ == full.n_samples_ == len(digits)
    np.testing.assert_allclose(streamed.mean_, full.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.explained_variance_, full.explained_variance_,
                               rtol=1e-7)
    np.testing.assert_allclose(streamed.noise_variance_, full.noise_variance_, rtol=1e-7)
    assert _subspace_distance(streamed.components_, full.components_) < 1e-4
    np.testing.assert_allclose(streamed.components_, full.components_, atol=1e-4)
    # The last call warm-started from the previous W: it needed fewer steps than a fit.
    assert streamed.n_iter_ < full.n_iter_
    # partial_fit after fit continues with the fitted rows.
    more = clone(full).fit(digits[:900]).partial_fit(digits[900:])
    np.testing.assert_allclose(more.explained_variance_, full.explained_variance_, rtol=1e-7)


def test_covariance_source_from_moments_trains_like_the_rows():
    """What fit and partial_fit train on: the covariance source built from accumulated
    moments gives the iterates of the source that reads the rows."""
    from flax import nnx

    from tiedae.training import Covariance

    X = tiedae.data.spiked_covariance(200, 6, k=2, gap=4.0).X
    acc = tiedae.pca.CovarianceAccumulator()
    for chunk in np.array_split(X, 3):
        acc.update(chunk)
    losses = []
    for source in [Covariance(X), Covariance.from_moments(*acc.result())]:
        model = tiedae.LinearAE(6, 2, param_dtype=np.float64, rngs=nnx.Rngs(0))
        _, hist = tiedae.fit(model, source, optimizer=optax.sgd(0.05), steps=30)
        losses.append(hist["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"mean must have shape \(d,\) = \(2,\)"):
        Covariance.from_moments(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        Covariance.from_moments(np.zeros(2), np.full((2, 2), np.nan))


def test_bad_parameters_are_refused_at_fit():
    X = np.random.default_rng(0).normal(size=(30, 4))
    for params in [{"n_components": 0}, {"n_components": -1}, {"n_components": 2.5},
                   {"n_components": "2"}, {"decoder": "inverse"}, {"tol": -1.0},
                   {"max_steps": -1}, {"batch_size": 0}, {"learning_rate": 0.0},
                   {"optimizer": "adam"}, {"random_state": "seed"}]:
        ae = LinearAutoencoder(**{"n_components": 2, **params})
        with pytest.raises(InvalidParameterError, match=next(iter(params))):
            ae.fit(X)
        assert not hasattr(ae, "n_features_in_")
    with pytest.raises(ValueError, match=r"n_components=5 must be <= .*n_features=4"):
        LinearAutoencoder(5).fit(X)
    with pytest.raises(ValueError, match=r"n_components=3 must be <= .*n_samples=2"):
        LinearAutoencoder(3).fit(X[:2])
    with pytest.raises(NotFittedError):
        LinearAutoencoder(2).transform(X)
    with pytest.raises(ValueError, match="NaN"):
        LinearAutoencoder(2).fit(np.where(X > 2, np.nan, X))


def _state(estimator) -> dict:
    return {key: np.copy(val) if isinstance(val, np.ndarray) else val
            for key, val in vars(estimator).items() if key.endswith("_")}


def test_a_failed_partial_fit_leaves_the_model_as_it_was():
    rng = np.random.default_rng(0)
    ae = LinearAutoencoder(2, random_state=0).partial_fit(rng.normal(size=(20, 4)))
    before, n_before = _state(ae), ae._accumulator.n
    for bad in [rng.normal(size=(10, 5)), np.full((10, 4), np.inf)]:
        with pytest.raises(ValueError, match="features|NaN|infinity"):
            ae.partial_fit(bad)
    ae.set_params(n_components=3)
    with pytest.raises(ValueError, match="n_components changed from 2 to 3"):
        ae.partial_fit(rng.normal(size=(10, 4)))
    after = _state(ae)
    assert after.keys() == before.keys() and ae._accumulator.n == n_before
    for key, val in before.items():
        np.testing.assert_array_equal(after[key], val)
    # A first partial_fit that fails does not make the estimator look fitted.
    fresh = LinearAutoencoder(5)
    with pytest.raises(ValueError, match="n_components=5"):
        fresh.partial_fit(rng.normal(size=(10, 4)))
    with pytest.raises(NotFittedError):
        fresh.transform(rng.normal(size=(3, 4)))


def test_output_feature_names():
    ae = LinearAutoencoder(2, random_state=0).fit(np.random.default_rng(0).normal(size=(40, 3)))
    assert list(ae.get_feature_names_out()) == ["linearautoencoder0", "linearautoencoder1"]


# One fresh interpreter (JAX as configured by default: x64 off) for the two tests below.
_SUBPROCESS = """
import sys

class HideSklearn:
    def find_spec(self, name, path=None, target=None):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

blocker = HideSklearn()
sys.meta_path.insert(0, blocker)
import numpy as np
import jax
import tiedae
from flax import nnx
tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0))
print("sklearn imported:", "sklearn" in sys.modules)
try:
    tiedae.LinearAutoencoder
except ImportError as err:
    print("refused:", err)
sys.meta_path.remove(blocker)
X = np.random.default_rng(0).normal(size=(50, 5)) * [3.0, 2.0, 1.0, 0.5, 0.1]
ae = tiedae.LinearAutoencoder(2, random_state=0).fit(X)
print("x64 after fit:", jax.config.read("jax_enable_x64"), jax.numpy.ones(2).dtype)
print("fitted:", ae.encoder_.dtype, ae.transform(X.astype(np.float32)).dtype, ae.converged_)
"""


@pytest.fixture(scope="module")
def fresh_interpreter() -> str:
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS], capture_output=True, text=True,
                         cwd=REPO, timeout=300,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                              "JAX_PLATFORMS": "cpu"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_tiedae_works_without_scikit_learn(fresh_interpreter):
    assert "sklearn imported: False" in fresh_interpreter
    assert ("refused: tiedae.LinearAutoencoder needs scikit-learn >= 1.6: pip install "
            "'tiedae[sklearn]'") in fresh_interpreter


def test_training_in_float64_leaves_the_global_jax_config_alone(fresh_interpreter):
    assert "x64 after fit: False float32" in fresh_interpreter
    assert "fitted: float64 float32 True" in fresh_interpreter


def _spiked_rows():
    return tiedae.data.spiked_covariance(80, 6, k=2, gap=5.0).X


def test_pickle_and_joblib_round_trip_with_a_user_optimizer(tmp_path):
    # An optax optimizer is made of closures: plain pickle refused the fitted estimator with
    # "Can't pickle local object chain.<locals>.init_fn".
    import pickle

    import joblib

    X = _spiked_rows()
    ae = LinearAutoencoder(2, optimizer=optax.adam(1e-2), max_steps=40, tol=0,
                           random_state=0).fit(X)
    for restored in (pickle.loads(pickle.dumps(ae)),
                     joblib.load(joblib.dump(ae, tmp_path / "ae.joblib")[0])):
        np.testing.assert_array_equal(restored.transform(X), ae.transform(X))
        np.testing.assert_array_equal(restored.encoder_, ae.encoder_)
        assert set(restored.get_params()) == set(ae.get_params())
        refit = restored.fit(X)  # the restored optimizer trains the same way
        np.testing.assert_array_equal(refit.encoder_, ae.encoder_)
    default = LinearAutoencoder(2, max_steps=5, tol=0, random_state=0).fit(X)
    assert pickle.loads(pickle.dumps(default)).optimizer is None


@pytest.mark.slow
def test_grid_search_in_two_processes_with_a_user_optimizer():
    X = _spiked_rows()
    ae = LinearAutoencoder(1, optimizer=optax.adam(1e-2), max_steps=40, tol=0, random_state=0)
    search = GridSearchCV(ae, {"n_components": [1, 2]}, cv=2, n_jobs=2).fit(X)
    serial = GridSearchCV(ae, {"n_components": [1, 2]}, cv=2).fit(X)
    assert search.best_params_ == serial.best_params_ == {"n_components": 2}
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-9)
