r"""Multi-process data-parallel training on JAX's own multi-controller runtime.

Every process runs the same script (SPMD). `initialize()` connects it to the others through
`jax.distributed.initialize`; then `jax.devices()` lists the devices of all processes and
`tiedae.fit(..., devices="all")` trains on a 1-D mesh ("batch") over them: the rows of each batch
are sharded over the devices, the parameters replicated, and XLA reduces the gradients across
processes (on CPU through JAX's gloo collectives, on GPUs through NCCL).

The contract of `fit` over a mesh that spans processes:

* **Data.** Each process passes *its own rows* (the same number on every process, a multiple
  of its number of devices in the mesh). The global data set is the processes' rows
  concatenated in process order (process 0's first), so training on
  `np.concatenate([X_0, X_1, ...])` in one process is the same computation.
* **Minibatches.** `batch_size` is the global batch (rows per step over all processes). The
  order is drawn from `fit`'s `seed` over the global row indices, on every process alike, so it
  is identical across processes and identical to the single-process run.
* **Everything else is the same on every process**: the model and its initial parameters (build
  it with the same seed), optimizer, steps, seed, `log_every`, and `eval_data` (the same whole
  held-out array on every process; it is replicated, not sharded). `fit` checks this with one
  gather at the start and raises on every process, naming the difference.
* **Centring.** The `DataMean` is the global mean: the float64 row sums of every process, added
  in process order and divided by the global row count.
* **Results.** Every process gets the same history and the same trained model (as plain local
  arrays). Callbacks run on every process with that model (guard printing or file writing with
  `jax.process_index() == 0`); training stops when a callback returns True on any process.
* **Errors.** A bad input on one process (NaN, wrong shape, ...) raises on every process, each
  message naming the process, instead of leaving the others waiting in a collective. An
  exception of one process alone later on (a callback's, say) ends that process; the launcher
  then stops the others (started by hand: stop them yourself, or wait for JAX's heartbeat
  timeout to end them).
* **Sources.** Full batch (an array, not a pytree) and minibatches over the mesh.
  `Covariance`: each process passes its own rows (any number, read in chunks, e.g. its part
  of a file); the covariance pass gathers the processes' partial moments with one collective
  (`tiedae.data.moments.gather_processes`), so every process trains on the covariance of all
  the rows, without `devices` (the d x d steps are the same on every process). The same holds
  for `tiedae.pca.moments` and `tiedae.pca.fit_chunks`. `RowChunks` trains in one process
  only.

Start the processes with `python -m tiedae.launch --processes 2 -- python script.py` (local,
loopback only), or set the environment yourself (one process per host or per GPU group):

    JAX_COORDINATOR_ADDRESS=host0:1234 JAX_NUM_PROCESSES=4 JAX_PROCESS_ID=<0..3> python script.py

References:
  JAX, "Introduction to multi-controller JAX (aka multi-process/multi-host JAX)",
  https://docs.jax.dev/en/latest/multi_process.html

Example (with no distributed environment the script runs as one process):
  >>> import jax
  >>> from tiedae.training import distributed
  >>> distributed.initialize()  # reads JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, ...
  False
  >>> mesh = jax.sharding.Mesh(jax.devices()[:2], ("batch",))
  >>> distributed.global_rows(np.ones((4, 3)), mesh).shape
  (4, 3)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = ["ENV_VARS", "LOOPBACK", "agree", "agree_on_inputs", "all_gather", "any_process",
           "digest", "global_rows", "initialize", "local_copy", "ordered_devices", "replicate",
           "spans_processes"]

ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
LOOPBACK = "127.0.0.1"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def _parse_address(address: str) -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"the coordinator address must be host:port with a port in 1..65535; "
                         f"got {address!r}")
    return host, int(port)


def _parse_int(value, name: str) -> int:
    if isinstance(value, str):
        if not value.strip().lstrip("-").isdigit():
            raise ValueError(f"{name} must be an integer; got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    return int(value)


def initialize(
    *,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    devices_per_process: int | None = None,
    timeout_s: int = 300,
) -> bool:
    """Connects this process to the others (`jax.distributed.initialize`); call it first.

    Each argument left None is read from the environment: `JAX_COORDINATOR_ADDRESS`
    (host:port of process 0, which runs the coordinator), `JAX_NUM_PROCESSES`,
    `JAX_PROCESS_ID` (0 .. n-1). With none of the three given anywhere the script is a single
    process: nothing happens and False is returned, so one script runs alone or launched.

    The coordinator listens on the address it is given, not on every interface (JAX's default
    "[::]:port"); `JAX_COORDINATOR_BIND_ADDRESS` overrides that. With a loopback coordinator
    (127.0.0.1 or localhost, as `python -m tiedae.launch` sets) the CPU collectives (gloo) also
    listen on 127.0.0.1 only, so nothing is reachable beyond this machine.

    Args:
      coordinator_address, num_processes, process_id: see above.
      devices_per_process: CPU devices of this process (`jax_num_cpu_devices`; the launcher
        sets it through `JAX_NUM_CPU_DEVICES`). GPUs: one process sees all GPUs of its host
        unless `JAX_LOCAL_DEVICE_IDS` (or CUDA_VISIBLE_DEVICES) picks some.
      timeout_s: how long to wait for all processes to connect.

    Returns:
      True when connected to a distributed run, False for a single process.

    Raises:
      ValueError: incomplete or invalid settings (the message names the variables).
      RuntimeError: JAX already computed something in this process (too late to connect).
    """
    given = {"JAX_COORDINATOR_ADDRESS": coordinator_address, "JAX_NUM_PROCESSES": num_processes,
             "JAX_PROCESS_ID": process_id}
    values = {key: os.environ.get(key) if val is None else val for key, val in given.items()}
    present = [key for key, val in values.items() if val not in (None, "")]
    if not present:
        return False
    missing = [key for key in ENV_VARS if key not in present]
    if missing:
        have = ", ".join(f"{key}={values[key]}" for key in present)
        raise ValueError(f"incomplete distributed settings: {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not set ({have}); set all of "
                         f"{', '.join(ENV_VARS)}, or start the processes with "
                         f"`python -m tiedae.launch --processes N -- python script.py`")
    host, port = _parse_address(values["JAX_COORDINATOR_ADDRESS"])
    count = _parse_int(values["JAX_NUM_PROCESSES"], "JAX_NUM_PROCESSES")
    rank = _parse_int(values["JAX_PROCESS_ID"], "JAX_PROCESS_ID")
    if count < 1:
        raise ValueError(f"JAX_NUM_PROCESSES must be >= 1; got {count}")
    if not 0 <= rank < count:
        raise ValueError(f"JAX_PROCESS_ID must be in 0..{count - 1} (JAX_NUM_PROCESSES={count}); "
                         f"got {rank}")
    if jax.distributed.is_initialized():
        return True
    from jax._src import xla_bridge  # no public way to ask, or to pick gloo's address

    if xla_bridge.backends_are_initialized():
        raise RuntimeError("initialize() must run before any JAX computation: this process "
                           "already created its JAX devices. Call it at the top of the script.")
    if devices_per_process is not None:
        jax.config.update("jax_num_cpu_devices", int(devices_per_process))
    loopback = host in _LOOPBACK_NAMES
    if loopback:
        host = LOOPBACK
    bind = os.environ.get("JAX_COORDINATOR_BIND_ADDRESS") or f"{host}:{port}"
    jax.distributed.initialize(f"{host}:{port}", count, rank, initialization_timeout=timeout_s,
                               coordinator_bind_address=bind,
                               cluster_detection_method="deactivate")
    if loopback:
        _cpu_collectives_on_loopback(xla_bridge)
    return True


def _cpu_collectives_on_loopback(xla_bridge) -> None:
    """Makes the CPU backend's gloo collectives listen on 127.0.0.1 (by default gloo binds to
    the address of this machine's host name)."""
    if jax.config.jax_cpu_collectives_implementation not in (None, "gloo"):
        return
    from jax._src.lib import _jax

    client = jax._src.distributed.global_state.client
    collectives = _jax.make_gloo_tcp_collectives(distributed_client=client, hostname=LOOPBACK)
    xla_bridge.register_backend_factory(
        "cpu", functools.partial(xla_bridge.make_cpu_client, collectives=collectives),
        priority=0, fail_quietly=False)


