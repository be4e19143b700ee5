"""The suite interface of `python -m tiedae.bench`, and small helpers the suites share.

A `Suite` is a named list of runs: `configs(options)` lists them (each config a JSON-serialisable
dict with a stable `run_id` and a `seed`), `run(config)` performs one and returns its numbers,
`analyze(records)` turns the saved records into one `tiedae.report.Analysis` (tables,
findings, the paper's numbers, figures) that every renderer writes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import optax

from tiedae.report.analysis import Analysis

__all__ = [
    "Options",
    "Suite",
    "adam",
    "first_step_at_or_below",
    "injected",
    "loglog_slope",
    "mean_of",
    "seeds",
    "train_minibatches",
]


@dataclasses.dataclass(frozen=True)
class Options:
    """What the command line passes to `Suite.configs`.

    Attributes:
      quick: small but meaningful sizes (the default command); False for the full runs.
      seed: base seed; suites with several seeds use seed, seed + 1, ...
      data: the user's data sets by kind, from `--data`: {"mnist": path} (an MNIST-format
        folder or .npz) and/or {"graph": path} (an edge list such as Cora's cora.cites). A
        plain path is taken as MNIST-format data. Empty: the suites use bundled data.
    """

    quick: bool = True
    seed: int = 0
    data: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        data = self.data
        if data is None:
            data = {}
        elif isinstance(data, str | os.PathLike):
            data = {"mnist": os.fspath(data)}
        object.__setattr__(self, "data", dict(data))

    @property
    def mnist(self) -> str | None:
        """Path of the user's MNIST-format data, or None."""
        return self.data.get("mnist")

    @property
    def graph(self) -> str | None:
        """Path of the user's edge-list graph, or None."""
        return self.data.get("graph")


@dataclasses.dataclass(frozen=True)
class Suite:
    """One experiment family.

    Attributes:
      name: command-line name, e.g. "decoders".
      description: one line for `--list`.
      configs: Options -> list of config dicts, each with "run_id" (unique, stable) and "seed".
      run: config -> {"final": {...}, "trajectory": {...}, "extra": {...}}.
      analyze: list of records (never empty: the renderers skip a suite without records) ->
        `tiedae.report.Analysis`.
      in_quick: whether the default command (no --suite) includes this suite.
    """

    name: str
    description: str
    configs: Callable[[Options], list[dict]]
    run: Callable[[dict], dict]
    analyze: Callable[[list[dict]], Analysis]
    in_quick: bool = True


def seeds(options: Options, quick: int = 3, full: int = 3) -> list[int]:
    """The seeds a suite repeats each setting with."""
    return [options.seed + i for i in range(quick if options.quick else full)]


def mean_of(values: Iterable) -> float:
    """Mean ignoring None (a non-finite value stored as null); nan when nothing is left."""
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def loglog_slope(x, y) -> float:
    """Least-squares slope of log(y) against log(x) (the exponent p in y ~ x^p)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


@functools.lru_cache(maxsize=32)
def adam(learning_rate: float) -> optax.GradientTransformation:
    """One `optax.adam(learning_rate)` object per step size, so that runs differing only in
    their seed share one compiled training program."""
    return optax.adam(float(learning_rate))


MOMENTUM = 0.9  # heavy-ball momentum of `injected("momentum")`


@functools.cache
def injected(kind: str) -> optax.GradientTransformation:
    """The optimizer of a kind with its step size injected per run (pass it as
    `tiedae.fit(..., hyperparams={"learning_rate": lr})`): "gd" (`optax.sgd`), "momentum"
    (`optax.sgd` with heavy-ball momentum `MOMENTUM`) or "adam". One object per kind, shared by
    the suites, so that runs differing only in their step size, seed or data share one
    compiled training program.

    Example:
      >>> from tiedae.bench.suite import injected
      >>> injected("adam") is injected("adam"), injected("gd") is injected("momentum")
      (True, False)
    """
    makers = {"gd": lambda: optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "momentum": lambda: optax.inject_hyperparams(optax.sgd)(learning_rate=1.0,
                                                                      momentum=MOMENTUM),
              "adam": lambda: optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}
    if kind not in makers:
        raise ValueError(f"optimizer kind must be one of {sorted(makers)}; got {kind!r}")
    return makers[kind]()


def first_step_at_or_below(steps, values, target: float) -> float:
    """The first logged step whose value is <= target (inf if none)."""
    hit = np.flatnonzero(np.asarray(values, float) <= target)
    return float(np.asarray(steps)[hit[0]]) if hit.size else float("inf")


def train_minibatches(model, X, X_test, config: dict, loss_fn=None, X_train_eval=None):
    """The deep suites' training: minibatch Adam through `tiedae.fit` on `loss_fn` (default the
    squared reconstruction error), logging the squared reconstruction errors of the training
    rows (`train_loss`; of `X_train_eval` when given, e.g. a fixed subset) and of X_test
    (`test_loss`) every `eval_every` steps. Config keys: batch_size, seed, learning_rate,
    steps, eval_every. Returns (model, history)."""
    import tiedae

    source = tiedae.training.Minibatches(X, config["batch_size"], seed=config["seed"])
    train = X if X_train_eval is None else X_train_eval
    return tiedae.fit(model, source, optimizer=adam(config["learning_rate"]),
                      steps=config["steps"], log_every=config["eval_every"], loss_fn=loss_fn,
                      eval_data={"train": train, "test": X_test},
                      eval_loss_fn=tiedae.training.reconstruction_error)
