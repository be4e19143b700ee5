r"""Paper material of the `decoders` suite: training curves of the four decoders, singular values
of W under the transpose and pseudo-inverse ties, the time each tie needs to reach the principal
subspace, and the headline numbers (mean ± 95% t half-width over seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.bench.suites import decoders as suite
from tiedae.paper import results as R
from tiedae.paper.figures import curves, positive
from tiedae.paper.style import COLORS, LABELS, band, new_figure, save
from tiedae.paper.suites._linear import med_iqr, pm_ci, verdict
from tiedae.paper.tables import camel, tabular

__all__ = ["decoder_panels", "decoders", "fig_decoders", "fig_decoders_sv", "wide_setting"]

DECODERS = suite.DECODERS
DATA_NAMES = {"user": "MNIST", "spiked": "spiked", "digits": "digits"}


def _name(dataset: str) -> str:
    return DATA_NAMES.get(dataset, R.tex_escape(dataset))


def wide_setting(records: list[dict]) -> tuple[str, int] | None:
    """(dataset, k) of the largest code on real images: MNIST (the user's data) when run, else
    the digits, at their largest k; None when neither was run."""
    for ds in ("user", "digits"):
        ks = [r["config"]["k"] for r in R.select(records, dataset=ds)]
        if ks:
            return ds, max(ks)
    return None


def decoder_panels(records: list[dict]) -> list[tuple[str, str, int]]:
    """The (dataset, optimizer, k) rows of the decoders figure: the headline data set (spiked,
    else the first) at its smallest k with each optimizer, then the wide real-image setting
    (`wide_setting`) with gradient descent."""
    settings = list(R.group(records, "dataset", "optimizer", "k"))
    if not settings:
        return []
    datasets = [ds for ds, _, _ in settings]
    head = "spiked" if "spiked" in datasets else datasets[0]
    k_min = min(k for ds, _, k in settings if ds == head)
    rows = sorted({(ds, opt, k) for ds, opt, k in settings if ds == head and k == k_min},
                  key=lambda s: (s[1] != "gd", s[1]))[:2]
    wide = wide_setting(records)
    if wide is not None:
        opts = [opt for ds, opt, k in settings if (ds, k) == wide]
        row = (wide[0], "gd" if "gd" in opts else opts[0], wide[1])
        if row not in rows:
            rows.append(row)
    return rows


def fig_decoders(records: list[dict], out_dir: Path) -> Path:
    """Loss gap, ||WW^T - I||_F and subspace distance against steps, one line per decoder."""
    panels = decoder_panels(records)
    fig, axes = new_figure(3, max(len(panels), 1), height=1.65)
    metrics = (("loss_gap", r"relative loss gap $(L-L^\star)/L^\star$"),
               ("orthonormality", r"$\|WW^\top-I\|_F$"),
               ("subspace_distance", r"subspace distance $\delta(W)$"))
    for row, (dataset, opt, k) in enumerate(panels):
        recs = R.select(records, dataset=dataset, optimizer=opt, k=k)
        for col, (metric, label) in enumerate(metrics):
            ax = axes[row, col]
            for dec in DECODERS:
                sub = R.select(recs, decoder=dec)
                if not sub:
                    continue
                scale = (lambda r: r["extra"]["optimal_loss"]) if metric == "loss_gap" else None
                x, ys = curves(sub, metric, scale)
                band(ax, x, [positive(y) for y in ys], COLORS[dec], LABELS[dec])
            ax.set_yscale("log")
            ax.set_xlabel("step")
            d = recs[0].get("extra", {}).get("d") or recs[0]["config"]["d"]
            ax.set_title(f"{label}\n{_name(dataset)} ($d={d}$), $k={k}$, {opt}", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), frameon=False)
    return save(fig, out_dir, "decoders_curves")


def _first_seed(records: list[dict]) -> dict | None:
    recs = [r for r in records if r.get("extra", {}).get("singular_values") is not None]
    return min(recs, key=lambda r: r["config"]["seed"]) if recs else None


def fig_decoders_sv(records: list[dict], out_dir: Path) -> Path:
    """Singular values of W against steps for the transpose and pinv ties (one seed, every
    singular value a line), on the wide real-image setting, one panel per optimizer."""
    wide = wide_setting(records)
    opts = [] if wide is None else sorted(
        {r["config"]["optimizer"] for r in R.select(records, dataset=wide[0], k=wide[1])},
        key=lambda o: o != "gd")
    fig, axes = new_figure(max(len(opts), 1), 1, width=6.6, height=2.1)
    for col, opt in enumerate(opts):
        ax = axes[0, col]
        for dec, style in (("transpose", "-"), ("pinv", "--")):
            rec = _first_seed(R.select(records, dataset=wide[0], k=wide[1], optimizer=opt,
                                       decoder=dec))
            if rec is None:
                continue
            steps = np.asarray(rec["extra"]["sv_step"], dtype=float)
            sv = np.asarray(rec["extra"]["singular_values"], dtype=float)
            for i in range(sv.shape[1]):
                ax.plot(steps, sv[:, i], color=COLORS[dec], linestyle=style, linewidth=0.7,
                        label=LABELS[dec] if i == 0 else None)
        ax.axhline(1.0, color="0.6", linewidth=0.6)
        ax.set_xlabel("step")
        ax.set_ylabel("singular values of $W$")
        ax.set_title(f"{_name(wide[0])}, $k={wide[1]}$, {opt}", fontsize=7)
        ax.legend(frameon=False, fontsize=6)
    if not opts:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no digits or MNIST runs", ha="center", va="center")
    fig.tight_layout()
    return save(fig, out_dir, "decoders_sv")


def _setting(records, optimizer):
    """Records of the headline setting: spiked data (else the first data set), smallest k."""
    recs = R.select(records, optimizer=optimizer)
    if not recs:
        return []
    datasets = [ds for (ds,) in R.group(recs, "dataset")]
    ds = "spiked" if "spiked" in datasets else datasets[0]
    recs = R.select(recs, dataset=ds)
    return R.select(recs, k=min(r["config"]["k"] for r in recs))


def _by_seed(records):
    return sorted(records, key=lambda r: r["config"]["seed"])


def _time_table(records: list[dict]) -> str:
    rows = []
    for (ds, k, opt), recs in R.group(records, "dataset", "k", "optimizer").items():
        base = _by_seed(R.select(recs, decoder="transpose"))
        d = recs[0].get("extra", {}).get("d") or recs[0]["config"]["d"]
        rows.append([rf"\multicolumn{{5}}{{l}}{{\emph{{{_name(ds)}, $d={d}$, $k={k}$, "
                     rf"{R.tex_escape(opt)}, {len(base)} seeds}}}}"])
        for dec in DECODERS:
            sub = _by_seed(R.select(recs, decoder=dec))
            steps, secs = suite.to_target(sub), suite.to_target(sub, "seconds")
            cells = [LABELS[dec], med_iqr(steps), med_iqr(secs, 2)]
            if dec == "transpose":
                cells += ["--", "--"]
            else:
                for unit in ("steps", "seconds"):
                    a, b = suite.to_target(sub, unit), suite.to_target(base, unit)
                    text, _ = suite.paired_to_target(a, b)
                    cells.append(verdict(a, b, lower="faster", higher="slower") if text in (
                        "faster", "slower", "no measurable difference") else
                        R.tex_escape(text))
            rows.append(cells)
    return tabular(["decoder", "steps to $10^{-3}$", "seconds to $10^{-3}$",
                    "steps vs $W^\\top$ (paired)", "seconds vs $W^\\top$ (paired)"], rows,
                   "lrrll")


def _time_sentence(records: list[dict]) -> str:
    wide = wide_setting(records)
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    parts = []
    for opt in ("gd", "adam"):
        recs = R.select(records, dataset=wide[0], k=wide[1], optimizer=opt)
        if not recs:
            continue
        base = _by_seed(R.select(recs, decoder="transpose"))
        pinv = _by_seed(R.select(recs, decoder="pinv"))
        untied = _by_seed(R.select(recs, decoder="untied"))
        words = {"gd": "gradient descent", "adam": "Adam"}[opt]
        text = (rf"with {words} the transpose tie reaches subspace distance $10^{{-3}}$ after "
                rf"{med_iqr(suite.to_target(base))} steps (median [IQR]; "
                rf"{med_iqr(suite.to_target(base, 'seconds'), 2)}~s), the pseudo-inverse tie "
                rf"after {med_iqr(suite.to_target(pinv))} steps "
                rf"({med_iqr(suite.to_target(pinv, 'seconds'), 2)}~s)")
        answer, _ = suite.paired_to_target(suite.to_target(pinv), suite.to_target(base))
        if answer in ("faster", "slower", "no measurable difference"):
            text += (", " + verdict(suite.to_target(pinv), suite.to_target(base),
                                    lower="fewer steps", higher="more steps")
                     + " paired over seeds")
        else:
            text += f" ({R.tex_escape(answer)})"
        text += rf", and the untied model after {med_iqr(suite.to_target(untied))} steps"
        parts.append(text)
    if not parts:
        return r"\textit{(no runs)}"
    d = R.select(records, dataset=wide[0])[0].get("extra", {}).get("d") or "n/a"
    return (rf"On {_name(wide[0])} ($d={d}$, $k={wide[1]}$), " + "; ".join(parts) + ".")


def _sv_sentence(records: list[dict]) -> str:
    wide = wide_setting(records)
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    parts = []
    for dec in ("transpose", "pinv"):
        recs = R.select(records, dataset=wide[0], k=wide[1], optimizer="gd", decoder=dec)
        if not recs or "sv_min" not in recs[0]["final"]:
            return r"\textit{(singular values not recorded)}"
        lo0, hi0 = np.nanmean(R.final(recs, "sv_min_start")), np.nanmean(R.final(recs,
                                                                                "sv_max_start"))
        lo, hi = np.nanmean(R.final(recs, "sv_min")), np.nanmean(R.final(recs, "sv_max"))
        parts.append(rf"[{R.num(lo0, 2)}, {R.num(hi0, 2)}] to [{R.num(lo, 2)}, {R.num(hi, 2)}]")
    return (rf"Under gradient descent on {_name(wide[0])} ($k={wide[1]}$) the singular values of "
            rf"$W$ move from {parts[0]} with the transpose tie and from {parts[1]} with the "
            r"pseudo-inverse tie (means over seeds of the smallest and largest).")


def decoders(records: list[dict]) -> tuple[dict, dict]:
    """Headline numbers of the decoders suite (gradient descent and, when run, Adam), the time
    to the subspace per decoder (table `decoders_time`)."""
    macros: dict[str, str] = {}
    for opt, prefix in (("gd", "RDec"), ("adam", "RDecAdam")):
        recs = _setting(records, opt)
        for dec in DECODERS:
            sub = R.select(recs, decoder=dec)
            name = prefix + camel(dec)
            macros[name + "OrthoInit"] = pm_ci(R.final(sub, "orthonormality_start"), 2)
            macros[name + "OrthoFinal"] = pm_ci(R.final(sub, "orthonormality"), 2)
            macros[name + "GapFinal"] = pm_ci(R.final(sub, "relative_loss_gap"), 2)
            macros[name + "SubspaceFinal"] = pm_ci(R.final(sub, "subspace_distance"), 2)
            macros[name + "CondFinal"] = pm_ci(R.final(sub, "condition_number"), 3)
    head = _setting(records, "gd")
    cfg = head[0]["config"] if head else {}
    macros["RDecK"] = R.num(cfg.get("k"))
    macros["RDecSteps"] = R.num(cfg.get("steps"))
    macros["RDecData"] = R.tex_escape(cfg.get("dataset", "n/a"))
    macros["RDecSeeds"] = R.num(len({r["config"]["seed"] for r in head}))
    sentence = (
        rf"on the {macros['RDecData']} data ($k={macros['RDecK']}$, gradient descent, "
        rf"{macros['RDecSeeds']} seeds, {macros['RDecSteps']} steps; mean $\pm$ 95\,\% "
        rf"confidence half-width) the transpose tie's "
        rf"$\|WW^\top-I\|_F$ goes from {macros['RDecTransposeOrthoInit']} to "
        rf"{macros['RDecTransposeOrthoFinal']}, while the pseudo-inverse and right-inverse ties "
        rf"end at {macros['RDecPinvOrthoFinal']} and {macros['RDecRightInverseOrthoFinal']}, "
        rf"with relative loss gaps {macros['RDecTransposeGapFinal']}, "
        rf"{macros['RDecPinvGapFinal']} and {macros['RDecRightInverseGapFinal']} and subspace "
        rf"distances {macros['RDecTransposeSubspaceFinal']}, {macros['RDecPinvSubspaceFinal']} "
        rf"and {macros['RDecRightInverseSubspaceFinal']}. The untied model's encoder, fixed only "
        rf"up to an invertible mixing of the code, ends at {macros['RDecUntiedOrthoFinal']}."
    )
    if _setting(records, "adam"):
        sentence += (
            rf" With Adam, which breaks the conservation law, the pseudo-inverse tie's "
            rf"$\|WW^\top-I\|_F$ ends at {macros['RDecAdamPinvOrthoFinal']} and the transpose "
            rf"tie's at {macros['RDecAdamTransposeOrthoFinal']}."
        )
    macros["RFindDecoders"] = sentence[0].upper() + sentence[1:]
    macros["RFindDecodersTime"] = _time_sentence(records)
    macros["RFindDecodersSv"] = _sv_sentence(records)
    macros["RDecTarget"] = R.num(suite.SUBSPACE_TARGET)
    return macros, {"decoders_time": _time_table(records)}
