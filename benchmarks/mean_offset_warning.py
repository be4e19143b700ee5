"""How often does `LinearAE`'s `CenteringWarning` fire, on raw data (false alarms) and on the two
pitfalls it is for (data centred twice, a mean lost by restoring the parameters only)?

Models are PCA-optimal (what `tiedae.fit` converges to): W = the top-k right singular vectors
of the training rows (2/3 of the data), centred around the training mean (`mean`) or not
(`uncentred`, mean left at zero: a model trained without centring). They are called on the
other third, as:

* `raw`: raw rows, model with its mean (must not warn);
* `uncentred`: raw rows, model trained without centring (must not warn);
* `untrained`: raw rows, a freshly initialised model (mean zero; an own loop before training);
* `centred-twice`: rows minus the training mean, model with its mean (should warn);
* `params-only`: raw rows, the centred model with its mean lost (should warn).

Batches: `trials` random batches of each size, the whole test set, and for digits the test rows
of each class (10 batches). Data: `tiedae.data.digits()` (pixels 0..16) and spiked Gaussian data
(d = 32, 4 spikes, gap 5) plus a constant offset drawn N(0, 3^2) per coordinate.

    python benchmarks/mean_offset_warning.py [--trials 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import tiedae
from tiedae.linear.model import CenteringWarning

KINDS = ("raw", "uncentred", "untrained", "centred-twice", "params-only")
SIZES = (2, 5, 10, 50)


def _model(train: np.ndarray, k: int, kind: str) -> tiedae.LinearAE:
    d = train.shape[1]
    model = tiedae.LinearAE(d, k, param_dtype=jnp.float64, rngs=nnx.Rngs(k))
    if kind == "untrained":
        return model
    mu = np.zeros(d) if kind == "uncentred" else train.mean(axis=0)
    model.W.set_value(jnp.asarray(np.linalg.svd(train - mu, full_matrices=False)[2][:k]))
    if kind in ("raw", "centred-twice"):
        model.mean.set_value(jnp.asarray(mu))
    return model


def _warns(model: tiedae.LinearAE, x: np.ndarray) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CenteringWarning)
        model(jnp.asarray(x))
    return any(issubclass(w.category, CenteringWarning) for w in caught)


def measure(trials: int = 200, seed: int = 0) -> dict:
    """{data set: {k: {kind: {batch: fraction of batches that warned}}}}."""
    rng = np.random.default_rng(seed)
    X, y = tiedae.data.digits(return_labels=True)
    spiked = tiedae.data.spiked_covariance(1800, 32, k=4, gap=5.0, seed=seed).X
    sets = {"digits": (np.asarray(X, np.float64), y),
            "spiked+offset": (spiked + rng.normal(0.0, 3.0, 32), None)}
    result = {}
    for name, (data, labels) in sets.items():
        cut = len(data) * 2 // 3
        train, test = data[:cut], data[cut:]
        result[name] = {}
        for k in (2, 8, 16):
            result[name][k] = {}
            for kind in KINDS:
                model = _model(train, k, kind)
                rows = test - train.mean(axis=0) if kind == "centred-twice" else test
                rates = {}
                for size in SIZES:
                    hits = sum(_warns(model, rows[rng.choice(len(rows), size, replace=False)])
                               for _ in range(trials))
                    rates[str(size)] = hits / trials
                rates["all"] = float(_warns(model, rows))
                if labels is not None:
                    classes = labels[cut:]
                    rates["classes"] = sum(_warns(model, rows[classes == c])
                                           for c in range(10)) / 10
                result[name][k][kind] = rates
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", help="write the fractions as JSON here")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    result = measure(args.trials)
    columns = [*map(str, SIZES), "all", "classes"]
    print(f"{'data':14s} {'k':>3s} {'kind':14s} " + " ".join(f"{c:>7s}" for c in columns))
    for name, by_k in result.items():
        for k, by_kind in by_k.items():
            for kind, rates in by_kind.items():
                cells = " ".join(f"{rates[c]:7.3f}" if c in rates else f"{'-':>7s}"
                                 for c in columns)
                print(f"{name:14s} {k:3d} {kind:14s} {cells}")
    if args.out:
        from _output import write_json

        write_json(args.out, {"trials": args.trials, "fractions": result})


if __name__ == "__main__":
    main()
