"""The symmetry / features / graph suites: configs, one shrunken run each, CLI."""

import json

import numpy as np
import pytest
from suite_runs import BY_NAME
from suite_runs import run_once as _run

from tiedae.bench import cli
from tiedae.bench.suite import Options, Suite
from tiedae.report import stats

NAMES = ("symmetry", "features", "graph")  # conv suites: tests/test_conv_suites.py


@pytest.mark.parametrize("name", NAMES)
def test_configs_have_three_seeds_and_stable_ids(name):
    for quick in (True, False):
        configs = BY_NAME[name].configs(Options(quick=quick))
        assert len({c["run_id"] for c in configs}) == len(configs)
        assert len({c["seed"] for c in configs}) >= 3
        assert configs == BY_NAME[name].configs(Options(quick=quick))
        json.dumps(configs, allow_nan=False)


def test_symmetry_shrunken_runs():
    configs = BY_NAME["symmetry"].configs(Options(quick=False))  # quick has no wide encoder
    recs = []
    for variant in ("tied", "linear", "wide"):
        config = next(c for c in configs if c.get("variant") == variant)
        config = {**config, "batch_size": 64, "images": 2, "log_every": 5,
                  "learning_rates": [3e-3]}  # one step size: a fast test
        recs.append(_run("symmetry", {**config, "steps": 100}))
    tied, linear, wide = (r["final"] for r in recs)
    assert tied["params_decoder"] == 25 + 100 + 64  # biases only
    assert linear["params_decoder"] == 2 * 64 + 64
    assert wide["params_encoder"] == 64 * 200 + 200 + 200 * 2 + 2
    # a linear decoder's output lies in a k-dim affine subspace: it cannot beat PCA (train set)
    assert linear["train_error"] >= linear["pca_train_error"] * (1 - 1e-4)
    assert 0 < tied["test_error_relative"] < 1.2
    assert len(recs[0]["extra"]["reconstructions"]) == 2
    # the loss curve is logged every 5 steps, train and test
    assert recs[0]["trajectory"]["step"][:3] == [0, 5, 10]
    assert len(recs[0]["trajectory"]["test_loss"]) == len(recs[0]["trajectory"]["step"])
    for f in (tied, linear):
        assert f["code_r2_pca"] <= 1.0 and 0.1 < f["knn_accuracy"] <= 1.0
    analysis = BY_NAME["symmetry"].analyze(recs)
    assert any("tied" in f for f in analysis.findings)
    (main, paired) = analysis.tables
    assert [row[0].text for row in main.rows] == ["tied (W^T)", "linear",
                                                  "encoder 200 (mirror dec.)"]
    assert paired.rows == ()  # nothing to pair without the mirror


def _symmetry_records(train_errors, pca_error=2.0, r2=None):
    r2 = r2 or {}
    out = []
    for variant in ("mirror", "tied", "linear"):
        for seed, train in enumerate(train_errors):
            final = {"test_error": 3.0 + 0.1 * seed, "test_error_relative": 0.3,
                     "pca_test_error": 2.5, "steps_to_pca_k": 100.0,
                     "seconds_to_pca_k": 1.0, "params_encoder": 10, "params_decoder": 5,
                     "train_error": train if variant == "linear" else 1.0,
                     "pca_train_error": pca_error, "probe_accuracy": 0.5,
                     "knn_accuracy": 0.5, "code_r2_pixels": 0.5,
                     "code_r2_pca": r2.get(variant, 0.5) + 0.01 * seed * seed}
            out.append({"config": {"kind": "decoder", "variant": variant, "seed": seed,
                                   "encoder": [100, 25]},
                        "final": final})
    return out


def test_symmetry_linear_vs_pca_finding_follows_the_numbers():
    analyze = BY_NAME["symmetry"].analyze
    above = analyze(_symmetry_records([2.1, 2.3]))
    (text,) = [f for f in above.findings if "linear decoder's error" in f]
    assert "training set" in text and "at or above it in all 2 seeds" in text
    assert "at or above it in all 2 seeds" in above.numbers["RSymEckartYoung"]
    below = analyze(_symmetry_records([2.1, 1.5]))
    (text,) = [f for f in below.findings if "linear decoder's error" in f]
    assert "below it in 1 of 2 seeds" in text and "at or above" not in text
    assert "below it in 1 of 2 seeds" in below.numbers["RSymEckartYoung"]


