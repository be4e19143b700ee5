r"""Paper material of the `peers` suite: seconds to the target subspace distance and the final
loss gap of each method on the same data (mean ± 95% t half-width over seeds, each seed a new
data set), and paired comparisons between methods."""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites import peers as suite
from tiedae.paper import results as R
from tiedae.paper.suites._linear import pm_ci, verdict
from tiedae.paper.tables import tabular

__all__ = ["peers"]

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
SPOKEN = {"scipy_eigh": "an eigensolver", "tiedae_tied_gd": "tied gradient descent on the data",
          "tiedae_tied_gd_covariance": "tied gradient descent on the covariance",
          "sklearn_pca_randomized": "randomized PCA", "oja_minibatch": "minibatch Oja",
          "torch_tied_gd": "the same tied step in PyTorch"}
COMPARED = (("tiedae_tied_gd", "torch_tied_gd", "the same tied step in JAX and in PyTorch"),
            ("tiedae_tied_gd_covariance", "scipy_eigh",
             "tied gradient descent on the covariance and the eigensolver"))


def peers(records: list[dict]) -> tuple[dict, dict]:
    """Time to the target subspace distance and final loss gap of each method (table `peers`)
    and the sentence comparing them."""
    setting = max(R.group(records, "n", "d", "k"), key=lambda s: s[0] * s[1])
    recs = sorted(R.select(records, n=setting[0], d=setting[1], k=setting[2]),
                  key=lambda r: r["config"]["seed"])
    names = recs[0]["extra"]["methods"]
    times = {m: suite.method_times(recs, m) for m in names}
    rows = []
    for name in names:
        reached = np.isfinite(times[name])
        rows.append([PEER_LABELS.get(name, R.tex_escape(name)),
                     pm_ci(times[name], 2) if reached.all() else
                     f"{int(reached.sum())}/{len(recs)} reached" if reached.any() else
                     "not reached",
                     pm_ci(R.final(recs, f"{name}.total_time"), 2),
                     pm_ci(R.final(recs, f"{name}.subspace_distance"), 2),
                     pm_ci(R.final(recs, f"{name}.loss_gap"), 2)])
    table = tabular(["method", "time to target (s)", "total time (s)", "subspace distance",
                     "loss gap"], rows, "lrrrr")
    macros = {"RPeersTarget": R.num(suite.TARGET), "RPeersN": R.num(setting[0]),
              "RPeersD": R.num(setting[1]), "RPeersK": R.num(setting[2]),
              "RPeersSeeds": R.num(len(recs))}
    parts = []
    for name, words in SPOKEN.items():
        if name not in times:
            continue
        ok = np.isfinite(times[name])
        parts.append(f"{words} in {pm_ci(times[name], 2)}~s" if ok.all() else
                     f"{words} in {int(ok.sum())} of {len(recs)} seeds" if ok.any() else
                     f"{words} not at all")
    listing = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    compared = []
    for a, b, what in COMPARED:
        if a in times and b in times and np.isfinite(times[a]).all() and \
                np.isfinite(times[b]).all():
            compared.append(f"{what}: the first is " + verdict(
                times[a], times[b], lower="faster", higher="slower"))
    reached = {m: float(np.mean(t)) for m, t in times.items() if np.isfinite(t).all()}
    order = sorted(reached, key=reached.get)
    lead = ""
    if len(order) > 1:
        first, second = order[0], order[1]
        r = suite.compare_times(times[first], times[second])
        label = PEER_LABELS.get(first, R.tex_escape(first))
        lead = (rf" The fastest was {label}, measurably faster than the runner-up "
                rf"({PEER_LABELS.get(second, R.tex_escape(second))})." if r.verdict == "lower"
                else rf" {label} and {PEER_LABELS.get(second, R.tex_escape(second))} lead with "
                     r"no measurable difference between them.")
    macros["RFindPeers"] = (
        rf"At $n={macros['RPeersN']}$, $d={macros['RPeersD']}$, $k={macros['RPeersK']}$ "
        rf"({macros['RPeersSeeds']} data sets; mean $\pm$ 95\,\% confidence half-width) the "
        rf"subspace distance falls below {macros['RPeersTarget']} for {listing}."
        + ("" if not compared else " Paired over the data sets, " + "; ".join(compared) + ".")
        + lead
    )
    return macros, {"peers": table}
