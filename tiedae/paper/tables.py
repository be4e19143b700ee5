"""Transitional: table helpers now in `tiedae.report.latex` and `tiedae.report.format`."""

from tiedae.report.format import camel
from tiedae.report.latex import configs_table, global_macros, tabular

__all__ = ["camel", "configs_table", "global_macros", "tabular"]
