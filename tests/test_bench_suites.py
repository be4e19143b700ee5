"""Each suite: valid configs, and one shrunken run whose numbers must agree with the theory."""

import json

import numpy as np
import pytest
from suite_runs import BY_NAME, run_once, write_tiny_mnist

from tiedae.bench.suite import Options, loglog_slope
from tiedae.bench.suites import SUITES
from tiedae.report import format as F
from tiedae.report.format import fmt, mean_std

MINE = ("decoders", "conservation", "regularized", "exact-pcs", "optimal-decoder",
        "step-cost", "peers")


def _config(name, quick=True, **where):
    for config in BY_NAME[name].configs(Options(quick=quick)):
        if all(config.get(k) == v for k, v in where.items()):
            return dict(config)
    raise AssertionError(f"no {name} config with {where}")


def _run(name, config):
    record = run_once(name, config)
    return record["final"], BY_NAME[name].analyze([record])


def test_registry_and_configs_are_well_formed():
    names = [s.name for s in SUITES]
    assert len(set(names)) == len(names) and set(MINE) <= set(names)
    for suite in SUITES:
        assert suite.description
        for quick in (True, False):
            configs = suite.configs(Options(quick=quick, seed=3))
            ids = [c["run_id"] for c in configs]
            assert configs and len(set(ids)) == len(ids), suite.name
            assert all("seed" in c for c in configs), suite.name
            json.dumps(configs, allow_nan=False)
        quick_ids = {c["run_id"] for c in suite.configs(Options(quick=True))}
        full_ids = {c["run_id"] for c in suite.configs(Options(quick=False))}
        assert not quick_ids & full_ids, f"{suite.name}: quick and full run_ids collide"


def test_user_data_is_flattened_and_scaled(tmp_path):
    from tiedae.bench import datasets

    path = write_tiny_mnist(tmp_path / "mini.npz")
    X = datasets.load("user", path=path)
    assert X.shape == (30, 784) and X.dtype == np.float64 and 0 <= X.min() and X.max() <= 1
    configs = BY_NAME["decoders"].configs(Options(quick=True, data=path))
    assert any(c["dataset"] == "user" for c in configs)


def test_decoders_untied_init_is_capped_only_where_gradient_descent_would_diverge():
    import jax.numpy as jnp
    from flax import nnx

    import tiedae
    from tiedae.bench.suites import decoders as suite

    for quick in (True, False):  # the cap leaves every d=64 run (digits, spiked) as it was
        for config in suite.configs(Options(quick=quick)):
            if config["decoder"] == "untied":
                model = tiedae.LinearAE(config["d"], config["k"], decoder="untied",
                                        init_scale=config["init_scale"],
                                        rngs=nnx.Rngs(config["seed"]))
                assert suite.cap_untied_decoder(model, config["untied_v0_cap"],
                                                config["lr_gd_times_lambda1"]) == 1.0
    model = tiedae.LinearAE(784, 4, decoder="untied", init_scale=0.5, rngs=nnx.Rngs(0))
    scale = suite.cap_untied_decoder(model, suite.UNTIED_V0_CAP, 0.1)
    norm2 = float(jnp.linalg.norm(model.V[...], 2)) ** 2
    assert scale < 0.5 and 0.1 * norm2 == pytest.approx(suite.UNTIED_V0_CAP, rel=1e-5)


def test_decoders_untied_gradient_descent_runs_on_784_dimensional_data(tmp_path):
    import tiedae

    rng = np.random.default_rng(0)
    images = (rng.random((300, 28, 28)) < 0.2).astype(np.uint8) * 255
    images[:, :2] = 0  # constant border pixels, as in MNIST
    path = tmp_path / "mini.npz"
    np.savez(path, x_test=images, y_test=rng.integers(0, 10, 300).astype(np.uint8))
    config = next(c for c in BY_NAME["decoders"].configs(Options(quick=True, data=path))
                  if c["dataset"] == "user" and c["decoder"] == "untied")
    config.update(steps=30, k=4)  # at k=4, V0's norm is largest: unstable without the cap
    final, _ = _run("decoders", config)
    assert np.isfinite(final["loss_gap"]) and final["loss_gap"] >= -1e-4
    with pytest.raises(tiedae.TrainingDiverged):  # the same run without the cap
        _run("decoders", {**config, "untied_v0_cap": None})


