r"""Numbers and tables of the algorithm suites: exact-pcs, step-cost and peers.

Same contract as `tiedae.paper.tables`: each function maps a suite's records to
`(macros, tables)`; every value is read from the records (or from the suite module's own
constants, e.g. the iteration count Bao et al. report, which the suite cites).
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.tables import camel, tabular

__all__ = ["exact_pcs", "peers", "step_cost"]

METHODS = {"plain": "plain", "nonuniform_l2": r"non-uniform $L_2$", "rag": "RAG"}
DECODERS = ("transpose", "pinv", "right_inverse", "untied")


def _iterations(records: list[dict], key: str) -> str:
    """Mean ± std of an 'iterations to target' figure; says how many runs never reached it."""
    vals = [r["final"].get(key) for r in records]
    got = [v for v in vals if v is not None]
    if not got:
        return r"not reached"
    text = R.pm(got, 3)
    return text if len(got) == len(vals) else f"{text} ({len(got)} of {len(vals)} runs)"


def _axis_key(records: list[dict]) -> tuple[str, str]:
    """The 'iterations_to_axis_<target>' key and its target, as recorded by the suite."""
    for key in records[0]["final"]:
        if key.startswith("iterations_to_axis_"):
            return key, key.removeprefix("iterations_to_axis_")
    raise KeyError("exact-pcs records have no 'iterations_to_axis_*' figure")


def exact_pcs(records: list[dict]) -> tuple[dict, dict]:
    """Iterations to the axis-alignment target per (d, k, method), next to Bao et al.'s."""
    from tiedae.bench.suites.exact_pcs import BAO_RAG_K2_ITERATIONS

    key, target = _axis_key(records)
    rows = []
    for (d, k, method), recs in R.group(records, "d", "k", "method").items():
        bao = R.num(BAO_RAG_K2_ITERATIONS) if (method, k, d) == ("rag", 2, 1000) else "--"
        rows.append([R.num(d), R.num(k), METHODS.get(method, R.tex_escape(method)),
                     _iterations(recs, key), R.pm(R.final(recs, "axis_distance"), 2),
                     R.pm(R.final(recs, "subspace_distance"), 2), R.num(recs[0]["config"]
                                                                         ["steps"]), bao])
    table = tabular(["$d$", "$k$", "method", f"iterations to {target}", "axis distance",
                     "subspace distance", "budget", "Bao et al."], rows, "rrlrrrrr")
    macros = {"RExactAxisTarget": R.num(float(target)), "RExactBaoRagIters":
              R.num(BAO_RAG_K2_ITERATIONS)}
    k2 = R.select(records, k=min(r["config"]["k"] for r in records))
    d = max(r["config"]["d"] for r in k2)
    k2 = R.select(k2, d=d)
    macros["RExactD"] = R.num(d)
    macros["RExactK"] = R.num(k2[0]["config"]["k"])
    for method in METHODS:
        sub = R.select(k2, method=method)
        macros[f"RExact{camel(method)}Iters"] = _iterations(sub, key) if sub else R.num(None)
        macros[f"RExact{camel(method)}Axis"] = R.pm(R.final(sub, "axis_distance"), 2)
    macros["RFindExactPcs"] = (
        rf"With $d={macros['RExactD']}$ and $k={macros['RExactK']}$, RAG reaches distance "
        rf"{macros['RExactAxisTarget']} to axis alignment after {macros['RExactRagIters']} "
        rf"iterations (\citet{{bao2020regularized}} report about {macros['RExactBaoRagIters']} "
        rf"at $d=1000$, $k=2$), non-uniform $L_2$ after {macros['RExactNonuniformLTwoIters']} "
        rf"and plain training after {macros['RExactPlainIters']}; the final axis distances are "
        rf"{macros['RExactRagAxis']}, {macros['RExactNonuniformLTwoAxis']} and "
        rf"{macros['RExactPlainAxis']}."
    )
    return macros, {"exact_pcs": table}


