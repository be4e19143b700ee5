r"""Suite `conv-decoders`: post 003's Keras vs MATLAB CAE, and three ConvAE decoders.

Post 003's two convolutional autoencoders, built as the posts build them with
`tiedae.nonlinear.sequential.SequentialAE`:

* ``keras_cae`` (the Keras blog): Conv 16/8/8 (3 x 3, ReLU) each followed by 2 x 2
  max-pooling; decoder Conv 8 + UpSample, Conv 8 + UpSample, *unpadded* Conv 16 + UpSample,
  Conv 1 (sigmoid) — 28 -> 4 x 4 x 8 -> 28;
* ``matlab_cae`` (MATLAB's image-to-image example): Conv 8/16/32 (3 x 3, ReLU) + max-pooling;
  decoder three 2 x 2 stride-2 transposed convolutions 32/16/8 (ReLU), a 1 x 1 convolution and
  a clipped ReLU. Its three poolings need a side divisible by 8: 28 x 28 images are zero-padded
  to 32 x 32 (centred) first and the output cropped back to 28 x 28 (`Pad`, `Crop`).

On the 8 x 8 digits (no ``--data``) the Keras net is run on the digits zero-padded to 28 x 28
and cropped back; the MATLAB net needs no padding (8 -> 1 x 1 x 32).

Beside them, `tiedae.ConvAE` (two stride-2 convolutions) with each decoder — "transposed_conv",
"upsample_conv" (nearest upsampling + stride-1 conv) and "tied" (the encoder's exact adjoint) —
for kernel sizes 2, 4 (the stride divides them) and 3 (it does not).

Every model is trained with Adam (learning rate 3e-3), minibatches of 32 and 200 steps (full
run; 2000 MNIST training and 500 test images with ``--data``) through `tiedae.fit`, on the
squared error summed over the pixels, except the Keras CAE: its blog trains it on binary
cross-entropy (`tiedae.training.binary_cross_entropy`), and on squared error its sigmoid output
saturates at a constant image in every seed (``keras_cae_squared`` keeps that run as evidence;
`collapsed` detects it). ``keras_cae`` vs ``matlab_cae`` therefore compares the two posts'
recipes, architecture and loss together. Every model is evaluated on the squared error. A seed
sets the initial weights and the minibatch order (the data split is fixed), so the seeds pair
the models.

Checkerboard measure c_p (`tiedae.nonlinear.conv.checkerboard_energy`, p = 2 and 4) of the
decoded test images at initialisation and after training, of the input gradients
d||f(x) - x||^2/dx through the trained model, and of the test images themselves; the white-noise
level (p^2 - 1)/(HW - 1) (`checkerboard_noise_level`) is the share of a pattern-free random
image. A few decoded images at initialisation and reconstructions are kept (first seed) for the
paper's figures.

`analyze(records)` gives the tables `conv` (per model: parameters, test error and the shares
c_p, mean ± 95% t-interval over seeds, then the test images' and white noise's levels) and
`conv_paired` (paired differences over seeds with their intervals and verdicts), the findings,
the paper's numbers and the figures `checkerboard` and `conv_images`; every comparative word
comes from one `tiedae.report.stats.paired` per pair and measure.

Example:
  >>> from tiedae.bench.suites import conv_decoders
  >>> conv_decoders.label("upsample_conv-k3")
  'upsample + conv, k=3'
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from tiedae import ConvAE
from tiedae.bench.datasets import image_config, load_images
from tiedae.bench.suite import Options, Suite, train_minibatches
from tiedae.bench.suite import seeds as seed_list
from tiedae.nonlinear.conv import (
    CONV_DECODERS,
    checkerboard_energy,
    checkerboard_noise_level,
    input_gradient,
)
from tiedae.nonlinear.layers import count_params
from tiedae.nonlinear.sequential import (
    Conv,
    ConvTranspose,
    Crop,
    MaxPool,
    Pad,
    SequentialAE,
    UpSample,
)
from tiedae.report import Analysis, Cell, Figure, Table, cell, difference_cells, query, stats
from tiedae.report import format as F
from tiedae.training import binary_cross_entropy, reconstruction_error

POST_MODELS = ("keras_cae", "keras_cae_squared", "matlab_cae")
# The loss each post model trains on (the others: the squared error), and the losses by name.
POST_LOSSES = {"keras_cae": "binary_cross_entropy"}
LOSSES = {"binary_cross_entropy": binary_cross_entropy, "squared_error": reconstruction_error}
N_IMAGES = 4  # decoded images kept for the figures

_outputs = nnx.jit(lambda model, x: (model(x), input_gradient(model, x)))


def post_003_model(name: str, shape: tuple, rngs: nnx.Rngs) -> SequentialAE:
    """Post 003's Keras or MATLAB CAE on images of `shape` (padded and cropped as needed);
    ``keras_cae_squared`` is the Keras net too (it differs in its loss only)."""
    h, w, c = shape
    if name in ("keras_cae", "keras_cae_squared"):
        pad, crop = ([Pad(28, 28)], [Crop(h, w)]) if (h, w) != (28, 28) else ([], [])
        enc = [*pad, Conv(16, 3), MaxPool(2), Conv(8, 3), MaxPool(2), Conv(8, 3), MaxPool(2)]
        dec = [Conv(8, 3), UpSample(2), Conv(8, 3), UpSample(2), Conv(16, 3, padding="valid"),
               UpSample(2), Conv(c, 3, activation="sigmoid"), *crop]
    elif name == "matlab_cae":
        ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
        pad, crop = ([Pad(ph, pw)], [Crop(h, w)]) if (ph, pw) != (h, w) else ([], [])
        enc = [*pad, Conv(8, 3), MaxPool(2), Conv(16, 3), MaxPool(2), Conv(32, 3), MaxPool(2)]
        dec = [ConvTranspose(32, 2, 2), ConvTranspose(16, 2, 2), ConvTranspose(8, 2, 2),
               Conv(c, 1, activation="clipped_relu"), *crop]
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {POST_MODELS}")
    return SequentialAE(shape, enc, dec, rngs=rngs)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**image_config(options), "stride": 2, "batch_size": 32, "learning_rate": 3e-3,
            "channels": [8, 4] if options.quick else [16, 4],
            "steps": 60 if options.quick else 200, "eval_every": 30 if options.quick else 50,
            "n_measure": 200 if options.quick else 500, "first_seed": options.seed}
    if options.mnist:  # a few thousand images: the runs are step-bound, not data-bound
        base.update(n_train=1000 if options.quick else 2000, n_test=500)
    if options.quick:  # a smoke test of every measurement: small splits, the posts' decoders
        base.update(n_train=256, n_test=128, n_measure=128)
    # quick: the posts' two recipes only (MATLAB's decoder is a transposed convolution,
    # Keras's an upsampling + convolution); full: also ConvAE's decoders for kernels 2, 3, 4
    posts = ("keras_cae", "matlab_cae") if options.quick else POST_MODELS
    models = [(m, None, None) for m in posts]
    if not options.quick:
        models += [(f"{dec}-k{k}", dec, k) for dec in CONV_DECODERS for k in (2, 3, 4)]
    return [{**base, "run_id": f"{tag}-{model}-s{seed}", "model": model, "decoder": dec,
             "kernel_size": k, "seed": seed, "loss": POST_LOSSES.get(model, "squared_error")}
            for seed in seed_list(options, quick=2, full=5) for model, dec, k in models]


def _images(x, shape):
    return np.asarray(x, np.float64).reshape(len(x), *shape)


def _checker(images, prefix):
    return {f"{prefix}_p{p}": float(np.mean(checkerboard_energy(images, p))) for p in (2, 4)}


def _keep(images) -> list:
    return np.round(np.asarray(images[:N_IMAGES, :, :, 0], np.float64), 3).tolist()


def run(config: dict) -> dict:
    X, _, X_test, _, shape = load_images(config)
    rngs = nnx.Rngs(config["seed"])
    if config["decoder"] is None:
        model = post_003_model(config["model"], shape, rngs)
    else:
        model = ConvAE(shape, tuple(config["channels"]), kernel_size=config["kernel_size"],
                       stride=config["stride"], decoder=config["decoder"], rngs=rngs)
    probe = X_test[: config["n_measure"]]
    init_out = _images(_outputs(model, probe)[0], shape)
    final = {"params": count_params(model), **_checker(_images(probe, shape), "checker_input"),
             **_checker(init_out, "checker_out_init"),
             **{f"checker_noise_p{p}": checkerboard_noise_level(shape[0], shape[1], p)
                for p in (2, 4)}}
    model, hist = train_minibatches(model, X, X_test, config, loss_fn=LOSSES[config["loss"]])
    final["test_error"] = float(hist["test_loss"][-1])
    final["train_error"] = float(hist["train_loss"][-1])
    out, grad = _outputs(model, probe)
    out = _images(out, shape)
    final.update(_checker(out, "checker_out"))
    final.update(_checker(_images(grad, shape), "checker_grad"))
    extra = {"image_shape": list(shape)}
    if config["seed"] == config["first_seed"]:
        extra.update(images_input=_keep(_images(probe, shape)), images_init=_keep(init_out),
                     images_trained=_keep(out))
    return {"final": final,
            "trajectory": {"step": hist["step"], "loss": hist["train_loss"],
                           "eval_loss": hist["test_loss"]},
            "extra": extra}


# ---- analysis ----------------------------------------------------------------------------------

NAMES = {"keras_cae": "Keras CAE", "keras_cae_squared": "Keras CAE, squared loss",
         "matlab_cae": "MATLAB CAE", "transposed_conv": "transposed",
         "upsample_conv": "upsample + conv", "tied": "tied (adjoint)"}
COLORS = {"keras_cae": "#9467bd", "keras_cae_squared": "#c5b0d5", "matlab_cae": "#8c564b",
          "transposed_conv": "#d62728", "upsample_conv": "#1f77b4", "tied": "#2ca02c"}
SHORT = {"keras_cae": "Keras", "keras_cae_squared": "Keras,\nsq. loss", "matlab_cae": "MATLAB",
         "transposed_conv": "transp.", "upsample_conv": "upsample", "tied": "tied"}
# final key, (text, LaTeX) column header
CHECKERS = (("checker_out_init_p2", ("c_2 init", "$c_2$ init")),
            ("checker_out_p2", ("c_2 trained", "$c_2$ trained")),
            ("checker_grad_p2", ("c_2 grad.", "$c_2$ grad.")),
            ("checker_out_p4", ("c_4 trained", "$c_4$ trained")),
            ("checker_grad_p4", ("c_4 grad.", "$c_4$ grad.")))
DECODER_PAIRS = (("transposed_conv", "upsample_conv"), ("transposed_conv", "tied"),
                 ("upsample_conv", "tied"))
# the paired measures: final key, (text, LaTeX) name; the findings state the first and last
MEASURES = (("test_error", ("test error", "test error")),
            ("checker_out_init_p2", ("c_2 init", "$c_2$ init")),
            ("checker_out_p2", ("trained c_2", "$c_2$ trained")))


def by_model(records) -> dict[str, dict[int, dict]]:
    """{model: {seed: record}} in first-seen order."""
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["config"]["model"], {})[r["config"]["seed"]] = r
    return out


def compare(by: dict, a: str, b: str, key: str) -> stats.Paired:
    """Paired comparison of `key` between models a and b over their common seeds."""
    return query.versus(by[a].values(), by[b].values(), key)


def collapsed(errors) -> bool:
    """Whether a model's trained test errors (one per seed) are all the same (>= 2 seeds,
    relative 1e-6): training ended at one seed-independent output, e.g. a saturated sigmoid
    decoding every code to the same constant image, so comparisons measure that failure."""
    errors = np.asarray(errors, dtype=float)
    return errors.size >= 2 and bool(np.ptp(errors) <= 1e-6 * np.abs(errors).max())


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


def _vals(per_seed: dict, key: str) -> np.ndarray:
    return query.final(per_seed.values(), key)


def _collapsed(per_seed: dict) -> bool:
    return collapsed(_vals(per_seed, "test_error"))


def _mean(values) -> float:
    return stats.interval(values).mean


def _noise(records, p: int) -> float:
    return float(records[0]["final"][f"checker_noise_p{p}"])


def _pairs(models) -> list[tuple[str, str]]:
    pairs = [("keras_cae", "matlab_cae")]
    kernels = sorted({int(m.partition("-k")[2]) for m in models if "-k" in m})
    pairs += [(f"{a}-k{k}", f"{b}-k{k}") for k in kernels for a, b in DECODER_PAIRS]
    return [(a, b) for a, b in pairs if a in models and b in models]


def _ci(values, digits: int = 3) -> Cell:
    """Mean ± 95% half-width (n) as text, `F.ci_tex` as LaTeX; the value alone when every
    seed gives it (e.g. a measure of the fixed test images)."""
    iv = stats.interval(values)
    same = iv.n > 1 and iv.hi - iv.mean <= 1e-9 * abs(iv.mean)
    return Cell(F.fmt(iv.mean, digits) if same else F.fmt_ci(values, digits), F.ci_tex(values))


def _table(models, records) -> Table:
    rows = [[label(m), Cell(f"{int(_vals(per, 'params')[0]):,}", F.num(_vals(per, "params")[0])),
             _ci(_vals(per, "test_error")),
             *[_ci(_vals(per, key), 2) for key, _ in CHECKERS]] for m, per in models.items()]
    dash = Cell("-", "--")
    inputs = {p: _ci(query.final(records, f"checker_input_p{p}"), 2) for p in (2, 4)}
    noise = {p: cell(_noise(records, p), 2) for p in (2, 4)}
    rows.append(["test images", dash, dash, inputs[2], inputs[2], dash, inputs[4], dash])
    rows.append([Cell("white noise (p^2-1)/(HW-1)", r"white noise $(p^2-1)/(HW-1)$"), dash,
                 dash, noise[2], dash, dash, noise[4], dash])
    return Table("conv-decoders: reconstruction and checkerboard shares c_p (mean ± 95% "
                 "t-interval)", ["model", "params", "test error",
                                 *[Cell(*head) for _, head in CHECKERS]],
                 rows, name="conv", align="lrrrrrrr")


def _paired_table(paired) -> Table:
    rows = []
    for (a, b, key), p in paired.items():
        verdict = ("no measurable difference" if p.verdict == "no measurable difference"
                   or p.n < 2 else f"{label(a)} {p.verdict}")
        rows.append([Cell(f"{label(a)} - {label(b)}", rf"{label(a)} $-$ {label(b)}"),
                     Cell(*dict(MEASURES)[key]), *difference_cells(p), verdict])
    return Table("conv-decoders: paired differences over seeds (verdicts at Holm-adjusted "
                 "p < 0.05 over the table)",
                 ["difference", "measure", "mean", "95% interval", "Holm p", "verdict"], rows,
                 name="conv_paired", align="llrrrl")


def _findings(models, paired) -> list[str]:
    out = [f"{model}: test error {_vals(per, 'test_error')[0]:.6g} in all {len(per)} seeds - "
           "training collapsed to one seed-independent output (a constant image), so its runs "
           "measure that failure, not the architecture."
           for model, per in models.items() if _collapsed(per)]
    for (a, b, key), p in paired.items():
        if key == "checker_out_init_p2":
            continue
        verdict = p.verdict if p.verdict == "no measurable difference" else f"{a} {p.verdict}"
        out.append(f"{dict(MEASURES)[key][0]}, {a} - {b}: {p.mean:+.3g} [{p.lo:+.3g}, "
                   f"{p.hi:+.3g}] ({p.n} seeds, Holm-adjusted {F.p_equals(p.p_adjusted)}): "
                   f"{verdict}.")
    return out


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


def _collapsed_posts(models) -> list[str]:
    """Labels of post 003's two compared models whose training collapsed (`collapsed`)."""
    return [label(name) for name in ("keras_cae", "matlab_cae") if _collapsed(models[name])]


