r"""Suite `symmetry`: post 000's 2-D autoencoder with mirrored, tied, shallow and linear decoders.

Post 000 asks why the MLP autoencoder [d] -> 100 -> 25 -> (2) -> 25 -> 100 -> [d] used to see
clusters in two dimensions is symmetric, and whether a simpler decoder would force a simpler
(more linear) 2-D code; an answer claims that an encoder with "half as many, twice as wide"
layers converges faster. With the encoder d -> 100 -> 25 -> 2 fixed, the decoder is

* mirror: 2 -> 25 -> 100 -> d with its own weights;
* tied: the mirror with W_{N-L+1} = W_L^T (the encoder's matrices read transposed, its own
  biases only);
* shallow: 2 -> 100 -> d, the mirror without its 25-unit layer: the smallest step down in
  capacity that keeps a nonlinearity, between the mirror and the linear map;
* linear: x_hat = z F + c, whose reconstructions span a 2-D affine subspace, so its error on
  the training set cannot beat PCA's with 2 components (Eckart-Young) and the best code it can
  use is an affine function of x.

How simple each code is: the affine R^2 (`tiedae.features.affine_r2`) from the pixels and from
PCA's 2-D code to the learnt code, and the linear-probe and 5-NN accuracy of the 2-D codes.
The wide-encoder claim keeps the mirror decoder and compares the encoder 100-25 with one hidden
layer of 200 ("half as many, twice as wide") and one hidden layer with as many parameters as
100-25 (103 units for d = 784): steps and seconds until the monitored training error first
reaches PCA's error with k components (a run that never reaches it counts as slower), and the
test error. Training, monitoring and
measurements: `tiedae.bench.suites._mlp`. The PCA run is the 2-D reference (codes and
reconstructions). Comparisons are paired over seeds (same seed: same data split and minibatch
order; for the decoders also the same initial encoder).
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import _mlp
from tiedae.report import stats

K = 2  # post 000's code size
SEEDS = {"quick": 3, "full": 6}
DECODERS = {"mirror": "mirror", "tied": "tied", "shallow": [_mlp.ENCODER[0]],
            "linear": "linear"}
ENCODERS = ("wide", "matched")  # against the mirror run's encoder 100-25
QUICK_SKIPS = ("shallow", "wide", "matched")  # quick: three models to compile, not six


def encoder_widths(name: str, d: int) -> list[int]:
    """The hidden widths of the encoder variants: post 000's [100, 25]; 'wide': one layer
    twice as wide as its first ([200]); 'matched': one layer with as many parameters."""
    if name == "wide":
        return [2 * _mlp.ENCODER[0]]
    if name == "matched":
        return [_mlp.matched_width(d, _mlp.ENCODER, K)]
    return list(_mlp.ENCODER)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**_mlp.base_config(options), "code_dim": K}
    d = int(np.prod(_mlp.load(base)[4]))
    seeds = seed_list(options, quick=SEEDS["quick"], full=SEEDS["full"])
    out = []
    for seed in seeds:  # seed-major: the runs compared in a pair are made close in time
        images = _mlp.IMAGES if seed == seeds[0] else 0
        for name, decoder in DECODERS.items():
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-decoder-{name}-s{seed}", "kind": "decoder",
                        "variant": name, "encoder": list(_mlp.ENCODER), "decoder": decoder,
                        "seed": seed, "images": images})
        for name in ENCODERS:
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-encoder-{name}-s{seed}", "kind": "encoder",
                        "variant": name, "encoder": encoder_widths(name, d),
                        "decoder": _mlp.ENCODER[::-1], "seed": seed, "images": 0})
    out.append({**_mlp.data_config(options), "run_id": f"{tag}-pca", "kind": "pca",
                "variant": "pca", "code_dim": K, "seed": options.seed,
                "images": _mlp.IMAGES})
    return out


def run(config: dict) -> dict:
    return _mlp.pca_run(config) if config["kind"] == "pca" else _mlp.train(config)


def _values(recs, key) -> list:
    return [r["final"].get(key) for r in recs]


def _linear_vs_pca(finals: list[dict], rtol: float = 1e-4) -> str:
    """The linear decoder's training error against PCA's (Eckart-Young: its outputs span a
    k-dim affine subspace, so on the training set it cannot beat PCA, up to float32 rounding
    `rtol`); worded from the numbers."""
    finals = [x for x in finals if x.get("train_error") is not None
              and x.get("pca_train_error") is not None]
    if not finals:
        return "The linear decoder's training error was not recorded."
    train = [x["train_error"] for x in finals]
    ref = [x["pca_train_error"] for x in finals]
    below = sum(t < p * (1 - rtol) for t, p in zip(train, ref, strict=True))
    text = (f"On the training set the linear decoder's error is {fmt(float(np.mean(train)))} "
            f"vs PCA's {fmt(float(np.mean(ref)))}: ")
    if below:
        return text + (f"below it in {below} of {len(finals)} seeds, which the Eckart-Young "
                       "bound (a linear decoder's outputs span a k-dim affine subspace) rules "
                       "out; check the PCA reference.")
    return text + (f"at or above it in all {len(finals)} seeds, as the Eckart-Young bound "
                   "requires (a linear decoder's outputs span a k-dim affine subspace).")


def simplicity_verdict(by: dict, key: str = "code_r2_pca") -> str:
    """Does a simpler decoder give a more nearly affine code? From the paired differences of
    the linear and shallow decoders' R^2 against the mirror's: 'yes' when every one is
    measurably higher, 'no' when none is higher and one is lower, else 'mixed'."""
    verdicts = [stats.paired(*_mlp.paired_values(by[name], by["mirror"], key)).verdict
                for name in ("linear", "shallow") if name in by and "mirror" in by]
    if not verdicts:
        return "not compared"
    if all(v == "higher" for v in verdicts):
        return "yes"
    if "lower" in verdicts and "higher" not in verdicts:
        return "no"
    if all(v == "no measurable difference" for v in verdicts):
        return "no measurable difference"
    return "mixed"


def wide_verdict(steps: str, seconds: str) -> str:
    """The claim 'the wide encoder converges faster' from the verdicts (`_mlp.reach_verdict`)
    of wide - deep in steps and in seconds to the threshold."""
    verdicts = {steps, seconds}
    if verdicts == {"lower"}:
        return "supported"
    if verdicts == {"higher"}:
        return "contradicted"
    if verdicts == {"no measurable difference"}:
        return "no measurable difference"
    return "mixed"


def summarize(records: list[dict]) -> Summary:
    groups = {variant: recs for (variant,), recs in group_by(records, "variant").items()}
    rows = []
    for variant, recs in groups.items():
        f = recs[0]["final"]
        cfg = recs[0]["config"]
        label = variant if cfg.get("kind") != "encoder" else (
            f"{variant} encoder {'-'.join(map(str, cfg['encoder']))}")
        params = (f"{f['params_encoder']} / {f['params_decoder']}"
                  if "params_encoder" in f else "-")
        rows.append([label, params, _mlp.ci(_values(recs, "test_error")),
                     _mlp.ci(_values(recs, "code_r2_pixels")),
                     _mlp.ci(_values(recs, "code_r2_pca")),
                     _mlp.ci(_values(recs, "probe_accuracy")),
                     _mlp.ci(_values(recs, "knn_accuracy")),
                     _mlp.steps_text(_values(recs, "steps_to_pca_k"))
                     if "steps_to_pca_k" in f else "-",
                     _mlp.steps_text(_values(recs, "seconds_to_pca_k"))
                     if "seconds_to_pca_k" in f else "-"])
    findings = decoder_findings(groups) + encoder_findings(groups)
    return Summary(
        title=f"symmetry: post 000's 2-D autoencoder, k={K} (mean ± 95% CI half-width over "
              "seeds; steps/seconds: median [IQR])",
        columns=["run", "enc / dec params", "test error", "R2 pixels->code",
                 "R2 PCA->code", "probe acc", "5-NN acc", "steps to PCA-k error",
                 "s to PCA-k error"],
        rows=rows, findings=findings)


def decoder_findings(by: dict) -> list[str]:
    """Sentences on the decoders: error, Eckart-Young, how affine the code is, classes."""
    decs = [name for name in DECODERS if name in by]
    if not decs:
        return []
    out = []
    pca = by.get("pca", [])
    errors = ", ".join(f"{name} {_mlp.ci(_values(by[name], 'test_error'))}" for name in decs)
    out.append(f"k={K}: test error {errors}"
               + (f"; PCA {fmt(pca[0]['final'].get('test_error'))}" if pca else "") + ".")
    if "mirror" in by:
        diffs = [f"{name} - mirror " + _mlp.difference(
                     *_mlp.paired_values(by[name], by["mirror"], "test_error"))[1]
                 for name in decs if name != "mirror"]
        if diffs:
            out.append("paired test-error differences (95% CI): " + "; ".join(diffs) + ".")
    if "linear" in by:
        out.append(_linear_vs_pca([r["final"] for r in by["linear"]]))
    r2 = ", ".join(f"{name} {_mlp.ci(_values(by[name], 'code_r2_pca'))}" for name in decs)
    r2x = ", ".join(f"{name} {_mlp.ci(_values(by[name], 'code_r2_pixels'))}" for name in decs)
    verdict = simplicity_verdict(by)
    answer = {"yes": "the simpler decoders (linear, shallow) gave measurably more nearly affine "
                     "codes than the mirror",
              "no": "the simpler decoders did not give more nearly affine codes than the mirror",
              "mixed": "the simpler decoders gave more nearly affine codes in part only",
              "no measurable difference": "no measurable difference from the mirror"}.get(
        verdict, "not compared")
    out.append(f"how affine the 2-D code is (R^2 of the best affine map on test images) from "
               f"PCA's 2-D code: {r2}; from the pixels: {r2x}. Simpler decoder, simpler code? "
               f"{verdict}: {answer}.")
    knn = ", ".join(f"{name} {_mlp.ci(_values(by[name], 'knn_accuracy'))}" for name in decs)
    out.append(f"5-NN accuracy of the 2-D test codes: {knn}"
               + (f"; PCA's 2-D code {fmt(pca[0]['final'].get('knn_accuracy'))}" if pca else "")
               + ".")
    return out


def encoder_findings(by: dict) -> list[str]:
    """Post 000's wide-encoder claim against the 100-25 encoder (the mirror run)."""
    if "mirror" not in by or not any(name in by for name in ENCODERS):
        return []
    out = []
    for name in ENCODERS:
        if name not in by:
            continue
        width = "-".join(map(str, by[name][0]["config"]["encoder"]))
        steps_ab = _mlp.paired_values(by[name], by["mirror"], "steps_to_pca_k")
        secs_ab = _mlp.paired_values(by[name], by["mirror"], "seconds_to_pca_k")
        steps, secs = _mlp.reach_verdict(*steps_ab), _mlp.reach_verdict(*secs_ab)
        steps_text = f"{_mlp.difference(*steps_ab)[1]} ({steps} with never-reached runs)"
        secs_text = f"{_mlp.difference(*secs_ab)[1]} ({secs} with never-reached runs)"
        _, err_text = _mlp.difference(*_mlp.paired_values(by[name], by["mirror"],
                                                          "test_error"))
        never = sum(v is None or not np.isfinite(v)
                    for recs in (by[name], by["mirror"])
                    for v in _values(recs, "steps_to_pca_k"))
        claim = ("post 000's claim (half as many, twice as wide encoder layers converge "
                 f"faster): {wide_verdict(steps, secs)}. " if name == "wide" else
                 "parameter-matched control: ")
        out.append(
            f"{claim}encoder {width} - encoder 100-25 (mirror decoder), to PCA's error with "
            f"{K} components: steps {steps_text}; seconds {secs_text}; test error "
            f"{err_text}" + (f" ({never} runs never reached it)." if never else "."))
    return out


SUITE = Suite(
    name="symmetry",
    description="post 000's 2-D MLP autoencoder: mirror / tied / shallow / linear decoders, "
                "how affine each code is, and the wide-encoder claim (posts 000, 001)",
    configs=configs, run=run, summarize=summarize,
)
