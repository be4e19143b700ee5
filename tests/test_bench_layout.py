"""Issue 16: the bench's modules stay small, one concept each, and import one another without
cycles (read from the sources: nothing is imported or run)."""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = REPO / "tiedae" / "bench"
LIMIT = 400  # lines, with a margin for a docstring or two: see SPLIT_ELSEWHERE
SPLIT_ELSEWHERE: set[str] = set()  # modules another branch is still splitting


def _modules() -> dict[str, pathlib.Path]:
    return {".".join(("tiedae", *p.relative_to(REPO / "tiedae").with_suffix("").parts)): p
            for p in BENCH.rglob("*.py")}


def _imports(path: pathlib.Path, modules) -> set[str]:
    """The tiedae.bench modules a module imports at its top level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:  # a submodule, else the module
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                     else node.module for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in modules}
    return found


def test_bench_modules_stay_under_the_line_limit():
    long = {str(p.relative_to(BENCH)): n for p in BENCH.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > LIMIT}
    assert set(long) <= SPLIT_ELSEWHERE, long


def test_bench_modules_import_one_another_without_cycles():
    modules = {name.removesuffix(".__init__"): path for name, path in _modules().items()}
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert graph["tiedae.bench.suites.symmetry"] >= {"tiedae.bench.suites.symmetry_runs"}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name, path):
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join([*path, name, dep]))
            if dep not in state:
                visit(dep, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
