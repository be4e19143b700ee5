r"""Results as people see them: one `Analysis` per suite, and the renderers that write it.

`analysis` (Analysis, Table, Cell, Figure), `query` (select and group records), `stats`
(intervals, paired comparisons, medians, Holm's correction, equivalence), `format` (numbers as
text and LaTeX), `plots` (matplotlib style) and one module per renderer: `terminal`,
`markdown`, `latex`, `html`.
"""

from tiedae._submodules import lazy_submodules as _lazy_submodules
from tiedae.report.analysis import Analysis, Cell, Figure, Table, cell, difference_cells

__all__ = ["Analysis", "Cell", "Figure", "Table", "cell", "difference_cells"]

__getattr__ = _lazy_submodules(__name__)  # e.g. `tiedae.report.html` on first use
