r"""Numbers, sentences and tables of the deep and conv suites, from records.

Same contract as `tiedae.paper.tables`: each function maps a suite's records to
`(macros, tables)`. Comparative words in generated sentences ("lower", "faster", ...) are
computed from the numbers too, so the text cannot contradict the tables.
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.tables import camel, tabular

__all__ = ["compare", "conv", "features", "symmetry"]


def _mean(records, key) -> float:
    return R.mean_std(R.final(records, key))[0]


def _first(records, key):
    vals = R.final(records, key)
    return vals[0] if vals.size else None


def compare(a, b) -> str:
    """'lower', 'higher' or 'similar': mean of `a` against mean of `b`, where 'similar' means
    the difference is within two standard errors (Welch) of the seeds' spread."""
    a = np.asarray([v for v in a if v is not None and np.isfinite(v)], dtype=float)
    b = np.asarray([v for v in b if v is not None and np.isfinite(v)], dtype=float)
    if a.size == 0 or b.size == 0:
        return "similar"
    var = (a.var(ddof=1) / a.size if a.size > 1 else 0.0) + (
        b.var(ddof=1) / b.size if b.size > 1 else 0.0)
    diff = a.mean() - b.mean()
    if abs(diff) <= 2.0 * np.sqrt(var):
        return "similar"
    return "lower" if diff < 0 else "higher"


MIRRORS = "the mirror's"
UNTIED_MIRRORS = "the untied mirror's"


def _versus(word: str, what: str, other: str) -> str:
    """'a lower test error than the mirror's' / 'a test error within two standard errors of
    the mirror's'."""
    if word == "similar":
        return f"a {what} within two standard errors of {other}"
    return f"a {word} {what} than {other}"


def _steps(records, key) -> str:
    """Mean ± std of 'steps to reach' over the runs that reached it, and how many never did."""
    vals = R.final(records, key)
    got = vals[np.isfinite(vals)]
    if got.size == 0:
        return "never"
    text = R.pm(got, 3)
    return text if got.size == vals.size else f"{text} ({vals.size - got.size} never)"


def _data_name(records) -> str:
    path = records[0]["config"].get("data") if records else None
    return "the digits data" if not path else R.tex_escape(str(path).rsplit("/", 1)[-1])


