"""Transitional: the record helpers and LaTeX formatters now in `tiedae.report.query` and
`tiedae.report.format` (this module goes once every suite's analysis is in its module)."""

from tiedae.report.format import NA, _body, _exponent, _mean_std, _plain, num, pm, tex_escape
from tiedae.report.query import final, group, load, select, trajectory

mean_std = _mean_std

__all__ = ["NA", "_body", "_exponent", "_plain", "final", "group", "load", "mean_std", "num",
           "pm", "select", "tex_escape", "trajectory"]
