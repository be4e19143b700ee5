"""The runnable examples in the docstrings and in the README run, and the README's generated
sections match what their commands produce."""

import doctest
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PUBLIC = ("tiedae.linear.", "tiedae.nonlinear.", "tiedae.training.", "tiedae.data.",
          "tiedae.features", "tiedae.blas", "tiedae.launch", "tiedae.estimator",
          "tiedae.bench.stats", "tiedae.saving")


def _modules() -> list[str]:
    """Every module of the package (the paper generator and bench suites included)."""
    import pkgutil

    import tiedae

    names = [m.name for m in pkgutil.walk_packages(tiedae.__path__, "tiedae.")
             if not m.ispkg and m.name.split(".")[-1] != "__main__"]
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    """Every docstring example runs; every public module (not `_private`) has one."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    public = name.startswith(PUBLIC) and not name.split(".")[-1].startswith("_")
    assert result.attempted > 0 or not public, f"{name} has no runnable example"
    assert result.failed == 0


def _readme_python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(_readme_python_blocks())))
def test_readme_python_examples_run(index, capsys):
    exec(compile(_readme_python_blocks()[index], f"README.md block {index}", "exec"), {})


def test_readme_benchmark_section_matches_the_committed_results():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        report = importlib.import_module("report")
    finally:
        sys.path.pop(0)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split(report.BEGIN, 1)[1].split(report.END, 1)[0]
    assert section.strip() == report.markdown().strip()


def test_benchmark_report_command_refuses_an_unknown_result_file(tmp_path):
    (tmp_path / "mystery.json").write_text("{}")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "report.py"), "--results",
                          str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and "no renderer" in out.stderr and "Traceback" not in out.stderr
