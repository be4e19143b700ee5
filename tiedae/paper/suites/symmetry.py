r"""The `symmetry` suite in the paper: post 000's 2-D MLP autoencoder and its decoders.

* `symmetry(records)`: the tables `symmetry` (per decoder and encoder variant: parameters, test
  and training error, how nearly affine the 2-D code is, probe and 5-NN accuracy of the code;
  mean ± 95% t half-width over seeds; steps and seconds to PCA's error with k components as
  median [IQR]) and `symmetry_paired` (paired differences against the mirror / the 100-25
  encoder over seeds with their 95% intervals and verdicts), and the macros

  - ``\RSymData``, ``\RSymK``, ``\RSymSteps``, ``\RSymSeeds``, ``\RSymEncoder``,
    ``\RSymMatched``, ``\RSymLogEvery``: the setting;
  - ``\RFindSymmetry``: test errors and their paired differences against the mirror;
  - ``\RSymEckartYoung``: the linear decoder's training error against PCA's;
  - ``\RFindSimplicity``: how nearly affine each code is, and the answer to post 000;
  - ``\RFindWideEncoder``: the wide-encoder claim with its parameter-matched control;
  - ``\RAnswerSymmetry``: the short answer.

* `fig_codes2d`: the 2-D test codes of the first seed per decoder next to PCA's, by class.
* `fig_sym_curves`: training and test error against the step (median and min-max band).
* `fig_reconstructions`: a few test images and their reconstructions per decoder.

Every comparative word comes from `tiedae.report.stats.paired` over seeds.

Example:
  >>> from tiedae.paper.suites import symmetry
  >>> symmetry.relation(symmetry.stats.paired([1.0, 1.1, 1.2], [2.0, 2.2, 2.1]), "test error")
  'a lower test error'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.bench.suites._mlp import paired_values, reach_verdict
from tiedae.paper import results as R
from tiedae.paper.style import band, new_figure, save
from tiedae.paper.suites._linear import med_iqr, pm_ci
from tiedae.paper.tables import tabular
from tiedae.report import stats

__all__ = ["fig_codes2d", "fig_reconstructions", "fig_sym_curves", "relation", "symmetry"]

DECODERS = ("mirror", "tied", "shallow", "linear")
ENCODERS = ("wide", "matched")
LABELS = {"mirror": "mirror", "tied": r"tied ($W^\top$)", "shallow": "shallow (2--100--$d$)",
          "linear": "linear", "pca": "PCA", "wide": "wide encoder", "matched": "matched encoder"}
COLORS = {"mirror": "#1f77b4", "tied": "#2ca02c", "shallow": "#ff7f0e", "linear": "#d62728",
          "wide": "#9467bd", "matched": "#8c564b", "pca": "#7f7f7f"}


def _groups(records) -> dict[str, list[dict]]:
    return {variant: sorted(recs, key=lambda r: r["config"]["seed"])
            for (variant,), recs in R.group(records, "variant").items()}


def _values(recs, key) -> list:
    return [r["final"].get(key) for r in recs]


def _paired(a_recs, b_recs, key) -> stats.Paired:
    return stats.paired(*paired_values(a_recs, b_recs, key))


def _diff(p: stats.Paired, digits: int = 2) -> str:
    if p.n < 2:
        return R.NA
    return (rf"{R.num(p.mean, digits)}, 95\,\% CI [{R.num(p.lo, digits)}, "
            rf"{R.num(p.hi, digits)}]")


def relation(p: stats.Paired, what: str) -> str:
    """'a lower <what>' / 'a higher <what>' / 'no measurable difference in <what>'."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"no measurable difference in {what}"
    return f"a {p.verdict} {what}"


def _label(variant: str, recs) -> str:
    if variant in ENCODERS:
        widths = "--".join(str(w) for w in recs[0]["config"].get("encoder", []))
        return rf"encoder {widths} (mirror dec.)"
    return LABELS.get(variant, R.tex_escape(variant))


