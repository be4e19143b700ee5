r"""Training and measuring post 000's MLP autoencoder: the runs of `symmetry` and `features`.

Post 000's network [d] -> 100 -> 25 -> k -> 25 -> 100 -> [d] (ReLU, linear code and output)
and its variants are trained on the user's MNIST-format data (`--data`: every training and
test image it has; MNIST's 10000 test images split 8000 / 2000) or, without it, on
scikit-learn's digits (1437 / 360), by minibatch Adam whose step size decays to 0 along a
cosine over the run, through `tiedae.fit`. Every `log_every` steps the loop logs the mean
reconstruction error (1/n) sum_i ||x_i - x_hat_i||^2 on fixed monitor images (the first
`monitor_rows` of each split, which is already shuffled): the training and test loss curves.

The same monitor images give the convergence thresholds, the error of PCA (fitted on the
training split) with k and with 2k components: the first logged step, and the seconds of
training until then (`fit`'s wall_time: compilation excluded, monitoring included), at which
the training curve reaches each. After training: the errors on the full splits, the frozen
codes' linear-probe and 5-NN accuracy on the test split (`tiedae.features`), how nearly affine
the code is (`features.affine_r2` from the pixels and from PCA's code of the same size), the
2-D test codes (k = 2) and, where `images` > 0, that many reconstructed test images (one per
class first).

Runs are shared between the suites: `train` keeps each trained run in the process, keyed on
its training settings only (`training_key`: the `TRAIN_KEYS` of its config, not its run id or
suite labels), in the cache `shared_runs`. The `features` suite's k = 2 runs have the same
settings as the `symmetry` suite's decoder runs, so a command that runs both suites trains
each of these models once and records the same numbers in both suites' results.
`shared_runs.cache_clear()` forgets them.

Example:
  >>> from tiedae.bench.suites import mlp_training
  >>> mlp_training.matched_width(784, [100, 25], 2)  # one hidden layer, as many parameters
  103
  >>> mlp_training.image_indices([3, 3, 1, 2, 1], 4)  # one image per class first
  [2, 3, 0, 1]
  >>> a = {"code_dim": 2, "decoder": "tied", "seed": 0, "run_id": "a", "variant": "tied"}
  >>> mlp_training.training_key(a) == mlp_training.training_key({**a, "run_id": "b"})
  True
"""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae import MLPAE, pca
from tiedae.bench.datasets import image_split, user_images
from tiedae.features import AffineFit, knn_accuracy, linear_probe_accuracy
from tiedae.nonlinear.layers import count_params

ENCODER = [100, 25]  # post 000's encoder widths before the code
QUICK = {"steps": 200, "batch_size": 64, "learning_rate": 1e-2, "log_every": 5,
         "monitor_rows": 256}
# Full runs: Adam at 3e-3 (at 1e-2 some MNIST runs lost every ReLU of a layer, a collapsed
# code); 1500 cosine-decayed steps, after which the test curves change by < 1% per fifth.
FULL = {"steps": 1500, "batch_size": 128, "learning_rate": 3e-3, "log_every": 5,
        "monitor_rows": 256}
QUICK_USER_ROWS = (2000, 500)  # train / test images of a user's data in the quick runs
IMAGES = 10  # reconstructed test images kept by the first seed's runs
TRAIN_KEYS = ("data", "n_train", "n_test", "encoder", "decoder", "code_dim", "activation",
              "steps", "batch_size", "learning_rate", "schedule", "log_every", "monitor_rows",
              "seed", "images")


def data_config(options) -> dict:
    """The images a run uses, as they are: the user's data (`--data`; all of it in the full
    runs, at most `QUICK_USER_ROWS` in the quick ones) or the digits."""
    if options.mnist:
        ds = user_images(options.mnist)
        n_train, n_test = len(ds.x_train), len(ds.x_test)
        if options.quick:
            n_train, n_test = min(n_train, QUICK_USER_ROWS[0]), min(n_test, QUICK_USER_ROWS[1])
        return {"data": options.mnist, "n_train": n_train, "n_test": n_test}
    X, _, X_test, _, _ = image_split(None, None, None)
    return {"data": None, "n_train": len(X), "n_test": len(X_test)}


