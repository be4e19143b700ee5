r"""The `conv-decoders` suite in the paper: post 003's two CAEs and three ConvAE decoders.

* `conv(records)`: the tables `conv` (per model: parameters, test error and the checkerboard
  shares c_p, mean ± 95% t-interval over seeds, then the test images' own shares and the
  white-noise level (p^2 - 1)/(HW - 1)) and `conv_paired` (paired differences over seeds with
  their intervals and verdicts), and the macros

  - ``\RConvData``, ``\RConvSeeds``, ``\RConvSteps``, ``\RConvStride``: the setting;
  - ``\RConvNoiseCTwo``, ``\RConvNoiseCFour``, ``\RConvInputCTwo``: the reference levels;
  - ``\RFindConvPosts``: Keras vs MATLAB CAE, every comparative word from a paired test;
  - ``\RFindConv``: the ConvAE decoders (checkerboard at initialisation, after training, input
    gradients against the white-noise level);
  - ``\RAnswerConv``: the answer to post 003.

* `fig_checkerboard(records, out_dir)`: c_2 of the decoded images (at initialisation, trained)
  and c_4 of the input gradients per model, with the images' and white noise's levels.
* `fig_conv_images(records, out_dir)`: decoded test images at initialisation and after
  training (first seed) per model, beside the inputs.

Example:
  >>> from tiedae.paper.suites import conv_decoders
  >>> conv_decoders.label("upsample_conv-k3")
  'upsample + conv, k=3'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tiedae.bench.suites.conv_decoders import by_model, collapsed, compare
from tiedae.paper import results as R
from tiedae.paper.style import new_figure, save
from tiedae.paper.tables import tabular
from tiedae.report import stats
from tiedae.report.format import ci_tex

__all__ = ["conv", "fig_checkerboard", "fig_conv_images", "label"]

NAMES = {"keras_cae": "Keras CAE", "keras_cae_squared": "Keras CAE, squared loss",
         "matlab_cae": "MATLAB CAE", "transposed_conv": "transposed",
         "upsample_conv": "upsample + conv", "tied": "tied (adjoint)"}
COLORS = {"keras_cae": "#9467bd", "keras_cae_squared": "#c5b0d5", "matlab_cae": "#8c564b",
          "transposed_conv": "#d62728", "upsample_conv": "#1f77b4", "tied": "#2ca02c"}
SHORT = {"keras_cae": "Keras", "keras_cae_squared": "Keras,\nsq. loss", "matlab_cae": "MATLAB",
         "transposed_conv": "transp.", "upsample_conv": "upsample", "tied": "tied"}
CHECKERS = (("checker_out_init_p2", "$c_2$ init"), ("checker_out_p2", "$c_2$ trained"),
            ("checker_grad_p2", "$c_2$ grad."), ("checker_out_p4", "$c_4$ trained"),
            ("checker_grad_p4", "$c_4$ grad."))
DECODER_PAIRS = (("transposed_conv", "upsample_conv"), ("transposed_conv", "tied"),
                 ("upsample_conv", "tied"))


def label(model: str) -> str:
    """Display name of a model id ('keras_cae', 'tied-k3', ...)."""
    base, _, k = model.partition("-k")
    return f"{NAMES.get(base, base)}, k={k}" if k else NAMES.get(base, base)


def _models(records) -> dict[str, dict[int, dict]]:
    """{model: {seed: final}}, post 003's models first, then ConvAE by decoder and kernel."""
    out = by_model(records)

    def order(m):
        base, _, k = m.partition("-k")
        return (list(NAMES).index(base) if base in NAMES else 9, int(k) if k else 0)
    return {m: out[m] for m in sorted(out, key=order)}


def _vals(per_seed: dict, key: str) -> list:
    return [f.get(key) for f in per_seed.values()]


def _mean(values) -> float:
    return stats.interval(values).mean


def _diff_tex(p: stats.Paired) -> str:
    return (rf"\ensuremath{{{p.mean:+.2g}}}, 95\% interval "
            rf"\ensuremath{{[{p.lo:+.2g}, {p.hi:+.2g}]}}")


def _relation(p: stats.Paired, a: str, b: str, what: str) -> str:
    if p.n < 2:
        return rf"the {label(a)} and the {label(b)} were not compared (fewer than two seeds)"
    if p.verdict == "no measurable difference":
        return (rf"the {what} of the {label(a)} and the {label(b)} show no measurable difference"
                rf" (paired difference {_diff_tex(p)})")
    return (rf"the {label(a)}'s {what} is {p.verdict} than the {label(b)}'s (paired "
            rf"difference {_diff_tex(p)})")


