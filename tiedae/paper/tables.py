r"""Numbers, sentences and tables of the linear-theory suites, written as LaTeX from records.

Each `<suite>(records)` returns `(macros, tables)`: `macros` maps a macro name (used in the
manuscript as ``\RName``) to its LaTeX body, `tables` maps a fragment name to a ``tabular``.
Nothing here is typed by hand: every value is read from the records.
The deep / conv / graph suites are in `tiedae.paper.tables_deep`.
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R

__all__ = ["camel", "configs_table", "decoders", "global_macros", "tabular"]


def camel(name: str) -> str:
    """A name made into letters only, for a LaTeX macro name.

    Example:
      >>> camel("right_inverse"), camel("nonuniform_l2")
      ('RightInverse', 'NonuniformLTwo')
    """
    parts = [p for p in "".join(c if c.isalnum() else " " for c in str(name)).split() if p]
    word = "".join(p[:1].upper() + p[1:] for p in parts)
    digits = {"0": "Zero", "1": "One", "2": "Two", "3": "Three", "4": "Four", "5": "Five",
              "6": "Six", "7": "Seven", "8": "Eight", "9": "Nine"}
    return "".join(digits.get(c, c) for c in word)


def tabular(columns: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A booktabs tabular; cells are LaTeX already (use R.tex_escape for plain text)."""
    align = align or "l" + "r" * (len(columns) - 1)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(columns) + r" \\",
             "\\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def global_macros(records: dict[str, list[dict]]) -> dict[str, str]:
    """When, with what and where the results were produced (from the records' env)."""
    envs = [rec.get("env", {}) for recs in records.values() for rec in recs]
    stamps = sorted(e["timestamp"] for e in envs if e.get("timestamp"))
    commits = sorted({str(e.get("git_commit")) for e in envs if e.get("git_commit")})

    def first(key):
        vals = sorted({str(e[key]) for e in envs if e.get(key)})
        return R.tex_escape(", ".join(vals)) if vals else r"\textit{unknown}"

    return {
        "RGeneratedOn": R.tex_escape(stamps[-1][:10]) if stamps else r"\textit{unknown}",
        "RGitCommit": R.tex_escape(", ".join(c[:10] for c in commits)) if commits
        else r"\textit{unknown}",
        "RJaxVersion": first("jax"),
        "RDevice": first("device"),
    }


def configs_table(records: dict[str, list[dict]]) -> str:
    """Appendix table: per suite, runs, total wall time and each config key's distinct values."""
    rows = []
    for suite, recs in records.items():
        keys: dict[str, list] = {}
        for rec in recs:
            for key, val in rec["config"].items():
                if val is None:
                    continue
                seen = keys.setdefault(key, [])
                if val not in seen:
                    seen.append(val)
        parts = []
        for key, vals in keys.items():
            shown = ", ".join(str(v) for v in vals[:6]) + (", ..." if len(vals) > 6 else "")
            parts.append(f"{key}: {shown}")
        wall = sum(float(rec.get("wall_time_s") or 0.0) for rec in recs)
        rows.append([R.tex_escape(suite), R.num(len(recs)), R.num(wall, 2),
                     r"\parbox[t]{0.6\linewidth}{\raggedright\footnotesize "
                     + R.tex_escape("; ".join(parts)) + "}"])
    return tabular(["suite", "runs", "wall time (s)", "configurations"], rows, "lrrl")


DECODERS = ("transpose", "pinv", "right_inverse", "untied")


def _decoder_setting(records, optimizer):
    """Records of the headline setting: spiked data (else the first data set), smallest k."""
    recs = R.select(records, optimizer=optimizer)
    if not recs:
        return []
    datasets = [ds for (ds,) in R.group(recs, "dataset")]
    ds = "spiked" if "spiked" in datasets else datasets[0]
    recs = R.select(recs, dataset=ds)
    k = min(r["config"]["k"] for r in recs)
    return R.select(recs, k=k)


