r"""`LinearAutoencoder`: the tied linear autoencoder as a scikit-learn transformer.

The estimator trains a `tiedae.LinearAE` x_hat = mu + V W (x - mu) (V = W^T by default) with
`tiedae.fit`, and reads PCA's quantities off the trained encoder W (k, d):

* `components_`: an orthonormal basis Q (d, k) of W's row space (QR of W^T), rotated within it
  to diagonalise the projected covariance Q^T C Q = U diag(e) U^T: components = (Q U)^T, by
  decreasing e, each row's largest-|entry| positive (scikit-learn's `svd_flip` convention).
  When W spans the top-k principal subspace (the optimum of every decoder; Baldi & Hornik),
  these are PCA's components.
* `explained_variance_` = e n / (n - 1) (PCA's n - 1 convention), `explained_variance_ratio_`
  = that over the total variance tr C n / (n - 1), `noise_variance_` = the mean variance
  left outside the subspace over min(n, d) - k directions (0 when k = min(n, d)), and
  `score` the probabilistic-PCA log-likelihood (Tipping & Bishop), all as in
  `sklearn.decomposition.PCA`.

Training (`fit`): the mean and covariance C = X_c^T X_c / n are computed once in row chunks
(`tiedae.data.moments`; a `numpy.memmap` is read chunk by chunk, never whole); W starts as a
random matrix with orthonormal rows and `tiedae.fit` trains it on the covariance source
(O(d^2 k) per step, whatever n) or, with `batch_size`, on minibatches of X. Training sees the
data divided by sqrt(tr C / d), so C is O(1) whatever the data's scale (1e-100 or 1e100): W
and V W do not depend on it. The default optimizer is gradient descent with Nesterov momentum
0.9 and step `learning_rate / lambda_1`, lambda_1 the top eigenvalue of the rescaled C (power
iteration, O(d^2) per iteration), so the same settings converge on data of any scale. Every
`log_every` steps the loss on all the data, L = tr C - 2 tr(V W C) + tr(V^T V W C W^T), is
evaluated in float64; training stops once it changed by at most `tol * tr C` since the last
check (a `ConvergenceWarning` when `max_steps` ran out first).

`partial_fit(X)` adds the rows of X to the running mean and covariance (exact: the result
depends only on the rows seen, not on how they were chunked) and continues training from the
current W (warm start; the optimizer state starts afresh) on the covariance of all rows seen
so far, for at most `max_steps` steps with the same stopping rule. After several calls the
model is a `fit` on the concatenated rows up to the training tolerance (the data enter only
through their mean and covariance, which are equal); `batch_size` does not apply to it.

Precision: training runs in float64 inside `jax.enable_x64(True)`, a scoped switch: JAX's
global configuration is left as the caller set it. `transform` and the fitted attributes are
numpy float64 (`transform` returns float32 for float32 input).

Pickling (`pickle`, `joblib.dump`, `GridSearchCV(n_jobs=...)`) works with an optax optimizer of
one's own too: its closures travel pickled by value (cloudpickle, which joblib requires).

References:
  Baldi & Hornik, "Neural networks and principal component analysis: learning from examples
  without local minima", Neural Networks 2 (1989).
  Tipping & Bishop, "Probabilistic principal component analysis", J. R. Stat. Soc. B 61
  (1999).

Example:
  >>> import numpy as np
  >>> from sklearn.decomposition import PCA
  >>> import tiedae
  >>> X = tiedae.data.spiked_covariance(300, 8, k=2, gap=5.0).X
  >>> ae = tiedae.LinearAutoencoder(2, random_state=0).fit(X)
  >>> ratio = PCA(2).fit(X).explained_variance_ratio_
  >>> bool(np.abs(ae.explained_variance_ratio_ - ratio).max() < 1e-6)
  True
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import pickle
import warnings
from numbers import Integral, Real

try:
    from sklearn.base import (
        BaseEstimator,
        ClassNamePrefixFeaturesOutMixin,
        TransformerMixin,
        _fit_context,
    )
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("tiedae.LinearAutoencoder needs scikit-learn >= 1.6: pip install "
                      "'tiedae[sklearn]'") from err

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tiedae.data import chunks
from tiedae.data.moments import DEFAULT_CHUNK_ROWS, CovarianceAccumulator
from tiedae.linear.model import LINEAR_DECODERS, LinearAE
from tiedae.training import Covariance, Minibatches, fit

__all__ = ["LinearAutoencoder"]

_POWER_ITERATIONS = 50
_CHUNK_ROWS = DEFAULT_CHUNK_ROWS  # rows read at a time by fit and partial_fit


@functools.cache
def _default_optimizer() -> optax.GradientTransformation:
    """Nesterov gradient descent whose step is set per run (one compilation for all runs)."""
    return optax.inject_hyperparams(optax.sgd)(learning_rate=1.0, momentum=0.9, nesterov=True)


def _no_metrics(model, loss) -> dict:
    return {}


def _top_eigenvalue(C: np.ndarray, rng: np.random.RandomState) -> float:
    """lambda_1(C) of a PSD matrix by power iteration (the Rayleigh quotient: <= lambda_1)."""
    v = rng.standard_normal(C.shape[0])
    for _ in range(_POWER_ITERATIONS):
        w = C @ v
        norm = np.linalg.norm(w)
        if norm == 0.0:
            return 0.0
        v = w / norm
    return float(v @ C @ v)


def _linear_ae(decoder: str, W: np.ndarray, V: np.ndarray) -> LinearAE:
    """A float64 `LinearAE` with encoder W (and decoder V when untied); built abstractly and
    then filled, so no random initialisation is compiled for each new shape."""
    k, d = W.shape
    model = nnx.eval_shape(lambda: LinearAE(d, k, decoder=decoder, param_dtype=jnp.float64,
                                            rngs=nnx.Rngs(0)))
    model.W.set_value(jnp.asarray(W, jnp.float64))
    if decoder == "untied":
        model.V.set_value(jnp.asarray(V, jnp.float64))
    model.mean.set_value(jnp.asarray(np.zeros(d)))
    return model


def _decoder(decoder: str, W: np.ndarray, model: LinearAE) -> np.ndarray:
    """The decoder matrix V (d, k) of the model with encoder W, in numpy float64."""
    if decoder == "transpose":
        return W.T
    if decoder == "untied":
        return np.asarray(model.V[...], np.float64)
    return np.linalg.pinv(W)  # pinv, and the exact right inverse (= W^+ at full row rank)


def _loss(W: np.ndarray, V: np.ndarray, C: np.ndarray) -> float:
    """Mean squared reconstruction error of x_hat = V W x from the covariance, in float64."""
    WC = W @ C
    return float(np.trace(C) - 2.0 * np.vdot(V.T, WC) + np.vdot(V.T @ V, WC @ W.T))


def _components(W: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(components (k, d), variances (k,)): W's row space, rotated to diagonalise C on it."""
    Q, _ = np.linalg.qr(W.T)
    S = Q.T @ C @ Q
    variances, U = np.linalg.eigh((S + S.T) / 2)
    order = np.argsort(variances)[::-1]
    components = (Q @ U[:, order]).T
    k = components.shape[0]
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    return components * signs[:, None], np.clip(variances[order], 0.0, None)