def _noise(records, p: int) -> float:
    return float(records[0]["final"][f"checker_noise_p{p}"])


def _table(models, records) -> str:
    rows = [[label(m), R.num(_vals(per, "params")[0]), ci_tex(_vals(per, "test_error")),
             *[ci_tex(_vals(per, key)) for key, _ in CHECKERS]] for m, per in models.items()]
    inputs = {p: ci_tex(R.final(records, f"checker_input_p{p}")) for p in (2, 4)}
    rows.append(["test images", "--", "--", inputs[2], inputs[2], "--", inputs[4], "--"])
    rows.append([r"white noise $(p^2-1)/(HW-1)$", "--", "--", R.num(_noise(records, 2), 2), "--",
                 "--", R.num(_noise(records, 4), 2), "--"])
    return tabular(["model", "params", "test error", *[c for _, c in CHECKERS]], rows,
                   "lrrrrrrr")


def _pairs(models) -> list[tuple[str, str]]:
    pairs = [("keras_cae", "matlab_cae")]
    kernels = sorted({int(m.partition("-k")[2]) for m in models if "-k" in m})
    pairs += [(f"{a}-k{k}", f"{b}-k{k}") for k in kernels for a, b in DECODER_PAIRS]
    return [(a, b) for a, b in pairs if a in models and b in models]


def _paired_table(models) -> str:
    rows = []
    for a, b in _pairs(models):
        for key, what in (("test_error", "test error"), ("checker_out_init_p2", "$c_2$ init"),
                          ("checker_out_p2", "$c_2$ trained")):
            p = compare(models, a, b, key)
            verdict = ("no measurable difference" if p.verdict == "no measurable difference"
                       or p.n < 2 else f"{label(a)} {p.verdict}")
            rows.append([rf"{label(a)} $-$ {label(b)}", what, rf"\ensuremath{{{p.mean:+.2g}}}",
                         rf"\ensuremath{{[{p.lo:+.2g}, {p.hi:+.2g}]}}" if p.n >= 2 else "--",
                         verdict])
    return tabular(["difference", "measure", "mean", "95\\% interval", "verdict"], rows,
                   "llrrl")


def _collapsed_posts(models) -> list[str]:
    """Labels of post 003's two compared models whose training collapsed (`collapsed`)."""
    return [label(name) for name in ("keras_cae", "matlab_cae") if collapsed(models[name])]


def _squared_keras(models) -> str:
    """What the Keras CAE did when trained on the squared error instead of its blog's loss."""
    if "keras_cae_squared" not in models:
        return ""
    per = models["keras_cae_squared"]
    if collapsed(per):
        return (r" Trained on the squared error instead (same step size), the Keras CAE ended "
                rf"every one of its {len(per)} seeds at the same test error "
                rf"{R.num(_vals(per, 'test_error')[0], 4)}: its sigmoid output saturated at one "
                r"constant image, an optimisation failure of that loss and output layer, not an "
                r"architecture result.")
    return (r" Trained on the squared error instead, the Keras CAE reaches test error "
            rf"{ci_tex(_vals(per, 'test_error'))}.")


def _find_posts(models) -> str:
    if "keras_cae" not in models or "matlab_cae" not in models:
        return "Post 003's two models were not both run."
    k, m = models["keras_cae"], models["matlab_cae"]
    failed = _collapsed_posts(models)
    note = (" " + " and ".join(failed) + r" ended every seed at the same test error: training "
            r"collapsed to one constant output image, so this comparison measures that "
            r"failure, not the architecture." if failed else "")
    return (rf"Each post's recipe, trained as its post trains it (the Keras CAE on binary "
            rf"cross-entropy, {R.num(_vals(k, 'params')[0])} parameters; MATLAB's on the "
            rf"squared error, {R.num(_vals(m, 'params')[0])} parameters) and both measured on "
            rf"the squared error: test error {ci_tex(_vals(k, 'test_error'))} and "
            rf"{ci_tex(_vals(m, 'test_error'))}; "
            + _relation(compare(models, "keras_cae", "matlab_cae", "test_error"), "keras_cae",
                        "matlab_cae", "test error")
            + rf". Their trained outputs have $c_2$ {ci_tex(_vals(k, 'checker_out_p2'))} and "
            rf"{ci_tex(_vals(m, 'checker_out_p2'))}; at initialisation "
            rf"{ci_tex(_vals(k, 'checker_out_init_p2'))} and "
            rf"{ci_tex(_vals(m, 'checker_out_init_p2'))}." + note + _squared_keras(models))


def _decoder_means(models, key, decoder) -> list[float]:
    return [_mean(_vals(per, key)) for mod, per in models.items()
            if mod.partition("-k")[0] == decoder]


