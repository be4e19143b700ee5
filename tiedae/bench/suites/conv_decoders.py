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
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from tiedae import ConvAE
from tiedae.bench.datasets import image_config, load_images
from tiedae.bench.suite import Options, Suite, Summary, train_minibatches
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
from tiedae.report import stats
from tiedae.report.format import fmt_ci
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


COLUMNS = ("out_init_p2", "out_p2", "grad_p2", "out_p4", "grad_p4")


def by_model(records) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["config"]["model"], {})[r["config"]["seed"]] = r["final"]
    return out


def compare(by: dict, a: str, b: str, key: str) -> stats.Paired:
    """Paired comparison of `key` between models a and b over their common seeds."""
    seeds = sorted(set(by[a]) & set(by[b]))
    return stats.paired([by[a][s][key] for s in seeds], [by[b][s][key] for s in seeds])


def collapsed(per_seed: dict[int, dict]) -> bool:
    """Whether a model's trained test error is the same in every seed (>= 2 seeds, relative
    1e-6): training ended at one seed-independent output, e.g. a saturated sigmoid decoding
    every code to the same constant image, so comparisons measure that failure."""
    errors = [f["test_error"] for f in per_seed.values()]
    return len(errors) >= 2 and max(errors) - min(errors) <= 1e-6 * abs(max(errors))


def summarize(records: list[dict]) -> Summary:
    by = by_model(records)
    if not by:
        return Summary("conv-decoders", [], [], [])
    rows = []
    for model, per_seed in by.items():
        f = list(per_seed.values())
        rows.append([model, f[0]["params"], fmt_ci([x["test_error"] for x in f]),
                     *[fmt_ci([x[f"checker_{c}"] for x in f], 2) for c in COLUMNS]])
    f0 = records[0]["final"]
    ref = {p: float(np.mean([r["final"][f"checker_input_p{p}"] for r in records]))
           for p in (2, 4)}
    rows.append(["test images", "-", "-", "-", f"{ref[2]:.3g}", "-", f"{ref[4]:.3g}", "-"])
    rows.append(["white noise (p^2-1)/(HW-1)", "-", "-", "-", f"{f0['checker_noise_p2']:.3g}",
                 "-", f"{f0['checker_noise_p4']:.3g}", "-"])
    findings = [f"{model}: test error {list(per_seed.values())[0]['test_error']:.6g} in all "
                f"{len(per_seed)} seeds - training collapsed to one seed-independent output "
                "(a constant image), so its runs measure that failure, not the "
                "architecture." for model, per_seed in by.items() if collapsed(per_seed)]
    pairs = [("keras_cae", "matlab_cae")]
    kernels = sorted({r["config"]["kernel_size"] for r in records
                      if r["config"]["kernel_size"] is not None})
    pairs += [(f"{a}-k{k}", f"{b}-k{k}") for k in kernels
              for a, b in (("transposed_conv", "upsample_conv"), ("transposed_conv", "tied"),
                           ("upsample_conv", "tied"))]
    for a, b in pairs:
        if a not in by or b not in by:
            continue
        for key, what in (("test_error", "test error"), ("checker_out_p2", "trained c_2")):
            p = compare(by, a, b, key)
            verdict = (p.verdict if p.verdict == "no measurable difference"
                       else f"{a} {p.verdict}")
            findings.append(f"{what}, {a} - {b}: {p.mean:+.3g} [{p.lo:+.3g}, {p.hi:+.3g}] "
                            f"({p.n} seeds): {verdict}.")
    return Summary(
        title="conv-decoders: reconstruction and checkerboard shares c_p (mean ± 95% t-interval)",
        columns=["model", "params", "test error", "out@init c2", "out c2", "grad c2", "out c4",
                 "grad c4"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="conv-decoders",
    description="post 003's Keras vs MATLAB CAE and ConvAE decoders (transposed, upsample+conv, "
                "tied; kernels 2/3/4): reconstruction and checkerboard energy vs white noise",
    configs=configs, run=run, summarize=summarize,
    # Compiling its models takes most of a quick run; `--suite conv-decoders` runs it.
    in_quick=False,
)
