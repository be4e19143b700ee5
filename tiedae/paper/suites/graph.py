r"""The `graph` suite in the paper: link prediction with three decoders behind one GCN encoder.

* `graph(records)`: the tables `graph` (per graph and decoder: mean ± 95% t-interval over seeds
  of the training loss and of validation / test AUC and AP, after the full training and at the
  checkpoint with the best validation AUC; on SBM graphs also the block-probability score,
  counted once per seed) and `graph_paired` (paired differences between decoders over seeds,
  with their 95% intervals and verdicts), and the macros

  - ``\RGraphName``, ``\RGraphNodes``, ``\RGraphEdges``, ``\RGraphSeeds``, ``\RGraphEpochs``:
    the headline graph (the largest one run: Cora with ``--data``);
  - ``\RFindGraph``: its results, every comparative word from a paired test;
  - ``\RGraphSelection``: what early stopping on validation changed;
  - ``\RGraphSanity``: the small SBM setting and its block-probability reference;
  - ``\RAnswerGraph``: the answer to post 002 for graphs.

* `fig_graph_curves(records, out_dir)`: training loss and validation AUC against the epoch,
  per graph and decoder (median over seeds and min-max band).

Every word that compares decoders ("higher", "no measurable difference") comes from
`tiedae.report.stats.paired` on the seeds, so the text cannot contradict the tables.

Example:
  >>> from tiedae.paper.suites import graph
  >>> graph.ci_tex([0.86, 0.87, 0.85, 0.86, 0.88])
  '\\ensuremath{0.864\\pm0.014}'
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.style import band, new_figure, save
from tiedae.paper.tables import tabular
from tiedae.report import stats
from tiedae.report.format import ci_tex, decimals

__all__ = ["ci_tex", "fig_graph_curves", "graph"]

DECODERS = ("inner_product", "mlp", "mirrored_gcn")
LABELS = {"inner_product": r"inner product $\sigma(ZZ^\top)$", "mlp": "MLP of rows",
          "mirrored_gcn": "mirrored GCN"}
WORDS = {"inner_product": "the inner-product decoder", "mlp": "the MLP decoder",
         "mirrored_gcn": "the mirrored GCN decoder"}
COLORS = {"inner_product": "#1f77b4", "mlp": "#d62728", "mirrored_gcn": "#2ca02c"}
PAIRS = (("inner_product", "mlp"), ("inner_product", "mirrored_gcn"), ("mlp", "mirrored_gcn"))


def _by_seed(records) -> dict[int, dict]:
    return {r["config"]["seed"]: r["final"] for r in records}


def _values(records, key) -> list:
    return [f.get(key) for f in _by_seed(records).values()]


def _median(values) -> float:
    """Median of the values that are there (nan for none)."""
    vals = [float(v) for v in values if v is not None]
    return float(np.median(vals)) if vals else math.nan


def _once_per_seed(records, key) -> list:
    """final[key] once per seed: the block-probability score depends on the seed's graph and
    split only, so each seed counts once whatever the number of decoders run on it."""
    seen: dict[int, float] = {}
    for r in records:
        if r["final"].get(key) is not None:
            seen.setdefault(r["config"]["seed"], r["final"][key])
    return [seen[s] for s in sorted(seen)]


def _graphs(records) -> list[tuple[str, list[dict]]]:
    """(name, records) per graph, the largest graph first."""
    groups = [(name, recs) for (name,), recs in R.group(records, "name").items()]
    return sorted(groups, key=lambda g: -int(g[1][0]["final"].get("nodes") or 0))


def _decoders(recs_g) -> dict[str, list[dict]]:
    groups = {dec: recs for (dec,), recs in R.group(recs_g, "decoder").items()}
    return {d: groups[d] for d in (*DECODERS, *sorted(set(groups) - set(DECODERS)))
            if d in groups}


def _paired(decs, a, b, key) -> stats.Paired:
    x, y = _by_seed(decs[a]), _by_seed(decs[b])
    seeds = sorted(set(x) & set(y))
    return stats.paired([x[s].get(key) for s in seeds], [y[s].get(key) for s in seeds])


def _display_name(name: str, recs) -> str:
    config = recs[0]["config"]
    if config.get("graph") == "sbm":
        blocks = config.get("blocks") or []
        return (rf"SBM, {len(blocks)} blocks of {blocks[0]}, $p_{{\mathrm{{in}}}}="
                rf"{config.get('p_in')}$, $p_{{\mathrm{{out}}}}={config.get('p_out')}$"
                if blocks else "SBM")
    return R.tex_escape(name.capitalize())


def _epochs(recs) -> str:
    return "/".join(str(e) for e in sorted({r["config"].get("epochs") for r in recs}))


def _main_table(graphs) -> str:
    rows = []
    for name, recs_g in graphs:
        f0 = recs_g[0]["final"]
        seeds = len({r["config"]["seed"] for r in recs_g})
        rows.append([rf"\multicolumn{{9}}{{l}}{{\emph{{{_display_name(name, recs_g)}: "
                     rf"{f0.get('nodes')} nodes, {f0.get('edges')} edges, {seeds} seeds}}}}"])
        for dec, recs in _decoders(recs_g).items():
            rows.append([LABELS.get(dec, R.tex_escape(dec)),
                         R.num(_values(recs, "params")[0]),
                         ci_tex(_values(recs, "train_loss")),
                         ci_tex(_values(recs, "val_auc")),
                         ci_tex(_values(recs, "test_auc")), ci_tex(_values(recs, "test_ap")),
                         ci_tex(_values(recs, "selected_test_auc")),
                         ci_tex(_values(recs, "selected_test_ap")),
                         R.num(_median(_values(recs, "selected_epoch")))])
        block = _once_per_seed(recs_g, "block_score_auc")
        if block:
            rows.append(["block-probability score", "--", "--", "--", ci_tex(block),
                         ci_tex(_once_per_seed(recs_g, "block_score_ap")), "--", "--", "--"])
    columns = ["decoder", "params", "train loss", "val AUC", "test AUC", "test AP",
               "test AUC (sel.)", "test AP (sel.)", "sel. epoch"]
    return tabular(columns, rows, "lrrrrrrrr")


def _verdict_tex(p: stats.Paired, a: str, b: str) -> str:
    if p.n < 2:
        return "one seed"
    if p.verdict == "no measurable difference":
        return "no measurable difference"
    return f"{LABELS[a] if p.verdict == 'higher' else LABELS[b]} higher"


def _paired_table(graphs) -> str:
    rows = []
    for name, recs_g in graphs:
        decs = _decoders(recs_g)
        rows.append([rf"\multicolumn{{5}}{{l}}{{\emph{{{_display_name(name, recs_g)}}}}}"])
        for a, b in PAIRS:
            if a not in decs or b not in decs:
                continue
            for prefix, protocol in (("", f"after {_epochs(recs_g)} epochs"),
                                     ("selected_", "at best val.\\ AUC")):
                for metric in ("auc", "ap"):
                    p = _paired(decs, a, b, f"{prefix}test_{metric}")
                    d = decimals((p.hi - p.lo) / 2)
                    interval = (rf"\ensuremath{{[{p.lo:+.{d}f}, {p.hi:+.{d}f}]}}"
                                if p.n >= 2 else "--")
                    rows.append([rf"{LABELS[a]} $-$ {LABELS[b]}",
                                 f"test {metric.upper()} {protocol}",
                                 rf"\ensuremath{{{p.mean:+.{d}f}}}", interval,
                                 _verdict_tex(p, a, b)])
    return tabular(["difference", "measure", "mean", "95\\% interval", "verdict"], rows,
                   "llrrl")


def _relation(p: stats.Paired, a: str, b: str) -> str:
    """'higher than the MLP decoder's' / 'not measurably different from ...' (of a vs b)."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"not measurably different from {WORDS[b]}'s"
    return f"{p.verdict} than {WORDS[b]}'s"


