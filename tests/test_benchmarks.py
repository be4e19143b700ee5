"""The benchmark scripts run at a tiny size and their JSON renders in the README's format (no
timing is checked here: speed is measured by the scripts themselves)."""

import importlib
import json
import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def benchmarks():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        yield {name: importlib.import_module(name)
               for name in ("checkpoint_cost", "command_times", "fused_convolutions", "large_d",
                            "record_store", "report", "roofline", "step_throughput")}
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def _render(report, stem, res, tmp_path):
    (tmp_path / f"{stem}.json").write_text(json.dumps(res))
    return report.markdown(tmp_path)


def test_step_throughput_reports_the_closed_form_speedup(benchmarks, tmp_path):
    res = benchmarks["step_throughput"].measure(64, 16, 4, repeats=1, min_time=1e-3)
    assert res["closed_form_speedup"] == pytest.approx(
        res["autodiff_step_ms"]["transpose"] / res["step_ms"]["transpose"])
    assert res["flops_per_step"] == {"transpose": 4 * 64 * 16 * 4, "pinv": 4 * 64 * 16 * 4,
                                     "right_inverse": 4 * 64 * 16 * 4, "untied": 8 * 64 * 16 * 4}
    text = _render(benchmarks["report"], "step_throughput", res, tmp_path)
    assert "Closed-form speedup of the transpose step" in text and "| `untied` |" in text


def test_roofline_runs_on_the_cpu_and_renders(benchmarks, tmp_path):
    res = benchmarks["roofline"].measure(64, 16, 4, repeats=1, torch_compile="off",
                                         min_time=1e-3)
    mode = res["modes"]["float32"]
    assert {"jax_closed_form", "jax_autodiff"} <= set(mode["steps"])
    assert mode["closed_form_speedup"] > 0 and mode["matmul_gflops"]["jax"] > 0
    assert mode["steps"]["jax_closed_form"]["nominal_flops"] == 4 * 64 * 16 * 4
    assert res["device"] and res["jax_device_kind"]
    text = _render(benchmarks["report"], "roofline", res, tmp_path)
    assert "| `jax_closed_form` |" in text and "float32 products" in text


def test_fused_convolutions_measures_both_ways_and_renders(benchmarks, tmp_path):
    import jax
    from flax import nnx

    import tiedae

    conv = benchmarks["fused_convolutions"].measure(
        "tiny ConvAE", lambda: tiedae.ConvAE((8, 8, 1), (2,), rngs=nnx.Rngs(0)), (8, 8, 1), 4,
        steps=2, repeats=1)
    assert conv["fit_fuses"] == (jax.default_backend() != "cpu")
    assert conv["one_per_call_ms"] > 0 and conv["fused_ms"] > 0
    linear = benchmarks["fused_convolutions"].measure(
        "tiny LinearAE", lambda: tiedae.LinearAE(6, 2, rngs=nnx.Rngs(0)), (6,), 4, steps=2,
        repeats=1)
    assert linear["fit_fuses"]
    text = _render(benchmarks["report"], "fused_convolutions",
                   {"device": "cpu:0", "rows": [conv, linear]}, tmp_path)
    assert "tiny ConvAE" in text and "| yes |" in text
    assert ("| no |" in text) == (jax.default_backend() == "cpu")


def test_checkpoint_cost_times_the_writes_and_renders(benchmarks, tmp_path):
    import numpy as np
    from flax import nnx

    import tiedae

    X = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
    row = benchmarks["checkpoint_cost"].measure(
        "tiny LinearAE", lambda: tiedae.LinearAE(6, 2, rngs=nnx.Rngs(0)), X, steps=8,
        log_every=2, batch=8)
    assert row["writes"] == 4 and row["checkpoint_bytes"] > 0
    assert row["write_over_step"] == pytest.approx(row["write_ms"] / row["step_ms"])
    text = _render(benchmarks["report"], "checkpoint_cost",
                   {"device": "cpu:0", "n": 32, "rows": [row]}, tmp_path)
    assert "| tiny LinearAE | 12 |" in text and "(2 steps)" in text


