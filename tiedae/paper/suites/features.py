r"""The `features` suite in the paper: does a weak (linear) decoder force better features?

* `features(records)`: the tables `features` (per code size and decoder: test error, linear-probe
  and 5-NN accuracy of the frozen codes on held-out images, mean ± 95% t half-width over seeds,
  with PCA's code of the same size and the raw pixels as references) and `features_paired`
  (decoder − mirror over seeds, with 95% intervals and verdicts), and the macros

  - ``\RFeatSizes``, ``\RFeatSeeds``, ``\RFeatPixelsProbe``, ``\RFeatPixelsKnn``;
  - ``\RFindFeatures``: the scores and paired differences per code size;
  - ``\RAnswerFeatures``: post 002's question, answered from the paired verdicts.

* `fig_features`: probe and 5-NN accuracy per decoder and code size (mean and 95% interval),
  with PCA's code as a marker and the pixels as a line.

Example:
  >>> from tiedae.paper.suites import features
  >>> features.answer_word(["higher", "higher"]), features.answer_word(["lower", "higher"])
  ('better', 'mixed')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.bench.suites._mlp import paired_values
from tiedae.bench.suites.features import answer_word
from tiedae.paper import results as R
from tiedae.paper.style import new_figure, save
from tiedae.paper.suites._linear import pm_ci
from tiedae.paper.tables import tabular
from tiedae.report import stats

__all__ = ["answer_word", "features", "fig_features"]

DECODERS = ("mirror", "tied", "linear")
LABELS = {"mirror": "mirror", "tied": r"tied ($W^\top$)", "linear": "linear", "pca": "PCA",
          "pixels": "raw pixels"}
COLORS = {"mirror": "#1f77b4", "tied": "#2ca02c", "linear": "#d62728"}
SCORES = (("probe_accuracy", "linear probe"), ("knn_accuracy", "5-NN"))


def _groups(records) -> dict[tuple, list[dict]]:
    return {key: sorted(recs, key=lambda r: r["config"]["seed"])
            for key, recs in R.group(records, "code_dim", "decoder").items()}


def _values(recs, key) -> list:
    return [r["final"].get(key) for r in recs]


def _paired(a_recs, b_recs, key) -> stats.Paired:
    return stats.paired(*paired_values(a_recs, b_recs, key))


def _sizes(groups) -> list[int]:
    return sorted({k for k, d in groups if k and d in DECODERS})


def _main_table(groups) -> str:
    rows = []
    for k in _sizes(groups):
        for d in (*DECODERS, "pca"):
            if (k, d) not in groups:
                continue
            recs = groups[(k, d)]
            rows.append([R.num(k), LABELS[d], pm_ci(_values(recs, "test_error")),
                         pm_ci(_values(recs, "probe_accuracy")),
                         pm_ci(_values(recs, "knn_accuracy")), _rank(recs),
                         R.num(len(recs))])
    for (_k, d), recs in groups.items():
        if d == "pixels":
            rows.append(["--", LABELS[d], "--", pm_ci(_values(recs, "probe_accuracy")),
                         pm_ci(_values(recs, "knn_accuracy")), "--", R.num(len(recs))])
    return tabular(["$k$", "code", "test error", "linear probe acc.", "5-NN acc.",
                    "code rank", "runs"], rows, "rlrrrrr")


def _rank(recs) -> str:
    """Median numerical rank of the codes over seeds ('--' where not recorded)."""
    ranks = [v for v in _values(recs, "code_rank") if v is not None]
    return R.num(float(np.median(ranks))) if ranks else "--"


def _paired_table(groups) -> str:
    rows = []
    for k in _sizes(groups):
        if (k, "mirror") not in groups:
            continue
        for d in DECODERS[1:]:
            if (k, d) not in groups:
                continue
            for key, name in (*SCORES, ("test_error", "test error")):
                p = _paired(groups[(k, d)], groups[(k, "mirror")], key)
                rows.append([R.num(k), rf"{LABELS[d]} $-$ mirror", name,
                             R.num(p.mean, 3) if p.n else R.NA,
                             rf"[{R.num(p.lo, 2)}, {R.num(p.hi, 2)}]" if p.n >= 2 else "--",
                             p.verdict if p.n >= 2 else "one seed"])
    return tabular(["$k$", "difference", "measure", "mean", r"95\,\% interval", "verdict"],
                   rows, "rllrrl")


def _find(groups) -> str:
    parts = []
    for k in _sizes(groups):
        scores = "; ".join(
            rf"{LABELS[d]} {pm_ci(_values(groups[(k, d)], 'probe_accuracy'))} / "
            rf"{pm_ci(_values(groups[(k, d)], 'knn_accuracy'))}"
            for d in (*DECODERS, "pca") if (k, d) in groups)
        text = rf"At $k={k}$, probe / 5-NN accuracy: {scores}."
        low = [rf"{LABELS[d]} {_rank(groups[(k, d)])}" for d in DECODERS
               if (k, d) in groups and _rank(groups[(k, d)]) not in ("--", R.num(float(k)))]
        if low:
            text += (rf" Codes spanning fewer than {k} directions (median numerical rank): "
                     + "; ".join(low) + ".")
        if (k, "mirror") in groups:
            diffs = []
            for d in DECODERS[1:]:
                if (k, d) not in groups:
                    continue
                for key, name in SCORES:
                    p = _paired(groups[(k, d)], groups[(k, "mirror")], key)
                    if p.n >= 2:
                        diffs.append(rf"{name} {LABELS[d]} $-$ mirror {R.num(p.mean, 2)} "
                                     rf"[{R.num(p.lo, 2)}, {R.num(p.hi, 2)}]: {p.verdict}")
            if diffs:
                text += " Paired differences (95\\,\\% CI): " + "; ".join(diffs) + "."
        parts.append(text)
    return " ".join(parts) if parts else R.NA


def _pixels(groups, key) -> str:
    recs = [r for (k, d), rs in groups.items() if d == "pixels" for r in rs]
    return pm_ci(_values(recs, key)) if recs else R.NA


def features(records: list[dict]) -> tuple[dict, dict]:
    """Tables `features` and `features_paired` and the macros of the module docstring."""
    groups = _groups(records)
    sizes = _sizes(groups)
    seeds = {r["config"]["seed"] for r in records if r["config"].get("decoder") in DECODERS}
    macros = {"RFeatSizes": ", ".join(rf"$k={k}$" for k in sizes) or R.NA,
              "RFeatSeeds": R.num(len(seeds)),
              "RFeatPixelsProbe": _pixels(groups, "probe_accuracy"),
              "RFeatPixelsKnn": _pixels(groups, "knn_accuracy"),
              "RFindFeatures": _find(groups)}
    verdicts = [_paired(groups[(k, "linear")], groups[(k, "mirror")], key).verdict
                for k in sizes if (k, "linear") in groups and (k, "mirror") in groups
                for key, _ in SCORES]
    word = answer_word(verdicts)
    sentence = {
        "better": "the linear decoder's codes scored measurably higher than the mirror's on "
                  "every score and code size",
        "worse": "the linear decoder's codes scored measurably lower than the mirror's on "
                 "every score and code size: a weaker decoder gave worse features, not better",
        "no measurable difference": "no measurable difference between the linear decoder's "
                                    "codes and the mirror's",
        "mixed": "mixed: the sign of the paired difference depends on the score and the code "
                 "size (Table~\\ref{tab:features-paired})",
        "not compared": "not compared",
    }[word]
    macros["RAnswerFeatures"] = (
        rf"Does a weak (linear) decoder force better features? Scored by a linear probe and "
        rf"5-NN on held-out images at {macros['RFeatSizes']}: {sentence}.")
    return macros, {"features": _main_table(groups), "features_paired": _paired_table(groups)}


def fig_features(records: list[dict], out_dir: Path) -> Path:
    """Probe (left) and 5-NN (right) accuracy per decoder against the code size: mean and 95%
    t-interval over seeds; PCA's code of the same size as grey squares, pixels dashed."""
    groups = _groups(records)
    sizes = _sizes(groups)
    fig, axes = new_figure(2, 1, width=6.4, height=2.0)
    for ax, (key, name) in zip(axes[0], SCORES, strict=True):
        for i, d in enumerate(DECODERS):
            pts = [(k, stats.interval(_values(groups[(k, d)], key))) for k in sizes
                   if (k, d) in groups]
            if not pts:
                continue
            x = np.arange(len(pts)) + 0.12 * (i - 1)
            mean = np.array([iv.mean for _, iv in pts])
            half = np.nan_to_num(np.array([iv.hi - iv.mean for _, iv in pts]))
            ax.errorbar(x, mean, yerr=half, fmt="o", color=COLORS[d], label=LABELS[d],
                        markersize=3, capsize=2)
        pca = [(j, groups[(k, "pca")][0]["final"].get(key)) for j, k in enumerate(sizes)
               if (k, "pca") in groups]
        if pca:
            ax.plot([j for j, _ in pca], [v for _, v in pca], "s", color="#7f7f7f",
                    label="PCA", markersize=4)
        pixels = [r["final"].get(key) for (k, d), rs in groups.items() if d == "pixels"
                  for r in rs]
        if pixels:
            ax.axhline(float(np.mean(pixels)), color="#7f7f7f", linestyle="--", linewidth=0.8,
                       label="pixels")
        ax.set_xticks(range(len(sizes)), [f"k={k}" for k in sizes])
        ax.set(ylabel=f"{name} accuracy", ylim=(0, 1))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, frameon=False, fontsize=6, loc="lower right")
    return save(fig, out_dir, "features")