def symmetry(records: list[dict]) -> tuple[dict, dict]:
    """Decoder variants on a fixed encoder, and post 000's wide-encoder claim."""
    dec = [r for r in records if r["config"].get("kind") == "decoder"]
    enc = [r for r in records if r["config"].get("kind") == "encoder"]
    rows, groups = [], R.group(dec, "variant")
    for (variant,), recs in groups.items():
        rows.append([R.tex_escape(variant), R.num(_first(recs, "params_encoder")),
                     R.num(_first(recs, "params_decoder")), R.pm(R.final(recs, "test_error")),
                     R.pm(R.final(recs, "test_error_relative")),
                     _steps(recs, "steps_to_pca_loss")])
    for (variant,), recs in R.group(enc, "variant").items():
        rows.append([R.tex_escape(f"encoder {variant} (mirror decoder)"),
                     R.num(_first(recs, "params_encoder")),
                     R.num(_first(recs, "params_decoder")), R.pm(R.final(recs, "test_error")),
                     R.pm(R.final(recs, "test_error_relative")),
                     _steps(recs, "steps_to_pca_loss")])
    pca_test = R.final(records, "pca_test_error")
    if np.isfinite(pca_test).any():
        rows.append([r"PCA with the same $k$ (linear reference)", "--", "--",
                     R.num(float(np.nanmean(pca_test))), "--", "--"])
    table = tabular(["decoder", "encoder params", "decoder params", "test error",
                     "error / variance", "steps to PCA loss"], rows, "lrrrrr")
    by = {variant: recs for (variant,), recs in groups.items()}
    widths = dec[0]["config"].get("encoder", []) if dec else []
    macros = {"RSymEncoder": "--".join(str(w) for w in widths) or R.num(None),
              "RSymData": _data_name(records), "RSymK": R.num(records[0]["config"]["code_dim"]),
              "RSymSteps": R.num(records[0]["config"]["steps"])}
    for name in ("mirror", "tied", "linear"):
        recs = by.get(name, [])
        macros[f"RSym{camel(name)}Error"] = R.pm(R.final(recs, "test_error"))
        macros[f"RSym{camel(name)}Params"] = R.num(_first(recs, "params_decoder"))
    means = {v: _mean(recs, "test_error") for v, recs in by.items()}
    best = min(means, key=means.get) if means else "n/a"
    macros["RSymBest"] = R.tex_escape(best)
    macros["RSymBestError"] = R.pm(R.final(by.get(best, []), "test_error"))
    tied_vs = compare(R.final(by.get("tied", []), "test_error"),
                      R.final(by.get("mirror", []), "test_error"))
    linear_vs = compare(R.final(by.get("linear", []), "test_error"),
                        R.final(by.get("mirror", []), "test_error"))
    macros["RFindSymmetry"] = (
        rf"With a code of size $k={macros['RSymK']}$ on {macros['RSymData']}, the lowest mean "
        rf"test error comes from the {macros['RSymBest']} decoder ({macros['RSymBestError']}). "
        rf"The tied decoder, with only {macros['RSymTiedParams']} free decoder parameters "
        rf"(biases) against {macros['RSymMirrorParams']} for the mirror, reaches "
        rf"{_versus(tied_vs, 'test error', MIRRORS)} ({macros['RSymTiedError']} against "
        rf"{macros['RSymMirrorError']}); the single linear map ({macros['RSymLinearParams']} "
        rf"parameters) reaches {_versus(linear_vs, 'one', MIRRORS)} "
        rf"({macros['RSymLinearError']})."
    )
    wide = enc
    base = by.get("mirror", [])
    wide_name = ("--".join(str(w) for w in wide[0]["config"].get("encoder", [])) if wide
                 else "wide")
    macros["RSymWideSteps"] = _steps(wide, "steps_to_pca_loss")
    macros["RSymBaseSteps"] = _steps(base, "steps_to_pca_loss")
    macros["RSymWideError"] = R.pm(R.final(wide, "test_error"))
    wide_steps = R.final(wide, "steps_to_pca_loss")
    base_steps = R.final(base, "steps_to_pca_loss")
    if np.isfinite(wide_steps).all() and np.isfinite(base_steps).all() and wide and base:
        verdict = {"lower": "supported", "higher": "contradicted",
                   "similar": "not supported (the difference is within two standard errors)"}[
            compare(wide_steps, base_steps)]
    else:
        verdict = "not decided by these runs (some runs never reached the PCA loss)"
    macros["RSymWideVerdict"] = verdict
    macros["RFindWideEncoder"] = (
        rf"Post 000's claim that an encoder with half as many but twice as wide layers "
        rf"converges faster is {verdict} here: the encoder with hidden width {wide_name} needs "
        rf"{macros['RSymWideSteps']} steps to reach the PCA loss against "
        rf"{macros['RSymBaseSteps']} with widths {macros['RSymEncoder']}, with test error "
        rf"{macros['RSymWideError']} against {macros['RSymMirrorError']}."
    )
    macros["RAnswerSymmetry"] = (
        rf"In our deep autoencoders the lowest mean test error came from the "
        rf"{macros['RSymBest']} decoder, and the tied mirror, with a fraction of the parameters, "
        rf"reached {_versus(tied_vs, 'test error', UNTIED_MIRRORS)}."
    )
    return macros, {"symmetry": table}


TRAINED = ("mirror", "mirror x2", "tied", "linear")


def features(records: list[dict]) -> tuple[dict, dict]:
    """Linear-probe and k-NN accuracy of frozen codes next to reconstruction error."""
    rows, means = [], {}
    for (k, dec), recs in R.group(records, "code_dim", "decoder").items():
        rows.append([R.num(k) if k else "--", R.tex_escape(dec),
                     R.pm(R.final(recs, "test_error")) if dec != "pixels" else "--",
                     R.pm(R.final(recs, "probe_accuracy")),
                     R.pm(R.final(recs, "knn_accuracy")) if dec != "pixels" else "--"])
        means[(k, dec)] = {m: _mean(recs, m) for m in ("test_error", "probe_accuracy",
                                                       "knn_accuracy")}
    table = tabular(["$k$", "decoder", "test error", "linear probe", "5-NN"], rows, "rlrrr")
    macros: dict[str, str] = {}
    parts, verdicts = [], []
    for k in sorted({k for k, _ in means if k}):
        trained = [d for d in TRAINED if (k, d) in means]
        if not trained:
            continue
        for d in trained:
            recs = R.select(records, code_dim=k, decoder=d)
            macros[f"RFeat{camel(d)}K{camel(str(k))}Probe"] = R.pm(
                R.final(recs, "probe_accuracy"))
        best = max(trained, key=lambda d, k=k: means[(k, d)]["probe_accuracy"])
        lowest = min(trained, key=lambda d, k=k: means[(k, d)]["test_error"])
        parts.append(
            rf"at $k={k}$ the best probe accuracy comes from the {R.tex_escape(best)} decoder "
            rf"({R.num(means[(k, best)]['probe_accuracy'])}) and the lowest reconstruction "
            rf"error from the {R.tex_escape(lowest)} decoder "
            rf"({R.num(means[(k, lowest)]['test_error'])})"
        )
        verdicts.append((k, best == "linear", best == lowest))
    pixels = means.get((0, "pixels"), {}).get("probe_accuracy")
    macros["RFeatPixelsProbe"] = R.num(pixels)
    sentence = "; ".join(parts) if parts else "no trained decoders were run"
    pixels_text = rf"; a probe on the raw pixels reaches {macros['RFeatPixelsProbe']}."
    macros["RFindFeatures"] = sentence[:1].upper() + sentence[1:] + pixels_text
    words = {k: compare(R.final(R.select(records, code_dim=k, decoder="linear"),
                                "probe_accuracy"),
                        R.final(R.select(records, code_dim=k, decoder="mirror"),
                                "probe_accuracy"))
             for k, _, _ in verdicts}
    per_k = "; ".join(rf"at $k={k}$ {_versus(w, 'linear-probe accuracy', MIRRORS)}"
                      for k, w in words.items())
    if words and all(w == "higher" for w in words.values()):
        answer = "In our runs the weakest (linear) decoder gave better features: "
    elif words and all(w == "lower" for w in words.values()):
        answer = "In our runs the weakest (linear) decoder gave worse features, not better: "
    else:
        answer = "In our runs a weaker decoder gave no consistent advantage in features: "
    answer += (f"its codes reached {per_k}." if words else "no decoder was compared.")
    aligned = all(same for _, _, same in verdicts) if verdicts else False
    answer += (" The decoder with the lowest mean reconstruction error also gave the best mean "
               "probe accuracy." if aligned else
               " The lowest reconstruction error and the best probe accuracy did not always come "
               "from the same decoder.")
    macros["RAnswerFeatures"] = answer
    return macros, {"features": table}