def _find_conv(models, records) -> str:
    noise2, noise4 = _noise(records, 2), _noise(records, 4)
    convae = [m for m in models if "-k" in m]
    if not convae:
        return "No ConvAE decoder was run."
    init = "; ".join(rf"{label(m)} {ci_tex(_vals(models[m], 'checker_out_init_p2'))}"
                     for m in convae)
    grad4 = [_mean(_vals(models[m], "checker_grad_p4")) for m in convae]
    near = [g for g in grad4 if 0.5 * noise4 <= g <= 2 * noise4]
    grad_text = (rf"The input gradients' $c_4$ lie between {R.num(min(grad4), 2)} and "
                 rf"{R.num(max(grad4), 2)}, against the white-noise level "
                 rf"{R.num(noise4, 2)}: "
                 + (rf"{len(near)} of {len(grad4)} are within a factor 2 of it, so they are no "
                    r"checkerboard evidence" if near else
                    r"none is within a factor 2 of it") + ".")
    pairs = [(a, b) for a, b in _pairs(models) if "-k" in a]
    verdicts = [(a, b, compare(models, a, b, "test_error")) for a, b in pairs]
    lower = [rf"{label(a)} below {label(b)}" if p.verdict == "lower" else
             rf"{label(b)} below {label(a)}" for a, b, p in verdicts
             if p.n >= 2 and p.verdict != "no measurable difference"]
    error_text = (r"Paired over seeds, test errors differ for " + "; ".join(lower) + r"; the "
                  rf"other {len(verdicts) - len(lower)} of {len(verdicts)} decoder pairs show "
                  r"no measurable difference (Table~\ref{tab:conv-paired})." if lower else
                  r"Paired over seeds, no decoder pair shows a measurable difference in test "
                  r"error (Table~\ref{tab:conv-paired}).")
    return (rf"At initialisation the period-2 share $c_2$ of the decoded images is {init} "
            rf"(white noise: {R.num(noise2, 2)}). " + grad_text + " " + error_text)


def _answer(models, records) -> str:
    up = _decoder_means(models, "checker_out_init_p2", "upsample_conv")
    others = (_decoder_means(models, "checker_out_init_p2", "transposed_conv")
              + _decoder_means(models, "checker_out_init_p2", "tied"))
    if up and others and max(up) < min(others):
        text = ("In our runs upsampling followed by convolution painted less period-2 energy at "
                "initialisation than every transposed convolution (own or tied kernels), as "
                r"Proposition~\ref{prop:upsample} predicts. ")
    elif up and others:
        text = ("In our runs the period-2 energy at initialisation did not separate upsampling + "
                r"convolution from transposed convolutions cleanly (Table~\ref{tab:conv}). ")
    else:
        text = ""
    if "keras_cae" in models and "matlab_cae" in models:
        p = compare(models, "keras_cae", "matlab_cae", "test_error")
        failed = _collapsed_posts(models)
        text += ("Post 003's asymmetric Keras CAE (upsampling, trained on its blog's binary "
                 "cross-entropy) and symmetric MATLAB CAE (transposed convolutions, squared "
                 "error) "
                 + ("were run on fewer than two seeds, so not compared" if p.n < 2 else
                    "cannot be compared here: the " + " and ".join(failed) + "'s training "
                    "collapsed to a constant output in every seed" if failed else
                    "showed no measurable difference in squared test error"
                    if p.verdict == "no measurable difference" else
                    f"differ: the Keras CAE's squared test error is {p.verdict}")
                 + r" (Table~\ref{tab:conv-paired}); this compares the two recipes, "
                 "architecture and loss together."
                 + (" On the squared error the Keras CAE collapsed to a constant image in "
                    "every seed, so the loss is part of its recipe."
                    if "keras_cae_squared" in models and collapsed(models["keras_cae_squared"])
                    else ""))
    return text.strip() or "No convolutional decoder was run."


def conv(records: list[dict]) -> tuple[dict, dict]:
    """Tables `conv` and `conv_paired` and the macros of the module docstring."""
    models = _models(records)
    cfg = records[0]["config"]
    shape = records[0].get("extra", {}).get("image_shape") or [None, None]
    data = (rf"MNIST ({cfg.get('n_train')} training, {cfg.get('n_test')} test images, "
            rf"{shape[0]} $\times$ {shape[1]})" if cfg.get("data") else
            rf"the 8 $\times$ 8 digits ({cfg.get('n_train')} training, {cfg.get('n_test')} test)")
    macros = {"RConvData": data,
              "RConvSeeds": R.num(len({r["config"]["seed"] for r in records})),
              "RConvSteps": R.num(cfg.get("steps")), "RConvStride": R.num(cfg.get("stride")),
              "RConvNoiseCTwo": R.num(_noise(records, 2), 2),
              "RConvNoiseCFour": R.num(_noise(records, 4), 2),
              "RConvInputCTwo": ci_tex(R.final(records, "checker_input_p2")),
              "RFindConvPosts": _find_posts(models), "RFindConv": _find_conv(models, records),
              "RAnswerConv": _answer(models, records)}
    return macros, {"conv": _table(models, records), "conv_paired": _paired_table(models)}