def _ordered(groups) -> list[str]:
    known = [v for v in (*DECODERS, *ENCODERS, "pca") if v in groups]
    return known + sorted(set(groups) - set(known))


def _main_table(groups) -> str:
    rows = []
    for v in _ordered(groups):
        recs = groups[v]
        f = recs[0]["final"]
        params = (rf"{R.num(f['params_encoder'])} / {R.num(f['params_decoder'])}"
                  if "params_encoder" in f else "--")
        trained = "steps_to_pca_k" in f
        rows.append([_label(v, recs), params, pm_ci(_values(recs, "test_error")),
                     pm_ci(_values(recs, "train_error")),
                     pm_ci(_values(recs, "code_r2_pca")) if "code_r2_pca" in f else "--",
                     pm_ci(_values(recs, "code_r2_pixels")) if "code_r2_pixels" in f else "--",
                     pm_ci(_values(recs, "probe_accuracy")),
                     pm_ci(_values(recs, "knn_accuracy")),
                     med_iqr(_values(recs, "steps_to_pca_k")) if trained else "--",
                     med_iqr(_values(recs, "seconds_to_pca_k"), 2) if trained else "--"])
    columns = ["run", "enc.\\ / dec.\\ params", "test error", "train error",
               r"$R^2$ PCA$\to$code", r"$R^2$ pixels$\to$code", "probe acc.", "5-NN acc.",
               r"steps to PCA$_k$", r"s to PCA$_k$"]
    return tabular(columns, rows, "lrrrrrrrrr")


PAIRED = {"decoder": (("test_error", "test error"), ("code_r2_pca", r"$R^2$ PCA$\to$code"),
                      ("knn_accuracy", "5-NN acc.")),
          "encoder": (("steps_to_pca_k", r"steps to PCA$_k$"),
                      ("seconds_to_pca_k", r"seconds to PCA$_k$"),
                      ("test_error", "test error"))}


def _paired_table(groups) -> str:
    rows = []
    if "mirror" in groups:
        for v in _ordered(groups):
            if v in ("mirror", "pca"):
                continue
            kind = "encoder" if v in ENCODERS else "decoder"
            for key, name in PAIRED[kind]:
                p = _paired(groups[v], groups["mirror"], key)
                rows.append([rf"{_label(v, groups[v])} $-$ mirror", name,
                             R.num(p.mean, 3) if p.n else R.NA,
                             rf"[{R.num(p.lo, 2)}, {R.num(p.hi, 2)}]" if p.n >= 2 else "--",
                             p.verdict if p.n >= 2 else "one seed"])
    return tabular(["difference", "measure", "mean", r"95\,\% interval", "verdict"], rows,
                   "llrrl")


def _find_symmetry(groups, k) -> str:
    decs = [d for d in DECODERS if d in groups]
    errors = "; ".join(rf"{LABELS[d]} {pm_ci(_values(groups[d], 'test_error'))}" for d in decs)
    text = rf"With a code of size $k={k}$, the test errors are {errors}"
    if "pca" in groups:
        text += rf"; PCA with {k} components {R.num(groups['pca'][0]['final'].get('test_error'))}"
    text += "."
    if "mirror" in groups:
        parts = []
        for d in decs:
            if d == "mirror":
                continue
            p = _paired(groups[d], groups["mirror"], "test_error")
            parts.append(rf"the {LABELS[d]} decoder has {relation(p, 'test error')} "
                         rf"(paired difference {_diff(p)})")
        if parts:
            text += " Against the mirror, " + "; ".join(parts) + "."
        if "tied" in groups:
            tied, mirror = groups["tied"][0]["final"], groups["mirror"][0]["final"]
            text += (rf" The tied decoder has {R.num(tied.get('params_decoder'))} free "
                     rf"parameters (its biases) against {R.num(mirror.get('params_decoder'))} "
                     r"for the mirror.")
    return text


