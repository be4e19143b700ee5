r"""What is measured on a trained MLP autoencoder of the `symmetry` and `features` runs.

`codes_and_outputs` (one jitted pass: codes and reconstructions), `mean_error` (the mean
squared reconstruction error per row), `first_reach` (the first logged step and second at which
the monitored training error reaches a threshold), `code_scores` (linear-probe and 5-NN
accuracy of the frozen codes, and how nearly affine the code is: `tiedae.features.affine_r2`
from the pixels and from PCA's code of the same size), `hidden_preactivations` (for the dead
ReLU units of `mlp_checks`), and the images a record keeps (`codes_2d`, `pictures`).

Example:
  >>> import numpy as np
  >>> from tiedae.bench.suites import mlp_measures
  >>> hist = {"step": [0, 5, 10], "wall_time": [0.0, 0.5, 1.0], "train_loss": [3.0, 2.0, 1.0]}
  >>> mlp_measures.first_reach(hist, 2.0), mlp_measures.first_reach(hist, 0.5)
  ((5.0, 0.5), (inf, inf))
  >>> mlp_measures.mean_error(np.ones((2, 3)), np.zeros((2, 3)))
  3.0
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from tiedae import MLPAE
from tiedae.bench.suite import first_step_at_or_below
from tiedae.bench.suites.mlp_data import (
    affine_fit,
    data_key,
    image_indices,
    load,
    probe_data,
)
from tiedae.features import AffineFit, knn_accuracy, linear_probe_accuracy

__all__ = ["IMAGES", "code_scores", "codes_2d", "codes_and_outputs", "first_reach",
           "hidden_preactivations", "mean_error", "pictures", "probe_codes"]

IMAGES = 10  # reconstructed test images kept by the first seed's runs


@nnx.jit
def codes_and_outputs(model, x):
    z = model.encode(x)
    return z, model.decode(z)


def mean_error(reconstructed, X) -> float:
    diff = np.asarray(reconstructed, np.float64) - np.asarray(X, np.float64)
    return float(np.mean(np.sum(diff**2, axis=1)))


def first_reach(hist: dict, threshold: float) -> tuple[float, float]:
    """(step, seconds) at which the monitored training error is first <= threshold; inf if
    never."""
    return (first_step_at_or_below(hist["step"], hist["train_loss"], threshold),
            first_step_at_or_below(hist["wall_time"], hist["train_loss"], threshold))


def code_scores(config: dict, z, z_test, probe=None) -> dict:
    """Probe and k-NN accuracy of codes (of `probe` = (codes, test codes) of `probe_data`
    where given), and their affine R^2 from the pixels and from PCA's code of the same size."""
    _, y, _, y_test, _ = probe_data(config)
    zp, zp_test = probe if probe is not None else (z, z_test)
    key = data_key(config)
    return {
        "probe_accuracy": linear_probe_accuracy(zp, y, zp_test, y_test),
        "knn_accuracy": knn_accuracy(zp, y, zp_test, y_test),
        "code_r2_pixels": _r2_or_nan(affine_fit(key, 0), z, z_test),
        "code_r2_pca": _r2_or_nan(affine_fit(key, int(z.shape[1])), z, z_test),
        "code_collapsed": bool(np.all(np.ptp(np.asarray(z), axis=0) == 0)),
        "code_active_dims": int(np.sum(np.ptp(np.asarray(z), axis=0) > 0)),
    }


def hidden_preactivations(model: MLPAE, x) -> list[np.ndarray]:
    """The pre-activations of every hidden layer of the encoder and decoder on rows x (float64;
    a ReLU unit whose pre-activation is <= 0 on every row is dead on them)."""
    enc = [(np.asarray(W[...], np.float64), np.asarray(b[...], np.float64))
           for W, b in zip(model.encoder_weights, model.encoder_biases, strict=True)]
    if model.decoder_kind == "tied":
        mats = [W.T for W, _ in reversed(enc)]
    else:
        mats = [np.asarray(W[...], np.float64) for W in model.decoder_weights]
    dec = list(zip(mats, (np.asarray(b[...], np.float64) for b in model.decoder_biases),
                   strict=True))
    out, h = [], np.asarray(x, np.float64)
    for layers, last in ((enc, len(enc) - 1), (dec, len(dec) - 1)):
        for i, (W, b) in enumerate(layers):
            h = h @ W + b
            if i < last:
                out.append(h)
                h = np.asarray(model.activation(h))
    return out


def _r2_or_nan(fit: AffineFit, z, z_test) -> float:
    """The affine R^2, or nan for a code without variance (a collapsed encoder: every ReLU of
    a layer dead), which `code_collapsed` records."""
    if np.all(np.ptp(np.asarray(z), axis=0) == 0) or np.all(np.ptp(z_test, axis=0) == 0):
        return float("nan")
    return fit.r2(z, z_test)


def pictures(config: dict, reconstructed, n: int = IMAGES) -> dict:
    """The first n test images (one per class first) and their reconstructions."""
    if n <= 0:
        return {}
    _, _, X_test, y_test, shape = load(config)
    idx = image_indices(y_test, n)
    return {"image_shape": list(shape), "image_labels": [int(y_test[i]) for i in idx],
            "images": np.round(np.asarray(X_test[idx], np.float64), 2).tolist(),
            "reconstructions": np.round(np.asarray(reconstructed, np.float64)[idx], 2).tolist()}


def codes_2d(config: dict, z_test) -> dict:
    if z_test.shape[1] != 2:
        return {}
    y_test = load(config)[3]
    scale = float(np.max(np.abs(z_test))) or 1.0
    digits = max(0, 4 - int(np.floor(np.log10(scale))))  # about 5 significant digits
    return {"codes_2d": np.round(np.asarray(z_test, np.float64), digits).tolist(),
            "labels": np.asarray(y_test).tolist()}


def probe_codes(config: dict, model, shift):
    """(codes, test codes) of a transfer run's `probe_data` (None without `probe_classes`)."""
    if not config.get("probe_classes"):
        return None
    Xp, _, Xp_test, _, _ = probe_data(config)
    codes = np.asarray(codes_and_outputs(model, np.asarray(
        np.concatenate([Xp, Xp_test]) - shift, np.float32))[0], np.float64)
    return codes[: len(Xp)], codes[len(Xp):]