def decoders(records: list[dict]) -> tuple[dict, dict]:
    """Headline numbers of the decoders suite (gradient descent and, when run, Adam)."""
    macros: dict[str, str] = {}
    for opt, prefix in (("gd", "RDec"), ("adam", "RDecAdam")):
        recs = _decoder_setting(records, opt)
        for dec in DECODERS:
            sub = R.select(recs, decoder=dec)
            name = prefix + camel(dec)
            macros[name + "OrthoInit"] = R.pm(R.final(sub, "orthonormality_start"), 2)
            macros[name + "OrthoFinal"] = R.pm(R.final(sub, "orthonormality"), 2)
            macros[name + "GapFinal"] = R.pm(R.final(sub, "relative_loss_gap"), 2)
            macros[name + "SubspaceFinal"] = R.pm(R.final(sub, "subspace_distance"), 2)
            macros[name + "CondFinal"] = R.pm(R.final(sub, "condition_number"), 3)
    head = _decoder_setting(records, "gd")
    cfg = head[0]["config"] if head else {}
    macros["RDecK"] = R.num(cfg.get("k"))
    macros["RDecSteps"] = R.num(cfg.get("steps"))
    macros["RDecData"] = R.tex_escape(cfg.get("dataset", "n/a"))
    macros["RDecSeeds"] = R.num(len({r["config"]["seed"] for r in head}))
    sentence = (
        rf"on the {macros['RDecData']} data ($k={macros['RDecK']}$, gradient descent, "
        rf"{macros['RDecSeeds']} seeds, {macros['RDecSteps']} steps) the transpose tie's "
        rf"$\|WW^\top-I\|_F$ goes from {macros['RDecTransposeOrthoInit']} to "
        rf"{macros['RDecTransposeOrthoFinal']}, while the pseudo-inverse and right-inverse ties "
        rf"end at {macros['RDecPinvOrthoFinal']} and {macros['RDecRightInverseOrthoFinal']}, "
        rf"with relative loss gaps {macros['RDecTransposeGapFinal']}, "
        rf"{macros['RDecPinvGapFinal']} and {macros['RDecRightInverseGapFinal']} and subspace "
        rf"distances {macros['RDecTransposeSubspaceFinal']}, {macros['RDecPinvSubspaceFinal']} "
        rf"and {macros['RDecRightInverseSubspaceFinal']}. The untied model's encoder, fixed only "
        rf"up to an invertible mixing of the code, ends at {macros['RDecUntiedOrthoFinal']}."
    )
    adam = _decoder_setting(records, "adam")
    if adam:
        sentence += (
            rf" With Adam, which breaks the conservation law, the pseudo-inverse tie's "
            rf"$\|WW^\top-I\|_F$ ends at {macros['RDecAdamPinvOrthoFinal']} and the transpose "
            rf"tie's at {macros['RDecAdamTransposeOrthoFinal']}."
        )
    macros["RFindDecoders"] = sentence[0].upper() + sentence[1:]
    return macros, {}



def _mean(values) -> float:
    return R.mean_std(values)[0]


def conservation(records: list[dict]) -> tuple[dict, dict]:
    """Drift exponents (GD vs Adam) and the untied imbalance's decay rate against 4 lambda."""
    macros: dict[str, str] = {}
    drift = [r for r in records if r["config"].get("kind") == "drift"]
    for dec in ("pinv", "right_inverse"):
        for opt in ("gd", "adam"):
            sub = R.select(drift, decoder=dec, optimizer=opt)
            macros[f"RCons{camel(dec)}{camel(opt)}Slope"] = R.pm(R.final(sub, "drift_slope"), 3)
    decay = [r for r in records if r["config"].get("kind") == "decay"]
    free = [r for r in decay if not r["config"].get("lambda_over_lambda1")]
    macros["RConsUntiedMaxChange"] = R.num(np.nanmax(R.final(free, "max_relative_change"))
                                           if free else None, 2)
    ratios = R.final([r for r in decay if r["config"].get("lambda_over_lambda1")], "rate_ratio")
    ratios = ratios[np.isfinite(ratios)]
    macros["RConsRateRatioMin"] = R.num(ratios.min() if ratios.size else None, 3)
    macros["RConsRateRatioMax"] = R.num(ratios.max() if ratios.size else None, 3)
    cfg = drift[0]["config"] if drift else {}
    macros["RConsSteps"] = R.num(cfg.get("steps"))
    present = [dec for dec in ("pinv", "right_inverse") if R.select(drift, decoder=dec)]
    names = {"pinv": "pinv", "right_inverse": "right inverse"}

    def slopes(opt):
        return " and ".join(f"${macros[f'RCons{camel(dec)}{camel(opt)}Slope']}$ ({names[dec]})"
                            for dec in present) or R.NA

    macros["RFindConservation"] = (
        rf"after {macros['RConsSteps']} steps the drift of $WW^\top$ grows like $\eta^p$ with "
        rf"$p =$ {slopes('gd')} under gradient descent, as "
        rf"Theorem~\ref{{thm:conservation}}(d) predicts ($p=2$), and with $p =$ "
        rf"{slopes('adam')} under Adam (first order, part (e)). "
        rf"Without regularisation the untied imbalance $WW^\top - V^\top V$ changes by at most "
        rf"{macros['RConsUntiedMaxChange']} of its size; with $L_2$ weight $\lambda$ it decays "
        rf"at a fitted rate between {macros['RConsRateRatioMin']} and "
        rf"{macros['RConsRateRatioMax']} times the predicted $4\lambda$."
    )
    return macros, {}