def _eckart_young(groups) -> str:
    if "linear" not in groups:
        return "The linear decoder was not run."
    finals = [r["final"] for r in groups["linear"] if r["final"].get("train_error") is not None
              and r["final"].get("pca_train_error") is not None]
    if not finals:
        return "The linear decoder's training error was not recorded."
    train = [f["train_error"] for f in finals]
    ref = [f["pca_train_error"] for f in finals]
    below = sum(t < p * (1 - 1e-4) for t, p in zip(train, ref, strict=True))
    text = (rf"On the training set the linear decoder's error is {pm_ci(train)} against PCA's "
            rf"{R.num(float(np.mean(ref)))}: ")
    if below:
        return text + (rf"below it in {below} of {len(finals)} seeds, which the Eckart--Young "
                       r"bound rules out (check the PCA reference).")
    return text + (rf"at or above it in all {len(finals)} seeds, as the Eckart--Young bound "
                   r"requires, since the outputs of a linear decoder span a $k$-dimensional "
                   r"affine subspace.")


def simplicity(groups) -> tuple[str, str]:
    """(verdict, sentence): do the simpler decoders (linear, shallow) give codes that are more
    nearly affine functions of PCA's code than the mirror's? From the paired R^2 differences."""
    found = {d: _paired(groups[d], groups["mirror"], "code_r2_pca")
             for d in ("linear", "shallow") if d in groups and "mirror" in groups}
    verdicts = [p.verdict for p in found.values() if p.n >= 2]
    if not verdicts:
        return "not compared", "The decoders' codes were not compared."
    if all(v == "higher" for v in verdicts):
        verdict = "yes"
    elif all(v == "no measurable difference" for v in verdicts):
        verdict = "no measurable difference"
    elif "lower" in verdicts and "higher" not in verdicts:
        verdict = "no"
    else:
        verdict = "mixed"
    r2 = "; ".join(rf"{LABELS[d]} {pm_ci(_values(groups[d], 'code_r2_pca'))}"
                   for d in DECODERS if d in groups)
    r2x = "; ".join(rf"{LABELS[d]} {pm_ci(_values(groups[d], 'code_r2_pixels'))}"
                    for d in DECODERS if d in groups)
    diffs = "; ".join(rf"{LABELS[d]} $-$ mirror: {p.verdict} ({_diff(p)})"
                      for d, p in found.items())
    text = (rf"How nearly affine is each 2-D code? The $R^2$ of the best affine map from PCA's "
            rf"2-D code to the learnt code, on test images, is {r2}; from the pixels, {r2x}. "
            rf"Paired against the mirror: {diffs}. ")
    text += {"yes": "The simpler decoders gave measurably more nearly affine codes.",
             "no": "The simpler decoders did not give more nearly affine codes.",
             "no measurable difference": "The simpler decoders' codes were not measurably "
                                         "more nearly affine than the mirror's.",
             "mixed": "The answer is mixed: the decoders differ in the direction of the "
                      "change."}[verdict]
    return verdict, text


