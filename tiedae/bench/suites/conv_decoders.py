r"""Suite `conv-decoders`: transposed conv vs upsampling + conv vs tied (posts 001, 003).

A two-layer strided-conv encoder (stride 2, "SAME") is paired with each decoder of
`tiedae.ConvAE` — "transposed_conv" (own ConvTranspose kernels), "upsample_conv" (nearest
upsampling then a stride-1 conv, Keras's UpSampling2D + Conv2D) and "tied" (the exact adjoint of
the encoder's convolutions) — for kernel sizes the stride divides (2, 4: even overlap) and does
not (3: uneven overlap, the checkerboard cause of Odena et al. 2016).

Checkerboard measure (`tiedae.nonlinear.conv.checkerboard_energy`): the share c_p of an image's
spectral energy (mean removed) on the lattice of frequencies of period-p patterns, p = 2 (one
stride) and p = 4 (both strides). It is reported for the reconstructions at initialisation (the
pattern the architecture paints before training) and after training, for the input gradients
d||f(x) - x||^2/dx through the trained model, and for the test images themselves (reference).
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from tiedae import ConvAE
from tiedae.bench.datasets import image_config, load_images
from tiedae.bench.suite import (
    Options,
    Suite,
    Summary,
    fmt,
    group_by,
    mean_std,
    train_minibatches,
)
from tiedae.bench.suite import seeds as seed_list
from tiedae.nonlinear.conv import CONV_DECODERS, checkerboard_energy, input_gradient
from tiedae.nonlinear.layers import count_params

_outputs = nnx.jit(lambda model, x: (model(x), input_gradient(model, x)))


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**image_config(options), "stride": 2, "batch_size": 32, "learning_rate": 3e-3,
            "eval_every": 100, "channels": [8, 4] if options.quick else [16, 4],
            "steps": 200 if options.quick else 2000, "n_measure": 200 if options.quick else 1000}
    kernels = (3, 4) if options.quick else (2, 3, 4)
    return [
        {**base, "run_id": f"{tag}-{dec}-k{k}-s{seed}", "decoder": dec, "kernel_size": k,
         "seed": seed}
        for seed in seed_list(options, quick=3, full=3)
        for dec in CONV_DECODERS
        for k in kernels
    ]


def _images(x, shape):
    return np.asarray(x, np.float64).reshape(len(x), *shape)


def _checker(images, prefix):
    return {f"{prefix}_p{p}": float(np.mean(checkerboard_energy(images, p))) for p in (2, 4)}


def run(config: dict) -> dict:
    X, _, X_test, _, shape = load_images(config)
    model = ConvAE(shape, tuple(config["channels"]), kernel_size=config["kernel_size"],
                   stride=config["stride"], decoder=config["decoder"],
                   rngs=nnx.Rngs(config["seed"]))
    probe = X_test[: config["n_measure"]]
    final = {"params": count_params(model), **_checker(_images(probe, shape), "checker_input"),
             **_checker(_images(_outputs(model, probe)[0], shape), "checker_out_init")}
    model, hist = train_minibatches(model, X, X_test, config)
    final["test_error"] = float(hist["test_loss"][-1])
    out, grad = _outputs(model, probe)
    final.update(_checker(_images(out, shape), "checker_out"))
    final.update(_checker(_images(grad, shape), "checker_grad"))
    return {"final": final,
            "trajectory": {"step": hist["step"], "loss": hist["train_loss"],
                           "eval_loss": hist["test_loss"]},
            "extra": {"code_shape": list(model.code_shape)}}


COLUMNS = ("out_init_p2", "out_p2", "grad_p2", "out_p4", "grad_p4")


def summarize(records: list[dict]) -> Summary:
    rows, findings, means = [], [], {}
    for (dec, k), recs in group_by(records, "decoder", "kernel_size").items():
        f = [r["final"] for r in recs]
        rows.append([dec, k, f[0]["params"], mean_std([x["test_error"] for x in f]),
                     *[mean_std([x[f"checker_{c}"] for x in f], 2) for c in COLUMNS]])
        means[(dec, k)] = {key: float(np.mean([x[key] for x in f])) for key in f[0]}
    if not means:
        return Summary("conv-decoders", [], [], [])
    ref = {p: float(np.mean([r["final"][f"checker_input_p{p}"] for r in records]))
           for p in (2, 4)}
    rows.append(["input images (reference)", "-", "-", "-", fmt(ref[2], 2), fmt(ref[2], 2),
                 fmt(ref[2], 2), fmt(ref[4], 2), fmt(ref[4], 2)])
    kernels = sorted({k for _, k in means})
    present = [dec for dec in CONV_DECODERS if any(d == dec for d, _ in means)]
    for dec in present:
        parts = "; ".join(
            f"k={k}: output {fmt(means[(dec, k)]['checker_out_init_p2'], 2)} at init -> "
            f"{fmt(means[(dec, k)]['checker_out_p2'], 2)} trained, input gradient "
            f"{fmt(means[(dec, k)]['checker_grad_p2'], 2)}"
            for k in kernels if (dec, k) in means)
        findings.append(f"{dec}: period-2 (checkerboard) energy share, {parts} (test images "
                        f"themselves: {fmt(ref[2], 2)}).")
    best = min(means, key=lambda key: means[key]["test_error"])
    findings.append(
        f"lowest test error: {best[0]} with kernel {best[1]} ({fmt(means[best]['test_error'])},"
        f" {int(means[best]['params'])} params); by decoder (mean over kernels): " + ", ".join(
            f"{dec} {fmt(np.mean([v['test_error'] for (d, _), v in means.items() if d == dec]))}"
            for dec in present) + ".")
    return Summary(
        title="conv-decoders: reconstruction and checkerboard energy shares c_p (mean ± std)",
        columns=["decoder", "kernel", "params", "test error", "out@init c2", "out c2",
                 "grad c2", "out c4", "grad c4"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="conv-decoders",
    description="conv AE decoders: transposed vs upsample+conv vs tied adjoint, kernel 3 vs 4 at "
                "stride 2; checkerboard spectral energy (posts 001, 003)",
    configs=configs, run=run, summarize=summarize,
)
