"""Which runs `python -m tiedae.bench` makes, and making them without losing saved results.

`plan` decides, per suite, what to run and where its records go; `execute` runs them, saving
each record as soon as its run ends (`ResultStore.append`: one line appended, fsynced) and each
suite's CSV summary when its runs end. The rules:

* A suite whose `DIR/<suite>.jsonl` (or `.jsonl.partial`) already holds records is refused
  unless the command says what to do with them: `--resume` or `--overwrite`.
* `--resume` keeps every saved record and runs the planned runs that have none. It continues
  the command that made the saved records, so a file is refused, naming what differs, when one
  of its records was made with other command-line options (`--seed`, `--full`: the record's
  `options`), on another kind of device (`--device`: the record's `env["device"]`), is not a
  run of this command (another seed, size or `--data` names other runs: how records saved
  before `options` existed are checked), or is a planned run whose fingerprint differs from the
  planned one (other config values, other `--data` contents; see `records.fingerprint`):
  mixing runs of two settings in one file would be silently wrong. If an `--overwrite` was
  interrupted, `--resume` finishes it (it continues `<suite>.jsonl.partial`).
* `--overwrite` reruns every planned run. Where the suite has saved results, the new records
  go to `DIR/<suite>.jsonl.partial`; once all of them are saved, that file replaces
  `DIR/<suite>.jsonl` in one atomic rename (records of runs this command does not make go
  with the old file). Until then the old file is untouched: an interrupted or failed
  `--overwrite` leaves it as it was, `--resume` finishes the new runs and replaces it, another
  `--overwrite` starts them again.
* A record keeps its config with each `--data` path replaced by the path's last part (e.g.
  "mnist"; `portable_config`) and the data's sha256 (`data_sha256`): records never hold a
  machine's folders, and a `--resume` with the same data in another folder goes on.
* A run that raises is reported in one line (its traceback goes to `DIR/errors.log`) and the
  others go on; Ctrl-C stops after saving what is finished; a failing write (disk full)
  stops the command. Each case says what was saved and that `--resume` finishes the rest.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from tiedae.bench.records import (
    DamagedRecordsError,
    ResultStore,
    command_options,
    fingerprint,
    make_record,
    read_records,
    record_fingerprint,
    record_platform,
    to_jsonable,
)
from tiedae.bench.suite import Options, Suite

__all__ = ["Outcome", "PlanError", "SuitePlan", "config_difference", "execute", "plan",
           "portable_config"]

MODES = ("new", "resume", "overwrite")


class PlanError(Exception):
    """The command cannot run as asked; the message says why and what to pass instead."""


@dataclasses.dataclass
class SuitePlan:
    """One suite's runs: `todo` of the planned `configs`, saved to `store`."""

    suite: Suite
    store: ResultStore
    configs: list[dict]
    todo: list[dict]
    data_sha256: dict[str, str | None]  # run_id -> digest of the user's data it reads
    replaces: int = 0  # records of <suite>.jsonl that `promote` will replace (staged only)
    restart: bool = False  # an --overwrite that starts <suite>.jsonl.partial afresh
    options: dict | None = None  # the command-line options its records keep
    saved_as: dict[str, dict] = dataclasses.field(default_factory=dict)  # run_id -> config

    @property
    def run_ids(self) -> set[str]:
        return {c["run_id"] for c in self.configs}


@dataclasses.dataclass
class Outcome:
    """What `execute` did."""

    saved: int = 0
    failures: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    write_error: str | None = None
    elapsed: float = 0.0


def _count(path: Path, suite: str) -> int:
    try:
        return len(read_records(path, suite)) if path.exists() else 0
    except DamagedRecordsError as err:
        raise PlanError(str(err)) from None
    except OSError as err:
        raise PlanError(f"cannot read {path}: {err.strerror or err}") from None


def run_data_sha256(config: dict, data_sha256: dict[str, str]) -> str | None:
    """The digest of the user's data a run reads: the sha256 of each `--data` path that is a
    value of its config (one digest as it is; several combined; None for none)."""
    used = sorted({data_sha256[v] for v in config.values()
                   if isinstance(v, str) and v in data_sha256})
    if len(used) <= 1:
        return used[0] if used else None
    return hashlib.sha256(";".join(used).encode()).hexdigest()


def portable_config(config: dict, data_sha256: dict[str, str]) -> dict:
    """The config as its record keeps it: each `--data` path among its values replaced by the
    path's last part (the data set's file or folder name, e.g. "mnist"), so that records name
    the data and its digest (`data_sha256`) but never a machine's folders.

    Example:
      >>> portable_config({"data": "/home/me/data/mnist", "k": 2}, {"/home/me/data/mnist": "ab"})
      {'data': 'mnist', 'k': 2}
    """
    return {key: Path(value).name if isinstance(value, str) and value in data_sha256 else value
            for key, value in config.items()}