def test_helpers():
    assert fmt(None) == "-" and fmt(1234.5) == "1.23e+03" and fmt(0.5) == "0.5"
    assert mean_std([1.0, 3.0]).startswith("2 ±") and mean_std([None]) == "-"
    assert loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)


def test_decoders_transpose_orthonormalises_pinv_does_not():
    finals = {}
    for dec in ("transpose", "pinv"):
        config = _config("decoders", quick=False, dataset="spiked", decoder=dec, k=4,
                         optimizer="gd")
        config["steps"] = 400
        finals[dec], _ = _run("decoders", config)
    assert finals["transpose"]["orthonormality"] < 1e-4 * finals["transpose"][
        "orthonormality_start"]
    assert finals["pinv"]["orthonormality"] > 0.5 * finals["pinv"]["orthonormality_start"]
    for f in finals.values():
        assert f["relative_loss_gap"] < 1e-5 and f["subspace_distance"] < 1e-8


def test_conservation_drift_slopes_gd_and_momentum_two_adam_one_from_both_sides():
    finals = {}
    for opt in ("gd", "momentum", "adam"):
        for init in ("below", "above"):
            config = _config("conservation", kind="drift", decoder="pinv", optimizer=opt,
                             init=init)
            finals[opt, init], _ = _run("conservation", {**config, "trained_steps": 300})
    for (opt, init), f in finals.items():
        expected = 1.0 if opt == "adam" else 2.0
        assert abs(f["drift_slope_small_eta"] - expected) < 0.15, (opt, init)
        assert (f["sv_min_start"] > 1) == (init == "above")
    # gradient descent only adds eta^2 G G^T: W W^T grows from either side, so it moves
    # towards I from below and away from I from above
    for init, sign in (("below", -1), ("above", 1)):
        f = finals["gd", init]
        assert f["trace_change_at_largest_eta"] > 0 and f["trained_trace_change"] > 0
        assert sign * f["orthonormality_change_at_largest_eta"] > 0
        assert sign * (f["trained_orthonormality"] - f["trained_orthonormality_start"]) > 0


def test_conservation_untied_decay_rate_is_four_lambda():
    final, summary = _run("conservation", _config("conservation", kind="decay",
                                                  lambda_over_lambda1=0.1))
    assert final["rate_ratio"] == pytest.approx(1.0, abs=0.05)
    assert any("rate / (4 lam)" in line for line in summary.findings)
    free, _ = _run("conservation", _config("conservation", kind="decay",
                                           lambda_over_lambda1=0.0))
    assert free["max_relative_change"] < 0.05


def test_regularized_closed_form_and_step_sizes():
    final, summary = _run("regularized", _config("regularized", kind="l2",
                                                 lambda_over_lambda1=0.7))
    assert final["max_sv_error"] < 1e-8 and final["V_minus_W_T"] < 1e-8
    assert final["n_alive"] == 3 and final["max_sv_error_if_constant_were_n_e"] > 1e-2
    config = _config("regularized", kind="stability", start="near_optimum")
    final, summary = _run("regularized", {**config, "bisections": 10})
    assert final["tied_gradient_local_theory"] == pytest.approx(0.5, rel=1e-6)
    assert final["gd_local_theory"] == pytest.approx(0.25, rel=1e-6)
    assert final["oja_local_theory"] == pytest.approx(1.0, rel=1e-6)
    assert final["ratio_oja_over_gradient"] == pytest.approx(2.0, rel=0.05)
    assert final["gd_eta_max_times_e1"] == pytest.approx(0.25, rel=0.05)
    assert "plain gradient descent W <- W - eta grad L up to eta*e1 = 0.2" in \
        summary.findings[0]