def regularized(records: list[dict]) -> tuple[dict, dict]:
    """Closed-form singular values of the L2-regularised untied model; Oja step sizes."""
    macros: dict[str, str] = {}
    l2 = [r for r in records if r["config"].get("kind") == "l2"]
    macros["RRegMaxSvError"] = R.num(np.nanmax(R.final(l2, "max_sv_error")) if l2 else None, 2)
    macros["RRegWrongConstantError"] = R.num(
        np.nanmin(R.final(l2, "max_sv_error_if_constant_were_n_e")) if l2 else None, 2)
    macros["RRegMaxVminusWt"] = R.num(np.nanmax(R.final(l2, "V_minus_W_T")) if l2 else None, 2)
    macros["RRegSteps"] = R.num(l2[0]["config"].get("steps") if l2 else None)
    macros["RFindRegularized"] = (
        rf"After {macros['RRegSteps']} gradient steps the singular values match "
        rf"$\sqrt{{1-\lambda/e_i}}$ to within {macros['RRegMaxSvError']} and $\|V-W^\top\|_F$ "
        rf"is at most {macros['RRegMaxVminusWt']}; with the constant of the summed loss "
        rf"($n e_i$ in place of $e_i$) the error would be {macros['RRegWrongConstantError']}."
    )
    stab = [r for r in records if r["config"].get("kind") == "stability"]
    rows = []
    for (start,), recs in R.group(stab, "start").items():
        rows.append([R.tex_escape(start.replace("_", " ")),
                     R.pm(R.final(recs, "tied_gradient_eta_max_times_e1"), 3),
                     R.num(_mean(R.final(recs, "tied_gradient_local_theory")), 3),
                     R.pm(R.final(recs, "oja_eta_max_times_e1"), 3),
                     R.num(_mean(R.final(recs, "oja_local_theory")), 3),
                     R.pm(R.final(recs, "ratio_oja_over_gradient"), 3)])
    table = tabular(["start", r"gradient $\eta_{\max}e_1$", "theory",
                     r"Oja $\eta_{\max}e_1$", "theory", "ratio Oja/gradient"], rows)
    near = R.select(stab, start="near_optimum") or stab
    macros["ROjaGradientEtaMax"] = R.pm(R.final(near, "tied_gradient_eta_max_times_e1"), 3)
    macros["ROjaEtaMax"] = R.pm(R.final(near, "oja_eta_max_times_e1"), 3)
    macros["ROjaRatio"] = R.pm(R.final(near, "ratio_oja_over_gradient"), 3)
    macros["ROjaGradientTheory"] = R.num(_mean(R.final(near, "tied_gradient_local_theory")), 3)
    macros["ROjaTheory"] = R.num(_mean(R.final(near, "oja_local_theory")), 3)
    macros["RFindOja"] = (
        rf"Started near the optimum, the tied gradient is stable up to $\eta e_1 = "
        rf"{macros['ROjaGradientEtaMax']}$ and Oja's rule up to ${macros['ROjaEtaMax']}$ "
        rf"(ratio {macros['ROjaRatio']}); the linear stability analysis at the optimum predicts "
        rf"{macros['ROjaGradientTheory']} and {macros['ROjaTheory']}."
    )
    return macros, {"oja": table}


# float64 closed forms: relative values below this are rounding noise and shown as "≈0"
ROUNDING = 1e-12
OPT_ENCODERS = ("random", "random_orthonormal", "pca_subspace_skewed", "pca_optimum")


