"""The symmetry / features / conv-decoders / graph suites: configs, one shrunken run each, CLI."""

import json

import numpy as np
import pytest
from suite_runs import BY_NAME
from suite_runs import run_once as _run

from tiedae.bench import cli
from tiedae.bench.suite import Options, Suite

NAMES = ("symmetry", "features", "conv-decoders", "graph")


@pytest.mark.parametrize("name", NAMES)
def test_configs_have_three_seeds_and_stable_ids(name):
    for quick in (True, False):
        configs = BY_NAME[name].configs(Options(quick=quick))
        assert len({c["run_id"] for c in configs}) == len(configs)
        assert len({c["seed"] for c in configs}) >= 3
        assert configs == BY_NAME[name].configs(Options(quick=quick))
        json.dumps(configs, allow_nan=False)


def test_symmetry_shrunken_runs():
    configs = BY_NAME["symmetry"].configs(Options(quick=True))
    recs = []
    for variant in ("tied", "linear", "wide"):
        config = next(c for c in configs if c.get("variant") == variant)
        recs.append(_run("symmetry", {**config, "steps": 100}))
    tied, linear, wide = (r["final"] for r in recs)
    assert tied["params_decoder"] == 25 + 100 + 64  # biases only
    assert linear["params_decoder"] == 2 * 64 + 64
    assert wide["params_encoder"] == 64 * 200 + 200 + 200 * 2 + 2
    # a linear decoder's output lies in a k-dim affine subspace: it cannot beat PCA (train set)
    assert linear["train_error"] >= linear["pca_train_error"] * (1 - 1e-4)
    assert 0 < tied["test_error_relative"] < 1.2
    # the loss curve is logged every 5 steps, train and test
    assert recs[0]["trajectory"]["step"][:3] == [0, 5, 10]
    assert len(recs[0]["trajectory"]["test_loss"]) == len(recs[0]["trajectory"]["step"])
    for f in (tied, linear):
        assert f["code_r2_pca"] <= 1.0 and 0.1 < f["knn_accuracy"] <= 1.0
    summary = BY_NAME["symmetry"].summarize(recs)
    assert any("tied" in f for f in summary.findings)


def _symmetry_records(train_errors, pca_error=2.0, r2=None):
    r2 = r2 or {}
    out = []
    for variant in ("mirror", "tied", "linear"):
        for seed, train in enumerate(train_errors):
            final = {"test_error": 3.0 + 0.1 * seed, "test_error_relative": 0.3,
                     "pca_test_error": 2.5, "steps_to_pca_2k": 100.0,
                     "seconds_to_pca_2k": 1.0, "params_encoder": 10, "params_decoder": 5,
                     "train_error": train if variant == "linear" else 1.0,
                     "pca_train_error": pca_error, "probe_accuracy": 0.5,
                     "knn_accuracy": 0.5, "code_r2_pixels": 0.5,
                     "code_r2_pca": r2.get(variant, 0.5) + 0.01 * seed * seed}
            out.append({"config": {"kind": "decoder", "variant": variant, "seed": seed,
                                   "encoder": [100, 25]},
                        "final": final})
    return out


def test_symmetry_linear_vs_pca_finding_follows_the_numbers():
    summarize = BY_NAME["symmetry"].summarize
    (above,) = [f for f in summarize(_symmetry_records([2.1, 2.3])).findings
                if "linear decoder's error" in f]
    assert "training set" in above and "at or above it in all 2 seeds" in above
    (below,) = [f for f in summarize(_symmetry_records([2.1, 1.5])).findings
                if "linear decoder's error" in f]
    assert "below it in 1 of 2 seeds" in below and "at or above" not in below


def test_symmetry_simplicity_verdict_follows_the_paired_differences():
    summarize = BY_NAME["symmetry"].summarize
    seeds = [2.1, 2.2, 2.3, 2.4, 2.5]
    higher = summarize(_symmetry_records(seeds, r2={"linear": 0.9, "mirror": 0.5})).findings
    assert any("Simpler decoder, simpler code? yes" in f for f in higher)
    lower = summarize(_symmetry_records(seeds, r2={"linear": 0.2, "mirror": 0.5})).findings
    assert any("Simpler decoder, simpler code? no:" in f for f in lower)
    same = summarize(_symmetry_records(seeds)).findings
    assert any("simpler code? no measurable difference" in f for f in same)


def test_graph_karate_reference_is_the_same_faction_score():
    pytest.importorskip("networkx")
    configs = BY_NAME["graph"].configs(Options(quick=False))
    recs = [_run("graph", {**c, "epochs": 20}) for c in configs
            if c["graph"] == "karate" and c["seed"] == 0]
    assert {r["config"]["decoder"] for r in recs} == {"inner_product", "mlp"}
    for r in recs:
        assert "oracle_auc" not in r["final"]
        assert 0.5 < r["final"]["same_faction_auc"] <= 1.0
    summary = BY_NAME["graph"].summarize(recs)
    (finding,) = summary.findings
    assert "same-faction score AUC" in finding and "oracle" not in finding


def test_features_shrunken_runs():
    configs = BY_NAME["features"].configs(Options(quick=True))
    pick = {c["decoder"]: c for c in configs if c["code_dim"] == 2}
    tied = _run("features", {**pick["tied"], "steps": 100})
    pca = _run("features", pick["pca"])
    assert len(tied["extra"]["codes_2d"]) == len(tied["extra"]["labels"]) == 360
    assert np.asarray(tied["extra"]["codes_2d"]).shape == (360, 2)
    for rec in (tied, pca):
        assert 0.1 < rec["final"]["probe_accuracy"] <= 1.0
        assert 0.1 < rec["final"]["knn_accuracy"] <= 1.0


def test_conv_decoders_shrunken_run():
    configs = BY_NAME["conv-decoders"].configs(Options(quick=True))
    finals = {}
    for dec in ("tied", "transposed_conv"):
        config = next(c for c in configs if c["decoder"] == dec and c["kernel_size"] == 3)
        finals[dec] = _run("conv-decoders", {**config, "steps": 20, "eval_every": 10,
                                             "n_measure": 50})["final"]
        assert finals[dec]["test_error"] > 0
    tied, transposed = finals["tied"], finals["transposed_conv"]
    # the reference share is measured on the same test images whatever the decoder ...
    for p in (2, 4):
        assert tied[f"checker_input_p{p}"] == transposed[f"checker_input_p{p}"]
    # ... while the outputs' shares are the decoders' own (tied reads the encoder kernels)
    assert tied["checker_out_init_p2"] != transposed["checker_out_init_p2"]


def test_graph_cli_end_to_end(tmp_path):
    base = BY_NAME["graph"]
    small = Suite(name="graph", description=base.description,
                  configs=lambda o: [{**c, "epochs": 30, "blocks": [15, 15]}
                                     for c in base.configs(o)[:2]],
                  run=base.run, summarize=base.summarize)
    assert cli.main(["--suite", "graph", "--out", str(tmp_path)], suites=[small]) == 0
    records = [json.loads(line) for line in (tmp_path / "graph.jsonl").read_text().splitlines()]
    assert {r["config"]["decoder"] for r in records} == {"inner_product", "mlp"}
    for r in records:
        assert 0.0 <= r["final"]["test_auc"] <= 1.0 and 0.0 <= r["final"]["oracle_auc"] <= 1.0
        assert len(r["trajectory"]["loss"]) == 31  # step 0 and after each of 30 epochs
