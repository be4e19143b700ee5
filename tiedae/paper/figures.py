"""Transitional: plotting helpers now in `tiedae.report.plots`."""

from tiedae.report.plots import colormap, curves, positive

__all__ = ["colormap", "curves", "positive"]
