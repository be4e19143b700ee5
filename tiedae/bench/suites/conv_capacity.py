r"""Suite `conv-capacity`: give a conv decoder more parameters or more layers? (post 001).

The post's Keras model (48 x 48 x 3 -> 64-d code; encoder Conv 32/64/128 (kernels 5/4/3,
stride 2, ReLU) + Dense 256 (tanh) + Dense 64; decoder Dense 256 (tanh) + Dense 4608 (ReLU) +
three stride-2 transposed convolutions 64/32/3 (kernels 3/4/5); 1,305,472 + 1,309,891
parameters, checked in tests/test_sequential.py) is the baseline, built with
`tiedae.nonlinear.sequential.SequentialAE`. Variants change the decoder only, or move
parameters between the sides:

* ``dec_x0.5`` / ``dec_x2``: every decoder width (256, 128, 64, 32 channels/units) scaled by
  one factor, chosen so the decoder has 1/2 or 2 times the baseline's parameters;
* ``dec_+1_layer``: one more stride-1 transposed convolution (32 channels, kernel 3) at 24 x 24;
  ``dec_-1_layer``: the decoder's Dense 256 removed (code -> Dense 4608 directly);
* ``enc1.5_dec0.5`` / ``enc0.5_dec1.5``: the baseline's total parameter budget split 1.5 : 0.5
  or 0.5 : 1.5 between encoder and decoder (widths of each side scaled; the baseline is 1 : 1).

Data: 48 x 48 colour crops of scikit-learn's two sample photographs
(`tiedae.data.images.sample_image_crops`, train/test from disjoint columns; the same crops for
every seed). Training: Adam (learning rate 1e-3), squared error summed over pixels, minibatches,
through `tiedae.fit`; a seed sets the initial weights and the minibatch order, so the seeds pair
the variants. Reported: test and training reconstruction error (per image), parameters of each
side, and the measured training seconds per step.

Scale: the post's exact widths are kept, so a step is costly on a CPU: the 4608 x 256 dense
layers and the transposed convolutions dominate, and every record keeps its own measured
`seconds_per_step` (`python -m tiedae.bench --list` shows the suite's total). The budget is
what shrinks: each full run has batch 16 and 120 steps on 1000 training crops, with the
training error (on a fixed 300 of them) and the test error evaluated every 40 steps; the
losses are still decreasing at the end (see the curves), so the comparison is at a fixed,
short training budget, not at convergence. The quick run (only with ``--suite
conv-capacity``: it is not in the quick default) trains the baseline and ``dec_x2`` at a
quarter of the widths on 16 x 16 crops for a few steps on 2 seeds, only to exercise the code.

`analyze(records)` gives the tables `conv_capacity` (per variant: parameters per side, decoder
layers, test and training error, mean ± 95% t-interval over seeds) and `conv_capacity_paired`
(variant minus baseline, paired over seeds, with the 95% interval, Holm's adjusted p-value over
the table and the verdict), one finding per variant, the paper's numbers and the figure
`conv_capacity`; every comparative word comes from `tiedae.report.stats.paired` and
`stats.holm`.

Example:
  >>> from tiedae.bench.suites import conv_capacity
  >>> conv_capacity.LABELS["dec_x2"]
  'decoder $\\times 2$ params'
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from flax import nnx

from tiedae.bench.suite import Options, Suite, train_minibatches
from tiedae.bench.suite import seeds as seed_list
from tiedae.data.images import sample_image_crops
from tiedae.nonlinear.layers import count_params
from tiedae.nonlinear.sequential import Conv, ConvTranspose, Dense, Flatten, Reshape, SequentialAE
from tiedae.report import Analysis, Cell, Figure, Table, cell, difference_cells, query, stats
from tiedae.report import format as F

SIZE, CODE = 48, 64
VARIANTS = ("baseline", "dec_x0.5", "dec_x2", "dec_+1_layer", "dec_-1_layer", "enc1.5_dec0.5",
            "enc0.5_dec1.5")
ENCODER_WIDTHS = (32, 64, 128, 256)  # conv channels, then the dense layer
DECODER_WIDTHS = (256, 128, 64, 32)  # dense layer, then channels of the 6x6, 12x12, 24x24 maps


def _w(width: int, scale: float) -> int:
    return max(1, round(width * scale))


def encoder_layers(scale: float = 1.0, size: int = SIZE) -> list:
    """The post's encoder with every width multiplied by `scale` (1: the post's)."""
    c1, c2, c3, hidden = (_w(v, scale) for v in ENCODER_WIDTHS)
    return [Conv(c1, 5, 2), Conv(c2, 4, 2), Conv(c3, 3, 2), Flatten(), Dense(hidden, "tanh"),
            Dense(CODE, "linear")]


def decoder_layers(scale: float = 1.0, extra_layer: bool = False, dense_hidden: bool = True,
                   size: int = SIZE) -> list:
    """The post's decoder, widths times `scale`, optionally one more stride-1 transposed
    convolution at size/2 x size/2 or without the hidden Dense 256."""
    hidden, c3, c2, c1 = (_w(v, scale) for v in DECODER_WIDTHS)
    m = size // 8
    layers = [Dense(hidden, "tanh")] if dense_hidden else []
    layers += [Dense(m * m * c3, "relu"), Reshape((m, m, c3)), ConvTranspose(c2, 3, 2),
               ConvTranspose(c1, 4, 2)]
    if extra_layer:
        layers.append(ConvTranspose(c1, 3, 1))
    return [*layers, ConvTranspose(3, 5, 2, activation="linear")]


def _side_params(side: str, scale: float, size: int = SIZE) -> int:
    """Parameters of one side at a width scale (weights + biases, counted from the widths)."""
    m2 = (size // 8) ** 2
    if side == "encoder":
        c1, c2, c3, h = (_w(v, scale) for v in ENCODER_WIDTHS)
        return (25 * 3 * c1 + c1 + 16 * c1 * c2 + c2 + 9 * c2 * c3 + c3 + m2 * c3 * h + h
                + h * CODE + CODE)
    h, c3, c2, c1 = (_w(v, scale) for v in DECODER_WIDTHS)
    return (CODE * h + h + h * m2 * c3 + m2 * c3 + 9 * c3 * c2 + c2 + 16 * c2 * c1 + c1
            + 25 * c1 * 3 + 3)


def scale_for(side: str, target: float, size: int = SIZE) -> float:
    """The width scale whose side has the parameter count closest to `target` (bisection on
    the scale, then the better of the two neighbours)."""
    lo, hi = 0.01, 8.0
    for _ in range(40):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if _side_params(side, mid, size) < target else (lo, mid)
    return min((lo, hi), key=lambda s: abs(_side_params(side, s, size) - target))


def architecture(variant: str, size: int = SIZE, width: float = 1.0) -> tuple[list, list]:
    """(encoder layers, decoder layers) of a variant (module docstring) for size x size crops,
    the baseline's widths times `width` (1: the post's model)."""
    enc, dec = _side_params("encoder", width, size), _side_params("decoder", width, size)
    if variant == "baseline":
        return encoder_layers(width, size), decoder_layers(width, size=size)
    if variant in ("dec_x0.5", "dec_x2"):
        factor = 0.5 if variant == "dec_x0.5" else 2.0
        return (encoder_layers(width, size),
                decoder_layers(scale_for("decoder", factor * dec, size), size=size))
    if variant == "dec_+1_layer":
        return encoder_layers(width, size), decoder_layers(width, extra_layer=True, size=size)
    if variant == "dec_-1_layer":
        return encoder_layers(width, size), decoder_layers(width, dense_hidden=False, size=size)
    if variant in ("enc1.5_dec0.5", "enc0.5_dec1.5"):
        enc_share = 0.75 if variant == "enc1.5_dec0.5" else 0.25
        return (encoder_layers(scale_for("encoder", enc_share * (enc + dec), size), size),
                decoder_layers(scale_for("decoder", (1 - enc_share) * (enc + dec), size),
                               size=size))
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")


def _layer_params(layer_list) -> int:
    return sum(count_params(layer) for layer in layer_list if layer is not None)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    if options.quick:
        base = {"n_train": 128, "n_test": 32, "n_train_eval": 32, "batch_size": 8, "steps": 10,
                "eval_every": 5, "size": 16, "width": 0.25}
        variants, seeds = ("baseline", "dec_x2"), seed_list(options, quick=2, full=2)
    else:
        base = {"n_train": 1000, "n_test": 300, "n_train_eval": 300, "batch_size": 16,
                "steps": 120, "eval_every": 40, "size": SIZE, "width": 1.0}
        variants, seeds = VARIANTS, seed_list(options, quick=5, full=5)
    base.update(learning_rate=1e-3, data_seed=0)
    return [{**base, "run_id": f"{tag}-{v}-s{seed}", "variant": v, "seed": seed}
            for seed in seeds for v in variants]


def run(config: dict) -> dict:
    crops = sample_image_crops(config["size"], config["n_train"], config["n_test"],
                               seed=config["data_seed"])
    X = crops.train.reshape(len(crops.train), -1)
    X_test = crops.test.reshape(len(crops.test), -1)
    size = config["size"]
    enc, dec = architecture(config["variant"], size, config["width"])
    model = SequentialAE((size, size, 3), enc, dec, rngs=nnx.Rngs(config["seed"]))
    enc_params = _layer_params(model.encoder_layers)
    start = time.perf_counter()
    model, hist = train_minibatches(model, X, X_test, config,
                                    X_train_eval=X[: config["n_train_eval"]])
    seconds = time.perf_counter() - start
    final = {"test_error": float(hist["test_loss"][-1]),
             "train_error": float(hist["train_loss"][-1]),
             "params": count_params(model), "encoder_params": enc_params,
             "decoder_params": count_params(model) - enc_params,
             "decoder_layers": sum(1 for layer in model.decoder_layers if layer is not None),
             "seconds_per_step": seconds / config["steps"]}
    return {"final": final,
            "trajectory": {"step": hist["step"], "loss": hist["train_loss"],
                           "eval_loss": hist["test_loss"]},
            "extra": {}}


# ---- analysis ----------------------------------------------------------------------------------

LABELS = {"baseline": "post 001's model", "dec_x0.5": r"decoder $\times 1/2$ params",
          "dec_x2": r"decoder $\times 2$ params", "dec_+1_layer": "decoder $+1$ layer",
          "dec_-1_layer": "decoder $-1$ layer", "enc1.5_dec0.5": "encoder : decoder 1.5 : 0.5",
          "enc0.5_dec1.5": "encoder : decoder 0.5 : 1.5"}
COLORS = {"baseline": "k", "dec_x0.5": "#1f77b4", "dec_x2": "#d62728", "dec_+1_layer": "#ff7f0e",
          "dec_-1_layer": "#2ca02c", "enc1.5_dec0.5": "#9467bd", "enc0.5_dec1.5": "#8c564b"}
MEASURES = (("test_error", "test error"), ("train_error", "training error"))


def _variants(records) -> dict[str, dict[int, dict]]:
    """{variant: {seed: record}}, in the order of `LABELS` (others after, sorted)."""
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["config"]["variant"], {})[r["config"]["seed"]] = r
    return {v: out[v] for v in (*LABELS, *sorted(set(out) - set(LABELS))) if v in out}


def _vs_baseline(variants, v: str, key: str) -> stats.Paired:
    """`key` of variant v minus the baseline's, paired over the seeds both ran."""
    return query.versus(variants[v].values(), variants["baseline"].values(), key)


