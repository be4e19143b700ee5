"""Sphinx configuration of tiedae's documentation site.

Build (warnings are errors, internal references checked, no network):

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The tutorials are MyST Markdown notebooks executed at every build (`nb_execution_mode = "force"`:
what the pages show always comes from the code as it is, never from a stale cache); set
TIEDAE_DOCS_EXECUTE=off to build the pages without running them (their outputs are then empty).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tiedae, installed or not
# the notebooks' kernels import tiedae from the same checkout
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

import tiedae  # noqa: E402

project = "tiedae"
author = "The tiedae developers"
copyright = "the tiedae developers"  # noqa: A001
release = version = tiedae.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax copied into the site: formulas render offline too
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# -- API pages: one per public name (docs/api.md lists them; tests/test_site.py checks it) --
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False  # a package page lists its __all__
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a NamedTuple's "Attributes:" are its fields, documented once
default_role = "code"  # `name` in a docstring is code, as in the Markdown pages

# No intersphinx (the build uses no network): types of other packages in signatures are plain
# text. Every reference to a tiedae name is still checked (-n).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(jax|jaxlib|flax|nnx|optax|numpy|np|jnp|scipy|sklearn|networkx|torch|"
               r"collections|typing|typing_extensions|os|pathlib|threadpoolctl|numbers)"
               r"(\..*)?"),
    (r"py:.*", r"(Array|ArrayLike|ndarray|DTypeLike|PRNGKeyArray|Path|PathLike|Callable|"
               r"Iterable|Iterator|Sequence|Mapping|Any|Literal|Protocol|NamedTuple|Self|"
               r"optional|callable|array-like|array|int|float|bool|str|dict|list|tuple|None)"),
]

# Types of private modules named in public signatures (the return types of `Source.bind` and
# `model_hooks`): they have no page of their own.
nitpick_ignore = [("py:class", "tiedae.training.sources.Bound"),
                  ("py:class", "tiedae.training.hooks.Hooks")]

# -- MyST and execution --
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off" if os.environ.get("TIEDAE_DOCS_EXECUTE") == "off" else "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# -- HTML --
html_theme = "sphinx_book_theme"
html_title = f"tiedae {release}"
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_last_updated_fmt = None
