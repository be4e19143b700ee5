"""The built wheel works from outside the checkout: nothing depends on the repository's folders.

Builds the wheel (pip, hatchling), installs it without dependencies into a fresh virtual
environment that also sees this environment's packages (jax, flax, ...), and from an empty folder
runs the quick `decoders` suite and a library example. Needs pip and network access for the
build backend the first time (as `pip install -e .` does); skipped when the build cannot run.
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, env=None, timeout=600):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist",
                  ROOT], cwd=tmp)
    if built.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {built.stderr.strip()[-300:]}")
    (wheel,) = (tmp / "dist").glob("tiedae-*.whl")
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", venv], cwd=tmp).returncode == 0
    python = venv / "bin" / "python"
    # this environment's packages (jax, flax, ...) after the venv's own, by a path entry: its
    # .pth files (an editable tiedae's among them) are not run from there
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp).stdout.strip()
    Path(site, "_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], cwd=tmp)
    assert installed.returncode == 0, installed.stderr
    return python, tmp


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["XDG_CACHE_HOME"] = str(Path(env.get("TMPDIR", "/tmp")) / "tiedae-wheel-test-cache")
    return env


def test_the_wheel_is_imported_not_the_checkout(wheel_python):
    python, tmp = wheel_python
    out = _run([python, "-c", "import tiedae, sys; print(tiedae.__file__)"], cwd=tmp, env=_env())
    assert out.returncode == 0, out.stderr
    assert str(ROOT) not in out.stdout and "venv" in out.stdout


def test_the_quick_decoders_suite_runs_from_the_wheel(wheel_python):
    python, tmp = wheel_python
    work = tmp / "elsewhere"
    work.mkdir()
    out = _run([python, "-m", "tiedae.bench", "run", "--suite", "decoders", "--out", "results"],
               cwd=work, env=_env())
    assert out.returncode == 0, out.stderr[-2000:]
    assert (work / "results" / "decoders.jsonl").stat().st_size > 0
    report = _run([python, "-m", "tiedae.bench", "report", "--results", "results", "--html",
                   "report"], cwd=work, env=_env())
    assert report.returncode == 0, report.stderr[-2000:]
    assert (work / "report" / "index.html").exists()


def test_the_readme_library_example_runs_from_the_wheel(wheel_python):
    python, tmp = wheel_python
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "tiedae.fit(" in code  # the README's first Python block is the library example
    code += "\nassert hist['orthonormality'][-1] < 1e-2\nprint('ok')\n"
    out = _run([python, "-c", code], cwd=tmp, env=_env())
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