CONV_LABELS = {"transposed_conv": "transposed conv", "upsample_conv": "upsample + conv",
               "tied": "tied (adjoint)"}


def conv(records: list[dict]) -> tuple[dict, dict]:
    """Reconstruction error and checkerboard shares per decoder and kernel size."""
    rows, means = [], {}
    for (dec, k), recs in R.group(records, "decoder", "kernel_size").items():
        rows.append([CONV_LABELS.get(dec, R.tex_escape(dec)), R.num(k),
                     R.num(_first(recs, "params")), R.pm(R.final(recs, "test_error")),
                     R.pm(R.final(recs, "checker_out_init_p2"), 2),
                     R.pm(R.final(recs, "checker_out_p2"), 2),
                     R.pm(R.final(recs, "checker_out_p4"), 2),
                     R.pm(R.final(recs, "checker_grad_p4"), 2)])
        means[(dec, k)] = {m: _mean(recs, m) for m in ("test_error", "checker_out_init_p2",
                                                       "checker_out_p2")}
    rows.append(["input images", "--", "--", "--", "--",
                 R.pm(R.final(records, "checker_input_p2"), 2),
                 R.pm(R.final(records, "checker_input_p4"), 2), "--"])
    table = tabular(["decoder", "kernel", "params", "test error", r"$c_2$ at init",
                     r"$c_2$ trained", r"$c_4$ trained", r"$c_4$ input gradient"], rows,
                    "lrrrrrrr")
    macros = {"RConvStride": R.num(records[0]["config"].get("stride")),
              "RConvInputCTwo": R.pm(R.final(records, "checker_input_p2"), 2)}
    for (dec, k), vals in means.items():
        name = f"RConv{camel(dec)}K{camel(str(k))}"
        macros[name + "InitCTwo"] = R.num(vals["checker_out_init_p2"], 2)
        macros[name + "CTwo"] = R.num(vals["checker_out_p2"], 2)
    best = min(means, key=lambda key: means[key]["test_error"])
    init_worst = max(means, key=lambda key: means[key]["checker_out_init_p2"])
    macros["RFindConv"] = (
        rf"The lowest test error comes from the {CONV_LABELS.get(best[0], best[0])} decoder "
        rf"with kernel {best[1]} ({R.num(means[best]['test_error'])}); at initialisation the "
        rf"largest period-2 share, {R.num(means[init_worst]['checker_out_init_p2'], 2)}, is "
        rf"painted by the {CONV_LABELS.get(init_worst[0], init_worst[0])} decoder with kernel "
        rf"{init_worst[1]}, against {macros['RConvInputCTwo']} in the images themselves."
    )
    up = [v["checker_out_init_p2"] for (d, _), v in means.items() if d == "upsample_conv"]
    tr = [v["checker_out_init_p2"] for (d, _), v in means.items() if d == "transposed_conv"]
    calmer = bool(up and tr and max(up) < min(tr))
    macros["RAnswerConv"] = (
        "In our runs upsampling followed by convolution painted less period-2 energy at "
        "initialisation than every transposed convolution." if calmer else
        "In our runs the period-2 energy did not separate upsampling + convolution from "
        "transposed convolutions cleanly; see Table~\\ref{tab:conv}."
    )
    return macros, {"conv": table}
