"""exact-pcs at k = 20 and 50: the plan keeps the saved runs, the comparisons are paired by
start with never-reached runs counted at the budget and Holm-corrected over the paired table,
and the answer says at which k RAG or non-uniform L2 needed fewer iterations."""

import json
import math
import pathlib

import pytest

from tiedae.bench.records import fingerprint, record_fingerprint
from tiedae.bench.suite import Options
from tiedae.bench.suites import BY_NAME, exact_pcs, exact_pcs_comparisons
from tiedae.bench.suites.exact_pcs_comparisons import comparisons, settings, versus

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "paper" / "results" / "exact-pcs.jsonl"


def _rec(k, method, opt, seed, it, steps=4000, d=1000):
    return {"config": {"d": d, "k": k, "method": method, "optimizer": opt, "seed": seed,
                       "steps": steps, "target": 0.3},
            "final": {"iterations_to_axis_0.3": it, "axis_distance": 0.2 if it else 0.6,
                      "subspace_distance": 1e-9},
            "trajectory": {"step": [0, 10], "axis_distance": [1.0, 0.2 if it else 0.6]}}


def test_committed_full_runs_are_the_planned_ones():
    """Every committed record is a planned full run with its planned fingerprint (adding k = 20
    and 50 kept the k = 2 and 10 runs' fingerprints, so `--resume` ran only the new ones), and
    every planned run is committed."""
    if not RESULTS.exists():
        pytest.skip("no committed exact-pcs records")
    planned = {c["run_id"]: c for c in exact_pcs.configs(Options(quick=False))}
    saved = [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    for record in saved:
        assert fingerprint("exact-pcs", planned[record["run_id"]]) == record_fingerprint(record)
    assert {r["run_id"] for r in saved} == set(planned)
    assert {r["config"]["k"] for r in saved} == {2, 10, 20, 50}


def test_full_plan_budgets_and_starts():
    configs = exact_pcs.configs(Options(quick=False))
    for k, (budget, starts, opts) in exact_pcs.FULL_PLAN.items():
        mine = [c for c in configs if c["k"] == k]
        assert len(mine) == len(opts) * 3 * starts and starts >= 5
        assert {c["optimizer"] for c in mine} == set(opts)
        assert "sgd_nesterov" in opts  # Bao et al.'s SGD setting at every k
        assert {c["steps"] for c in mine if c["method"] != "plain"} == {budget}
        assert {c["steps"] for c in mine if c["method"] == "plain"} == {
            min(budget, exact_pcs.PLAIN_BUDGET)}
    assert len(exact_pcs.configs(Options(quick=True))) == 15  # the quick run is unchanged


def test_never_reached_counts_at_the_budget_in_the_paired_test():
    recs = ([_rec(10, "rag", "adam", s, None, steps=6000) for s in range(4)]
            + [_rec(10, "nonuniform_l2", "adam", s, 1500 * (1 + s % 2), steps=6000)
               for s in range(4)])
    groups = settings(recs)
    p = versus(groups[1000, 10, "adam", "rag"], groups[1000, 10, "adam", "nonuniform_l2"])
    expected = [math.log2(6000 / (1500 * (1 + s % 2))) for s in range(4)]
    assert p.n == 4 and p.mean == pytest.approx(sum(expected) / 4)
    both_never = settings([_rec(10, m, "adam", s, None) for m in ("rag", "nonuniform_l2")
                           for s in range(4)])
    assert versus(both_never[1000, 10, "adam", "rag"],
                  both_never[1000, 10, "adam", "nonuniform_l2"]) is None


def _two_k_records():
    """k = 2: non-uniform L2 clearly faster; k = 50: RAG faster by a little, seed by seed."""
    recs = []
    for seed in range(6):
        for opt in ("sgd_nesterov", "adam"):
            recs += [_rec(2, "rag", opt, seed, 1000 + 13 * seed),
                     _rec(2, "nonuniform_l2", opt, seed, 100 + seed),
                     _rec(2, "plain", opt, seed, None, steps=2000),
                     _rec(50, "rag", opt, seed, 4000 + 37 * seed, steps=8000),
                     _rec(50, "nonuniform_l2", opt, seed, 4400 + 41 * seed + 60 * (seed % 3),
                          steps=8000),
                     _rec(50, "plain", opt, seed, None, steps=2000)]
    return recs


def test_comparisons_are_holm_corrected_over_the_paired_table():
    recs = _two_k_records()
    compared = comparisons(settings(recs))
    # RAG vs L2 and Adam vs SGD (for L2 and RAG) at each k: 2 + 2 per k
    assert [(c.k, c.what, c.within) for c in compared][:4] == [
        (2, "methods", "sgd_nesterov"), (2, "methods", "adam"),
        (2, "optimizers", "nonuniform_l2"), (2, "optimizers", "rag")]
    tested = [c.test for c in compared if c.test is not None and c.test.n >= 2]
    assert {t.family for t in tested} == {len(tested)}
    assert all(t.p_adjusted >= t.p_value for t in tested)
    # the paired table carries the adjusted p-values
    analysis = BY_NAME["exact-pcs"].analyze(recs)
    paired = next(t for t in analysis.tables if t.name == "exact_pcs_paired")
    assert len(paired.rows) == len(compared)
    assert "$" not in "".join(c.text for r in paired.rows for c in r)


def test_answer_says_at_which_k_each_method_needed_fewer_iterations():
    compared = comparisons(settings(_two_k_records()))
    where = exact_pcs_comparisons.where_rag_wins(compared, 1000)
    assert where["sgd_nesterov"] == {"more": [2], "fewer": [50]}
    sentence = exact_pcs_comparisons.where_sentence(compared, 1000)
    assert sentence.startswith("with SGD + Nesterov, fewer iterations at k = 50, more "
                               "iterations at k = 2; with Adam")
    numbers = BY_NAME["exact-pcs"].analyze(_two_k_records()).numbers
    assert r"Table~\ref{tab:exact-pcs-paired}" in numbers["RFindExactPcs"]
    assert "fewer iterations at k = 50" in numbers["RFindExactPcs"]
    assert "fewer iterations at k = 50, more iterations at k = 2" in numbers["RAnswerExactPcs"]


def test_a_weak_difference_does_not_survive_holm():
    """Four comparisons; one has p < 0.05 alone but not after Holm's correction."""
    recs = []
    slower = [4, 0, 6, 2, 7, 1]  # Adam's RAG: a few iterations more, paired p = 0.033 alone
    for seed in range(6):
        for opt in ("sgd_nesterov", "adam"):
            recs += [_rec(2, "rag", opt, seed, 1000 + 10 * seed),
                     _rec(2, "nonuniform_l2", opt, seed, 100 + seed + seed % 2)]
    compared = comparisons(settings(recs))
    tested = [c.test for c in compared if c.test is not None]
    assert len(tested) == 4
    # the optimizer comparisons are identical runs: no difference; RAG vs L2 survives
    assert [c.test.verdict for c in compared if c.what == "methods"] == ["higher", "higher"]
    weak = [_rec(2, "rag", "adam", s, 1000 + 10 * s + slower[s]) for s in range(6)]
    recs = [r for r in recs if not (r["config"]["method"] == "rag"
                                   and r["config"]["optimizer"] == "adam")] + weak
    compared = comparisons(settings(recs))
    opt_rag = next(c.test for c in compared if c.what == "optimizers" and c.within == "rag")
    assert opt_rag.p_value < 0.05 < opt_rag.p_adjusted
    assert opt_rag.verdict == "no measurable difference"


def test_figure_with_four_code_sizes_draws_rows_of_three():
    from tiedae.bench.suites.exact_pcs_figure import draw

    recs = [_rec(k, m, "adam", s, 100 * k, steps=8000) for k in (2, 10, 20, 50)
            for m in ("rag", "nonuniform_l2") for s in range(2)]
    fig = draw(settings(recs), 0.3)
    try:
        visible = [ax for ax in fig.axes if ax.axison]
        assert len(fig.axes) == 6 and len(visible) == 5
        assert [ax.get_title() for ax in visible[1:]][0].startswith("$k=2$")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
