"""The graph suite's analysis for the paper: intervals over seeds, paired verdicts in words,
the block-probability reference counted once per seed, and the curves figure."""

import numpy as np
import pytest

from tiedae.bench.suites import graph
from tiedae.report import format as F
from tiedae.report import latex, plots, stats

DECODERS = ("inner_product", "mlp", "mirrored_gcn")


def _record(name, dec, seed, auc, *, sbm=False, block=None):
    config = {"name": name, "decoder": dec, "seed": seed, "epochs": 200, "eval_every": 10,
              "graph": "sbm" if sbm else "edge_list"}
    if sbm:
        config.update(blocks=[50, 50, 50, 50], p_in=0.2, p_out=0.02)
    final = {"test_auc": auc, "test_ap": auc, "val_auc": auc, "val_ap": auc,
             "selected_epoch": 150, "selected_val_auc": auc, "selected_test_auc": auc,
             "selected_test_ap": auc, "train_loss": 0.4 if dec == "inner_product" else 0.01,
             "params": 100, "nodes": 200 if sbm else 2708, "edges": 1280 if sbm else 5278}
    if block is not None:
        final.update(block_score_auc=block, block_score_ap=block - 0.05)
    epochs = list(range(0, 201, 10))
    traj = {"epoch": epochs, "loss": np.geomspace(0.7, 0.4, 21).tolist(),
            "val_auc": np.linspace(0.5, auc, 21).tolist()}
    return {"run_id": f"{name}-{dec}-{seed}", "config": config, "final": final,
            "trajectory": traj}


def _paper(records) -> tuple[dict, dict]:
    """The suite's paper numbers and its named tables as LaTeX."""
    analysis = graph.analyze(records)
    return dict(analysis.numbers), {t.name: latex.table_tex(t) for t in analysis.tables
                                    if t.name is not None}


def _curves(records, tmp_path):
    (figure,) = graph.analyze(records).figures
    return plots.save(figure.draw(), tmp_path / f"{figure.name}.pdf")


def _records(gap_mlp, gap_gcn, seeds=6, noise=0.002):
    rng = np.random.default_rng(1)
    out = []
    for seed in range(seeds):
        base = 0.8 + 0.03 * rng.standard_normal()  # shared by the decoders of a seed
        aucs = {"inner_product": base, "mlp": base - gap_mlp + noise * rng.standard_normal(),
                "mirrored_gcn": base - gap_gcn + noise * rng.standard_normal()}
        out += [_record("cora", d, seed, aucs[d]) for d in DECODERS]
        block = 0.75 + 0.01 * seed
        out += [_record("sbm200", d, seed, aucs[d] - 0.05, sbm=True, block=block)
                for d in DECODERS]
    return out


def test_verdicts_in_the_text_follow_paired_tests():
    macros, tables = _paper(_records(gap_mlp=0.03, gap_gcn=0.05))
    assert "Cora" in macros["RGraphName"] and "2708" in macros["RGraphNodes"]
    assert macros["RGraphSeeds"] == r"\ensuremath{6}"
    find = macros["RFindGraph"]
    assert "higher than the MLP decoder's" in find
    assert "higher than the mirrored GCN decoder's" in find
    assert "measurably better than the decoders with parameters" in macros["RAnswerGraph"]
    # the inner product and the MLP within the noise: no winner is named for them
    macros, _ = _paper(_records(gap_mlp=0.0, gap_gcn=0.05, noise=0.02))
    assert "not measurably different from the MLP decoder's" in macros["RFindGraph"]
    assert "mixed" in macros["RAnswerGraph"]
    macros, _ = _paper(_records(gap_mlp=-0.03, gap_gcn=-0.05))
    assert "lower than the MLP decoder's" in macros["RFindGraph"]
    assert "better than the inner-product decoder" in macros["RAnswerGraph"]


def test_tables_report_t_intervals_and_the_block_score_once_per_seed():
    records = _records(gap_mlp=0.03, gap_gcn=0.05)
    _, tables = _paper(records)
    main = tables["graph"]
    cora, sbm = main.split("SBM, 4 blocks of 50")
    assert "block-probability score" in sbm and "block-probability score" not in cora
    block = [0.75 + 0.01 * s for s in range(6)]  # one value per seed, 3 decoders each
    assert F.ci_tex(block) in sbm
    assert F.ci_tex(block * 3) not in sbm  # duplicated records would narrow it
    ip = [r["final"]["test_auc"] for r in records
          if r["config"]["name"] == "cora" and r["config"]["decoder"] == "inner_product"]
    assert F.ci_tex(ip) in cora
    assert len(graph.analyze(records).tables) == 2  # no node probe in these records
    paired = tables["graph_paired"]
    assert paired.count("no measurable difference") + paired.count("higher") == 2 * 3 * 4
    diff = stats.paired(ip, [r["final"]["test_auc"] for r in records
                             if r["config"]["name"] == "cora"
                             and r["config"]["decoder"] == "mlp"])
    assert f"{diff.mean:+.4f}"[:5] in paired


@pytest.mark.parametrize(("values", "text"), [
    ([0.86, 0.87, 0.85, 0.86, 0.88], r"\ensuremath{0.864\pm0.014}"),
    ([0.5], r"\ensuremath{0.500}"),
    ([0.0041, 0.0045, 0.0043], r"\ensuremath{0.00430\pm0.00050}"),
    ([], r"\textit{n/a}"),
])
def test_ci_tex_shows_the_half_width_to_two_digits(values, text):
    assert F.ci_tex(values) == text


def test_curves_figure_and_older_records(tmp_path):
    records = _records(gap_mlp=0.03, gap_gcn=0.05)
    path = _curves(records, tmp_path)
    assert path.name == "graph_curves.pdf" and path.stat().st_size > 0
    old = []  # records of the earlier suite: two decoders, no validation curves
    for r in records[:6]:
        if r["config"]["decoder"] != "mirrored_gcn":
            r = {**r, "trajectory": {"epoch": r["trajectory"]["epoch"],
                                     "loss": r["trajectory"]["loss"]}}
            r["final"] = {k: v for k, v in r["final"].items() if not k.startswith("selected")}
            old.append(r)
    assert _curves(old, tmp_path).exists()
    macros, tables = _paper(old)
    assert r"\textit{n/a}" in tables["graph"]  # what older records lack is shown as n/a