class _Stalled:
    """`fit` callback: stops once the float64 loss on all the data changed by <= tol * tr C
    between two log points."""

    def __init__(self, C: np.ndarray, tol: float):
        self.C, self.limit = C, tol * float(np.trace(C))
        self.previous: float | None = None
        self.converged = False

    def __call__(self, step, metrics, model) -> bool:
        W = np.asarray(model.encoder_matrix(), np.float64)
        loss = _loss(W, _decoder(model.decoder, W, model), self.C)
        if self.previous is not None and abs(self.previous - loss) <= self.limit:
            self.converged = True
        self.previous = loss
        return self.converged


class LinearAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A linear autoencoder with a tied decoder, trained by `tiedae.fit`, as a transformer.

    See the module docstring for what `fit` and `partial_fit` do and how the PCA attributes
    are read off the trained encoder.

    Args:
      n_components: code dimension k, 1 <= k <= min(n_samples, n_features).
      decoder: "transpose" (V = W^T), "pinv", "right_inverse" or "untied" (`tiedae.LinearAE`).
      optimizer: an optax transformation, used as given (its own step size); None: Nesterov
        gradient descent (momentum 0.9) with step `learning_rate / lambda_1(C)`.
      learning_rate: the default optimizer's step times lambda_1(C) (ignored with `optimizer`).
        The loss has curvature 8 lambda_1 along the scale of W's top row (at the optimum), so
        Nesterov's method with momentum 0.9 is stable below 2 (1 + 0.9) / (8 (1 + 1.8)) ~ 0.17;
        the default leaves room for the power iteration's underestimate of lambda_1.
      max_steps: most training steps per `fit` / `partial_fit` call.
      batch_size: None trains on the covariance (exact full-batch steps, O(d^2 k) each); an
        int trains `fit` on minibatches of that many rows (at most n).
      tol: stop once the loss changed by at most `tol` times the total variance tr C between
        two checks; 0 runs all `max_steps`. With minibatches the loss keeps fluctuating, so
        set it to the fluctuation you accept (or 0).
      log_every: steps between two checks (and entries of `history_`).
      random_state: seed of the initial W, the power iteration and the minibatch order.

    Attributes:
      components_: (k, d) orthonormal principal axes of the learned subspace.
      explained_variance_: as PCA's.
      explained_variance_ratio_: as PCA's.
      noise_variance_: as PCA's.
      mean_: (d,) the mean of the rows seen.
      n_samples_: their number.
      n_components_: k.
      n_features_in_: as every scikit-learn estimator.
      feature_names_in_: as every scikit-learn estimator.
      encoder_: the trained W (k, d).
      decoder_: its decoder V (d, k), e.g. W^T.
      history_: `tiedae.fit`'s history of the last `fit` / `partial_fit` call.
      n_iter_: training steps of that call.
      converged_: whether it met `tol`.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "decoder": [StrOptions(set(LINEAR_DECODERS))],
        "optimizer": [None, HasMethods(["init", "update"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_steps": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "log_every": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components, *, decoder="transpose", optimizer=None,
                 learning_rate=0.05, max_steps=10000, batch_size=None, tol=1e-10, log_every=10,
                 random_state=None):
        self.n_components = n_components
        self.decoder = decoder
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.tol = tol
        self.log_every = log_every
        self.random_state = random_state

    # ---- fitting -------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fits the model to X (n_samples, n_features) from a fresh random W; returns self.

        A `numpy.memmap` is read in row chunks without keeping its pages mapped
        (`tiedae.data.chunks.RowReader`): memory stays flat in n, as for
        `tiedae.pca.fit_chunks` (not with `batch_size`, whose minibatches need X in memory).
        """
        with _rollback_on_error(self):
            accumulator = CovarianceAccumulator()
            if self.batch_size is None and _streamable(X, 2):
                validate_data(self, X, skip_check_array=True)
                _accumulate(accumulator, X)
                X = None
            else:
                X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
                _accumulate(accumulator, X)
            self._train(accumulator, X, None)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Adds the rows of X to the running covariance and trains on from the current W.

        A `numpy.memmap` (e.g. a slice of a large file) is read in row chunks, as in `fit`."""
        first = not hasattr(self, "_accumulator")
        with _rollback_on_error(self):
            if _streamable(X, 2 if first else 1):
                validate_data(self, X, skip_check_array=True, reset=first)
            else:
                X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first,
                                  ensure_min_samples=2 if first else 1)
            accumulator = CovarianceAccumulator() if first else copy.deepcopy(self._accumulator)
            _accumulate(accumulator, X)
            self._train(accumulator, None, None if first else self.encoder_)
        return self

    def _train(self, accumulator: CovarianceAccumulator, X, warm_start) -> None:
        n, d, k = accumulator.n, accumulator.n_features, self.n_components
        if warm_start is not None and warm_start.shape[0] != k:
            raise ValueError(f"n_components changed from {warm_start.shape[0]} to {k} since the "
                             "model was fitted: call fit to start over")
        if k > min(n, d):
            raise ValueError(f"n_components={k} must be <= min(n_samples, n_features): got "
                             f"n_samples={n}, n_features={d}")
        mean, C = accumulator.result()
        # training sees the data divided by sqrt(s), s = tr C / d: W, V W and the stopping rule
        # do not depend on the data's scale, and C / s is O(1) whatever it is (1e-100 or 1e100)
        s = float(np.trace(C)) / d
        scale = s if s > 0 else 1.0
        C_train = C / scale
        rng = check_random_state(self.random_state)
        lam = _top_eigenvalue(C_train, rng)
        if warm_start is None:
            W0 = np.linalg.qr(rng.standard_normal((d, k)))[0].T
            V0 = W0.T
        else:
            W0, V0 = warm_start, self.decoder_
        seed = int(rng.randint(np.iinfo(np.int32).max))
        stalled = _Stalled(C_train, self.tol)
        with jax.enable_x64(True):
            model = _linear_ae(self.decoder, W0, V0)
            if self.batch_size is None or X is None:
                data = Covariance.from_moments(mean / math.sqrt(scale), C_train)
            else:
                data = Minibatches(X / np.asarray(math.sqrt(scale), X.dtype),
                                   min(self.batch_size, n), seed=seed)
            optimizer, hyperparams = self.optimizer, None
            if optimizer is None:
                optimizer = _default_optimizer()
                hyperparams = {"learning_rate": self.learning_rate / max(lam, 1e-300)}
            steps = self.max_steps if lam > 0 else 0  # constant data: nothing to learn
            model, history = fit(model, data, optimizer=optimizer, steps=steps,
                                 hyperparams=hyperparams, metrics=_no_metrics,
                                 log_every=self.log_every, callback=stalled, seed=seed)
            W = np.asarray(model.encoder_matrix(), np.float64)
            V = _decoder(self.decoder, W, model)
        if steps and not stalled.converged and self.tol > 0:
            warnings.warn(f"LinearAutoencoder did not reach tol={self.tol:g} within "
                          f"max_steps={self.max_steps} steps; raise max_steps or tol",
                          ConvergenceWarning, stacklevel=3)
        self._set_fitted(accumulator, mean, C, W, V, history, stalled.converged or lam == 0)

    def _set_fitted(self, accumulator, mean, C, W, V, history, converged) -> None:
        n, d = accumulator.n, accumulator.n_features
        components, variances = _components(W, C)
        total = float(np.trace(C)) * n / (n - 1)
        explained = variances * n / (n - 1)
        k, rank = len(explained), min(n, d)
        self._accumulator = accumulator
        self.n_samples_, self.n_components_ = n, k
        self.mean_, self.components_ = mean, components
        self.explained_variance_ = explained
        self.explained_variance_ratio_ = explained / total if total > 0 else np.zeros(k)
        self.noise_variance_ = (max(total - explained.sum(), 0.0) / (rank - k) if k < rank
                                else 0.0)
        self.encoder_, self.decoder_ = W, V
        self.history_ = history
        self.n_iter_ = int(history["step"][-1])
        self.converged_ = bool(converged)

    # ---- transforming and scoring -------------------------------------------------------

    def transform(self, X):
        """Coordinates (n, k) of `X - mean_` on `components_` (PCA's transform)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Z = (X - self.mean_) @ self.components_.T
        return Z.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Reconstructions `mean_ + Z components_` (n, d) of codes Z (n, k)."""
        check_is_fitted(self)
        Z = _check_codes(X, self.n_components_)
        return (Z @ self.components_ + self.mean_).astype(Z.dtype, copy=False)

    def get_covariance(self) -> np.ndarray:
        """The probabilistic-PCA covariance `components_^T diag(ev - s2) components_ + s2 I`."""
        check_is_fitted(self)
        diff = np.clip(self.explained_variance_ - self.noise_variance_, 0.0, None)
        cov = (self.components_.T * diff) @ self.components_
        cov[np.diag_indices_from(cov)] += self.noise_variance_
        return cov

    def get_precision(self) -> np.ndarray:
        """The inverse of `get_covariance()` (by the matrix inversion lemma, as PCA's)."""
        check_is_fitted(self)
        s2 = self.noise_variance_
        if s2 == 0.0:
            return np.linalg.inv(self.get_covariance())
        diff = np.clip(self.explained_variance_ - s2, 0.0, None)
        P = self.components_
        with np.errstate(divide="ignore"):
            inner = P @ P.T / s2 + np.diag(1.0 / diff)
        precision = -(P.T @ np.linalg.inv(inner) @ P) / s2**2
        precision[np.diag_indices_from(precision)] += 1.0 / s2
        return precision

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each row under the probabilistic-PCA model (n,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Xr = X - self.mean_
        precision = self.get_precision()
        sign, logdet = np.linalg.slogdet(precision)
        logdet = logdet if sign > 0 else -np.inf
        d = X.shape[1]
        return -0.5 * np.sum(Xr * (Xr @ precision), axis=1) - 0.5 * (d * math.log(2 * math.pi)
                                                                      - logdet)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood of the rows of X (PCA's `score`)."""
        return float(np.mean(self.score_samples(X)))

    # ---- pickling --------------------------------------------------------------------------

    def __getstate__(self):
        """The estimator's state for `pickle` / `joblib.dump`. An optax optimizer is made of
        closures that plain pickle cannot store, so a user's `optimizer` travels pickled by
        value with cloudpickle (a dependency of joblib, hence of scikit-learn)."""
        state = super().__getstate__()
        if state.get("optimizer") is not None:
            try:
                pickle.dumps(state["optimizer"])
            except (pickle.PicklingError, AttributeError, TypeError):
                import cloudpickle

                state = {**state, "optimizer": _ByValue(cloudpickle.dumps(state["optimizer"]))}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("optimizer"), _ByValue):
            state = {**state, "optimizer": pickle.loads(state["optimizer"].payload)}
        super().__setstate__(state)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _streamable(X, min_samples: int) -> bool:
    """Whether X is a 2-D numpy memmap of real numbers with enough rows, read in chunks
    (anything else goes through scikit-learn's checks, and its messages)."""
    return (isinstance(X, np.memmap) and X.ndim == 2 and X.shape[0] >= min_samples
            and X.shape[1] >= 1 and X.dtype.kind in "fiub")


def _accumulate(accumulator: CovarianceAccumulator, X) -> None:
    """Adds the rows of X to the accumulator in row chunks (`tiedae.data.chunks`; a memmap
    is read without keeping its pages mapped); a bad chunk names its rows."""
    for start, block in zip(itertools.count(0, _CHUNK_ROWS),
                            chunks.iter_chunks(X, _CHUNK_ROWS, reuse_buffer=True,
                                               finite=False), strict=False):
        accumulator.add_checked(block, name=f"X[{start}:{start + len(block)}]", first_row=start)


class _ByValue:
    """An object pickled by value by cloudpickle (the estimator's own optax optimizer)."""

    def __init__(self, payload: bytes):
        self.payload = payload


def _check_codes(Z, k: int) -> np.ndarray:
    Z = check_array(Z, dtype=[np.float64, np.float32])
    if Z.shape[1] != k:
        raise ValueError(f"the codes have {Z.shape[1]} columns; the model has k={k} components")
    return Z


class _rollback_on_error:  # noqa: N801 - used as a context manager
    """Restores the estimator's attributes when the block raises: a failed fit or
    partial_fit leaves the estimator as it was."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.saved = dict(estimator.__dict__)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self.estimator.__dict__.clear()
            self.estimator.__dict__.update(self.saved)
        return False
