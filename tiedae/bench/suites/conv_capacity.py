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
"""

from __future__ import annotations

import time

from flax import nnx

from tiedae.bench.suite import Options, Suite, Summary, train_minibatches
from tiedae.bench.suite import seeds as seed_list
from tiedae.data.images import sample_image_crops
from tiedae.nonlinear.layers import count_params
from tiedae.nonlinear.sequential import Conv, ConvTranspose, Dense, Flatten, Reshape, SequentialAE
from tiedae.report.format import fmt_ci

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


def summarize(records: list[dict]) -> Summary:
    from tiedae.report import stats

    by = {}
    for r in records:
        by.setdefault(r["config"]["variant"], {})[r["config"]["seed"]] = r["final"]
    rows, findings = [], []
    for v in [v for v in VARIANTS if v in by]:
        f = list(by[v].values())
        rows.append([v, f[0]["encoder_params"], f[0]["decoder_params"],
                     fmt_ci([x["test_error"] for x in f]),
                     fmt_ci([x["train_error"] for x in f])])
        if v != "baseline" and "baseline" in by:
            seeds = sorted(set(by[v]) & set(by["baseline"]))
            if len(seeds) < 2:
                findings.append(f"{v}: not compared with the baseline (fewer than two seeds "
                                "run both).")
                continue
            p = stats.paired([by[v][s]["test_error"] for s in seeds],
                             [by["baseline"][s]["test_error"] for s in seeds])
            words = ("no measurable difference from" if p.verdict == "no measurable difference"
                     else f"{p.verdict} test error than")
            findings.append(f"{v}: {words} the baseline (paired difference {p.mean:+.3g}, "
                            f"95% interval [{p.lo:+.3g}, {p.hi:+.3g}], {p.n} seeds).")
    return Summary(
        title="conv-capacity: post 001's conv AE, decoder capacity (mean ± 95% t-interval)",
        columns=["variant", "encoder params", "decoder params", "test error", "train error"],
        rows=rows, findings=findings)


SUITE = Suite(
    name="conv-capacity",
    description="post 001's Keras conv AE on 48x48 colour crops: decoder x1/2, x2 parameters, "
                "+-1 layer, encoder/decoder reallocation at a fixed budget (paired over seeds)",
    configs=configs, run=run, summarize=summarize,
    # Compiling its models takes most of a quick run; `--suite conv-capacity` runs it.
    in_quick=False,
)