def _squared_keras(models) -> str:
    """What the Keras CAE did when trained on the squared error instead of its blog's loss."""
    if "keras_cae_squared" not in models:
        return ""
    per = models["keras_cae_squared"]
    if _collapsed(per):
        return (r" Trained on the squared error instead (same step size), the Keras CAE ended "
                rf"every one of its {len(per)} seeds at the same test error "
                rf"{F.num(_vals(per, 'test_error')[0], 4)}: its sigmoid output saturated at one "
                r"constant image, an optimisation failure of that loss and output layer, not an "
                r"architecture result.")
    return (r" Trained on the squared error instead, the Keras CAE reaches test error "
            rf"{F.ci_tex(_vals(per, 'test_error'))}.")


def _find_posts(models, paired) -> str:
    if "keras_cae" not in models or "matlab_cae" not in models:
        return "Post 003's two models were not both run."
    k, m = models["keras_cae"], models["matlab_cae"]
    failed = _collapsed_posts(models)
    note = (" " + " and ".join(failed) + r" ended every seed at the same test error: training "
            r"collapsed to one constant output image, so this comparison measures that "
            r"failure, not the architecture." if failed else "")
    ci = F.ci_tex
    return (rf"Each post's recipe, trained as its post trains it (the Keras CAE on binary "
            rf"cross-entropy, {F.num(_vals(k, 'params')[0])} parameters; MATLAB's on the "
            rf"squared error, {F.num(_vals(m, 'params')[0])} parameters) and both measured on "
            rf"the squared error: test error {ci(_vals(k, 'test_error'))} and "
            rf"{ci(_vals(m, 'test_error'))}; "
            + _relation(paired["keras_cae", "matlab_cae", "test_error"], "keras_cae",
                        "matlab_cae", "test error")
            + rf". Their trained outputs have $c_2$ {ci(_vals(k, 'checker_out_p2'))} and "
            rf"{ci(_vals(m, 'checker_out_p2'))}; at initialisation "
            rf"{ci(_vals(k, 'checker_out_init_p2'))} and "
            rf"{ci(_vals(m, 'checker_out_init_p2'))}." + note + _squared_keras(models))


