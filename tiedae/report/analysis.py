r"""What a suite makes of its records: one `Analysis`, rendered by every renderer.

A suite's `analyze(records)` returns an `Analysis`: its tables, its findings (plain sentences
whose numbers and comparative words are computed from the records), its numbers (the paper's
``\R...`` macros, LaTeX bodies) and its figures (drawn on demand). The renderers in
`tiedae.report` (terminal, Markdown, LaTeX, HTML) turn any suite's analysis into their format;
no suite formats for a particular output.

A table cell is a `Cell`: the same value written as plain text (terminal, Markdown, HTML) and
as LaTeX. `cell(x)` makes one from a number (3 significant digits), a string or a `Cell`.

Example:
  >>> from tiedae.report import Cell, Table, cell
  >>> cell(3.2e-6)
  Cell(text='3.20e-06', tex='\\ensuremath{3.2\\times10^{-6}}')
  >>> t = Table("sizes", [Cell("k", "$k$"), "loss"], [[4, 0.25]], name="sizes")
  >>> t.rows[0][1].text, t.columns[0].tex
  ('0.25', '$k$')

A row of one cell is a heading spanning the table:

  >>> from tiedae.report.latex import table_tex
  >>> print(table_tex(Table("runs", ["k", "loss"], [["spiked data"], [4, 0.25]])), end="")
  \begin{tabular}{lr}
  \toprule
  k & loss \\
  \midrule
  \multicolumn{2}{l}{spiked data} \\
  \ensuremath{4} & \ensuremath{0.25} \\
  \bottomrule
  \end{tabular}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from tiedae.report import format as F
from tiedae.report import stats

__all__ = ["Analysis", "Cell", "Figure", "Table", "cell", "ci_cell", "difference_cells"]


@dataclasses.dataclass(frozen=True)
class Cell:
    """One value as plain text and as LaTeX."""

    text: str
    tex: str


def cell(value, digits: int = 3) -> Cell:
    """A `Cell` from a number (`F.fmt` / `F.num`), None ("-" / n/a), plain text (escaped for
    LaTeX) or a `Cell` (unchanged: give a `Cell` where the LaTeX is more than escaped text)."""
    if isinstance(value, Cell):
        return value
    if isinstance(value, str):
        return Cell(value, F.tex_escape(value))
    if value is None:
        return Cell("-", F.NA)
    return Cell(F.fmt(value, digits), F.num(value, digits))


def ci_cell(values, digits: int = 3) -> Cell:
    """'mean ± half-width of the 95% t interval' over seeds (`F.ci`, `F.pm_ci`) as a `Cell`."""
    return Cell(F.ci(values, digits), F.pm_ci(values, digits))


def difference_cells(p: stats.Paired | stats.SignedRank) -> list[Cell]:
    """A paired comparison's estimate (mean or median difference), its 95% interval and its
    Holm-adjusted p-value (`stats.holm`; the unadjusted one when it was not adjusted), 3
    significant digits, as three cells; dashes for fewer than two pairs."""
    if p.n < 2:
        return [Cell("-", "--")] * 3
    adjusted = p.p_adjusted if p.family > 1 else p.p_value
    text = F.p_value(adjusted)
    return [Cell(f"{p.estimate:+.3g}", rf"\ensuremath{{{p.estimate:+.3g}}}"),
            Cell(f"[{p.lo:+.3g}, {p.hi:+.3g}]", rf"\ensuremath{{[{p.lo:+.3g}, {p.hi:+.3g}]}}"),
            Cell(text, text.replace("<", "$<$"))]


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of cells.

    Attributes:
      title: one line saying what the rows are and how values are summarised.
      columns: header cells.
      rows: rows of cells (anything `cell` accepts; converted on construction). A row of one
        cell in a table of several columns is a heading spanning the table's width (LaTeX
        ``\\multicolumn``; the other renderers leave the remaining cells empty).
      name: the paper's fragment name (written to `tables/<name>.tex`); None for a table that
        is shown in reports only.
      align: LaTeX column alignment (default: "l" then "r" for every other column).
    """

    title: str
    columns: Sequence
    rows: Sequence[Sequence]
    name: str | None = None
    align: str | None = None

    def __post_init__(self):
        columns = tuple(cell(c) for c in self.columns)
        rows = tuple(tuple(cell(c) for c in row) for row in self.rows)
        for i, row in enumerate(rows):
            if len(row) != len(columns) and len(row) != 1:
                raise ValueError(f"table {self.title!r}: row {i} has {len(row)} cells for "
                                 f"{len(columns)} columns (or 1: a heading spanning them)")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)

    def padded(self) -> tuple[tuple[Cell, ...], ...]:
        """The rows with every spanning heading (a one-cell row) padded with empty cells."""
        blank = Cell("", "")
        return tuple(row + (blank,) * (len(self.columns) - len(row)) for row in self.rows)


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure, drawn only when a renderer needs it.

    Attributes:
      name: file name without extension (`<name>.pdf` in the paper, `.svg` in HTML).
      caption: one sentence on what it shows.
      draw: () -> matplotlib Figure (the renderer saves and closes it).
    """

    name: str
    caption: str
    draw: Callable


@dataclasses.dataclass(frozen=True)
class Analysis:
    """One suite's results: tables, findings, paper numbers and figures."""

    tables: Sequence[Table] = ()
    findings: Sequence[str] = ()
    numbers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    figures: Sequence[Figure] = ()