def _comparison(decs, key: str) -> str:
    """The inner-product decoder's `key` against the two others, in words and numbers."""
    parts = []
    for other in ("mlp", "mirrored_gcn"):
        if "inner_product" in decs and other in decs:
            p = _paired(decs, "inner_product", other, key)
            d = decimals((p.hi - p.lo) / 2)
            parts.append(rf"{_relation(p, 'inner_product', other)} (paired difference "
                         rf"\ensuremath{{{p.mean:+.{d}f}}}, 95\% interval "
                         rf"\ensuremath{{[{p.lo:+.{d}f}, {p.hi:+.{d}f}]}})")
    return " and ".join(parts)


def _findings(name, recs_g) -> str:
    decs = _decoders(recs_g)
    means = "; ".join(
        rf"{WORDS[d]} {ci_tex(_values(decs[d], 'test_auc'))} / "
        rf"{ci_tex(_values(decs[d], 'test_ap'))}" for d in DECODERS if d in decs)
    if "inner_product" not in decs or len(decs) < 2:
        return (rf"After {_epochs(recs_g)} epochs, test AUC / AP (mean $\pm$ 95\% interval "
                rf"over seeds): {means}.")
    return (rf"After {_epochs(recs_g)} epochs, test AUC / AP (mean $\pm$ 95\% interval over "
            rf"seeds): {means}. The inner-product decoder's test AUC is "
            rf"{_comparison(decs, 'test_auc')}; its test AP is "
            rf"{_comparison(decs, 'test_ap')}.")


def _selection(recs_g) -> str:
    decs = _decoders(recs_g)
    epochs = ", ".join(rf"{R.num(_median(_values(decs[d], 'selected_epoch')))} for "
                       rf"{WORDS[d].removeprefix('the ')}" for d in DECODERS if d in decs)
    text = (rf"With early stopping on the validation AUC (checked every "
            rf"{recs_g[0]['config'].get('eval_every')} epochs; median selected epoch {epochs}),"
            rf" test AUC / AP become "
            + "; ".join(rf"{ci_tex(_values(decs[d], 'selected_test_auc'))} / "
                        rf"{ci_tex(_values(decs[d], 'selected_test_ap'))} for "
                        rf"{WORDS[d].removeprefix('the ')}" for d in DECODERS if d in decs))
    if "inner_product" in decs and len(decs) > 1:
        text += (r", and the inner-product decoder's test AUC is "
                 + _comparison(decs, "selected_test_auc"))
    return text + "."