def _find_conv(models, records, paired) -> str:
    noise2, noise4 = _noise(records, 2), _noise(records, 4)
    convae = [m for m in models if "-k" in m]
    if not convae:
        return "No ConvAE decoder was run."
    init = "; ".join(rf"{label(m)} {F.ci_tex(_vals(models[m], 'checker_out_init_p2'))}"
                     for m in convae)
    grad4 = [_mean(_vals(models[m], "checker_grad_p4")) for m in convae]
    near = [g for g in grad4 if 0.5 * noise4 <= g <= 2 * noise4]
    grad_text = (rf"The input gradients' $c_4$ lie between {F.num(min(grad4), 2)} and "
                 rf"{F.num(max(grad4), 2)}, against the white-noise level "
                 rf"{F.num(noise4, 2)}: "
                 + (rf"{len(near)} of {len(grad4)} are within a factor 2 of it, so they are no "
                    r"checkerboard evidence" if near else
                    r"none is within a factor 2 of it") + ".")
    verdicts = [(a, b, p) for (a, b, key), p in paired.items()
                if key == "test_error" and "-k" in a]
    lower = [rf"{label(a)} below {label(b)}" if p.verdict == "lower" else
             rf"{label(b)} below {label(a)}" for a, b, p in verdicts
             if p.n >= 2 and p.verdict != "no measurable difference"]
    error_text = (r"Paired over seeds, test errors differ for " + "; ".join(lower) + r"; the "
                  rf"other {len(verdicts) - len(lower)} of {len(verdicts)} decoder pairs show "
                  r"no measurable difference (Table~\ref{tab:conv-paired})." if lower else
                  r"Paired over seeds, no decoder pair shows a measurable difference in test "
                  r"error (Table~\ref{tab:conv-paired}).")
    return (rf"At initialisation the period-2 share $c_2$ of the decoded images is {init} "
            rf"(white noise: {F.num(noise2, 2)}). " + grad_text + " " + error_text)


