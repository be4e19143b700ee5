r"""Callbacks for `fit`: called at each log point as `cb(step, metrics, model)`.

`metrics` holds the logged floats of that point (loss, objective, metrics, eval losses) and
`model` is the model with the parameters after `step` updates (read it, do not keep it: it keeps
changing). A callback that returns True stops training.

* `Observe(fn)`: records `fn(model)` at each log point (W W^T - V^T V, the encoder matrix, ...).
* `StopWhen(key, threshold)`: stops once `metrics[key] <= threshold` (e.g. the subspace
  distance reaching 1e-3), and remembers the step and the wall time.

Example:
  >>> import optax
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.training import Observe, StopWhen
  >>> X = tiedae.data.spiked_covariance(400, 8, k=2, gap=5.0).X
  >>> ref = tiedae.pca.fit(X, 2)
  >>> norms = Observe(lambda m: float((m.W[...] ** 2).sum()))
  >>> stop = StopWhen("subspace_distance", 1e-3)
  >>> model = tiedae.LinearAE(8, 2, rngs=nnx.Rngs(0))
  >>> _, hist = tiedae.fit(model, X, steps=2000, log_every=10, reference=ref,
  ...                      callback=[norms, stop])
  >>> stop.step is not None and stop.step == int(hist["step"][-1]) == norms.steps[-1]
  True
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable

__all__ = ["Observe", "StopWhen"]


class Observe:
    """Collects `fn(model)` at every log point (`steps`, `values`)."""

    def __init__(self, fn: Callable):
        if not callable(fn):
            raise TypeError(f"Observe needs a function of the model; got {type(fn).__name__}")
        self.fn = fn
        self.steps: list[int] = []
        self.values: list = []

    def __call__(self, step: int, metrics: dict, model) -> None:
        self.steps.append(step)
        self.values.append(self.fn(model))


class StopWhen:
    """Stops training once the logged `key` is <= `threshold`.

    Attributes:
      step: the step at which it first was (None if never).
      wall_time: seconds from the first log point to then (compilation excluded).
    """

    def __init__(self, key: str, threshold: float):
        if not isinstance(key, str):
            raise TypeError(f"StopWhen's key must be the name of a logged value (a str); got "
                            f"{key!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"StopWhen's threshold must be a number; got {threshold!r}")
        if math.isnan(threshold):
            raise ValueError("StopWhen's threshold is NaN: no value is <= NaN, so it would "
                             "never stop")
        self.key, self.threshold = key, float(threshold)
        self.step: int | None = None
        self.wall_time: float | None = None
        self._start: float | None = None

    def __call__(self, step: int, metrics: dict, model) -> bool:
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        if self.key not in metrics:
            raise KeyError(f"StopWhen watches {self.key!r}, which is not logged; logged: "
                           f"{sorted(metrics)}")
        if metrics[self.key] <= self.threshold:
            self.step, self.wall_time = step, now - self._start
            return True
        return False