def test_symmetry_simplicity_verdict_follows_the_paired_differences():
    analyze = BY_NAME["symmetry"].analyze
    # R^2 is compared by the signed-rank test (smallest p 2 / 2^n), Holm-adjusted over the table:
    # 10 seeds leave room for a verdict
    seeds = [2.1 + 0.1 * i for i in range(10)]
    higher = analyze(_symmetry_records(seeds, r2={"linear": 0.9, "mirror": 0.5}))
    assert any("Simpler decoder, simpler code? yes" in f for f in higher.findings)
    assert "Verdict: yes." in higher.numbers["RAnswerSymmetry"]
    lower = analyze(_symmetry_records(seeds, r2={"linear": 0.2, "mirror": 0.5}))
    assert any("Simpler decoder, simpler code? no:" in f for f in lower.findings)
    assert "Verdict: no." in lower.numbers["RAnswerSymmetry"]
    same = analyze(_symmetry_records(seeds)).findings
    assert any("simpler code? no measurable difference" in f for f in same)
    # the paired table shows the same verdicts as the findings
    (paired,) = [t for t in higher.tables if t.name == "symmetry_paired"]
    row = next(r for r in paired.rows if r[0].text == "linear - mirror"
               and r[1].text == "R^2 PCA->code")
    assert row[-1].text == "higher"


def test_features_trains_symmetrys_decoder_runs_once(monkeypatch):
    """The k = 2 runs of `features` have the training settings of `symmetry`'s decoder runs:
    `mlp_training.train` shares them (one model trained for both suites)."""
    from tiedae.bench.suites import mlp_training

    trained = []
    monkeypatch.setattr(mlp_training, "_train", lambda config: trained.append(config) or {
        "final": {"test_error": 1.0}, "trajectory": {}, "extra": {}})
    mlp_training.shared_runs.cache_clear()
    try:
        sym = next(c for c in BY_NAME["symmetry"].configs(Options()) if c["variant"] == "tied")
        feat = next(c for c in BY_NAME["features"].configs(Options()) if c["decoder"] == "tied")
        first, second = BY_NAME["symmetry"].run(sym), BY_NAME["features"].run(feat)
        grid = len(sym["learning_rates"])  # the step-size selection's runs, on this seed
        assert len(trained) == grid and first == second
        second["final"]["test_error"] = 2.0  # each caller gets its own copy
        assert BY_NAME["symmetry"].run(sym)["final"]["test_error"] == 1.0
        BY_NAME["features"].run({**feat, "seed": feat["seed"] + 1})
        assert len(trained) == grid + 1
    finally:
        mlp_training.shared_runs.cache_clear()  # no fake run for the other tests

    for quick, seeds in ((True, 3), (False, 6)):
        def keys(name, pick, quick=quick):
            return {mlp_training.training_key(c)
                    for c in BY_NAME[name].configs(Options(quick=quick)) if pick(c)}

        symmetry = keys("symmetry", lambda c: c.get("kind") == "decoder")
        features = keys("features", lambda c: c["code_dim"] == 2
                        and c["decoder"] in ("mirror", "tied", "linear"))
        assert len(features) == 3 * seeds and features <= symmetry
        everything = keys("symmetry", lambda c: c["kind"] != "pca") | keys(
            "features", lambda c: c["decoder"] not in ("pca", "pixels"))
        assert mlp_training.shared_runs.cache_info().maxsize >= len(everything)


def test_features_answer_and_tables_follow_the_paired_differences():
    rng = np.random.default_rng(0)
    recs = []
    for k in (2, 16):
        for seed in range(4):
            for dec, shift in (("mirror", 0.0), ("tied", 0.0), ("linear", -0.2)):
                score = 0.6 + shift + 0.01 * rng.standard_normal()
                recs.append({"config": {"code_dim": k, "decoder": dec, "seed": seed},
                             "final": {"probe_accuracy": score, "knn_accuracy": score,
                                       "test_error": 1.0, "code_rank": k}})
    analysis = BY_NAME["features"].analyze(recs)
    assert analysis.findings[-1].endswith("at k = 2, 16: worse.")
    assert "gave worse features" in analysis.numbers["RAnswerFeatures"]
    main, paired = analysis.tables
    assert [(r[0].text, r[1].text) for r in main.rows][:2] == [("2", "mirror"),
                                                               ("2", "tied (W^T)")]
    verdicts = {(r[0].text, r[1].text, r[2].text): r[-1].text for r in paired.rows}
    assert verdicts[("16", "linear - mirror", "5-NN")] == "lower"
    assert verdicts[("2", "tied (W^T) - mirror", "linear probe")] == "no measurable difference"