def _answer(models, paired) -> str:
    def init_means(decoder):
        return [_mean(_vals(per, "checker_out_init_p2")) for mod, per in models.items()
                if mod.partition("-k")[0] == decoder]

    up, others = init_means("upsample_conv"), init_means("transposed_conv") + init_means("tied")
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
        p = paired["keras_cae", "matlab_cae", "test_error"]
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
                    if "keras_cae_squared" in models and _collapsed(models["keras_cae_squared"])
                    else ""))
    return text.strip() or "No convolutional decoder was run."


def _numbers(models, records, paired) -> dict[str, str]:
    cfg = records[0]["config"]
    shape = records[0].get("extra", {}).get("image_shape") or [None, None]
    data = (rf"MNIST ({cfg.get('n_train')} training, {cfg.get('n_test')} test images, "
            rf"{shape[0]} $\times$ {shape[1]})" if cfg.get("data") else
            rf"the 8 $\times$ 8 digits ({cfg.get('n_train')} training, {cfg.get('n_test')} test)")
    return {"RConvData": data,
            "RConvSeeds": F.num(len({r["config"]["seed"] for r in records})),
            "RConvSteps": F.num(cfg.get("steps")), "RConvStride": F.num(cfg.get("stride")),
            "RConvNoiseCTwo": F.num(_noise(records, 2), 2),
            "RConvNoiseCFour": F.num(_noise(records, 4), 2),
            "RConvInputCTwo": F.ci_tex(query.final(records, "checker_input_p2")),
            "RFindConvPosts": _find_posts(models, paired),
            "RFindConv": _find_conv(models, records, paired),
            "RAnswerConv": _answer(models, paired)}


