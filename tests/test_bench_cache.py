"""`python -m tiedae.bench` keeps compiled programs in JAX's persistent compilation cache, in the
user's cache folder; `--no-cache` keeps none; an unusable folder is a warning, not a failure.
In-process on a fake suite (nothing of the bench's own suites is compiled)."""

import os

import jax
import jax.numpy as jnp
import pytest
from jax.experimental.compilation_cache import compilation_cache as cc

from tiedae.bench import cli, compile_cache
from tiedae.bench.suite import Suite
from tiedae.bench.tempfiles import XLA_CACHE_PREFIX
from tiedae.report import Analysis, Table

SETTINGS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
            "jax_persistent_cache_min_entry_size_bytes")


def _suite():
    return Suite("tiny", "a test suite", lambda o: [{"run_id": "r0", "seed": o.seed}],
                 lambda c: {"final": {"seed": float(c["seed"])}},
                 lambda recs: Analysis([Table("tiny", ["n"], [[len(recs)]])], []))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """XDG_CACHE_HOME in tmp_path; JAX's cache settings restored afterwards."""
    before = {name: getattr(jax.config, name) for name in SETTINGS}
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    yield tmp_path
    cc.reset_cache()
    for name, value in before.items():
        jax.config.update(name, value)


def _bench(home, capsys, *args):
    code = cli.main(["--suite", "tiny", "--out", str(home / "out"), *args], suites=[_suite()])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert (home / "out" / "tiny.jsonl").exists()
    return cap


def test_bench_keeps_compiled_programs_in_the_user_cache_folder(home, capsys):
    cap = _bench(home, capsys)
    folder = home / "xdg" / "tiedae" / "jax"
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
    assert f"compiled programs are cached in {folder}" in cap.out and not cap.err
    jax.jit(lambda x: x * 3.0 - 1.0)(jnp.arange(5.0)).block_until_ready()
    assert [p for p in folder.iterdir() if not p.name.startswith(".")]  # written there


def test_no_cache_keeps_nothing_in_the_user_cache_folder(home, capsys):
    cap = _bench(home, capsys, "--no-cache")
    folder = home / "xdg" / "tiedae" / "jax"
    assert not folder.exists() and "cached in" not in cap.out
    assert os.path.basename(jax.config.jax_compilation_cache_dir).startswith(XLA_CACHE_PREFIX)


def test_jax_compilation_cache_dir_wins(home, capsys, monkeypatch):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(home / "mine"))
    _bench(home, capsys)
    assert jax.config.jax_compilation_cache_dir == str(home / "mine")
    assert not (home / "xdg").exists()


@pytest.mark.parametrize("problem", ["a file in the way", "a full disk"])
def test_unusable_cache_folder_is_a_warning_and_the_runs_go_on(home, capsys, monkeypatch,
                                                              problem):
    if problem == "a file in the way":
        (home / "xdg").write_text("not a folder")
        reason = "cannot write there"
    else:
        monkeypatch.setattr(compile_cache, "MIN_FREE_BYTES", 2**62)
        reason = "MiB free on its disk"
    cap = _bench(home, capsys)
    err = cap.err.strip()
    assert len(err.splitlines()) == 1 and "warning: compilation cache" in err, err
    assert reason in err and "running without it" in err and "Traceback" not in err
    assert os.path.basename(jax.config.jax_compilation_cache_dir).startswith(XLA_CACHE_PREFIX)
