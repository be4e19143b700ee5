r"""Reading the `conv-decoders` records: models, labels, which runs trained, and the values.

A run's *status* (`status`): ``"diverged"``, ``"converged"``, ``"blog budget"`` (not converged
by the criterion, but trained for at least `BLOG_EPOCHS` epochs, the Keras blog's budget, which
issue 17 accepts for post 003's nets in place of convergence), ``"not converged"`` (the
validation error still improved by 1 % or more over the last fifth of the steps,
`tiedae.bench.suites.mlp_checks`, within fewer epochs), or ``"not checked"`` for a record
written before the suite recorded convergence (its step size was not tuned either; `tuned`).
The analyses compare the runs that converged, reached the blog's budget or were not checked
(`usable`) and count the others; each status is reported as such.

`collapsed` flags a model whose trained test errors are the same in every seed: training ended
at one seed-independent output (a saturated sigmoid decoding every code to one constant image).

Example:
  >>> from tiedae.bench.suites import conv_records
  >>> conv_records.label("upsample_conv-k3"), conv_records.label("keras_cae")
  ('upsample + conv, k=3', 'Keras CAE')
  >>> [conv_records.status({"final": f}) for f in (
  ...     {"converged": True}, {"converged": False, "epochs": 12.0},
  ...     {"converged": False, "epochs": 64.0}, {"diverged": True, "converged": False},
  ...     {"test_error": 1.0})]
  ['converged', 'not converged', 'blog budget', 'diverged', 'not checked']
  >>> conv_records.collapsed([90.435, 90.435]), conv_records.collapsed([90.435, 17.2])
  (True, False)
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.conv_models import parse
from tiedae.report import query, stats

__all__ = ["BLOG_EPOCHS", "COLORS", "NAMES", "SHORT", "by_model", "collapsed", "compare",
           "label", "models", "noise", "status", "tuned", "usable", "values"]

NAMES = {"keras_cae": "Keras CAE", "keras_cae_squared": "Keras CAE, squared loss",
         "matlab_cae": "MATLAB CAE", "transposed_conv": "transposed",
         "upsample_conv": "upsample + conv", "bilinear_conv": "bilinear + conv",
         "tied": "tied (adjoint)"}
COLORS = {"keras_cae": "#9467bd", "keras_cae_squared": "#c5b0d5", "matlab_cae": "#8c564b",
          "transposed_conv": "#d62728", "upsample_conv": "#1f77b4", "bilinear_conv": "#17becf",
          "tied": "#2ca02c"}
SHORT = {"keras_cae": "Keras", "keras_cae_squared": "Keras,\nsq. loss", "matlab_cae": "MATLAB",
         "transposed_conv": "transp.", "upsample_conv": "upsample", "bilinear_conv": "bilinear",
         "tied": "tied"}
BLOG_EPOCHS = 50  # the Keras blog trains its CAE for 50 epochs
_ORDER = ("keras_cae", "keras_cae_squared", "matlab_cae", "transposed_conv", "upsample_conv",
          "tied", "bilinear_conv")


def label(model: str) -> str:
    """Display name of a model id ('keras_cae', 'tied-k3', ...)."""
    base, k = parse(model)
    return f"{NAMES.get(base, base)}, k={k}" if k else NAMES.get(base, base)


def status(record: dict) -> str:
    """'diverged', 'converged', 'blog budget', 'not converged' or 'not checked' (module
    docstring)."""
    final = record.get("final", {})
    if final.get("diverged"):
        return "diverged"
    if "converged" not in final:
        return "not checked"
    if final["converged"]:
        return "converged"
    return "blog budget" if (final.get("epochs") or 0) >= BLOG_EPOCHS else "not converged"


def usable(record: dict) -> bool:
    """Whether a run enters the comparisons: it converged or trained the Keras blog's budget,
    or its record predates the check."""
    return status(record) in ("converged", "blog budget", "not checked")


def tuned(records) -> bool:
    """Whether the runs chose their step size from a grid (records before that used one)."""
    return all("learning_rates" in r["config"] for r in records)


def by_model(records) -> dict[str, dict[int, dict]]:
    """{model: {seed: record}}, post 003's models first, then ConvAE by decoder and kernel."""
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["config"]["model"], {})[r["config"]["seed"]] = r

    def order(m):
        base, k = parse(m)
        return (_ORDER.index(base) if base in _ORDER else len(_ORDER), k or 0, m)
    return {m: out[m] for m in sorted(out, key=order)}


def models(records, compared: bool = True) -> dict[str, dict[int, dict]]:
    """`by_model` of the records, keeping only the `usable` runs when `compared` (a model with
    none left is dropped)."""
    out = {}
    for m, per in by_model(records).items():
        keep = {s: r for s, r in per.items() if usable(r) or not compared}
        if keep:
            out[m] = keep
    return out


def values(per_seed: dict, key: str) -> np.ndarray:
    """final[key] of a model's runs, in seed order (missing: nan)."""
    return query.final([per_seed[s] for s in sorted(per_seed)], key)


def noise(records, p: int) -> float:
    """The white-noise level of c_p, (p^2 - 1) / (HW - 1), of the records' images."""
    return float(records[0]["final"][f"checker_noise_p{p}"])


def collapsed(errors) -> bool:
    """Whether a model's trained test errors (one per seed) are all the same (>= 2 seeds,
    relative 1e-6): training ended at one seed-independent output, e.g. a saturated sigmoid
    decoding every code to the same constant image, so comparisons measure that failure."""
    errors = np.asarray(errors, dtype=float)
    return errors.size >= 2 and bool(np.ptp(errors) <= 1e-6 * np.abs(errors).max())


def compare(by: dict, a: str, b: str, key: str) -> stats.Paired:
    """Paired comparison of final[key] between models a and b over their common seeds."""
    return query.versus(by[a].values(), by[b].values(), key)