def base_config(options) -> dict:
    """Data and training settings shared by every trained run of both suites."""
    return {**data_config(options), "activation": "relu", "schedule": "cosine",
            **(QUICK if options.quick else FULL)}


def load(config: dict) -> tuple:
    """(X, y, X_test, y_test, image_shape) of a run, float32 rows in [0, 1]."""
    return image_split(config.get("data"), config["n_train"], config["n_test"])


def matched_width(d: int, encoder, k: int) -> int:
    """Width h of a one-hidden-layer encoder d -> h -> k with as many parameters (weights and
    biases) as the encoder d -> encoder -> k: h (d + 1 + k) + k = P."""
    widths = [d, *encoder, k]
    P = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return max(1, round((P - k) / (d + 1 + k)))


@functools.lru_cache(maxsize=8)
def _optimizer(learning_rate: float, steps: int) -> optax.GradientTransformation:
    """Adam with a cosine decay to 0 over `steps`; one object per setting, so that runs that
    differ only in their seed share one compiled training program."""
    return optax.adam(optax.cosine_decay_schedule(float(learning_rate), int(steps)))


@functools.lru_cache(maxsize=16)
def _pca(path, n_train: int, n_test: int, k: int) -> pca.PCAResult:
    X = image_split(path, n_train, n_test)[0]
    return pca.fit(X.astype(np.float64), k)


def pca_reference(config: dict, k: int) -> pca.PCAResult:
    """PCA with k components of the run's training split (cached)."""
    return _pca(config.get("data"), config["n_train"], config["n_test"], int(k))


def pca_codes(ref: pca.PCAResult, X) -> np.ndarray:
    return (np.asarray(X, np.float64) - ref.mean) @ ref.components.T


def pca_errors(ref: pca.PCAResult, X) -> np.ndarray:
    """Per-row squared reconstruction error of PCA (float64)."""
    Xc = np.asarray(X, np.float64) - ref.mean
    return np.sum((Xc - Xc @ ref.components.T @ ref.components) ** 2, axis=1)


@nnx.jit
def _codes_and_outputs(model, x):
    z = model.encode(x)
    return z, model.decode(z)


def _error(reconstructed, X) -> float:
    diff = np.asarray(reconstructed, np.float64) - np.asarray(X, np.float64)
    return float(np.mean(np.sum(diff**2, axis=1)))


def image_indices(labels, n: int) -> list[int]:
    """The first test image of each class, then the next ones, up to n indices."""
    labels = np.asarray(labels)
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    taken = set(first)
    rest = [i for i in range(len(labels)) if i not in taken]
    return (first + rest)[:n]


def _first_reach(hist: dict, threshold: float) -> tuple[float, float]:
    """(step, seconds) at which the monitored training error is first <= threshold; inf if
    never."""
    hit = np.flatnonzero(np.asarray(hist["train_loss"], float) <= threshold)
    if not hit.size:
        return float("inf"), float("inf")
    return float(hist["step"][hit[0]]), float(hist["wall_time"][hit[0]])


