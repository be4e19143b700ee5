r"""The `decoders` suite's records grouped by setting, with what every output reads from them.

`settings(records)` groups the runs by (data set, k, optimizer) and computes once, per decoder
and seed, the steps and seconds to subspace distance 1e-3 (`to_target`: inf when not reached)
and each decoder's paired comparison with the transpose decoder (`paired_to_target`: the paired
test over seeds when every run of both reached the target, else a count of who reached it).
`headline` and `wide_setting` pick the settings the paper quotes.

Example:
  >>> from tiedae.bench.suites import decoders_settings as ds
  >>> ds.to_target([{"final": {"steps_to_subspace_1e-3": 40}},
  ...               {"final": {"steps_to_subspace_1e-3": None}}, {"final": {}}])
  [40.0, inf, nan]
  >>> ds.paired_to_target([10.0, 12.0, 11.0], [20.0, 21.0, 22.0])[0]
  'faster'
  >>> ds.median_iqr_text([10.0, 20.0, float("inf")])
  '20 [15, never] (2/3)'
"""

from __future__ import annotations

import dataclasses
import math

from tiedae.bench.suite import mean_of
from tiedae.bench.suites.decoders_runs import DECODERS
from tiedae.report import format as F
from tiedae.report import query, stats

__all__ = ["DATA_NAMES", "UNITS", "Setting", "data_name", "headline", "median_iqr_text",
           "paired_to_target", "settings", "sv_means", "to_target", "wide_setting"]


def to_target(records: list[dict], unit: str = "steps") -> list[float]:
    """Steps (or seconds) to subspace distance 1e-3 per record: inf when not reached, nan
    when the record does not have the figure (records from before it was recorded)."""
    key = f"{unit}_to_subspace_1e-3"
    return [math.nan if key not in r["final"] else
            math.inf if r["final"][key] is None else float(r["final"][key]) for r in records]


def median_iqr_text(values: list[float]) -> str:
    """'median [q25, q75]', 'never' for inf, with the count reached when not all did."""
    if any(math.isnan(v) for v in values):
        return "not recorded"
    med, lo, hi = stats.median_iqr(values)
    reached = sum(map(math.isfinite, values))

    def one(x):
        return "never" if math.isinf(x) else F.fmt(x)

    text = f"{one(med)} [{one(lo)}, {one(hi)}]"
    return text if reached == len(values) else f"{text} ({reached}/{len(values)})"


def paired_to_target(a: list[float], b: list[float]) -> tuple[str, stats.Paired | None]:
    """Verdict of a vs b (per seed; a - b < 0: a is faster) with the paired comparison when
    every run of both reached the target."""
    if any(math.isnan(v) for v in a + b):
        return "not recorded", None
    if len(a) != len(b):
        return f"runs of {len(a)} vs {len(b)} seeds: not paired", None
    na, nb = sum(map(math.isfinite, a)), sum(map(math.isfinite, b))
    if na < len(a) or nb < len(b):
        return f"reached in {na} vs {nb} of {len(a)} seeds", None
    r = stats.paired(a, b)
    words = {"lower": "faster", "higher": "slower"}.get(r.verdict, r.verdict)
    return words, r


DATA_NAMES = {"user": "MNIST", "spiked": "spiked", "digits": "digits"}
UNITS = ("steps", "seconds")


def data_name(dataset: str) -> str:
    """The data set's name as LaTeX."""
    return DATA_NAMES.get(dataset, F.tex_escape(dataset))


@dataclasses.dataclass(frozen=True)
class Setting:
    """The runs of one (data set, k, optimizer), and what every output reads from them.

    Attributes:
      records: the runs, in the order saved.
      runs: decoder -> its runs ordered by seed (paired with the transpose decoder's).
      to_target: (decoder, unit) -> steps or seconds to the subspace target per seed.
      versus: (decoder, unit) -> (`paired_to_target`'s words, its comparison or None) against
        the transpose decoder.
    """

    dataset: str
    k: int
    optimizer: str
    records: list
    runs: dict
    to_target: dict
    versus: dict

    @property
    def d(self):
        rec = self.records[0]
        return rec.get("extra", {}).get("d") or rec["config"]["d"]

    def mean(self, decoder: str, key: str) -> float:
        return mean_of([r["final"].get(key) for r in self.runs.get(decoder, [])])

    def values(self, decoder: str, key: str):
        return query.final(self.runs.get(decoder, []), key)


def settings(records: list[dict]) -> dict[tuple, Setting]:
    """The records grouped by (dataset, k, optimizer), first-seen order, with the times to the
    subspace target and their paired comparisons computed once."""
    out = {}
    for (ds, k, opt), recs in query.group(records, "dataset", "k", "optimizer").items():
        runs = {dec: query.by_seed(rs) for (dec,), rs in query.group(recs, "decoder").items()}
        times = {(dec, unit): to_target(runs.get(dec, []), unit)
                 for dec in DECODERS for unit in UNITS}
        versus = {(dec, unit): paired_to_target(times[dec, unit], times["transpose", unit])
                  for dec in DECODERS if dec != "transpose" for unit in UNITS}
        out[ds, k, opt] = Setting(ds, k, opt, recs, runs, times, versus)
    return out


def wide_setting(records: list[dict]) -> tuple[str, int] | None:
    """(dataset, k) of the largest code on real images: MNIST (the user's data) when run, else
    the digits, at their largest k; None when neither was run."""
    for ds in ("user", "digits"):
        ks = [r["config"]["k"] for r in query.select(records, dataset=ds)]
        if ks:
            return ds, max(ks)
    return None


def headline(groups: dict[tuple, Setting], optimizer: str) -> Setting | None:
    """The headline setting of an optimizer: spiked data (else the first data set), smallest k."""
    keys = [key for key in groups if key[2] == optimizer]
    if not keys:
        return None
    datasets = [ds for ds, _, _ in keys]
    ds = "spiked" if "spiked" in datasets else datasets[0]
    return groups[ds, min(k for d, k, _ in keys if d == ds), optimizer]


def sv_means(g: Setting, decoder: str) -> tuple[float, ...] | None:
    """Means over seeds of the smallest and largest singular value of W at the start and the
    end; None when not recorded."""
    means = tuple(g.mean(decoder, key) for key in ("sv_min_start", "sv_max_start", "sv_min",
                                                    "sv_max"))
    return None if math.isnan(means[0]) else means