def _label(v: str) -> Cell:
    return Cell(v, LABELS.get(v, F.tex_escape(v)))


def _count(n: float) -> Cell:
    return Cell(f"{int(n):,}", F.num(n))


def _ci(values) -> Cell:
    return Cell(F.fmt_ci(values), F.ci_tex(values))


def _row(v: str, per: dict) -> list:
    """A variant's row: parameters per side, decoder layers, test and training error."""
    first = {key: query.final(per.values(), key)[0]
             for key in ("encoder_params", "decoder_params", "decoder_layers")}
    return [_label(v), _count(first["encoder_params"]), _count(first["decoder_params"]),
            cell(first["decoder_layers"]),
            *[_ci(query.final(per.values(), key)) for key, _ in MEASURES]]


def _verdict(p: stats.Paired) -> str:
    return ("no measurable difference" if p.n < 2 or p.verdict == "no measurable difference"
            else f"{p.verdict} than the baseline")


def _finding(v: str, p: stats.Paired) -> str:
    if p.n < 2:
        return f"{v}: not compared with the baseline (fewer than two seeds run both)."
    words = ("no measurable difference from" if p.verdict == "no measurable difference"
             else f"{p.verdict} test error than")
    return (f"{v}: {words} the baseline (paired difference {p.mean:+.3g}, 95% interval "
            f"[{p.lo:+.3g}, {p.hi:+.3g}], Holm-adjusted {F.p_equals(p.p_adjusted)} over "
            f"{p.family} comparisons, {p.n} seeds).")


