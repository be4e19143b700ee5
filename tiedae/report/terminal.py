"""The terminal renderer: a suite's tables (rich) and findings, as `python -m tiedae.bench`
prints them after its runs."""

from __future__ import annotations

from tiedae.report.analysis import Analysis

__all__ = ["print_analysis"]


def print_analysis(console, suite: str, analysis: Analysis) -> None:
    """Prints `analysis` of `suite` on a rich console: each table, then the findings."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    for table in analysis.tables:
        out = RichTable(title=escape(table.title), title_justify="left")
        for col in table.columns:
            out.add_column(escape(col.text))
        for row in table.padded():  # escaped: "never [never, never]" is not a style tag
            out.add_row(*[escape(c.text) for c in row])
        console.print(out)
    for line in analysis.findings:
        console.print(f"  [bold]finding[/bold] ({suite}): {escape(line)}", highlight=False)
