"""Transitional: the figure style now in `tiedae.report.plots`."""

from pathlib import Path

from tiedae.report import plots
from tiedae.report.plots import COLORS, LABELS, band, new_figure, plt

__all__ = ["COLORS", "LABELS", "band", "new_figure", "plt", "save", "stub"]


def save(fig, out_dir, name: str) -> Path:
    """Writes `name`.pdf into `out_dir` (see `tiedae.report.plots.save`)."""
    return plots.save(fig, Path(out_dir) / f"{name}.pdf")


def stub(out_dir, name: str, message: str) -> Path:
    """A PDF that only says why it is empty."""
    return save(plots.stub(message), out_dir, name)