def _find_tex(variants, paired) -> str:
    """The paper's sentence: the baseline's test error, then every variant against it."""
    if not paired:
        return "The baseline and its variants were not run together."
    parts = [rf"{LABELS.get(v, v)} {F.ci_tex(query.final(variants[v].values(), 'test_error'))}: "
             + ("no measurable difference" if p.n < 2 or p.verdict == "no measurable difference"
                else f"{p.verdict}")
             + rf" (paired difference \ensuremath{{{p.mean:+.3g}}}, 95\% interval "
               rf"\ensuremath{{[{p.lo:+.3g}, {p.hi:+.3g}]}})"
             for (v, key), p in paired.items() if key == "test_error"]
    base = F.ci_tex(query.final(variants["baseline"].values(), "test_error"))
    return (rf"The baseline's test error is {base}"
            r" (squared error per image, mean $\pm$ 95\% interval over seeds); against it, "
            + "; ".join(parts) + ".")


def _answer(paired) -> str:
    if not paired:
        return "For post 001, the decoder variants were not run beside the baseline."
    verdicts = {v: p.verdict for (v, key), p in paired.items() if key == "test_error"}
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


def _figure(records) -> Callable:
    def draw():
        """Left: test error against the training step per variant (median and min-max band
        over seeds). Right: final test error (mean and 95% interval) against decoder
        parameters."""
        from tiedae.report import plots

        fig, axes = plots.new_figure(2, 1, width=6.8, height=2.4)
        left, right = axes[0]
        groups = query.group(records, "variant")
        for (v,), recs in sorted(groups.items(), key=lambda kv: list(LABELS).index(kv[0][0])
                                 if kv[0][0] in LABELS else 99):
            curves = [query.trajectory(r, "eval_loss") for r in recs]
            x = curves[0][0]
            plots.band(left, x, [c[1] for c in curves if c[0].shape == x.shape],
                       COLORS.get(v, "0.5"), LABELS.get(v, v))
            ci = stats.interval(query.final(recs, "test_error"))
            right.errorbar([float(np.mean(query.final(recs, "decoder_params")))], [ci.mean],
                           yerr=[[ci.mean - ci.lo if ci.n > 1 else 0.0],
                                 [ci.hi - ci.mean if ci.n > 1 else 0.0]],
                           fmt="o", color=COLORS.get(v, "0.5"), markersize=4, capsize=2)
        left.set(xlabel="training step", ylabel="test error (per image)", yscale="log")
        left.legend(frameon=False, fontsize=5)
        right.set(xlabel="decoder parameters", ylabel="final test error", xscale="log")
        fig.tight_layout()
        return fig
    return draw


