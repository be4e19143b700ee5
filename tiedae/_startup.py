"""Ctrl-C while a tiedae command (`python -m tiedae.bench`, `.paper`, `.launch`) is starting.

`python -m tiedae.bench` imports the package first (JAX and Flax: seconds), before the
command's own code can catch anything, so a Ctrl-C then used to end in a `KeyboardInterrupt`
traceback. `guard` (run on import of this module, the first thing `tiedae/__init__.py` does)
installs, only while Python is starting one of these commands through `-m` and only over
Python's own SIGINT handler, a handler that prints one line and exits with status 130 (a
`SystemExit` raised in the middle of the imports). The command's `main` calls `started` to
give Ctrl-C back to Python's default handler: from there on the command catches
`KeyboardInterrupt` itself. `import tiedae` in a user's program changes nothing: the guard is
only installed while `sys.argv[0]` is ``"-m"`` (Python sets it so while it locates the module
of `-m`, importing its packages) and that module is one of `COMMANDS`.

Example:
  >>> starting_command() is None  # not `python -m tiedae.bench`: no guard
  True
"""

from __future__ import annotations

import signal
import sys

__all__ = ["COMMANDS", "EXIT_INTERRUPTED", "guard", "started", "starting_command"]

COMMANDS = ("tiedae.bench", "tiedae.paper", "tiedae.launch")
EXIT_INTERRUPTED = 130


def starting_command() -> str | None:
    """The tiedae command that `python -m` is starting now, else None."""
    if sys.argv[:1] != ["-m"]:
        return None
    argv = list(getattr(sys, "orig_argv", ()))
    for i, arg in enumerate(argv[1:], 1):
        if arg == "-m":
            name = argv[i + 1] if i + 1 < len(argv) else None
            break
        if arg.startswith("-m") and not arg.startswith("--"):
            name = arg[2:]
            break
    else:
        return None
    return name if name in COMMANDS else None


def _handler(signum, frame):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"python -m {_COMMAND[0]}: interrupted while starting; nothing was run", file=sys.stderr,
          flush=True)
    raise SystemExit(EXIT_INTERRUPTED)


_COMMAND: list[str | None] = [None]


def guard() -> None:
    """Installs the start-up handler when `python -m` is starting a tiedae command (else does
    nothing); a SIGINT that a shell set to be ignored stays ignored."""
    name = starting_command()
    if name is None:
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            _COMMAND[0] = name
            signal.signal(signal.SIGINT, _handler)
    except ValueError:  # not the main thread
        pass


def started() -> None:
    """Called by a command's `main` once it catches `KeyboardInterrupt` itself: restores
    Python's default SIGINT handler if the start-up one is installed."""
    try:
        if signal.getsignal(signal.SIGINT) is _handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:
        pass


guard()