def _sanity(graphs) -> str:
    sentences = []
    for name, recs_g in graphs:
        block = _once_per_seed(recs_g, "block_score_auc")
        if not block:
            continue
        decs = _decoders(recs_g)
        ip = ci_tex(_values(decs["inner_product"], "test_auc")) if "inner_product" in decs \
            else R.NA
        ip_ap = ci_tex(_values(decs["inner_product"], "test_ap")) if "inner_product" in decs \
            else R.NA
        sentences.append(
            rf"On the {_display_name(name, recs_g)} graphs, the block-probability score "
            rf"reaches test AUC {ci_tex(block)} and AP "
            rf"{ci_tex(_once_per_seed(recs_g, 'block_score_ap'))}, the inner-product decoder "
            rf"{ip} and {ip_ap}.")
    return " ".join(sentences) if sentences else "No block-model graph was run."


def _answer(graphs) -> str:
    if not graphs:
        return "For graphs, no results."
    name, recs_g = graphs[0]
    decs = _decoders(recs_g)
    if "inner_product" not in decs or len(decs) < 2:
        return ("For graphs, the inner-product decoder was not run beside another decoder, so "
                "they were not compared.")
    shown = _display_name(name, recs_g)
    verdicts = [_paired(decs, "inner_product", other, key).verdict
                for other in ("mlp", "mirrored_gcn") if other in decs
                for key in ("test_auc", "selected_test_auc")]
    if all(v == "higher" for v in verdicts):
        summary = (rf"For graphs, on {shown} the parameter-free inner-product decoder "
                   r"predicted held-out links measurably better than the decoders with "
                   r"parameters of their own, with a fixed budget and with early stopping.")
    elif all(v == "lower" for v in verdicts):
        summary = (rf"For graphs, on {shown} the decoders with parameters of their own "
                   r"predicted held-out links measurably better than the inner-product "
                   r"decoder, with a fixed budget and with early stopping.")
    elif all(v == "no measurable difference" for v in verdicts):
        summary = (rf"For graphs, on {shown} the decoders' link prediction showed no "
                   r"measurable difference.")
    else:
        summary = (rf"For graphs, on {shown} the answer is mixed: the inner-product decoder's "
                   r"advantage depends on the decoder it is compared with and on the protocol "
                   r"(Table~\ref{tab:graph-paired}).")
    losses = ", ".join(rf"{ci_tex(_values(decs[d], 'train_loss'))} for "
                       rf"{WORDS[d].removeprefix('the ')}" for d in DECODERS if d in decs)
    return summary + rf" Training losses after {_epochs(recs_g)} epochs: {losses}."


def graph(records: list[dict]) -> tuple[dict, dict]:
    """Tables `graph` and `graph_paired` and the macros of the module docstring."""
    graphs = _graphs(records)
    macros: dict[str, str] = {}
    if graphs:
        name, recs_g = graphs[0]
        f0 = recs_g[0]["final"]
        macros.update(RGraphName=_display_name(name, recs_g), RGraphNodes=R.num(f0.get("nodes")),
                      RGraphEdges=R.num(f0.get("edges")),
                      RGraphSeeds=R.num(len({r["config"]["seed"] for r in recs_g})),
                      RGraphEpochs=R.tex_escape(_epochs(recs_g)),
                      RFindGraph=_findings(name, recs_g), RGraphSelection=_selection(recs_g))
    else:
        for key in ("RGraphName", "RGraphNodes", "RGraphEdges", "RGraphSeeds", "RGraphEpochs",
                    "RFindGraph", "RGraphSelection"):
            macros[key] = R.NA
    macros["RGraphSanity"] = _sanity(graphs)
    macros["RAnswerGraph"] = _answer(graphs)
    return macros, {"graph": _main_table(graphs), "graph_paired": _paired_table(graphs)}


def fig_graph_curves(records: list[dict], out_dir: Path) -> Path:
    """Training loss and validation AUC against the epoch, one row per graph: the median over
    seeds and the min-max band, per decoder."""
    graphs = _graphs(records)
    fig, axes = new_figure(2, max(len(graphs), 1), width=6.4, height=2.0)
    for row, (name, recs_g) in zip(axes, graphs, strict=False):
        for dec, recs in _decoders(recs_g).items():
            for ax, key in zip(row, ("loss", "val_auc"), strict=True):
                curves = [R.trajectory(r, key, x="epoch") for r in recs
                          if key in (r.get("trajectory") or {})]  # older records: loss only
                if not curves:
                    continue
                x = curves[0][0]
                same = [c[1] for c in curves if c[0].shape == x.shape]
                band(ax, x, same, COLORS.get(dec, "#7f7f7f"), LABELS.get(dec, dec))
        title = str(name)
        row[0].set(xlabel="epoch", ylabel="training loss", yscale="log", title=title)
        row[1].set(xlabel="epoch", ylabel="validation AUC", title=title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, frameon=False, loc="upper right")
    return save(fig, out_dir, "graph_curves")