# ---------------------------------------------------------------------------------------------
# Meshes over processes.


def spans_processes(mesh: Mesh | None) -> bool:
    """Whether `mesh` holds devices of more than one process."""
    return mesh is not None and len({d.process_index for d in mesh.devices.flat}) > 1


def ordered_devices(devices: Sequence) -> list:
    """`devices` ordered by process (stable within a process), checked: this process has a
    device among them, and over several processes every process contributes the same number of
    devices. A list of one process's devices is returned as it is.

    Example:
      >>> import jax
      >>> ordered_devices(jax.devices()[:2]) == jax.devices()[:2]
      True
    """
    devices = list(devices)
    owners = sorted({d.process_index for d in devices})
    if jax.process_index() not in owners:
        raise ValueError(f"this process ({jax.process_index()}) has no device in the mesh (its "
                         f"devices belong to processes {owners}): pass devices=\"all\", or "
                         f"this process's own jax.local_devices()")
    if len(owners) <= 1:
        return devices
    counts = {p: sum(d.process_index == p for d in devices) for p in owners}
    if owners != list(range(jax.process_count())):
        raise ValueError(f"a mesh over several processes must include devices of every process "
                         f"(0..{jax.process_count() - 1}); it has devices of processes {owners}")
    if len(set(counts.values())) > 1:
        raise ValueError(f"every process must give the mesh the same number of devices; devices "
                         f"per process: {counts}")
    return sorted(devices, key=lambda d: d.process_index)