def late_change(values) -> float:
    """Relative change of a logged curve over the last fifth of training: the mean of its
    last 5% of points against the mean of the 5% that end at 80% of the run (a flat curve
    gives about 0; negative: still falling)."""
    v = np.asarray(values, float)
    if len(v) < 10:
        return float("nan")
    w = max(1, len(v) // 20)
    end, at80 = v[-w:].mean(), v[int(0.8 * len(v)) - w:int(0.8 * len(v))].mean()
    return float((end - at80) / at80)


def build(config: dict, d: int) -> MLPAE:
    """The model of a run: encoder widths + [code_dim], the decoder as named or as widths."""
    decoder = config["decoder"]
    decoder = tuple(decoder) if isinstance(decoder, list) else decoder
    return MLPAE(d, (*config["encoder"], config["code_dim"]), activation=config["activation"],
                 decoder=decoder, rngs=nnx.Rngs(config["seed"]))


@functools.lru_cache(maxsize=8)
def _affine_fit(path, n_train: int, n_test: int, k: int) -> AffineFit:
    """Affine regression from the pixels (k = 0) or from PCA's k-dim code, fitted once."""
    X, _, X_test, _, _ = image_split(path, n_train, n_test)
    if k == 0:
        return AffineFit(X, X_test)
    ref = _pca(path, n_train, n_test, k)
    return AffineFit(pca_codes(ref, X), pca_codes(ref, X_test))


def code_scores(config: dict, z, z_test) -> dict:
    """Probe and k-NN accuracy of codes, and their affine R^2 from the pixels and from PCA's
    code of the same size."""
    _, y, _, y_test, _ = load(config)
    key = (config.get("data"), config["n_train"], config["n_test"])
    return {
        "probe_accuracy": linear_probe_accuracy(z, y, z_test, y_test),
        "knn_accuracy": knn_accuracy(z, y, z_test, y_test),
        "code_r2_pixels": _r2_or_nan(_affine_fit(*key, 0), z, z_test),
        "code_r2_pca": _r2_or_nan(_affine_fit(*key, int(z.shape[1])), z, z_test),
        "code_collapsed": bool(np.all(np.ptp(np.asarray(z), axis=0) == 0)),
        "code_active_dims": int(np.sum(np.ptp(np.asarray(z), axis=0) > 0)),
        "code_rank": code_rank(z),
    }


def code_rank(z, rtol: float = 1e-3) -> int:
    """Numerical rank of the centred codes: singular values above rtol times the largest (a
    code whose encoder lost most of its ReLUs spans fewer directions than its size)."""
    zc = np.asarray(z, np.float64) - np.mean(z, axis=0)
    s = np.linalg.svd(zc, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def _r2_or_nan(fit: AffineFit, z, z_test) -> float:
    """The affine R^2, or nan for a code without variance (a collapsed encoder: every ReLU of
    a layer dead), which `code_collapsed` records."""
    if np.all(np.ptp(np.asarray(z), axis=0) == 0) or np.all(np.ptp(z_test, axis=0) == 0):
        return float("nan")
    return fit.r2(z, z_test)


def _pictures(config: dict, reconstructed) -> dict:
    """The first `images` test images (one per class first) and their reconstructions."""
    n = int(config.get("images") or 0)
    if n <= 0:
        return {}
    _, _, X_test, y_test, shape = load(config)
    idx = image_indices(y_test, n)
    return {"image_shape": list(shape), "image_labels": [int(y_test[i]) for i in idx],
            "images": np.round(np.asarray(X_test[idx], np.float64), 2).tolist(),
            "reconstructions": np.round(np.asarray(reconstructed, np.float64)[idx], 2).tolist()}


def _codes_2d(config: dict, z_test) -> dict:
    if z_test.shape[1] != 2:
        return {}
    y_test = load(config)[3]
    scale = float(np.max(np.abs(z_test))) or 1.0
    digits = max(0, 4 - int(np.floor(np.log10(scale))))  # about 5 significant digits
    return {"codes_2d": np.round(np.asarray(z_test, np.float64), digits).tolist(),
            "labels": np.asarray(y_test).tolist()}


def _train(config: dict) -> dict:
    """Trains and measures one run (see the module docstring); not cached."""
    X, _, X_test, _, _ = load(config)
    d, k, m = X.shape[1], config["code_dim"], config["monitor_rows"]
    model = build(config, d)
    n_enc = sum(int(W[...].size + b[...].size)
                for W, b in zip(model.encoder_weights, model.encoder_biases, strict=True))
    source = tiedae.training.Minibatches(X, config["batch_size"], seed=config["seed"])
    model, hist = tiedae.fit(model, source,
                             optimizer=_optimizer(config["learning_rate"], config["steps"]),
                             steps=config["steps"], log_every=config["log_every"],
                             eval_data={"train": X[:m], "test": X_test[:m]})
    codes, out = _codes_and_outputs(model, np.concatenate([X, X_test]))  # one compiled shape
    codes, out = np.asarray(codes, np.float64), np.asarray(out)
    z, z_test = codes[: len(X)], codes[len(X):]
    ref_k, ref_2k = pca_reference(config, k), pca_reference(config, 2 * k)
    thresholds = {"pca_k": float(np.mean(pca_errors(ref_k, X[:m]))),
                  "pca_2k": float(np.mean(pca_errors(ref_2k, X[:m])))}
    test_error = _error(out[len(X):], X_test)
    final = {"test_error": test_error, "train_error": _error(out[: len(X)], X),
             "test_error_relative": test_error / float(np.sum(np.var(
                 np.asarray(X_test, np.float64), axis=0))),
             "pca_test_error": float(np.mean(pca_errors(ref_k, X_test))),
             "pca_train_error": float(ref_k.optimal_loss),
             **code_scores(config, z, z_test)}
    for name, level in thresholds.items():
        final[f"steps_to_{name}"], final[f"seconds_to_{name}"] = _first_reach(hist, level)
    final.update(ms_per_step=1e3 * float(hist["wall_time"][-1]) / max(config["steps"], 1),
                 late_test_change=late_change(hist["test_loss"]),
                 params_total=count_params(model), params_encoder=n_enc,
                 params_decoder=count_params(model) - n_enc)
    trajectory = {key: np.asarray(hist[key]).tolist()
                  for key in ("step", "wall_time", "train_loss", "test_loss")}
    extra = {"decoder_widths": list(model.decoder_widths), "thresholds": thresholds,
             **_codes_2d(config, z_test), **_pictures(config, out[len(X):])}
    return {"final": final, "trajectory": trajectory, "extra": extra}


def training_key(config: dict) -> str:
    """The run's training settings (`TRAIN_KEYS`) as a JSON string: two configs with the same
    key train the same model (whatever their run ids, suites or labels)."""
    return json.dumps({name: config.get(name) for name in TRAIN_KEYS}, sort_keys=True)


@functools.lru_cache(maxsize=256)
def shared_runs(key: str) -> dict:
    """The trained run of `training_key` `key`, trained once per process and shared by every
    suite that asks for it (`features`' k = 2 runs are `symmetry`'s decoder runs). Do not
    modify the result: `train` returns a copy."""
    return _train(json.loads(key))


def train(config: dict) -> dict:
    """Trains and measures one run (see the module docstring): {"final", "trajectory",
    "extra"}. A run with the same training settings as one already trained in this process
    (`training_key`) is not trained again: its result is taken from `shared_runs`."""
    return copy.deepcopy(shared_runs(training_key(config)))


def pca_run(config: dict) -> dict:
    """The PCA reference with `code_dim` components: its errors, code scores, 2-D codes and
    reconstructions, in the layout of `train`."""
    X, y, X_test, y_test, _ = load(config)
    k = config["code_dim"]
    ref = pca_reference(config, k)
    z, z_test = pca_codes(ref, X), pca_codes(ref, X_test)
    recon = z_test @ ref.components + ref.mean
    final = {"test_error": float(np.mean(pca_errors(ref, X_test))),
             "train_error": float(ref.optimal_loss),
             "probe_accuracy": linear_probe_accuracy(z, y, z_test, y_test),
             "knn_accuracy": knn_accuracy(z, y, z_test, y_test)}
    return {"final": final, "trajectory": {},
            "extra": {**_codes_2d(config, z_test), **_pictures(config, recon)}}