def test_regularized_logs_the_distance_to_the_closed_form_during_training():
    config = {**_config("regularized", kind="l2", lambda_over_lambda1=0.2), "steps": 600}
    record = run_once("regularized", config)
    traj = record["trajectory"]
    assert traj["V_minus_W_T"][0] > 0.1 and traj["V_minus_W_T"][-1] < 1e-3 * traj[
        "V_minus_W_T"][0]
    assert traj["sv_error"][-1] < 1e-3 * traj["sv_error"][0]


def test_regularized_finding_reports_the_range_of_the_wrong_constant():
    from tiedae.bench.suites import regularized

    def rec(lam, wrong):
        return {"config": {"kind": "l2", "lambda_over_lambda1": lam, "k": 4},
                "final": {"max_sv_error": 1e-15, "max_sv_error_if_constant_were_n_e": wrong,
                          "V_minus_W_T": 1e-15, "n_alive": 4}}

    summary = regularized.SUITE.analyze([rec(0.1, 0.087), rec(0.9, 1.0)])
    assert "0.087 to 1 across lam" in summary.findings[0]


def test_optimal_decoder_right_inverse_optimal_only_on_invariant_subspaces():
    final, analysis = _run("optimal-decoder", _config("optimal-decoder", dataset="digits"))
    for dec in ("least_squares", "pinv", "transpose"):
        assert abs(final[f"pca_optimum.{dec}_gap"]) < 1e-10
    assert abs(final["pca_subspace_skewed.pinv_gap"]) < 1e-10
    assert final["pca_subspace_skewed.transpose_gap"] > 1.0
    assert final["random.least_squares_gap"] < 0.9 * final["random.pinv_gap"]
    assert len(analysis.findings) == 3
    (table,) = analysis.tables  # relative gaps; rounding noise is written ≈0 in both forms
    rows = {row[0].text: row for row in table.rows}
    assert rows["digits, d=64, k=4, 1 seeds"] and table.name == "optimal_decoder"
    at_optimum, skewed = rows["PCA optimum U_k^T"], rows["skewed basis A U_k^T of the PCA subspace"]
    assert [c.text for c in at_optimum[1:]] == ["≈0"] * 4
    assert at_optimum[1].tex == r"\ensuremath{\approx0}" and skewed[3].text not in ("≈0", "-")


def test_exact_pcs_rag_aligns_axes_and_stops_at_the_target():
    config = _config("exact-pcs", k=2, method="rag")
    final, _ = _run("exact-pcs", {**config, "steps": 1500})
    assert final["iterations_to_axis_0.3"] is not None and final["axis_distance"] <= 0.3
    assert final["iterations_run"] == final["iterations_to_axis_0.3"]  # stopped there


def test_exact_pcs_uses_bao_et_al_released_configuration():
    from tiedae.bench.suites import exact_pcs

    configs = BY_NAME["exact-pcs"].configs(Options(quick=False))
    groups = {}
    for c in configs:
        groups.setdefault((c["k"], c["method"], c["optimizer"]), []).append(c)
    assert {k for k, _, _ in groups} == {2, 10, 20, 50}  # their Figure 4's k but 5
    assert {o for _, _, o in groups} == {"sgd_nesterov", "adam"}
    for (k, method, opt), cs in groups.items():
        assert len(cs) >= (10 if k <= 10 else 5) and len({c["seed"] for c in cs}) == len(cs)
        assert len({c["data_seed"] for c in cs}) == 1  # random starts on one data set
        c = cs[0]
        assert (c["d"], c["n"], c["init_scale"], c["target"]) == (1000, 5000, 1e-4, 0.3)
        assert c["lr"] == exact_pcs.LR[opt][method] and not c["centered"]
    assert exact_pcs.LR["sgd_nesterov"] == {"plain": 1e-3, "nonuniform_l2": 1e-3, "rag": 1e-4}
    assert exact_pcs.LR["adam"] == {"plain": 3e-3, "nonuniform_l2": 3e-3, "rag": 3e-4}


