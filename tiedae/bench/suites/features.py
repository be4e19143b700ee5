r"""Suite `features`: does a weak (linear) decoder force better features? (post 002)

Post 002 asks whether a simple decoder, e.g. one linear map from the code, makes the encoder
learn better features than a decoder that mirrors it. The encoder d -> 100 -> 25 -> k (post
000's, ReLU, linear code) is trained with the mirror, the tied mirror (W^T in every layer) or
a linear decoder, at post 000's code size k = 2 and at a feature-learning size k = 16; its
frozen codes are scored by a linear probe (logistic regression) and 5-NN on the held-out images
(`tiedae.features`), next to the test reconstruction error. References: PCA's code of the same
size (one deterministic run per k) and the raw pixels. Training and measurements:
`tiedae.bench.suites._mlp`; the k = 2 runs are the `symmetry` suite's decoder runs (one
training when both suites run in one command). Comparisons between decoders are paired over
seeds (same seed: same split, minibatch order and initial encoder).
"""

from __future__ import annotations

from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import _mlp
from tiedae.features import knn_accuracy, linear_probe_accuracy
from tiedae.report import stats

CODE_SIZES = (2, 16)
DECODERS = ("mirror", "tied", "linear")
SEEDS = {"quick": 3, "full": 6}
SCORES = ("probe_accuracy", "knn_accuracy")


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = _mlp.base_config(options)
    seeds = seed_list(options, quick=SEEDS["quick"], full=SEEDS["full"])
    out = []
    sizes = CODE_SIZES[:1] if options.quick else CODE_SIZES  # quick: symmetry's runs only
    for seed in seeds:  # seed-major, like `symmetry` (whose k=2 runs these are)
        for k in sizes:
            for decoder in DECODERS:
                images = _mlp.IMAGES if seed == seeds[0] and k == 2 else 0
                out.append({**base, "run_id": f"{tag}-k{k}-{decoder}-s{seed}", "code_dim": k,
                            "encoder": list(_mlp.ENCODER), "decoder": decoder, "seed": seed,
                            "images": images})
    data = _mlp.data_config(options)
    for k in sizes:
        out.append({**data, "run_id": f"{tag}-k{k}-pca", "code_dim": k, "decoder": "pca",
                    "seed": options.seed, "images": 0})
    out.append({**data, "run_id": f"{tag}-pixels", "code_dim": 0, "decoder": "pixels",
                "seed": options.seed})
    return out


def run(config: dict) -> dict:
    if config["decoder"] == "pca":
        return _mlp.pca_run(config)
    if config["decoder"] == "pixels":
        X, y, X_test, y_test, _ = _mlp.load(config)
        return {"final": {"probe_accuracy": linear_probe_accuracy(X, y, X_test, y_test),
                          "knn_accuracy": knn_accuracy(X, y, X_test, y_test)},
                "trajectory": {}, "extra": {}}
    return _mlp.train(config)


def _values(recs, key) -> list:
    return [r["final"].get(key) for r in recs]


def verdicts(groups: dict, k: int, key: str = "probe_accuracy") -> dict[str, stats.Paired]:
    """Paired differences (decoder - mirror) of a score at code size k."""
    base = groups.get((k, "mirror"), [])
    return {d: stats.paired(*_mlp.paired_values(groups[(k, d)], base, key))
            for d in DECODERS if d != "mirror" and (k, d) in groups and base}


def answer_word(verdicts) -> str:
    """'better' / 'worse' / 'no measurable difference' / 'mixed' from paired verdicts of the
    linear decoder's scores against the mirror's."""
    verdicts = list(verdicts)
    if not verdicts:
        return "not compared"
    for word, verdict in (("better", "higher"), ("worse", "lower"),
                          ("no measurable difference", "no measurable difference")):
        if all(v == verdict for v in verdicts):
            return word
    return "mixed"


def answer(groups: dict) -> str:
    """Post 002's question from the linear decoder's paired differences against the mirror
    (probe and 5-NN, every code size)."""
    return answer_word(verdicts(groups, k, key)["linear"].verdict for k in CODE_SIZES
                       for key in SCORES if "linear" in verdicts(groups, k, key))


def summarize(records: list[dict]) -> Summary:
    groups = dict(group_by(records, "code_dim", "decoder"))
    rows = []
    for (k, dec), recs in groups.items():
        rows.append([f"k={k}" if k else "-", dec,
                     _mlp.ci(_values(recs, "test_error")) if dec != "pixels" else "-",
                     _mlp.ci(_values(recs, "probe_accuracy")),
                     _mlp.ci(_values(recs, "knn_accuracy")), str(len(recs))])
    findings = []
    for k in CODE_SIZES:
        if (k, "mirror") not in groups:
            continue
        parts = []
        for key, name in zip(SCORES, ("probe", "5-NN"), strict=True):
            for dec in DECODERS[1:]:
                if (k, dec) in groups:
                    parts.append(f"{name} {dec} - mirror " + _mlp.difference(
                        *_mlp.paired_values(groups[(k, dec)], groups[(k, "mirror")], key))[1])
        pca = groups.get((k, "pca"))
        ref = (f"; PCA's {k}-D code: probe {fmt(pca[0]['final'].get('probe_accuracy'))}, 5-NN "
               f"{fmt(pca[0]['final'].get('knn_accuracy'))}" if pca else "")
        findings.append(f"k={k}, paired accuracy differences (95% CI): " + "; ".join(parts)
                        + ref + ".")
    if (0, "pixels") in groups:
        f = groups[(0, "pixels")][0]["final"]
        findings.append(f"raw pixels: probe {fmt(f.get('probe_accuracy'))}, 5-NN "
                        f"{fmt(f.get('knn_accuracy'))}.")
    verdict = answer(groups)
    if verdict != "not compared":
        findings.append(f"post 002 (does a linear decoder force better features?): the linear "
                        f"decoder's codes against the mirror's, over probe and 5-NN at k = "
                        f"{', '.join(str(k) for k in CODE_SIZES if (k, 'mirror') in groups)}"
                        f": {verdict}.")
    return Summary(
        title="features: frozen-code quality per decoder (mean ± 95% CI half-width over seeds)",
        columns=["code", "decoder", "test error", "linear probe acc", "5-NN acc", "runs"],
        rows=rows, findings=findings)


SUITE = Suite(
    name="features",
    description="linear-probe / 5-NN accuracy of frozen codes (k = 2, 16) per decoder (mirror, "
                "tied, linear) vs PCA and pixels (post 002)",
    configs=configs, run=run, summarize=summarize,
)
