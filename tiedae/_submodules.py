"""Submodules as attributes on first use, so that every documented dotted name works both ways.

`import tiedae` does not import the experiment suite, the paper generator or the launcher (they
need rich, matplotlib, ...), so `tiedae.bench` used to be an `AttributeError` until something
imported it. A package whose `__getattr__` (PEP 562) is `lazy_submodules(__name__)` imports its
submodule `name` the first time `package.name` is looked up and is not found; the import
system then sets it as an attribute, so this runs once per submodule. Names that are not
submodules still raise `AttributeError`.

Example:
  >>> import tiedae
  >>> tiedae.launch.__name__  # not imported by `import tiedae`: imported on first use
  'tiedae.launch'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

__all__ = ["lazy_submodules"]


def lazy_submodules(package: str, fallback: Callable | None = None) -> Callable:
    """A module-level `__getattr__` for `package` that imports its submodules on first use;
    other names go to `fallback(name)` when given, else raise AttributeError."""

    def __getattr__(name: str):
        if not name.startswith("__"):
            try:
                found = importlib.util.find_spec(f"{package}.{name}") is not None
            except (ImportError, ValueError):
                found = False
            if found:
                return importlib.import_module(f"{package}.{name}")
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