def test_exact_pcs_trains_on_the_uncentred_second_moment():
    from tiedae.bench import datasets
    from tiedae.bench.suites import exact_pcs

    source, matrix, evals, evecs, mean_sq = exact_pcs.moments(400, 30, 0, False)
    X = datasets.load("linear", n=400, d=30, seed=0)
    np.testing.assert_allclose(matrix, X.T @ X / len(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(evecs[:3] @ matrix @ evecs[:3].T, np.diag(evals[:3]),
                               atol=1e-9)
    assert mean_sq == pytest.approx(float(X.mean(0) @ X.mean(0)) / evals[0])


def test_exact_pcs_summary_compares_each_optimizer_with_both_line_styles():
    from tiedae.bench.suites import exact_pcs, exact_pcs_analysis, exact_pcs_comparisons
    from tiedae.bench.suites.exact_pcs_reference import BAO_FIGURE4

    def rec(k, method, opt, seed, it):
        return {"config": {"d": 1000, "k": k, "method": method, "optimizer": opt,
                           "seed": seed, "steps": 4000, "target": 0.3},
                "final": {"iterations_to_axis_0.3": it, "axis_distance": 0.2 if it else 0.6,
                          "subspace_distance": 1e-9}}

    # Adam exactly at the solid values, SGD at the dashed ones; plain never gets there
    records = []
    for seed in range(5):
        for opt, style in (("adam", "solid"), ("sgd_nesterov", "dashed")):
            for method in ("rag", "nonuniform_l2"):
                records.append(rec(2, method, opt, seed, BAO_FIGURE4[
                    (method, style)][2] + seed))
            records.append(rec(2, "plain", opt, seed, None))
    analysis = exact_pcs.SUITE.analyze(records)
    text = " ".join(analysis.findings)
    assert "Bao et al.'s Figure 4: solid ~850, dashed ~2.35e+03" in text
    assert "fit the reading solid = adam" in analysis.findings[-1]
    assert "plain never [never, never] (0/5 reached)" in text
    fit = exact_pcs_analysis.style_fit(exact_pcs_comparisons.settings(records))
    assert fit["solid = adam"][0] < 0.01 < fit["solid = sgd_nesterov"][0]
    # the paper's (LaTeX) and the terminal's (plain text) forms of the same cells
    table, paired = analysis.tables
    assert paired.name == "exact_pcs_paired" and len(paired.rows) == 4  # 2 methods, 2 opts
    rows = {(r[2].text, r[3].text): r for r in table.rows}
    assert table.name == "exact_pcs" and len(rows) == 6
    plain, rag = rows["Adam", "plain"], rows["Adam", "RAG"]
    assert (plain[5].text, plain[6].text) == ("never [never, never]", "0/5")
    assert (rag[5].text, rag[9].text, rag[9].tex) == ("852 [851, 853]", "~850", r"\ensuremath{850}")
    assert "$" not in "".join(c.text for r in table.rows for c in r)
    assert "RFindExactPcs" in analysis.numbers and analysis.figures[0].name == "exact_pcs"


def test_exact_pcs_pairs_methods_by_seed_when_a_run_is_missing():
    """A failed run (absent record) leaves its seed out of the pairing; before, the lists were
    paired by position (a ValueError on unequal lengths, or the wrong starts paired)."""
    from tiedae.bench.suites import exact_pcs, exact_pcs_comparisons

    def rec(method, seed, it):
        return {"config": {"d": 200, "k": 2, "method": method, "optimizer": "adam",
                           "seed": seed, "steps": 3000, "target": 0.3},
                "final": {"iterations_to_axis_0.3": it, "axis_distance": 0.2,
                          "subspace_distance": 1e-9}}

    rag = [rec("rag", s, 100 + s) for s in range(5) if s != 1]  # seed 1's run failed
    l2 = [rec("nonuniform_l2", s, 1000 - 300 * (s == 1)) for s in range(5)]
    plain = [rec("plain", s, None) for s in range(5)]
    settings = exact_pcs_comparisons.settings(rag + l2 + plain)
    a, b = exact_pcs_comparisons.on_common_seeds(settings[200, 2, "adam", "rag"],
                                                 settings[200, 2, "adam", "nonuniform_l2"])
    assert a == [100.0, 102.0, 103.0, 104.0] and b == [1000.0] * 4
    text = " ".join(exact_pcs.SUITE.analyze(rag + l2 + plain).findings)
    assert "RAG vs non-uniform L2 - RAG needed 0.1x non-uniform L2's iterations" in text
    assert "reached in 4 vs 4 of 4 starts" in text and ": fewer iterations" in text


def test_median_iqr_counts_never_reached_runs_as_infinite():
    from tiedae.report import stats

    assert stats.median_iqr([50.0, 50.0, None, None, None]) == (np.inf, 50.0, np.inf)
    assert stats.median_iqr([10.0, 10.0, None]) == (10.0, 10.0, np.inf)
    x = np.random.default_rng(0).normal(size=9)
    np.testing.assert_allclose(stats.median_iqr(x), np.percentile(x, [50, 25, 75]))


def test_decoders_record_time_to_subspace_and_singular_values():
    from tiedae.bench.suites import decoders

    config = {**_config("decoders", decoder="transpose"), "steps": 300}
    record = run_once("decoders", config)
    final, extra = record["final"], record["extra"]
    assert final["steps_to_subspace_1e-3"] is not None
    assert 0 < final["seconds_to_subspace_1e-3"] < record["trajectory"]["wall_time"][-1] + 1e-9
    sv = np.asarray(extra["singular_values"])
    assert sv.shape == (len(extra["sv_step"]), config["k"]) and extra["sv_step"][-1] == 300
    assert np.allclose(sv[-1], 1.0, atol=1e-3) and final["sv_max_start"] < 1.0
    # paired verdicts: a decoder that is slower in every seed, and one never reaching
    slow = decoders.paired_to_target([110.0, 112.0, 111.0, 113.0], [100.0] * 4)
    assert slow[0] == "slower" and slow[1].verdict == "higher"
    assert decoders.paired_to_target([np.inf, 10.0, 10.0], [5.0, 5.0, 5.0])[0] == \
        "reached in 2 vs 3 of 3 seeds"


def test_decoders_analysis_pairs_each_decoder_with_the_transpose_decoder():
    from tiedae.bench.suites import decoders
    from tiedae.report.latex import table_tex

    def rec(dec, seed):
        steps = {"transpose": 100.0, "pinv": 40.0, "right_inverse": 41.0, "untied": None}[dec]
        final = {"orthonormality_start": 1.5, "orthonormality": 1e-7 if dec == "transpose"
                 else 1.4, "relative_loss_gap": 1e-7, "subspace_distance": 1e-9,
                 "condition_number": 1.0, "ms_per_step": 0.3,
                 "steps_to_subspace_1e-3": None if steps is None else steps + seed * steps / 20,
                 "seconds_to_subspace_1e-3": None if steps is None else steps / 1e3,
                 "sv_min_start": 0.4, "sv_max_start": 0.6, "sv_min": 1.0, "sv_max": 1.0}
        return {"config": {"dataset": "spiked", "d": 64, "k": 4, "optimizer": "gd",
                           "decoder": dec, "seed": seed, "steps": 500},
                "final": final, "extra": {"d": 64}}

    records = [rec(dec, seed) for seed in range(4) for dec in decoders.DECODERS]
    analysis = decoders.SUITE.analyze(records)
    time = next(t for t in analysis.tables if t.name == "decoders_time")
    assert time.rows[0][0].text == "spiked, d=64, k=4, gd, 4 seeds"  # a spanning heading
    rows = {row[0].text: row for row in time.rows[1:]}
    assert rows["pinv"][3].text == "faster -64 [-71, -58]"  # mean difference [95% CI]
    assert rows["untied"][1].text == "never [never, never] (0/4)"
    assert rows["untied"][3].text == "reached in 0 vs 4 of 4 seeds"
    assert not any("\\" in c.text or "$" in c.text for t in analysis.tables for row in t.rows
                   for c in row)
    assert "\\multicolumn{4}{l}{\\emph{spiked, $d=64$, $k=4$, gd, 4 seeds}}" in table_tex(time)
    assert len(analysis.findings) == 3 and "rows became orthonormal" in analysis.findings[0]
    assert "pinv 43 [41.5, 44.5] steps / 0.04 [0.04, 0.04] s (faster in steps, faster in " \
        "seconds than transpose)" in analysis.findings[2]
    assert analysis.numbers["RDecTransposeOrthoFinal"].startswith("\\ensuremath{10^{-7}")
    assert [f.name for f in analysis.figures] == ["decoders_curves", "decoders_sv"]


@pytest.mark.parametrize("name, tables", [("decoders", {"decoders_time"}),
                                            ("conservation", {"conservation"}),
                                            ("regularized", {"oja"})])
def test_linear_suites_write_their_paper_tables_and_plain_text(tmp_path, name, tables):
    from paper_records import write_tiny_results

    from tiedae.report import query

    write_tiny_results(tmp_path, [name])
    analysis = BY_NAME[name].analyze(query.load(tmp_path)[name])
    assert {t.name for t in analysis.tables} - {None} == tables
    texts = [c.text for t in analysis.tables for row in t.rows for c in (*t.columns, *row)]
    assert texts and not [x for x in texts if "\\" in x or "$" in x]
    assert analysis.findings and analysis.figures
    assert all(name.startswith("R") for name in analysis.numbers)


def test_step_cost_paired_rounds_give_a_verdict():
    from tiedae.bench.suites import step_cost

    same = step_cost.versus_transpose([1.0, 1.1, 0.9, 1.0], [1.05, 1.0, 1.0, 0.95])
    assert same["verdict"] == "no measurable difference"
    slower = step_cost.versus_transpose([2.0, 2.1, 1.9, 2.0], [1.0, 1.05, 0.95, 1.0])
    assert slower["verdict"] == "higher" and slower["ratio_median"] == pytest.approx(2.0, 0.05)


def _step_cost_record(d, k, rounds):
    final = {"numpy_gflops": 50.0, "transpose_vs_numpy": 0.8, "transpose_gflops": 40.0}
    for dec, times in rounds.items():
        best = min(times) / min(rounds["transpose"])
        final.update({f"{dec}_ms": min(times), f"{dec}_ratio": best,
                      f"{dec}_closed_form_speedup": 2.0})
    for dec in ("pinv", "right_inverse"):
        final[f"{dec}_default_pool_ratio"] = 1.0
    return {"config": {"n": 64, "d": d, "k": k, "seed": 0, "repeats": len(rounds["transpose"])},
            "final": final, "extra": {"rounds_ms": rounds}}


def test_step_cost_verdicts_are_paired_tests_holm_adjusted_over_the_table():
    """Issue 17: each decoder's step against the transpose step is a paired t-test over the
    rounds (log ratios) with its p-value, Holm-adjusted over every comparison of the table; a
    difference that one test alone calls measurable is "no measurable difference", with its
    interval, once the table's other comparisons are counted."""
    from tiedae.bench.suites import step_cost
    from tiedae.report import stats

    base = np.array([1.0, 1.1, 0.95, 1.05, 1.0, 0.9])
    even = np.array([0.01, -0.01, 0.02, -0.02, 0.005, -0.005])  # no systematic difference
    slight = np.array([0.045, 0.01, 0.05, 0.02, 0.035, 0.02])  # 3 % slower, p about 0.004
    alone = stats.paired(np.log2(base * (1 + slight)), np.log2(base))
    assert alone.p_value < 0.05 / 4 and alone.verdict == "higher"
    records = [_step_cost_record(256, 8, {"transpose": list(base),
                                          "pinv": list(2 * base * (1 + even / 10)),
                                          "right_inverse": list(base * (1 + even)),
                                          "untied": list(base * (1 - even))})]
    records += [_step_cost_record(256, k, {"transpose": list(base),
                                           "pinv": list(base * (1 + slight)),
                                           "right_inverse": list(base * (1 + even)),
                                           "untied": list(base * (1 - even))})
                for k in (16, 32, 64)]
    analysis = step_cost.analyze(records)
    versus = step_cost.versus_transpose_table(records)
    assert versus[0]["pinv"].verdict == "higher" and versus[0]["pinv"].p.family == 12
    assert versus[0]["pinv"].ratio == pytest.approx(2.0, rel=1e-3)
    for v in versus[1:]:  # 11 x p: the second smallest of 12 p-values, tied with the next two
        assert v["pinv"].p.p_adjusted == pytest.approx(11 * alone.p_value)
        assert v["pinv"].verdict == "no measurable difference"
    (finding,) = [f for f in analysis.findings if f.startswith("pinv step")]
    assert "Holm-adjusted over the table's 12 comparisons" in finding
    assert "slower in 1, no measurable difference in 3 (their 95% intervals" in finding
    _, paired = analysis.tables
    row = next(r for r in paired.rows if [c.text for c in r[:4]] == ["64", "256", "16", "pinv"])
    assert row[6].text == F.p_value(11 * alone.p_value) and row[7].text == \
        "no measurable difference"
    lo, hi = (float(x) for x in row[5].text.strip("[]").split(","))
    assert 1 < lo < hi  # the ratio's 95% interval (each test's own, as Holm leaves it)
    assert r"Holm-corrected over the \ensuremath{12} comparisons" in \
        analysis.numbers["RFindStepCost"]
    assert analysis.numbers["RStepPinvSlower"] == "\\ensuremath{1}"


def test_step_cost_reports_ratios():
    config = {**_config("step-cost"), "n": 256, "d": 32, "k": 4, "repeats": 1}
    final, analysis = _run("step-cost", config)
    assert all(final[f"{d}_ms"] > 0 for d in ("transpose", "pinv", "right_inverse", "untied"))
    assert all(final[f"{d}_verdict"] in ("lower", "higher", "no measurable difference")
               for d in ("pinv", "right_inverse", "untied"))
    assert any("was the cheapest" in line for line in analysis.findings)
    table, paired = analysis.tables  # the terminal's only: the paper has the figure and numbers
    assert table.name is None and [c.text for c in table.rows[0][:3]] == ["256", "32", "4"]
    assert paired.name is None and len(paired.rows) == 3  # one comparison per decoder
    assert analysis.figures[0].name == "step_cost" and "RFindStepCost" in analysis.numbers
    assert all(final[f"{d}_closed_form_speedup"] > 0 and final[f"{d}_autodiff_ms"] > 0
               for d in ("transpose", "pinv", "right_inverse", "untied"))
    assert final["numpy_gflops"] > 0


def test_peers_agree_on_the_subspace():
    config = {**_config("peers"), "n": 600, "d": 20, "k": 3, "steps": 300}
    final, _ = _run("peers", config)
    assert final["scipy_eigh.subspace_distance"] < 1e-12
    assert final["sklearn_pca_full.subspace_distance"] < 1e-12
    assert final["tiedae_tied_gd.subspace_distance"] < 1e-6
    assert final["tiedae_tied_gd.time_to_target"] is not None
    assert np.isfinite(final["tiedae_tied_gd.loss_gap"])
    if "torch_tied_gd.subspace_distance" in final:  # torch is an optional extra
        assert final["torch_tied_gd.subspace_distance"] < 1e-3


def test_peers_table_findings_and_sentence_share_one_grouping():
    from paper_records import _peers

    from tiedae.bench.suites import peers

    rng = np.random.default_rng(0)
    records = [{"config": {"n": 600, "d": 20, "k": 3, "seed": s}, **_peers({}, rng)}
               for s in (3, 1, 2, 0)]
    records[0]["final"]["sklearn_pca_full.time_to_target"] = None
    analysis = peers.analyze(records)
    (table,) = analysis.tables
    rows = {row[0].text: row for row in table.rows}
    assert table.name == "peers" and rows["Oja's subspace rule (minibatch)"][1].text == \
        "not reached"
    assert rows["scikit-learn PCA (full SVD)"][1].text == "3/4 reached"
    assert rows["scipy.linalg.eigh of C"][1].tex.startswith(r"\ensuremath{(1\pm")
    assert "Fastest: scipy_eigh (measurably faster than sklearn_pca_randomized" in \
        analysis.findings[0]
    assert r"The fastest was \texttt{scipy.linalg.eigh} of $C$, measurably faster" in \
        analysis.numbers["RFindPeers"]