def _configs(suite: Suite, options: Options, data_sha256: dict[str, str]):
    configs = suite.configs(options)
    ids = [c["run_id"] for c in configs]
    if len(set(ids)) != len(ids):
        raise PlanError(f"suite {suite.name!r} has duplicate run_ids (a bug in the suite)")
    uses = {c["run_id"]: run_data_sha256(c, data_sha256) for c in configs}
    saved_as = {c["run_id"]: portable_config(c, data_sha256) for c in configs}
    return configs, uses, saved_as


def config_difference(record: dict, config: dict, data_sha256: str | None = None) -> str:
    """What differs between a saved record and a planned config, e.g. "data_seed 0 -> 1"."""
    old, new = record["config"], to_jsonable({k: v for k, v in config.items() if k != "run_id"})

    def shown(cfg, key):
        return repr(cfg[key]) if key in cfg else "(absent)"

    parts = [f"{k} {shown(old, k)} -> {shown(new, k)}" for k in sorted(set(old) | set(new))
             if k not in old or k not in new or old[k] != new[k]]
    if record.get("data_sha256") != data_sha256:
        short = [(h or "none")[:12] for h in (record.get("data_sha256"), data_sha256)]
        parts.append(f"--data contents (sha256 {short[0]} -> {short[1]})")
    return ", ".join(parts) or "nothing visible"


def _check_resume(store: ResultStore, configs: list[dict], uses: dict, options: dict | None,
                  platform: str | None, data_sha256: dict[str, str]) -> set[str]:
    """The planned run_ids saved with the planned fingerprint; PlanError on records of another
    command (see the module docstring). Records saved with the `--data` path itself in their
    config (before `portable_config`) count as saved with its name."""
    try:
        saved = {r["run_id"]: {**r, "config": portable_config(r["config"], data_sha256)}
                 for r in store.load()}
    except DamagedRecordsError as err:
        raise PlanError(str(err)) from None
    except OSError as err:
        raise PlanError(f"cannot read {store.path}: {err.strerror or err}") from None
    configs = [portable_config(c, data_sha256) for c in configs]
    other = [(c, saved[c["run_id"]]) for c in configs if c["run_id"] in saved
             and record_fingerprint(saved[c["run_id"]])
             != fingerprint(store.suite, c, uses[c["run_id"]])]
    if other:
        config, record = other[0]
        raise PlanError(
            f"{store.path}: {len(other)} saved run(s) of this command were made with other "
            f"settings (e.g. {config['run_id']}: "
            f"{config_difference(record, config, uses[config['run_id']])}); resuming would mix "
            f"them. {_WAY_OUT}"
        )
    mixed = _other_command(list(saved.values()), configs, options, platform)
    if mixed:
        raise PlanError(f"{store.path}: {mixed}; resuming would mix them. {_WAY_OUT}")
    return set(saved) & {c["run_id"] for c in configs}


_WAY_OUT = ("Repeat the first run's options, or pass --overwrite to redo the suite, or choose "
            "another --out")


def _flags(options: dict) -> str:
    return f"--seed {options.get('seed')}" + (" --full" if options.get("full") else
                                              " (quick sizes)")


def _other_command(saved: list[dict], configs: list[dict], options: dict | None,
                   platform: str | None) -> str | None:
    """Why the saved records are not runs of the command planning `configs` (None: they are)."""
    if options is not None:
        other = [r for r in saved if "options" in r and r["options"] != options]
        if other:
            return (f"{len(other)} saved run(s) were made with {_flags(other[0]['options'])}, "
                    f"this command has {_flags(options)}")
    if platform is not None:
        other = [r for r in saved if record_platform(r) not in (None, platform)]
        if other:
            return (f"{len(other)} saved run(s) ran on a {record_platform(other[0])} device, this "
                    f"command runs on {platform} (--device)")
    planned = {c["run_id"] for c in configs}
    other = [r["run_id"] for r in saved if r["run_id"] not in planned]
    if other:
        return (f"{len(other)} saved run(s) are not runs of this command (e.g. {other[0]}): "
                "they were made with another --seed, --full or --data, or by another version of "
                "the suite")
    return None