def analyze(records: list[dict]) -> Analysis:
    """Tables `conv` (per model: parameters, test error and the checkerboard shares c_p, mean
    ± 95% t-interval over seeds, then the test images' own shares and the white-noise level)
    and `conv_paired` (paired differences over seeds: Keras vs MATLAB CAE, and ConvAE's
    decoders per kernel size); the findings (collapsed trainings, then each pair's test error
    and trained c_2); the paper's numbers (``\\RConvData``, ``\\RConvSeeds``, ``\\RConvSteps``,
    ``\\RConvStride``, ``\\RConvNoiseCTwo``, ``\\RConvNoiseCFour``, ``\\RConvInputCTwo``,
    ``\\RFindConvPosts``, ``\\RFindConv``, ``\\RAnswerConv``) and the figures `checkerboard`
    and `conv_images`."""
    models = _models(records)
    if not models:
        return Analysis()
    paired = stats.holm({(a, b, key): compare(models, a, b, key) for a, b in _pairs(models)
                         for key, _ in MEASURES})
    figures = [Figure("checkerboard", "Checkerboard share c_2 of the decoded images (at "
                      "initialisation and trained) and c_4 of the input gradients per model, "
                      "against the test images' and white noise's levels.",
                      lambda: _fig_checkerboard(models, records)),
               Figure("conv_images", "A test image decoded by each model at initialisation "
                      "and after training (first seed), beside the input.",
                      lambda: _fig_conv_images(models, records))]
    return Analysis(tables=[_table(models, records), _paired_table(paired)],
                    findings=_findings(models, paired),
                    numbers=_numbers(models, records, paired), figures=figures)