def _encoder_label(enc: str) -> str:
    """'pinv_trained_100' -> 'pinv-tied, 100 steps'; 'pca_optimum' -> 'PCA optimum'."""
    if "_trained_" in enc:
        dec, steps = enc.split("_trained_")
        return f"{R.tex_escape(dec.replace('_', ' '))}-tied, {R.num(int(steps))} steps"
    names = {"random": "random Gaussian", "random_orthonormal": "random, orthonormal rows",
             "pca_subspace_skewed": "skewed basis $AU_k^\\top$ of the PCA subspace",
             "pca_optimum": "PCA optimum $U_k^\\top$"}
    return names.get(enc, R.tex_escape(enc.replace("_", " ")))


def _data_name(ds: str | None) -> str:
    """'<name> data' for the headline data set; a note when there is none."""
    return "spiked data (not run)" if ds is None else rf"{R.tex_escape(ds)} data"


def optimal_decoder(records: list[dict]) -> tuple[dict, dict]:
    """Relative loss gaps of the least-squares decoder, W^+ and W^T for several encoders."""
    settings = R.group(records, "dataset", "d", "k")
    chosen = {}
    for (ds, d, k), recs in settings.items():  # the smallest setting of each data set
        if ds not in chosen or (d, k) < chosen[ds][0]:
            chosen[ds] = ((d, k), recs)
    rows = []
    for ds, ((d, k), recs) in chosen.items():
        keys = recs[0]["final"]
        trained = sorted({key.split(".")[0] for key in keys if "_trained_" in key},
                         key=lambda e: (e.split("_trained_")[0], int(e.split("_")[-1])))
        last = {}
        for enc in trained:
            last[enc.split("_trained_")[0]] = enc
        rows.append([rf"\multicolumn{{5}}{{l}}{{\emph{{{R.tex_escape(ds)}, $d={d}$, "
                     rf"$k={k}$}}}}", "", "", "", ""][:1])
        opt_loss = np.array([float(r["extra"]["optimal_loss"]) for r in recs])
        for enc in (*OPT_ENCODERS, *last.values()):
            if f"{enc}.invariance" not in keys:
                continue
            cells = [_encoder_label(enc)]
            for dec in ("least_squares", "pinv", "transpose"):
                gaps = R.final(recs, f"{enc}.{dec}_gap") / opt_loss
                cells.append(R.pm(gaps, 2, zero_below=ROUNDING))
            cells.append(R.pm(R.final(recs, f"{enc}.invariance"), 2, zero_below=ROUNDING))
            rows.append(cells)
    table = tabular(["encoder", r"$V^\star$", r"$W^{+}$", r"$W^\top$",
                     r"$\|(I-P)CP\|_F/\|C\|_F$"], rows)
    head_name = "spiked" if "spiked" in chosen else next(iter(chosen), None)
    head = chosen[head_name][1] if head_name is not None else []
    macros = {}
    if head:
        opt_loss = np.array([float(r["extra"]["optimal_loss"]) for r in head])
        for enc in ("random", "pca_subspace_skewed", "pca_optimum"):
            for dec in ("least_squares", "pinv", "transpose"):
                macros[f"ROpt{camel(enc)}{camel(dec)}"] = R.pm(
                    R.final(head, f"{enc}.{dec}_gap") / opt_loss, 2, zero_below=ROUNDING)
    else:
        for enc in ("random", "pca_subspace_skewed", "pca_optimum"):
            for dec in ("least_squares", "pinv", "transpose"):
                macros[f"ROpt{camel(enc)}{camel(dec)}"] = R.num(None)
    macros["RRoundingFloor"] = R.num(ROUNDING)
    macros["RFindOptimalDecoder"] = (
        rf"On the {_data_name(head_name)}, for a random encoder the relative excess loss is "
        rf"{macros['ROptRandomLeastSquares']} with the least-squares decoder against "
        rf"{macros['ROptRandomPinv']} with the right inverse and {macros['ROptRandomTranspose']} "
        rf"with $W^\top$; for a skewed basis of the optimal subspace the right inverse is optimal "
        rf"({macros['ROptPcaSubspaceSkewedPinv']}) but $W^\top$ is not "
        rf"({macros['ROptPcaSubspaceSkewedTranspose']})."
    )
    return macros, {"optimal_decoder": table}