def wide_verdict(groups) -> tuple[str, str]:
    """Post 000's claim (a wide encoder converges faster) from the paired steps and seconds
    to PCA's k-component error, with the parameter-matched encoder alongside."""
    if "mirror" not in groups or "wide" not in groups:
        return "not tested", "The wide-encoder claim was not tested."
    base = groups["mirror"]
    words = {}
    parts = []
    for v in ENCODERS:
        if v not in groups:
            continue
        ps = {key: _paired(groups[v], base, key)
              for key in ("steps_to_pca_k", "seconds_to_pca_k", "test_error")}
        never = sum(x is None for r in (*groups[v], *base)
                    for x in (r["final"].get("steps_to_pca_k"),))
        widths = "--".join(str(w) for w in groups[v][0]["config"]["encoder"])
        parts.append(
            rf"the encoder {widths} ({R.num(groups[v][0]['final'].get('params_encoder'))} "
            rf"parameters) needs {med_iqr(_values(groups[v], 'steps_to_pca_k'))} steps and "
            rf"{med_iqr(_values(groups[v], 'seconds_to_pca_k'), 2)} seconds (median "
            rf"[IQR]); paired against 100--25: steps {ps['steps_to_pca_k'].verdict} "
            rf"({_diff(ps['steps_to_pca_k'], 3)}), seconds "
            rf"{ps['seconds_to_pca_k'].verdict} ({_diff(ps['seconds_to_pca_k'])}), test error "
            rf"{ps['test_error'].verdict} ({_diff(ps['test_error'])})"
            + (rf"; {never} of the compared runs never reached the threshold (a run that "
               r"never reached it counts as slower)" if never else ""))
        found = {reach_verdict(*paired_values(groups[v], base, key))
                 for key in ("steps_to_pca_k", "seconds_to_pca_k")}
        words[v] = ("supported" if found == {"lower"} else "contradicted"
                    if found == {"higher"} else "no measurable difference"
                    if found == {"no measurable difference"} else "mixed")
    base_text = (rf"The 100--25 encoder ({R.num(base[0]['final'].get('params_encoder'))} "
                 rf"parameters) reaches PCA's error with $k$ components after "
                 rf"{med_iqr(_values(base, 'steps_to_pca_k'))} steps and "
                 rf"{med_iqr(_values(base, 'seconds_to_pca_k'), 2)} seconds; ")
    verdict = words["wide"]
    text = (base_text + "; ".join(parts) + rf". Post 000's claim that half as many, twice as "
            rf"wide encoder layers converge faster: {verdict}.")
    return verdict, text


def _data_name(records) -> str:
    path = records[0]["config"].get("data") if records else None
    if not path:
        return "the digits data ($8\\times8$)"
    return "MNIST"


def symmetry(records: list[dict]) -> tuple[dict, dict]:
    """Tables `symmetry` and `symmetry_paired` and the macros of the module docstring."""
    groups = _groups(records)
    trained = [r for r in records if "steps" in r["config"]]
    cfg = trained[0]["config"] if trained else (records[0]["config"] if records else {})
    k = cfg.get("code_dim", 2)
    macros = {"RSymData": _data_name(records), "RSymK": R.num(k),
              "RSymSteps": R.num(cfg.get("steps")), "RSymLogEvery": R.num(cfg.get("log_every")),
              "RSymSeeds": R.num(len({r["config"]["seed"] for r in trained})),
              "RSymEncoder": "--".join(str(w) for w in cfg.get("encoder", [])) or R.NA,
              "RSymMatched": ("--".join(str(w) for w in groups["matched"][0]["config"]
                                        ["encoder"]) if "matched" in groups else R.NA)}
    macros["RFindSymmetry"] = _find_symmetry(groups, k) if groups else R.NA
    macros["RSymEckartYoung"] = _eckart_young(groups)
    simple, macros["RFindSimplicity"] = simplicity(groups)
    wide, macros["RFindWideEncoder"] = wide_verdict(groups)
    tied = (_paired(groups["tied"], groups["mirror"], "test_error")
            if "tied" in groups and "mirror" in groups else None)
    macros["RAnswerSymmetry"] = (
        rf"On {macros['RSymData']} with post 000's 2-D autoencoder, the tied mirror shows "
        + (relation(tied, "test error") if tied else "an untested test error")
        + (r" than the untied mirror's"
           if tied and tied.verdict != "no measurable difference" and tied.n >= 2
           else " from the untied mirror")
        + rf" (paired over seeds). Does a simpler decoder give a more nearly affine code? "
        rf"Verdict: {simple}. Does an encoder of half as many, twice as wide layers converge "
        rf"faster? Verdict: {wide}.")
    return macros, {"symmetry": _main_table(groups), "symmetry_paired": _paired_table(groups)}


