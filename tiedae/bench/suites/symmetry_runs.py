r"""What the `symmetry` suite runs: post 000's 2-D autoencoder and its variants, one run each.

The encoder d -> 100 -> 25 -> 2 (`mlp_training.ENCODER`) with four decoders (`DECODERS`: the
mirror 2 -> 25 -> 100 -> d, the tied mirror, the shallow 2 -> 100 -> d and the linear map), and
the mirror decoder with two other encoders (`ENCODERS`: one hidden layer of 200, "half as many,
twice as wide", and one with as many parameters as 100-25), over `SEEDS` seeds, and PCA's 2-D
reference. Training and measurement: `tiedae.bench.suites.mlp_training`.

Example:
  >>> from tiedae.bench.suites import symmetry_runs
  >>> symmetry_runs.encoder_widths("wide", 784), symmetry_runs.encoder_widths("matched", 784)
  ([200], [103])
  >>> from tiedae.bench.suite import Options
  >>> sorted({c["variant"] for c in symmetry_runs.configs(Options())})
  ['linear', 'mirror', 'pca', 'tied']
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suite import Options
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import mlp_training as mlp
from tiedae.report.analysis import Cell

__all__ = ["COLORS", "DECODERS", "ENCODERS", "K", "LABELS", "QUICK_SKIPS", "SEEDS", "configs",
           "encoder_widths", "run"]

K = 2  # post 000's code size
SEEDS = {"quick": 3, "full": 6}
DECODERS = {"mirror": "mirror", "tied": "tied", "shallow": [mlp.ENCODER[0]],
            "linear": "linear"}
ENCODERS = ("wide", "matched")  # against the mirror run's encoder 100-25
QUICK_SKIPS = ("shallow", "wide", "matched")  # quick: three models to compile, not six
LABELS = {"mirror": Cell("mirror", "mirror"), "tied": Cell("tied (W^T)", r"tied ($W^\top$)"),
          "shallow": Cell("shallow (2-100-d)", "shallow (2--100--$d$)"),
          "linear": Cell("linear", "linear"), "pca": Cell("PCA", "PCA"),
          "pixels": Cell("raw pixels", "raw pixels")}
COLORS = {"mirror": "#1f77b4", "tied": "#2ca02c", "shallow": "#ff7f0e", "linear": "#d62728",
          "wide": "#9467bd", "matched": "#8c564b", "pca": "#7f7f7f"}


def encoder_widths(name: str, d: int) -> list[int]:
    """The hidden widths of the encoder variants: post 000's [100, 25]; 'wide': one layer
    twice as wide as its first ([200]); 'matched': one layer with as many parameters."""
    if name == "wide":
        return [2 * mlp.ENCODER[0]]
    if name == "matched":
        return [mlp.matched_width(d, mlp.ENCODER, K)]
    return list(mlp.ENCODER)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**mlp.base_config(options), "code_dim": K}
    d = int(np.prod(mlp.load(base)[4]))
    seeds = seed_list(options, quick=SEEDS["quick"], full=SEEDS["full"])
    out = []
    for seed in seeds:  # seed-major: the runs compared in a pair are made close in time
        images = mlp.IMAGES if seed == seeds[0] else 0
        for name, decoder in DECODERS.items():
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-decoder-{name}-s{seed}", "kind": "decoder",
                        "variant": name, "encoder": list(mlp.ENCODER), "decoder": decoder,
                        "seed": seed, "images": images})
        for name in ENCODERS:
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-encoder-{name}-s{seed}", "kind": "encoder",
                        "variant": name, "encoder": encoder_widths(name, d),
                        "decoder": mlp.ENCODER[::-1], "seed": seed, "images": 0})
    out.append({**mlp.data_config(options), "run_id": f"{tag}-pca", "kind": "pca",
                "variant": "pca", "code_dim": K, "seed": options.seed,
                "images": mlp.IMAGES})
    return out


def run(config: dict) -> dict:
    """One run: PCA's reference, or a trained model (shared with `features`: see
    `mlp_training.train`)."""
    return mlp.pca_run(config) if config["kind"] == "pca" else mlp.train(config)
