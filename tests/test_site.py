"""The documentation site's sources (docs/) and the README that points to it.

The site itself is built by the README's docs command (`sphinx -W -n`: warnings are errors,
internal references are checked) in CI; these checks are the cheap ones that need no build.
"""

import importlib
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SUBPACKAGES = ("data", "linear", "nonlinear", "training")


def _public_names() -> set[str]:
    import tiedae

    names = {f"tiedae.{n}" for n in tiedae.__all__} | {"tiedae.LinearAutoencoder"}
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"tiedae.{sub}")
        names |= {f"tiedae.{sub}.{n}" for n in module.__all__}
    return names


def _api_entries() -> list[str]:
    """The names listed in docs/api.md's autosummary directives (each gets a generated page)."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\{eval-rst\}\n\.\. autosummary::\n(.*?)```", text, flags=re.S)
    assert all(":toctree: generated" in b for b in blocks), "every autosummary makes pages"
    return [line.strip() for b in blocks for line in b.splitlines()
            if line.strip() and not line.strip().startswith(":")]


def test_every_public_name_has_an_api_page_and_nothing_else_does():
    entries = _api_entries()
    assert len(entries) == len(set(entries)), "a name is listed twice"
    public = _public_names()
    assert public - set(entries) == set(), "public names without an API page"
    assert set(entries) - public == set(), "API pages of names that are not public"


def test_readme_is_short_and_starts_with_the_library_example():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    first = next(i for i, line in enumerate(lines) if line == "```python")
    assert first < 80 and "tiedae.fit(" in "\n".join(lines[first:first + 20])


def _command_after(marker: str) -> str:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    at = lines.index(marker)
    assert lines[at + 1] == "```bash", f"{marker} must be followed by a bash block"
    return lines[at + 2]


def test_readme_commands_are_the_ones_ci_runs():
    assert _command_after("<!-- test command -->") == (
        'pip install -e ".[test]" && ruff check tiedae tests benchmarks && '
        "python -m pytest -q -n 2")
    docs = _command_after("<!-- docs command -->")
    assert docs == ('pip install -e ".[docs]" && python -m sphinx -W --keep-going -n -b html '
                    "docs docs/_build/html")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- docs command -->" in ci and 'eval "$docs"' in ci


def test_every_notebook_page_declares_its_kernel():
    """A page with code cells is a MyST notebook (executed at build time) with a kernel."""
    pages = [p for p in DOCS.rglob("*.md") if not {"_build", "generated"} & set(p.parts)]
    notebooks = [p for p in pages if "```{code-cell}" in p.read_text(encoding="utf-8")]
    assert len(notebooks) >= 5
    for page in notebooks:
        assert page.read_text(encoding="utf-8").startswith(
            "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n"), page.name
