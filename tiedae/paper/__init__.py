r"""The paper's figures, tables and numbers, regenerated from saved bench results.

    python -m tiedae.paper --results paper/results --out paper/figures
    make -C paper

`generate` reads the `<suite>.jsonl` records written by `python -m tiedae.bench`, plots with
matplotlib (Agg; no training happens here), writes LaTeX tables and a `numbers.tex` of
``\newcommand`` macros, and checks that everything the manuscript includes was produced.
"""

from tiedae._submodules import lazy_submodules as _lazy_submodules
from tiedae.paper.build import generate, manuscript_refs

__all__ = ["generate", "manuscript_refs"]

__getattr__ = _lazy_submodules(__name__)  # e.g. `tiedae.paper.build` on first use