def fig_checkerboard(records: list[dict], out_dir: Path) -> Path:
    """Left: c_2 of the decoded images at initialisation (hatched) and trained; right: c_4 of
    the input gradients; per model, mean and 95% interval over seeds; dotted: white noise,
    dashed: the test images."""
    models = _models(records)
    names = list(models)
    fig, axes = new_figure(2, 1, width=6.8, height=2.6)
    x = np.arange(len(names))
    panels = ((("checker_out_init_p2", "at init"), ("checker_out_p2", "trained")),
              (("checker_grad_p4", "input gradient"),))
    for ax, bars, p in zip(axes[0], panels, (2, 4), strict=True):
        width = 0.8 / len(bars)
        handles, tops = [], []
        for j, (key, what) in enumerate(bars):
            cis = [stats.interval(_vals(models[m], key)) for m in names]
            heights = np.array([c.mean for c in cis])
            err = np.array([max(c.hi - c.mean, 0.0) if c.n > 1 else 0.0 for c in cis])
            colors = [COLORS.get(m.partition("-k")[0], "0.5") for m in names]
            hatch = "////" if len(bars) > 1 and j == 0 else None
            ax.bar(x + (j - (len(bars) - 1) / 2) * width, heights, width * 0.95, yerr=err,
                   color=colors, edgecolor="k", linewidth=0.3, error_kw={"linewidth": 0.6},
                   hatch=hatch)
            handles.append(Patch(facecolor="white" if hatch else "0.6", edgecolor="k",
                                 linewidth=0.3, hatch=hatch, label=what))
            tops += [*(heights + err), *heights]
        levels = (_noise(records, p), _mean(R.final(records, f"checker_input_p{p}")))
        for level, style, what in zip(levels, (":", "--"), ("white noise", "test images"),
                                      strict=True):
            ax.axhline(level, color="k", linestyle=style, linewidth=0.9)
            handles.append(Line2D([], [], color="k", linestyle=style, linewidth=0.9, label=what))
        values = [v for v in (*tops, *levels) if v > 0]
        if values and max(values) / min(values) > 20:
            ax.set_yscale("log")
            ax.set_ylabel(f"share $c_{p}$ (log scale)")
        else:
            ax.set_ylim(0, 1.15 * max(values, default=1.0))
            ax.set_ylabel(f"share $c_{p}$")
        ax.set_xticks(x)
        ax.set_xticklabels([label(m) for m in names], rotation=60, ha="right", fontsize=6)
        ax.set_title("decoded images: $c_2$" if p == 2 else "input gradients: $c_4$",
                     fontsize=7)
        ax.legend(handles=handles, frameon=False, fontsize=5, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return save(fig, out_dir, "checkerboard")


def fig_conv_images(records: list[dict], out_dir: Path) -> Path:
    """One test image decoded by each model at initialisation (top row, the pattern the
    architecture paints) and after training (bottom), first seed, beside the input."""
    shown = {}
    for r in records:
        extra = r.get("extra") or {}
        if "images_init" in extra:
            shown.setdefault(r["config"]["model"], extra)
    names = [m for m in _models(records) if m in shown]
    width = 6.8
    fig, axes = new_figure(len(names) + 1, 2, width=width,
                           height=width / (len(names) + 1) + 0.3)  # per row
    if names:
        first = shown[names[0]]
        axes[0, 0].imshow(np.asarray(first["images_input"][0]), cmap="gray")
        axes[1, 0].imshow(np.asarray(first["images_input"][0]), cmap="gray")
        axes[0, 0].set_title("input", fontsize=6)
    for col, m in enumerate(names, start=1):
        for row, key in ((0, "images_init"), (1, "images_trained")):
            img = np.asarray(shown[m][key][0])
            axes[row, col].imshow(img, cmap="gray")
        base, _, k = m.partition("-k")
        axes[0, col].set_title(SHORT.get(base, base) + (f"\nk={k}" if k else ""), fontsize=5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("at init", fontsize=6)
    axes[1, 0].set_ylabel("trained", fontsize=6)
    return save(fig, out_dir, "conv_images")
