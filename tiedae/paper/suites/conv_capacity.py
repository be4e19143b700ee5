r"""The `conv-capacity` suite in the paper: post 001's conv AE with a bigger or smaller decoder.

* `conv_capacity(records)`: the tables `conv_capacity` (per variant: encoder and decoder
  parameters, decoder layers, test and training error, mean ± 95% t-interval over seeds) and
  `conv_capacity_paired` (variant minus baseline, paired over seeds, with the 95% interval and
  the verdict), and the macros

  - ``\RCapData``, ``\RCapSeeds``, ``\RCapSteps``, ``\RCapBatch``: the setting;
  - ``\RCapEncParams``, ``\RCapDecParams``: the baseline's parameters per side;
  - ``\RCapStepSeconds``: the baseline's measured seconds per training step;
  - ``\RFindCapacity``: every variant against the baseline, the words from paired tests;
  - ``\RAnswerCapacity``: the answer to post 001.

* `fig_conv_capacity(records, out_dir)`: test error against the step per variant (median over
  seeds, min-max band), and the final test error against the decoder's parameter count.

Example:
  >>> from tiedae.paper.suites import conv_capacity
  >>> conv_capacity.LABELS["dec_x2"]
  'decoder $\\times 2$ params'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.style import band, new_figure, save
from tiedae.paper.tables import tabular
from tiedae.report import stats
from tiedae.report.format import ci_tex

__all__ = ["LABELS", "conv_capacity", "fig_conv_capacity"]

LABELS = {"baseline": "post 001's model", "dec_x0.5": r"decoder $\times 1/2$ params",
          "dec_x2": r"decoder $\times 2$ params", "dec_+1_layer": "decoder $+1$ layer",
          "dec_-1_layer": "decoder $-1$ layer", "enc1.5_dec0.5": "encoder : decoder 1.5 : 0.5",
          "enc0.5_dec1.5": "encoder : decoder 0.5 : 1.5"}
COLORS = {"baseline": "k", "dec_x0.5": "#1f77b4", "dec_x2": "#d62728", "dec_+1_layer": "#ff7f0e",
          "dec_-1_layer": "#2ca02c", "enc1.5_dec0.5": "#9467bd", "enc0.5_dec1.5": "#8c564b"}


def _variants(records) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["config"]["variant"], {})[r["config"]["seed"]] = r["final"]
    return {v: out[v] for v in (*LABELS, *sorted(set(out) - set(LABELS))) if v in out}


def _vals(per_seed, key) -> list:
    return [f.get(key) for f in per_seed.values()]


def _vs_baseline(variants, v, key) -> stats.Paired:
    base = variants["baseline"]
    seeds = sorted(set(variants[v]) & set(base))
    return stats.paired([variants[v][s].get(key) for s in seeds],
                        [base[s].get(key) for s in seeds])


def _table(variants) -> str:
    rows = [[LABELS.get(v, R.tex_escape(v)), R.num(_vals(per, "encoder_params")[0]),
             R.num(_vals(per, "decoder_params")[0]), R.num(_vals(per, "decoder_layers")[0]),
             ci_tex(_vals(per, "test_error")), ci_tex(_vals(per, "train_error"))]
            for v, per in variants.items()]
    return tabular(["variant", "encoder params", "decoder params", "decoder layers",
                    "test error", "training error"], rows, "lrrrrr")


def _verdict(p: stats.Paired) -> str:
    return ("no measurable difference" if p.n < 2 or p.verdict == "no measurable difference"
            else f"{p.verdict} than the baseline")


def _paired_table(variants) -> str:
    rows = []
    for v in variants:
        if v == "baseline" or "baseline" not in variants:
            continue
        for key, what in (("test_error", "test error"), ("train_error", "training error")):
            p = _vs_baseline(variants, v, key)
            rows.append([LABELS.get(v, R.tex_escape(v)), what, rf"\ensuremath{{{p.mean:+.3g}}}",
                         rf"\ensuremath{{[{p.lo:+.3g}, {p.hi:+.3g}]}}" if p.n >= 2 else "--",
                         _verdict(p)])
    return tabular(["variant $-$ baseline", "measure", "mean", "95\\% interval", "verdict"],
                   rows, "llrrl")


def _find(variants) -> str:
    if "baseline" not in variants or len(variants) < 2:
        return "The baseline and its variants were not run together."
    parts = []
    for v in variants:
        if v == "baseline":
            continue
        p = _vs_baseline(variants, v, "test_error")
        parts.append(rf"{LABELS.get(v, v)} {ci_tex(_vals(variants[v], 'test_error'))}: "
                     + ("no measurable difference" if p.n < 2 or p.verdict ==
                        "no measurable difference" else f"{p.verdict}")
                     + rf" (paired difference \ensuremath{{{p.mean:+.3g}}}, 95\% interval "
                       rf"\ensuremath{{[{p.lo:+.3g}, {p.hi:+.3g}]}})")
    return (rf"The baseline's test error is {ci_tex(_vals(variants['baseline'], 'test_error'))}"
            r" (squared error per image, mean $\pm$ 95\% interval over seeds); against it, "
            + "; ".join(parts) + ".")


def _answer(variants) -> str:
    if "baseline" not in variants or len(variants) < 2:
        return "For post 001, the decoder variants were not run beside the baseline."
    verdicts = {v: _vs_baseline(variants, v, "test_error").verdict for v in variants
                if v != "baseline"}
    better = [LABELS.get(v, v) for v, w in verdicts.items() if w == "lower"]
    worse = [LABELS.get(v, v) for v, w in verdicts.items() if w == "higher"]
    if not better and not worse:
        return ("For post 001, at our training budget no variant's test error differed "
                "measurably from the post's symmetric model (Table~\\ref{tab:conv-capacity}).")
    text = "For post 001, at our training budget "
    text += ("a lower test error than the post's model came from " + ", ".join(better)
             if better else "no variant beat the post's model")
    text += ("; a higher one from " + ", ".join(worse) if worse else "")
    rest = len(verdicts) - len(better) - len(worse)
    return text + (f"; {rest} other variant(s) showed no measurable difference" if rest else "") \
        + r" (Table~\ref{tab:conv-capacity-paired})."


def conv_capacity(records: list[dict]) -> tuple[dict, dict]:
    """Tables `conv_capacity` and `conv_capacity_paired` and the macros of the docstring."""
    variants = _variants(records)
    cfg = records[0]["config"]
    base = variants.get("baseline", next(iter(variants.values())))
    size = cfg.get("size")
    macros = {
        "RCapData": (rf"{cfg.get('n_train')} training and {cfg.get('n_test')} test "
                     rf"{size} $\times$ {size} colour crops"),
        "RCapSeeds": R.num(len({r["config"]["seed"] for r in records})),
        "RCapSteps": R.num(cfg.get("steps")), "RCapBatch": R.num(cfg.get("batch_size")),
        "RCapEncParams": R.num(_vals(base, "encoder_params")[0]),
        "RCapDecParams": R.num(_vals(base, "decoder_params")[0]),
        "RCapStepSeconds": R.num(float(np.median(_vals(base, "seconds_per_step"))), 2),
        "RFindCapacity": _find(variants), "RAnswerCapacity": _answer(variants)}
    return macros, {"conv_capacity": _table(variants),
                    "conv_capacity_paired": _paired_table(variants)}


def fig_conv_capacity(records: list[dict], out_dir: Path) -> Path:
    """Left: test error against the training step per variant (median and min-max band over
    seeds). Right: final test error (mean and 95% interval) against decoder parameters."""
    by = R.group(records, "variant")
    fig, axes = new_figure(2, 1, width=6.8, height=2.4)
    left, right = axes[0]
    for (v,), recs in sorted(by.items(), key=lambda kv: list(LABELS).index(kv[0][0])
                             if kv[0][0] in LABELS else 99):
        curves = [R.trajectory(r, "eval_loss") for r in recs]
        x = curves[0][0]
        band(left, x, [c[1] for c in curves if c[0].shape == x.shape], COLORS.get(v, "0.5"),
             LABELS.get(v, v))
        ci = stats.interval(R.final(recs, "test_error"))
        right.errorbar([float(np.mean(R.final(recs, "decoder_params")))], [ci.mean],
                       yerr=[[ci.mean - ci.lo if ci.n > 1 else 0.0],
                             [ci.hi - ci.mean if ci.n > 1 else 0.0]],
                       fmt="o", color=COLORS.get(v, "0.5"), markersize=4, capsize=2)
    left.set(xlabel="training step", ylabel="test error (per image)", yscale="log")
    left.legend(frameon=False, fontsize=5)
    right.set(xlabel="decoder parameters", ylabel="final test error", xscale="log")
    fig.tight_layout()
    return save(fig, out_dir, "conv_capacity")