# ---------------------------------------------------------------------------------------------
# Host-side agreement between processes.


def all_gather(value) -> list:
    """`value` (anything JSON can hold) from every process, in process order; the same list on
    every process. One process: `[value]`. Every process must call it.

    Example:
      >>> all_gather({"rows": 3})
      [{'rows': 3}]
    """
    payload = json.dumps(value).encode()
    if jax.process_count() == 1:
        return [json.loads(payload)]
    from jax.experimental import multihost_utils

    sizes = multihost_utils.process_allgather(np.array([len(payload)], np.int32))[:, 0]
    width = -(-int(sizes.max()) // 1024) * 1024  # few shapes, few compilations
    buffer = np.zeros(width, np.uint8)
    buffer[: len(payload)] = np.frombuffer(payload, np.uint8)
    gathered = multihost_utils.process_allgather(buffer)
    return [json.loads(bytes(gathered[p, : sizes[p]])) for p in range(len(sizes))]


def agree(local: Callable[[], Mapping], *, same: Sequence[str] | Mapping[str, str] = ()
          ) -> list[dict]:
    """Runs `local()` on every process and gathers its results (dicts of JSON values), in
    process order. If it raised ValueError or TypeError on any process, that error is raised
    on every process (naming the process), so no process is left waiting for the others; so is
    a ValueError when the values under the keys `same` differ between processes (a mapping
    key -> hint adds the hint to that message).

    Example:
      >>> agree(lambda: {"rows": 4, "d": 3}, same=["d"])
      [{'rows': 4, 'd': 3}]
    """
    try:
        record, error = {"value": dict(local())}, None
    except (ValueError, TypeError) as err:
        record, error = {"error": str(err), "type": type(err).__name__}, err
    records = all_gather(record)
    failed = [(p, r) for p, r in enumerate(records) if "error" in r]
    if failed:
        if len(failed) == len(records) and len({r["error"] for _, r in failed}) == 1:
            message = f"on every process: {failed[0][1]['error']}"
        else:
            message = "; ".join(f"process {p}: {r['error']}" for p, r in failed)
        kind = TypeError if all(r["type"] == "TypeError" for _, r in failed) else ValueError
        raise kind(message) from error
    values = [r["value"] for r in records]
    hints = same if isinstance(same, Mapping) else dict.fromkeys(same, "")
    for key, hint in hints.items():
        seen = [v.get(key) for v in values]
        if any(s != seen[0] for s in seen[1:]):
            raise ValueError(f"{key} must be the same on every process{hint}; got "
                             f"{_differences(seen)}")
    return values


def agree_on_inputs(local_rows: Callable[[], np.ndarray], local_evals: Callable[[], dict],
                    params, settings: Mapping) -> tuple[np.ndarray, dict]:
    """The start of `fit` over several processes, with one gather: checks each process's rows
    and eval data (`local_rows()` and `local_evals()` raise on bad input; then every process
    raises), that the row shapes, `settings`, initial `params` and eval data agree, and returns
    (the global float64 mean of the rows, this process's checked eval data)."""
    held = {}

    def local():
        X = local_rows()
        held["evals"] = local_evals()
        return {"rows": len(X), "sum": X.astype(np.float64).sum(axis=0).ravel().tolist(),
                "row shape": list(X.shape[1:]), "settings": dict(settings),
                "initial parameters": digest(params)[:16],
                "eval_data": {k: digest(v)[:16] for k, v in held["evals"].items()}}

    records = agree(local, same={
        "row shape": "", "settings": "",
        "initial parameters": " (build the model the same way, with the same seed, everywhere)",
        "eval_data": " (every process passes the same whole held-out array)"})
    total = np.zeros(len(records[0]["sum"]))
    for record in records:  # in process order: the same float64 sum on every process
        total += np.asarray(record["sum"], np.float64)
    mean = total / sum(r["rows"] for r in records)
    return mean.reshape(records[0]["row shape"]), held["evals"]


def _differences(seen: list) -> str:
    """What differs between the processes' values (for dicts: only the entries that differ)."""
    if all(isinstance(s, dict) for s in seen):
        keys = sorted({k for s in seen for k in s}, key=str)
        return "; ".join(f"{k}: {_differences([s.get(k) for s in seen])}" for k in keys
                         if any(s.get(k) != seen[0].get(k) for s in seen[1:]))
    return ", ".join(f"process {p}: {s}" for p, s in enumerate(seen))


def any_process(flag: bool) -> bool:
    """True on every process when `flag` is true on any (e.g. a callback asking to stop)."""
    if jax.process_count() == 1:
        return bool(flag)
    return any(all_gather(bool(flag)))


def digest(tree) -> str:
    """SHA-256 of the arrays of a pytree (shapes, dtypes and bytes): equal digests on two
    processes mean equal values."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        arr = np.asarray(leaf)
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Arrays over processes.


def global_rows(X, mesh: Mesh, axis: str = "batch") -> jax.Array:
    """The global array whose rows are every process's `X` concatenated in process order,
    sharded over the mesh axis `axis` (the other axes replicated). Every process calls it with
    its own rows; each holds the same number of rows, a multiple of its devices in the mesh.
    Without other processes this is `jax.device_put` with that sharding.

    Raises:
      ValueError: the rows cannot be split evenly over the devices, or the processes' row
        counts or row shapes differ (the message names the numbers).
    """
    X = np.asarray(X)
    if X.ndim < 1:
        raise ValueError(f"X must have rows (at least 1-D); got shape {X.shape}")
    owners = [d.process_index for d in mesh.devices.flat]
    if owners != sorted(owners):
        raise ValueError("the mesh's devices must be ordered by process (ordered_devices)")
    mine = owners.count(jax.process_index())
    info = all_gather({"rows": X.shape[0], "shape": list(X.shape[1:]), "devices": mine})
    shapes = [tuple(i["shape"]) for i in info]
    if len(set(shapes)) > 1:
        listed = ", ".join(f"process {p}: {s}" for p, s in enumerate(shapes))
        raise ValueError(f"every process must pass rows of the same shape; got {listed}")
    rows = [i["rows"] for i in info]
    total, n_devices = sum(rows), len(owners)
    spread = (f"{' + '.join(map(str, rows))} rows from {len(rows)} processes" if len(rows) > 1
              else f"from {len(rows)} process")
    if total % n_devices:
        raise ValueError(f"n={total} rows ({spread}) cannot be split evenly over {n_devices} "
                         f"devices: give each process a multiple of its devices' share")
    share = total // n_devices
    wrong = [p for p, i in enumerate(info) if i["rows"] != i["devices"] * share]
    if wrong:
        raise ValueError(f"each of the {n_devices} devices holds n/{n_devices}={share} rows "
                         f"of the n={total} ({spread}), so every process must pass its "
                         f"devices' share ({info[0]['devices']} x {share} rows); processes "
                         f"{wrong} pass {[rows[p] for p in wrong]}")
    sharding = NamedSharding(mesh, P(axis, *[None] * (X.ndim - 1)))
    if len(rows) == 1:
        return jax.device_put(X, sharding)
    return jax.make_array_from_process_local_data(sharding, X, (total, *X.shape[1:]))


def replicate(tree, mesh: Mesh):
    """Every array of `tree` replicated over `mesh`, from this process's value (the processes
    must hold equal values: `fit` checks the initial parameters' digests first). Unlike
    `jax.device_put`, no collective per array, and NaN entries (a state's "no divergence yet")
    are fine."""
    sharding = NamedSharding(mesh, P())
    mine = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]

    def one(x):
        x = x if isinstance(x, jax.Array) else jax.numpy.asarray(x)
        return jax.make_array_from_single_device_arrays(
            x.shape, sharding, [jax.device_put(x, d) for d in mine])

    return jax.tree.map(one, tree)


def local_copy(tree):
    """Replicated arrays of a multi-process mesh as this process's own copy (an ordinary
    single-device array that computations of this process alone can use); other leaves as
    they are."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            if not x.is_fully_replicated:
                raise ValueError("only replicated arrays have a full copy on every process")
            return x.addressable_data(0)
        return x

    return jax.tree.map(one, tree)