def plan(suites: Sequence[Suite], options: Options, out: Path, *, mode: str = "new",
         data_sha256: dict[str, str] | None = None,
         platform: str | None = None) -> list[SuitePlan]:
    """The runs of `suites` into folder `out` under `mode` ("new", "resume", "overwrite"; see
    the module docstring). `data_sha256` maps each `--data` path to its digest; `platform` is
    the kind of device the runs will use ("cpu", "gpu"; None: not checked). Reads the saved
    records; writes nothing.

    Raises:
      PlanError: saved results in the way (mode "new"), saved runs with other settings
        (mode "resume"), a damaged or unreadable result file, a suite with duplicate run_ids.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    plans, in_the_way = [], []
    keep = command_options(options.seed, options.quick)
    for suite in suites:
        configs, uses, saved_as = _configs(suite, options, data_sha256 or {})
        probe = ResultStore(out, suite.name)
        saved, partial = _count(probe.jsonl, suite.name), probe.partial.exists()
        if mode == "new":
            if saved:
                in_the_way.append(f"{probe.jsonl} ({saved} records)")
            if partial:
                in_the_way.append(f"{probe.partial} (an interrupted --overwrite)")
            plans.append(SuitePlan(suite, probe, configs, list(configs), uses, options=keep,
                                   saved_as=saved_as))
        elif mode == "resume":
            store = ResultStore(out, suite.name, staged=partial)
            done = _check_resume(store, configs, uses, keep, platform, data_sha256 or {})
            todo = [c for c in configs if c["run_id"] not in done]
            plans.append(SuitePlan(suite, store, configs, todo, uses,
                                   replaces=saved if partial else 0, options=keep,
                                   saved_as=saved_as))
        else:
            staged = bool(saved) or partial
            store = ResultStore(out, suite.name, staged=staged, restart=True)
            plans.append(SuitePlan(suite, store, configs, list(configs), uses,
                                   replaces=saved if staged else 0, restart=staged,
                                   options=keep, saved_as=saved_as))
    if in_the_way:
        raise PlanError(
            f"{out} already holds results of the suites asked for: {', '.join(in_the_way)}. "
            "Pass --resume to keep them and run only the missing runs, or --overwrite to rerun "
            "everything (the old files stay until the new runs are all saved), or choose "
            "another --out"
        )
    return plans


def _log_failure(log: Path, suite: str, run_id: str) -> None:
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    try:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"--- {stamp} {suite}/{run_id}\n{traceback.format_exc()}\n")
    except OSError:
        pass


class _SaveError(Exception):
    """A record could not be written (disk full, folder gone, file damaged meanwhile)."""


def _save(store: ResultStore, action, *args) -> None:
    try:
        action(*args)
    except (OSError, DamagedRecordsError) as err:
        raise _SaveError(f"cannot save to {store.path}: {err}") from err


def _finish_suite(p: SuitePlan, outcome: Outcome) -> None:
    """Promotes a staged suite whose planned runs are all saved and none failed (which writes
    its CSV); an unstaged suite's CSV is written from its records."""
    failed = any(name == p.suite.name for name, *_ in outcome.failures)
    if p.store.staged and not failed and p.run_ids <= p.store.done_ids():
        _save(p.store, p.store.promote)
    elif not p.store.staged:
        _save(p.store, p.store.write_csv)


def _csv_when_stopped(p: SuitePlan | None) -> None:
    """The CSV of the suite a Ctrl-C or a failed write stopped, if it can be written."""
    if p is not None and not p.store.staged:
        try:
            p.store.write_csv()
        except (OSError, ValueError):
            pass


def _run_one(p: SuitePlan, config: dict, outcome: Outcome, console, error_log: Path) -> None:
    """One run, its record saved; a run that raises is logged and counted, not raised."""
    run_id, t0 = config["run_id"], time.perf_counter()
    try:
        result = p.suite.run(dict(config))
        record = make_record(p.suite.name, p.saved_as.get(run_id, config), result,
                             time.perf_counter() - t0,
                             data_sha256=p.data_sha256[run_id], options=p.options)
    except Exception as err:  # one failed run must not lose the others
        _log_failure(error_log, p.suite.name, run_id)
        outcome.failures.append((p.suite.name, run_id, f"{type(err).__name__}: {err}"))
        console.print(f"[red]run {p.suite.name}/{run_id} failed:[/red] {type(err).__name__}: "
                      f"{err} (traceback in {error_log})", highlight=False)
        return
    _save(p.store, p.store.append, record)
    outcome.saved += 1


def _progress(console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=False)


def execute(plans: Sequence[SuitePlan], console, *, error_log: Path) -> Outcome:
    """Runs every planned run with a progress bar; see the module docstring for failures,
    Ctrl-C and write errors. Never raises for them: the outcome says what happened."""
    outcome, start, current = Outcome(), time.perf_counter(), None
    try:
        for p in plans:
            if p.restart:
                _save(p.store, p.store.begin)  # an empty .partial: --resume continues it
        with _progress(console) as progress:
            task = progress.add_task("runs", total=sum(len(p.todo) for p in plans))
            for current in plans:
                for config in current.todo:
                    progress.update(task, description=f"{current.suite.name}: "
                                                      f"{config['run_id']}")
                    _run_one(current, config, outcome, console, error_log)
                    progress.advance(task)
                _finish_suite(current, outcome)
    except KeyboardInterrupt:
        outcome.interrupted = True
        _csv_when_stopped(current)
    except _SaveError as err:
        outcome.write_error = str(err)
        _csv_when_stopped(current)
    outcome.elapsed = time.perf_counter() - start
    return outcome