def fig_codes2d(records: list[dict], out_dir: Path) -> Path:
    """2-D test codes coloured by class, the first seed per decoder, and PCA's 2-D code."""
    groups = _groups(records)
    panels = [(v, groups[v][0]) for v in (*DECODERS, "pca")
              if v in groups and groups[v][0]["extra"].get("codes_2d")]
    fig, axes = new_figure(max(len(panels), 1), 1, width=7.0, height=1.7)
    scatter = None
    for ax, (name, rec) in zip(axes[0], panels, strict=False):
        z = np.asarray(rec["extra"]["codes_2d"], dtype=float)
        y = np.asarray(rec["extra"]["labels"])
        scatter = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=1.5, vmin=-0.5, vmax=9.5,
                             linewidths=0, rasterized=True)
        f = rec["final"]
        title = LABELS[name].replace("--", "-")
        if f.get("knn_accuracy") is not None:
            title += f"\n5-NN {f['knn_accuracy']:.2f}"
        if f.get("code_r2_pca") is not None:
            title += f", $R^2$ {f['code_r2_pca']:.2f}"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if scatter is not None:
        cbar = fig.colorbar(scatter, ax=list(axes[0]), ticks=range(10), fraction=0.02, pad=0.01)
        cbar.ax.tick_params(labelsize=6)
    return save(fig, out_dir, "codes2d")


def fig_sym_curves(records: list[dict], out_dir: Path) -> Path:
    """Monitored training (left) and test (right) error against the step, per decoder and
    encoder variant: median over seeds and min-max band; dashed: PCA with k and 2k
    components."""
    groups = _groups(records)
    fig, axes = new_figure(2, 1, width=7.0, height=2.2)
    fig.subplots_adjust(wspace=0.35)
    for v in _ordered(groups):
        curves = [r for r in groups[v] if (r.get("trajectory") or {}).get("train_loss")]
        if not curves:
            continue
        for ax, key in zip(axes[0], ("train_loss", "test_loss"), strict=True):
            x = np.asarray(curves[0]["trajectory"]["step"], float)
            same = [np.asarray(r["trajectory"][key], float) for r in curves
                    if len(r["trajectory"][key]) == len(x)]
            band(ax, x, same, COLORS.get(v, "#000000"), _label(v, groups[v]).replace("--", "-"))
    thresholds = next((r["extra"].get("thresholds") for r in records
                       if r["extra"].get("thresholds")), None)
    for name, value in (thresholds or {}).items():
        axes[0, 0].axhline(value, color="#7f7f7f", linestyle="--" if name == "pca_k" else ":",
                           linewidth=0.8)
    axes[0, 0].set(xlabel="step", ylabel="training error (monitor rows)", yscale="log")
    axes[0, 1].set(xlabel="step", ylabel="test error (monitor rows)", yscale="log")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 1].legend(handles, labels, frameon=False, fontsize=6)
    return save(fig, out_dir, "symmetry_curves")


def fig_reconstructions(records: list[dict], out_dir: Path) -> Path:
    """Test images (top row) and their reconstructions by each decoder and by PCA (first
    seed)."""
    groups = _groups(records)
    rows = [(v, groups[v][0]) for v in (*DECODERS, "pca")
            if v in groups and groups[v][0]["extra"].get("reconstructions")]
    if not rows:
        fig, axes = new_figure(1, 1, width=4.0, height=1.0)
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no reconstructions in the records", ha="center")
        return save(fig, out_dir, "symmetry_reconstructions")
    first = rows[0][1]["extra"]
    shape = tuple(first["image_shape"])
    n = len(first["images"])
    fig, axes = new_figure(n, len(rows) + 1, width=0.55 * n, height=0.6)
    grid = [("images", first["images"], "test")] + [
        (v, rec["extra"]["reconstructions"], LABELS[v].replace("--", "-")) for v, rec in rows]
    for row, (_, images, name) in zip(axes, grid, strict=True):
        for j, ax in enumerate(row):
            ax.imshow(np.clip(np.asarray(images[j], float).reshape(shape), 0, 1), cmap="gray_r",
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
    return save(fig, out_dir, "symmetry_reconstructions")