def step_cost(records: list[dict]) -> tuple[dict, dict]:
    """Per-step time ratios to the transpose step and the step's share of numpy's matmul rate."""
    macros: dict[str, str] = {}
    for dec in DECODERS[1:]:
        ratios = R.final(records, f"{dec}_ratio")
        worst = records[int(np.nanargmax(ratios))]["config"]
        macros[f"RStep{camel(dec)}RatioMin"] = R.num(np.nanmin(ratios), 3)
        macros[f"RStep{camel(dec)}RatioMax"] = R.num(np.nanmax(ratios), 3)
        macros[f"RStep{camel(dec)}WorstK"] = R.num(worst["k"])
        macros[f"RStep{camel(dec)}WorstD"] = R.num(worst["d"])
    macros["RStepVsNumpy"] = R.pm(R.final(records, "transpose_vs_numpy"), 2)
    macros["RStepN"] = R.num(records[0]["config"]["n"])
    macros["RFindStepCost"] = (
        rf"With $n={macros['RStepN']}$ samples per step, the pseudo-inverse step costs "
        rf"{macros['RStepPinvRatioMin']} to {macros['RStepPinvRatioMax']} times the transpose "
        rf"step (largest at $d={macros['RStepPinvWorstD']}$, $k={macros['RStepPinvWorstK']}$), "
        rf"the right inverse {macros['RStepRightInverseRatioMin']} to "
        rf"{macros['RStepRightInverseRatioMax']} times and the untied model "
        rf"{macros['RStepUntiedRatioMin']} to {macros['RStepUntiedRatioMax']} times; the "
        rf"transpose step runs at {macros['RStepVsNumpy']} of the matrix-multiply rate of numpy "
        r"on the same shapes."
    )
    return macros, {}


PEER_LABELS = {
    "scipy_eigh": r"\texttt{scipy.linalg.eigh} of $C$",
    "sklearn_pca_full": "scikit-learn PCA (full SVD)",
    "sklearn_pca_randomized": "scikit-learn PCA (randomized)",
    "sklearn_incremental_pca": "scikit-learn IncrementalPCA",
    "oja_minibatch": "Oja's subspace rule (minibatch)",
    "tiedae_tied_gd": "tied $W^\\top$, gradient descent on $X$",
    "tiedae_tied_gd_covariance": "tied $W^\\top$, gradient descent on $C$",
    "tiedae_untied_rag": "untied + RAG (JAX)",
    "torch_tied_gd": "tied $W^\\top$, PyTorch eager",
    "torch_untied_rag": "untied + RAG, PyTorch eager",
}


def _mean_time(records: list[dict], name: str) -> float:
    """Mean time to target of a method (inf when some run never reached it)."""
    vals = [r["final"].get(f"{name}.time_to_target") for r in records]
    return float(np.mean(vals)) if vals and all(v is not None for v in vals) else np.inf


def peers(records: list[dict]) -> tuple[dict, dict]:
    """Time to the target subspace distance and final loss gap of each method, same data."""
    from tiedae.bench.suites.peers import TARGET

    rows = []
    setting = max(R.group(records, "n", "d", "k"), key=lambda s: s[0] * s[1])
    recs = R.select(records, n=setting[0], d=setting[1], k=setting[2])
    names = recs[0]["extra"]["methods"]
    times = {}
    for name in names:
        vals = [r["final"].get(f"{name}.time_to_target") for r in recs]
        times[name] = R.pm([v for v in vals if v is not None], 2) if all(
            v is not None for v in vals) else "not reached"
        rows.append([PEER_LABELS.get(name, R.tex_escape(name)), times[name],
                     R.pm(R.final(recs, f"{name}.total_time"), 2),
                     R.pm(R.final(recs, f"{name}.subspace_distance"), 2),
                     R.pm(R.final(recs, f"{name}.loss_gap"), 2)])
    table = tabular(["method", "time to target (s)", "total time (s)", "subspace distance",
                     "loss gap"], rows, "lrrrr")
    macros = {"RPeersTarget": R.num(TARGET), "RPeersN": R.num(setting[0]),
              "RPeersD": R.num(setting[1]), "RPeersK": R.num(setting[2])}
    spoken = {"scipy_eigh": "an eigensolver", "tiedae_tied_gd": "tied gradient descent on the data",
              "tiedae_tied_gd_covariance": "tied gradient descent on the covariance",
              "oja_minibatch": "minibatch Oja", "torch_tied_gd": "the same tied step in PyTorch"}
    parts = []
    for name, words in spoken.items():
        if name not in times:
            continue
        when = times[name]
        parts.append(f"{words} in {when}~s" if when != "not reached" else f"{words} not at all")
    eigh = _mean_time(recs, "scipy_eigh")
    trained = min(_mean_time(recs, m) for m in ("tiedae_tied_gd", "tiedae_tied_gd_covariance"))
    verdict = (r"a direct eigensolver is faster, and training is the tool when the encoder is "
               r"part of a larger model rather than a faster PCA" if eigh < trained else
               r"here training is competitive with the eigensolver")
    macros["RFindPeers"] = (
        rf"At $n={macros['RPeersN']}$, $d={macros['RPeersD']}$, $k={macros['RPeersK']}$ the "
        rf"subspace distance falls below {macros['RPeersTarget']} for "
        + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts))
        + rf": {verdict}."
    )
    return macros, {"peers": table}
