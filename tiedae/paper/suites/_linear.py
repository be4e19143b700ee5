"""Transitional: LaTeX statistics now in `tiedae.report.format`."""

from tiedae.report.format import med_iqr, pm_ci, verdict

__all__ = ["med_iqr", "pm_ci", "verdict"]