def _fig_checkerboard(models, records):
    """Left: c_2 of the decoded images at initialisation (hatched) and trained; right: c_4 of
    the input gradients; per model, mean and 95% interval over seeds; dotted: white noise,
    dashed: the test images."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from tiedae.report.plots import new_figure

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
        levels = (_noise(records, p), _mean(query.final(records, f"checker_input_p{p}")))
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
    return fig


def _fig_conv_images(models, records):
    """One test image decoded by each model at initialisation (top row, the pattern the
    architecture paints) and after training (bottom), first seed, beside the input."""
    from tiedae.report.plots import new_figure

    shown = {}
    for r in records:
        extra = r.get("extra") or {}
        if "images_init" in extra:
            shown.setdefault(r["config"]["model"], extra)
    names = [m for m in models if m in shown]
    width = 6.8
    fig, axes = new_figure(len(names) + 1, 2, width=width,
                           height=width / (len(names) + 1) + 0.3)  # per row
    if names:
        first = np.asarray(shown[names[0]]["images_input"][0])
        axes[0, 0].imshow(first, cmap="gray")
        axes[1, 0].imshow(first, cmap="gray")
        axes[0, 0].set_title("input", fontsize=6)
    for col, m in enumerate(names, start=1):
        for row, key in ((0, "images_init"), (1, "images_trained")):
            axes[row, col].imshow(np.asarray(shown[m][key][0]), cmap="gray")
        base, _, k = m.partition("-k")
        axes[0, col].set_title(SHORT.get(base, base) + (f"\nk={k}" if k else ""), fontsize=5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("at init", fontsize=6)
    axes[1, 0].set_ylabel("trained", fontsize=6)
    return fig


# Compiling its models takes most of a quick run: not in the default; `--suite conv-decoders`.
SUITE = Suite("conv-decoders", "post 003's Keras vs MATLAB CAE and ConvAE decoders (transposed, "
              "upsample+conv, tied; kernels 2/3/4): reconstruction and checkerboard energy vs "
              "white noise", configs, run, analyze, in_quick=False)