def test_large_d_runs_every_method_on_a_tiny_file_and_renders(benchmarks, tmp_path):
    import argparse

    large_d = benchmarks["large_d"]
    out = tmp_path / "results" / "large_d.json"
    assert large_d.main(["--n", "240", "--d", "40", "--k", "3", "--max-passes", "6",
                         "--ipca-batch", "40", "--skip-passes", "--workdir",
                         str(tmp_path / "work"), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert not list((tmp_path / "work").iterdir())  # the rows and answers are deleted
    assert set(res["common_check"]) == {"tiedae", "incremental_pca", "randomized_svd"}
    assert res["runs"]["tiedae"]["certified_relative_residual"][-1] == pytest.approx(
        res["common_check"]["tiedae"]["relative_residual"], rel=0.5, abs=1e-6)
    path = tmp_path / "small.npy"
    large_d.generate(path, 256, 48, 3, 9.0, 0)
    args = argparse.Namespace(path=str(path), k=3, seed=0, compare_passes=3,
                              compare_batch=64, compare_lrs=[1e-2])
    res["passes"] = large_d.child_passes(args)
    curves = res["passes"]["methods"]
    assert len(curves) == 4 and all(len(c) == 3 and c[0] is None for c in curves.values())
    text = _render(benchmarks["report"], "large_d", res, tmp_path)
    assert "| IncrementalPCA |" in text and "tied AE, Adam lr=0.01" in text


def test_command_times_render_each_goal_met_or_not(benchmarks, tmp_path):
    res = {"bench_first_s": 80.0, "bench_second_s": 50.0, "device": "cpu", "cpu_count": 2,
           "load_average": [1.0, 1.0, 1.0], "bench_args": [],
           "goals_s": {"bench_first_s": 90.0, "bench_second_s": 45.0, "pytest_s": 480.0}}
    text = _render(benchmarks["report"], "command_times", res, tmp_path)
    assert "| 80 | - | 90 | met |" in text and "| 50 | - | 45 | not met |" in text
    text = _render(benchmarks["report"], "command_times",
                   {**res, "bench_first_peak_gib": 1.26, "bench_second_peak_gib": 0.91}, tmp_path)
    assert "| 80 | 1.3 | 90 | met |" in text and "| 50 | 0.9 | 45 | not met |" in text
    assert "python -m pytest -q" not in text  # not timed in this run


def test_command_times_time_the_readmes_own_test_command(benchmarks, tmp_path):
    command_times = benchmarks["command_times"]
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- test command -->\n```bash\npip install -e . && python -m pytest "
                      "-q -n 2\n```\n", encoding="utf-8")
    assert command_times.readme_pytest_args(readme) == ["-q", "-n", "2"]
    readme.write_text("<!-- test command -->\n```bash\nmake test\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not end in python -m pytest"):
        command_times.readme_pytest_args(readme)
    # the committed measurement is of the command the README prints now (not checked while
    # command_times.py itself runs the tests to measure them: it writes the JSON afterwards)
    if os.environ.get("TIEDAE_MEASURING_COMMANDS"):
        return
    committed = json.loads((REPO / "benchmarks" / "results" / "command_times.json").read_text())
    assert committed["pytest_args"] == command_times.readme_pytest_args()


def test_peak_memory_counts_every_process_of_the_command(benchmarks):
    """Two children holding 200 MB each: the sampled tree total counts both."""
    command_times = benchmarks["command_times"]
    if not command_times.PROCESS_TREE:
        pytest.skip("this kernel does not list a process's children in /proc")
    hold = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); " \
           "time.sleep(1.5)"
    parent = (f"import subprocess, sys; ps = [subprocess.Popen([sys.executable, '-c', {hold!r}])"
              f" for _ in range(2)]; [p.wait() for p in ps]")
    _, peak_gib = command_times.timed([sys.executable, "-c", parent], dict(os.environ), REPO)
    assert peak_gib > 0.39  # both 200 MB children at once, plus the interpreters


def test_record_store_times_the_three_ways_and_renders(benchmarks, tmp_path):
    record_store = benchmarks["record_store"]
    record = {"suite": "symmetry", "run_id": "x", "config": {"seed": 0}, "final": {"e": 1.0},
              "trajectory": {"loss": [1.0, 0.5]}, "wall_time_s": 1.0}
    (tmp_path / "work").mkdir()
    res = record_store.measure(record, [2, 4], 1, tmp_path / "work")
    assert not list((tmp_path / "work").iterdir())  # every scratch folder removed
    small, large = res["rows"]
    assert small["rewrite_measured"] and not large["rewrite_measured"]
    assert large["rewrite_model_s"] == pytest.approx(
        4 * res["rewrite_model"]["a_s"] + 6 * res["rewrite_model"]["b_s_per_record"])
    assert all(r["append_s"] > 0 and r["file_per_run_s"] > 0 for r in res["rows"])
    text = _render(benchmarks["report"], "record_store",
                   {**res, "device": "disk", "source": "a toy record"}, tmp_path)
    assert "| 4 | ~" in text and "a file per run" in text
