r"""Numbers, sentences and tables of the deep and conv suites, from records.

Same contract as `tiedae.paper.tables`: each function maps a suite's records to
`(macros, tables)`. Comparative words in generated sentences ("lower", "faster", ...) are
computed from the numbers too, so the text cannot contradict the tables.
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.tables import camel, tabular

__all__ = ["compare", "conv"]


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
