r"""Regenerates every figure, table and number of the paper from saved bench records.

`generate(results_dir, out_dir)` reads `<suite>.jsonl` files, calls each suite's `analyze`
(`tiedae.report.Analysis`) and writes its figures, named tables and numbers into `out_dir`:

* `<figure>.pdf` for every ``\includegraphics`` of the manuscript;
* `tables/<name>.tex` for every ``\input{figures/tables/<name>}``;
* `numbers.tex`: one ``\newcommand{\RName}{...}`` per number or generated sentence;
* `tables/recommendations.tex`: the README's answer table (`tiedae.paper.recommendations`),
  when the manuscript folder's parent holds a README.md.

It then scans the manuscript (`paper_dir`/tiedae.tex and sections/; by default the parent of
`out_dir` when it holds tiedae.tex, as paper/ does for paper/figures) and checks that every file
it includes was generated and every ``\R...`` macro it uses is defined. A suite missing from the
results is an error naming it, unless `allow_missing=True`: then its figures, tables and macros
become visible "not run" placeholders so a partial draft still builds.

Nothing is half-written: everything is generated into a temporary folder inside `out_dir`
(`.tiedae-paper-<pid>-*`), checked, and only then moved into place file by file (each move an
atomic rename); a failure leaves `out_dir` as it was. Files of `out_dir` that this run does not
generate are left alone. A temporary folder left by a killed run is removed by the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from tiedae.bench.suites import SUITES
from tiedae.bench.tempfiles import remove_orphans
from tiedae.paper.recommendations import recommendations_tex
from tiedae.report import latex, plots, query
from tiedae.report.format import NA, tex_escape

__all__ = ["MANUSCRIPT", "Manuscript", "default_paper_dir", "generate",
           "manuscript_refs"]

MANUSCRIPT = "tiedae.tex"  # the main file of a manuscript folder
_STAGE_PREFIX = ".tiedae-paper-"
_STAGE = re.compile(re.escape(_STAGE_PREFIX) + r"(?P<pid>\d+)-.+")

_GRAPHICS = re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}")
_INPUT = re.compile(r"\\input\{([^}]+)\}")
_MACRO = re.compile(r"\\(R[A-Z][A-Za-z]*)")
_TESTREF = re.compile(r"\\testref\{([^}]+)\}")


class Manuscript:
    """What the LaTeX sources under `paper_dir` include and use."""

    def __init__(self, paper_dir):
        self.dir = Path(paper_dir)
        main = self.dir / MANUSCRIPT
        if not main.exists():
            raise FileNotFoundError(f"no manuscript at {main}")
        self.sources = [main, *sorted((self.dir / "sections").glob("*.tex"))]
        text = "\n".join(_strip_comments(p.read_text(encoding="utf-8")) for p in self.sources)
        self.graphics = sorted(set(_GRAPHICS.findall(text)))
        self.inputs = sorted(set(_INPUT.findall(text)))
        self.macros = sorted(set(_MACRO.findall(text)))
        self.testrefs = sorted(set(_TESTREF.findall(text)))

    def generated_tables(self) -> list[str]:
        """Names of the `figures/tables/<name>` fragments the manuscript inputs."""
        return sorted(p.split("/")[-1].removesuffix(".tex") for p in self.inputs
                      if p.startswith("figures/tables/"))


def _strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in text.splitlines())


def manuscript_refs(paper_dir) -> Manuscript:
    """The figures, fragments, macros and test references of the manuscript in `paper_dir`."""
    return Manuscript(paper_dir)


def default_paper_dir(out_dir) -> Path | None:
    """The manuscript folder checked by default: the parent of `out_dir` when it holds
    tiedae.tex (paper/ for paper/figures), else None (nothing to check)."""
    parent = Path(out_dir).parent
    return parent if (parent / MANUSCRIPT).is_file() else None


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary folder in `out` (created, with its missing parents, if needed); removed on
    exit, with the folders it created when the block fails (only empty ones)."""
    created = [p for p in [out, *out.parents] if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    remove_orphans(out, _STAGE)
    stage = Path(tempfile.mkdtemp(prefix=f"{_STAGE_PREFIX}{os.getpid()}-", dir=out))
    ok = False
    try:
        yield stage
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in [] if ok else created:  # deepest first; never a folder with files
            try:
                folder.rmdir()
            except OSError:
                break


def _publish(stage: Path, out: Path) -> None:
    """Moves every file of `stage` to the same place under `out` (atomic renames)."""
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        target = out / path.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


def _suite_outputs(suite, records: list[dict], out: Path):
    """(figure paths, macros, {table name: tex}) of one suite, its figures written into out."""
    analysis = query.analyze(suite, records, f"{suite.name}.jsonl")
    figures = []
    for figure in analysis.figures:
        try:
            drawn = figure.draw()
        except Exception as err:  # records of another version, edited by hand, ...
            raise ValueError(f"{suite.name}: cannot draw figure {figure.name} "
                             f"({type(err).__name__}: {err})") from err
        figures.append(plots.save(drawn, out / f"{figure.name}.pdf"))
    tables = {t.name: latex.table_tex(t) for t in analysis.tables if t.name is not None}
    return figures, dict(analysis.numbers), tables


def generate(results_dir, out_dir, *, paper_dir=None, allow_missing: bool = False,
             log: Callable[[str], None] = print) -> dict:
    """Writes all figures, tables and numbers.tex; returns {"figures", "tables", "macros"}.

    Args:
      results_dir: folder with the bench's `<suite>.jsonl` files.
      out_dir: where to write (the manuscript expects `paper/figures`); created if needed.
      paper_dir: the manuscript folder whose includes and macros are checked (default:
        `default_paper_dir(out_dir)`; when that is None nothing is checked).
      allow_missing: write "not run" placeholders for suites absent from the results instead
        of raising.
      log: progress messages.

    Raises:
      FileNotFoundError: no results folder, or no tiedae.tex in `paper_dir`.
      ValueError: a suite is missing (without allow_missing), or the manuscript includes a file
        or uses a macro that nothing generated (names them). `out_dir` is then unchanged.
    """
    out = Path(out_dir)
    paper_dir = default_paper_dir(out) if paper_dir is None else Path(paper_dir)
    paper = Manuscript(paper_dir) if paper_dir is not None else None
    records = query.load(results_dir)
    missing = [s.name for s in SUITES if s.name not in records]
    if missing and not allow_missing:
        raise ValueError(
            f"results in {results_dir} lack the suites {missing}: run "
            f"`python -m tiedae.bench run --suite {' '.join(missing)} --out {results_dir}` "
            "(or pass --allow-missing for a draft with placeholders)"
        )
    for suite in missing:
        warnings.warn(f"suite {suite!r} is not in {results_dir}: placeholders", stacklevel=2)
    with _staged(out) as stage:
        made = _generate(records, stage, paper, allow_missing, missing, log)
        _publish(stage, out)
    log(f"wrote {len(made['figures'])} figures, {len(made['tables'])} tables, "
        f"{len(made['macros'])} numbers into {out}")
    made["figures"] = [out / path.relative_to(stage) for path in made["figures"]]
    return made


def _generate(records: dict, out: Path, paper: Manuscript | None, allow_missing: bool,
              missing: list[str], log: Callable[[str], None]) -> dict:
    """`generate`'s work, writing into the (temporary) folder `out`."""
    (out / "tables").mkdir()
    macros: dict[str, str] = dict(latex.global_macros(records))
    table_tex: dict[str, str] = {"configs": latex.configs_table(records)}
    readme = paper.dir.parent / "README.md" if paper is not None else None
    if readme is not None and readme.is_file():  # the closing table: the README's answers
        table_tex["recommendations"] = recommendations_tex(readme.read_text(encoding="utf-8"))
    made_figures: list[Path] = []
    for suite in SUITES:
        if suite.name not in records:
            continue
        recs = records[suite.name]
        log(f"{suite.name}: {len(recs)} records")
        figures, new_macros, new_tables = _suite_outputs(suite, recs, out)
        clash = ((set(new_macros) & set(macros)) | (set(new_tables) & set(table_tex))
                 | ({p.name for p in figures} & {p.name for p in made_figures}))
        made_figures += figures
        if clash:
            raise ValueError(f"{suite.name}: generated names defined twice: {sorted(clash)}")
        macros.update(new_macros)
        table_tex.update(new_tables)
    for name, tex in table_tex.items():
        (out / "tables" / f"{name}.tex").write_text(tex, encoding="utf-8")
    if paper is not None:
        _fill_gaps(paper, out, macros, allow_missing, missing)
        empty = sorted(name for name in paper.macros if NA in macros.get(name, ""))
        if empty:
            warnings.warn("these numbers are n/a (a setting or metric absent from the results): "
                          + ", ".join(empty), stacklevel=3)
    (out / "numbers.tex").write_text(latex.numbers_tex(macros), encoding="utf-8")
    return {"figures": made_figures, "tables": sorted(table_tex), "macros": sorted(macros)}


def _fill_gaps(paper: Manuscript, out: Path, macros: dict, allow_missing: bool,
               missing_suites: list[str]) -> None:
    """Checks the manuscript's includes and macros; placeholders when allowed."""
    why = "suite not run: " + ", ".join(missing_suites) if missing_suites else "not generated"
    lacking = []
    for name in paper.graphics:
        if not (out / f"{name}.pdf").exists():
            if not allow_missing:
                lacking.append(f"figure {name}.pdf")
            else:
                plots.save(plots.stub(f"{name}: {why}"), out / f"{name}.pdf")
    for name in paper.generated_tables():
        path = out / "tables" / f"{name}.tex"
        if not path.exists():
            if not allow_missing:
                lacking.append(f"table tables/{name}.tex")
            else:
                path.write_text("\\begin{tabular}{l}\\toprule\n\\textit{(" + tex_escape(why)
                                + ")}\\\\\n\\bottomrule\\end{tabular}\n", encoding="utf-8")
    for name in paper.macros:
        if name not in macros:
            if not allow_missing:
                lacking.append(f"macro \\{name}")
            else:
                macros[name] = r"\textit{(n/a)}"
    if lacking:
        raise ValueError("the manuscript uses generated items that were not produced: "
                         + ", ".join(lacking))