def test_features_transfer_answer_follows_its_paired_differences():
    """Transfer runs (digits 0-4 -> 5-9): the linear decoder's probe higher and 5-NN lower than
    the mirror's is 'mixed'; one seed only is 'not compared'; none is a stated placeholder."""
    rng = np.random.default_rng(1)

    def recs(seeds, probe_shift, knn_shift):
        out = []
        for seed in range(seeds):
            for dec, shift in (("mirror", (0.0, 0.0)), ("linear", (probe_shift, knn_shift))):
                noise = 0.005 * rng.standard_normal(2)
                out.append({"config": {"code_dim": 16, "decoder": dec, "seed": seed,
                                       "transfer": True},
                            "final": {"probe_accuracy": 0.8 + shift[0] + noise[0],
                                      "knn_accuracy": 0.8 + shift[1] + noise[1],
                                      "test_error": 1.0, "code_rank": 16, "converged": True,
                                      "passed_checks": True}})
        return out

    answer = BY_NAME["features"].analyze(recs(6, 0.1, -0.1)).numbers["RAnswerFeatures"]
    assert "digits its encoder never saw" in answer and "do not agree" in answer
    numbers = BY_NAME["features"].analyze(recs(1, 0.1, -0.1)).numbers
    assert "not compared" in numbers["RAnswerFeatures"]
    assert "Encoders trained on digits 0--4" in numbers["RFindFeatTransfer"]
    numbers = BY_NAME["features"].analyze(recs(0, 0, 0) or [
        {"config": {"code_dim": 2, "decoder": "mirror", "seed": 0},
         "final": {"probe_accuracy": 0.5, "knn_accuracy": 0.5, "test_error": 1.0,
                   "code_rank": 2}}]).numbers
    assert numbers["RFindFeatTransfer"] == "The transfer runs were not run."


def test_features_shrunken_runs():
    configs = BY_NAME["features"].configs(Options(quick=True))
    pick = {c["decoder"]: c for c in configs if c["code_dim"] == 2}
    tied = _run("features", {**pick["tied"], "steps": 100, "learning_rates": [1e-2]})
    pca = _run("features", pick["pca"])
    assert len(tied["extra"]["codes_2d"]) == len(tied["extra"]["labels"]) == 360
    assert np.asarray(tied["extra"]["codes_2d"]).shape == (360, 2)
    for rec in (tied, pca):
        assert 0.1 < rec["final"]["probe_accuracy"] <= 1.0
        assert 0.1 < rec["final"]["knn_accuracy"] <= 1.0


