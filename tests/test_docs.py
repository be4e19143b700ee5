"""The runnable examples in the docstrings and in the README run, and the README's generated
sections match what their commands produce."""

import doctest
import importlib
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PUBLIC = ("tiedae.linear.", "tiedae.nonlinear.", "tiedae.training.", "tiedae.data.",
          "tiedae.features", "tiedae.blas", "tiedae.launch", "tiedae.estimator",
          "tiedae.report.stats", "tiedae.saving")


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


def test_benchmarks_page_section_matches_the_committed_results():
    """docs/benchmarks.md's tables are `python benchmarks/report.py`'s rendering of the files."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        report = importlib.import_module("report")
    finally:
        sys.path.pop(0)
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    section = page.split(report.BEGIN, 1)[1].split(report.END, 1)[0]
    assert section.strip() == report.markdown().strip()


def test_readme_setup_costs_match_the_committed_command_times():
    """README.md's sentence on the set-up commands' time and memory is
    `python benchmarks/report.py --setup-costs README.md`'s rendering of command_times.json."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        report = importlib.import_module("report")
    finally:
        sys.path.pop(0)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split(report.COSTS_BEGIN, 1)[1].split(report.COSTS_END, 1)[0]
    assert section.strip() == report.setup_costs().strip()
    assert "the tests took" in section and "quick bench took" in section


def test_benchmark_report_command_refuses_an_unknown_result_file(tmp_path):
    (tmp_path / "mystery.json").write_text("{}")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "report.py"), "--results",
                          str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 1 and "no renderer" in out.stderr and "Traceback" not in out.stderr


_DOTTED = re.compile(r"(?<![\w./-])tiedae(?:\.[A-Za-z_]\w*)+")
_FILE_SUFFIXES = {"tex", "pdf", "bib", "py", "md", "jsonl", "csv", "log", "txt"}


def _documented_names() -> dict[str, str]:
    """Every dotted `tiedae.X...` name in README.md and in the package's docstrings, with where
    it is written (file names such as tiedae.tex left out)."""
    import ast

    texts = {"README.md": (REPO / "README.md").read_text(encoding="utf-8")}
    for path in sorted((REPO / "tiedae").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        texts[str(path.relative_to(REPO))] = "\n".join(
            ast.get_docstring(node) or "" for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef))
    names: dict[str, str] = {}
    for where, text in texts.items():
        for name in _DOTTED.findall(text):
            if name.rsplit(".", 1)[1] not in _FILE_SUFFIXES:
                names.setdefault(name, where)
    return names


_CHECK_NAMES = '''
import importlib, json, sys, types
failures = {}
for name in json.loads(sys.argv[1]):  # sorted: a package is looked up before its modules
    parent, last = name.rsplit(".", 1)
    try:
        obj = importlib.import_module("tiedae")
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
        exec(f"from {parent} import {last}", {})
        if isinstance(obj, types.ModuleType):
            exec(f"import {name}", {})
            assert sys.modules[name] is obj, f"import {name} gives another module"
    except Exception as err:
        failures[name] = f"{type(err).__name__}: {err}"
print(json.dumps(failures))
'''


def test_every_documented_name_works_as_an_attribute_and_with_import():
    """`tiedae.metrics` in the README is `tiedae.metrics` after `import tiedae`, and also
    `import tiedae.metrics` and `from tiedae.metrics import subspace_distance` (checked in a
    fresh interpreter, so that nothing imported by other tests helps)."""
    import json

    names = _documented_names()
    assert {"tiedae.metrics", "tiedae.pca.fit", "tiedae.fit", "tiedae.bench"} <= set(names)
    proc = subprocess.run([sys.executable, "-c", _CHECK_NAMES, json.dumps(sorted(names))],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    failures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not failures, {f"{name} (in {names[name]})": why for name, why in failures.items()}