def analyze(records: list[dict]) -> Analysis:
    """Tables `conv_capacity` (per variant: parameters per side, decoder layers, test and
    training error, mean ± 95% t-interval over seeds) and `conv_capacity_paired` (variant
    minus baseline, paired over seeds); a finding per variant; the paper's numbers
    (``\\RCapData``, ``\\RCapSeeds``, ``\\RCapSteps``, ``\\RCapBatch``, ``\\RCapEncParams``,
    ``\\RCapDecParams``, ``\\RCapStepSeconds``, ``\\RFindCapacity``, ``\\RAnswerCapacity``)
    and the figure `conv_capacity` (test error against the step; final test error against
    the decoder's parameters)."""
    variants = _variants(records)
    if not variants:
        return Analysis()
    paired = stats.holm({(v, key): _vs_baseline(variants, v, key) for v in variants
                         if v != "baseline" and "baseline" in variants for key, _ in MEASURES})
    table = Table(
        "conv-capacity: post 001's conv AE, decoder capacity (mean ± 95% t-interval)",
        ["variant", "encoder params", "decoder params", "decoder layers", "test error",
         "training error"],
        [_row(v, per) for v, per in variants.items()],
        name="conv_capacity", align="lrrrrr")
    paired_table = Table(
        "conv-capacity: variant minus baseline, paired over seeds (verdicts at Holm-adjusted "
        "p < 0.05 over the table)",
        [Cell("variant - baseline", "variant $-$ baseline"), "measure", "mean", "95% interval",
         "Holm p", "verdict"],
        [[_label(v), dict(MEASURES)[key], *difference_cells(p), _verdict(p)]
         for (v, key), p in paired.items()],
        name="conv_capacity_paired", align="llrrrl")
    cfg = records[0]["config"]
    base = variants.get("baseline", next(iter(variants.values())))
    size = cfg.get("size")
    numbers = {
        "RCapData": (rf"{cfg.get('n_train')} training and {cfg.get('n_test')} test "
                     rf"{size} $\times$ {size} colour crops"),
        "RCapSeeds": F.num(len({r["config"]["seed"] for r in records})),
        "RCapSteps": F.num(cfg.get("steps")), "RCapBatch": F.num(cfg.get("batch_size")),
        "RCapEncParams": F.num(query.final(base.values(), "encoder_params")[0]),
        "RCapDecParams": F.num(query.final(base.values(), "decoder_params")[0]),
        "RCapStepSeconds": F.num(np.median(query.final(base.values(), "seconds_per_step")), 2),
        "RFindCapacity": _find_tex(variants, paired), "RAnswerCapacity": _answer(paired)}
    findings = [_finding(v, p) for (v, key), p in paired.items() if key == "test_error"]
    figure = Figure("conv_capacity", "Test error against the training step per variant, and "
                    "the final test error against the decoder's parameters.", _figure(records))
    return Analysis(tables=[table, paired_table], findings=findings, numbers=numbers,
                    figures=[figure])


SUITE = Suite(
    name="conv-capacity",
    description="post 001's Keras conv AE on 48x48 colour crops: decoder x1/2, x2 parameters, "
                "+-1 layer, encoder/decoder reallocation at a fixed budget (paired over seeds)",
    configs=configs, run=run, analyze=analyze,
    # Compiling its models takes most of a quick run; `--suite conv-capacity` runs it.
    in_quick=False,
)