def _edge_list(path, n=40):
    """A small connected graph: a ring with chords, written as an edge list."""
    lines = [f"n{i} n{(i + 1) % n}" for i in range(n)] + [f"n{i} n{(i * 7 + 3) % n}"
                                                           for i in range(0, n, 2)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_graph_configs(tmp_path):
    configs = BY_NAME["graph"].configs
    quick = configs(Options(quick=True))
    assert {c["name"] for c in quick} == {"sbm200"} and len(quick) == 5 * 3
    full = configs(Options(quick=False))
    assert [c["name"] for c in full[::3]] == ["sbm1000"] * 10 + ["sbm200"] * 10
    path = _edge_list(tmp_path / "tiny.cites")
    with_data = configs(Options(quick=False, data={"graph": path}))
    tiny = [c for c in with_data if c["name"] == "tiny"]
    assert len(tiny) == 5 * 3 and {c["graph_data"] for c in tiny} == {path}
    assert {c["name"] for c in with_data} == {"tiny", "sbm200"}  # no SBM fallback with data
    assert len([c for c in configs(Options(quick=True, data={"graph": path}))
                if c["name"] == "tiny"]) == 3 * 3
    for c in full:  # every decoder of a seed shares its graph, split and encoder draw
        assert {d["decoder"] for d in full if d["seed"] == c["seed"]
                and d["name"] == c["name"]} == {"inner_product", "mlp", "mirrored_gcn"}


def _tiny_records(seeds=(0, 1)):
    base = next(c for c in BY_NAME["graph"].configs(Options(quick=True)))
    recs = []
    for seed in seeds:
        for dec in ("inner_product", "mlp", "mirrored_gcn"):
            config = {**base, "blocks": [15, 15], "p_in": 0.4, "p_out": 0.05, "seed": seed,
                      "decoder": dec, "epochs": 20, "run_id": f"t-{dec}-{seed}"}
            recs.append(_run("graph", config))
    return recs


def test_graph_shrunken_runs_and_summary():
    recs = _tiny_records()
    for r in recs:
        f, t = r["final"], r["trajectory"]
        assert t["epoch"] == [0, 10, 20] and len(t["val_auc"]) == len(t["loss"]) == 3
        assert f["selected_epoch"] in (0, 10, 20)
        best = t["epoch"].index(f["selected_epoch"])
        assert f["selected_val_auc"] == max(t["val_auc"]) == t["val_auc"][best]
        assert f["selected_test_auc"] == t["test_auc"][best]
        assert f["test_auc"] == t["test_auc"][-1] and 0 <= f["test_ap"] <= 1
        assert f["nodes"] == 30 and 0.4 <= f["node_probe_accuracy"] <= 1
        assert 0.5 < f["block_score_auc"] <= 1
    # the block-probability score depends on the seed's graph and split only
    by_seed = {}
    for r in recs:
        by_seed.setdefault(r["config"]["seed"], set()).add(r["final"]["block_score_auc"])
    assert all(len(v) == 1 for v in by_seed.values())
    analysis = BY_NAME["graph"].analyze(recs)
    main, paired, probe = analysis.tables
    (heading,) = [row for row in main.rows if row[0].text.startswith("SBM")]
    assert len(heading) == 1  # a heading spanning the table
    assert heading[0].text.endswith(f"30 nodes, {recs[0]['final']['edges']} edges, 2 seeds")
    (block,) = [row for row in main.rows if row[0].text == "block-probability score"]
    # one value per seed, not one per record (2 seeds x 3 decoders)
    once = [by_seed[s].pop() for s in sorted(by_seed)]
    assert block[4].text == f"{np.mean(once):.3f} ± {stats.interval(once).hi - np.mean(once):.3f}"
    assert len(paired.rows) == 1 + 3 * 4 and len(probe.rows) == 3
    assert any("Paired differences" in f for f in analysis.findings)
    assert any("a reference, not a bound" in f for f in analysis.findings)


def _fake(name, dec, seed, auc, loss=0.5):
    final = {"test_auc": auc, "test_ap": auc, "val_auc": auc, "val_ap": auc,
             "selected_epoch": 100, "selected_val_auc": auc, "selected_test_auc": auc,
             "selected_test_ap": auc, "train_loss": loss, "params": 10, "nodes": 50,
             "edges": 100, "test_edges": 10, "val_edges": 5}
    return {"config": {"name": name, "decoder": dec, "seed": seed, "epochs": 200},
            "final": final}


def test_graph_findings_name_a_winner_only_outside_the_noise():
    rng = np.random.default_rng(0)
    recs = []
    for seed in range(6):
        base = 0.8 + 0.05 * rng.standard_normal()  # seed effects shared by all decoders
        recs += [_fake("g", "inner_product", seed, base + 0.04 + 0.002 * rng.standard_normal()),
                 _fake("g", "mlp", seed, base),
                 _fake("g", "mirrored_gcn", seed, base + 0.01 * rng.standard_normal())]
    (auc,) = [f for f in BY_NAME["graph"].analyze(recs).findings
              if "test AUC after 200 epochs" in f]
    assert "inner product - MLP +0.04" in auc
    assert auc.split("inner product - MLP")[1].split(";")[0].endswith("inner product higher")
    assert auc.split("MLP - mirrored GCN")[1].rstrip(".").endswith("no measurable difference")


def test_graph_cli_end_to_end_on_an_edge_list(tmp_path):
    path = _edge_list(tmp_path / "ring.edges")
    base = BY_NAME["graph"]
    small = Suite(name="graph", description=base.description,
                  configs=lambda o: [{**c, "epochs": 20} for c in base.configs(o)
                                     if c["name"] == "ring" and c["seed"] < 2],
                  run=base.run, analyze=base.analyze)
    out = tmp_path / "out"
    assert cli.main(["--suite", "graph", "--data", path, "--out", str(out)],
                    suites=[small]) == 0
    records = [json.loads(line) for line in (out / "graph.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 3
    for r in records:
        assert r["config"]["graph_data"] == "ring.edges" and r["data_sha256"]  # its name
        assert r["final"]["nodes"] == 40 and r["final"]["edges"] == 58
        assert "block_score_auc" not in r["final"]  # no generating model for a real graph
        assert len(r["trajectory"]["loss"]) == 3  # step 0 and after 10 and 20 epochs
