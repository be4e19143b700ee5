r"""Start a multi-process JAX program on this machine: `python -m tiedae.launch`.

    python -m tiedae.launch --processes 2 [--devices-per-process N] [--timeout S] \
        -- python my_script.py [its arguments]

starts the command once per process, each with the standard environment that
`tiedae.training.distributed.initialize()` (and `jax.distributed.initialize`) read:

* `JAX_COORDINATOR_ADDRESS=127.0.0.1:<port>`: process 0 runs the coordinator on a free
  loopback port (held open with SO_REUSEPORT until the coordinator has it, so no other program
  takes it meanwhile); only 127.0.0.1 is ever used;
* `JAX_NUM_PROCESSES=<processes>` and `JAX_PROCESS_ID=<0..processes-1>`;
* with `--devices-per-process N`: `JAX_NUM_CPU_DEVICES=N` (N CPU devices per process) and
  `JAX_LOCAL_DEVICE_IDS` (process i gets GPUs i*N .. i*N+N-1 on a multi-GPU machine).

Their output is streamed line by line with a `[pI]` prefix. When a process fails, the others are
stopped and the launcher exits with its status; `--timeout` stops everything after S seconds
(status 124). Ctrl-C (or SIGTERM to the launcher) stops all of them.

The same by hand, in two shells (what the launcher does):

    JAX_COORDINATOR_ADDRESS=127.0.0.1:12355 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \
        JAX_NUM_CPU_DEVICES=2 python my_script.py
    JAX_COORDINATOR_ADDRESS=127.0.0.1:12355 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \
        JAX_NUM_CPU_DEVICES=2 python my_script.py

Example:
  >>> env = process_env(1, 2, port=12355, devices_per_process=2)
  >>> [env[k] for k in ("JAX_COORDINATOR_ADDRESS", "JAX_PROCESS_ID", "JAX_LOCAL_DEVICE_IDS")]
  ['127.0.0.1:12355', '1', '2,3']
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from tiedae import _startup
from tiedae.training.distributed import LOOPBACK

__all__ = ["launch", "main", "process_env", "reserved_port"]

GRACE_S = 5.0  # after SIGTERM, how long a process may take to stop before SIGKILL


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free TCP port on 127.0.0.1, kept bound (not listening) while the context is open so
    that no other program is given it; the coordinator binds it too (gRPC sets SO_REUSEPORT).
    Without SO_REUSEPORT (not Linux) the port is only picked, then released."""
    reuse = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
        if not reuse:
            sock.close()
        yield port
    finally:
        sock.close()


def process_env(rank: int, processes: int, *, port: int, devices_per_process: int | None = None,
                base: dict | None = None) -> dict[str, str]:
    """The environment of process `rank` of `processes` (a copy of `base`, default os.environ,
    plus the distributed variables; unbuffered Python output so lines stream as printed)."""
    env = dict(os.environ if base is None else base)
    env.update({"JAX_COORDINATOR_ADDRESS": f"{LOOPBACK}:{port}",
                "JAX_NUM_PROCESSES": str(processes), "JAX_PROCESS_ID": str(rank),
                "PYTHONUNBUFFERED": "1"})
    env.pop("JAX_COORDINATOR_BIND_ADDRESS", None)  # bind where the address says: loopback
    if devices_per_process is not None:
        first = rank * devices_per_process
        env["JAX_NUM_CPU_DEVICES"] = str(devices_per_process)
        env["JAX_LOCAL_DEVICE_IDS"] = ",".join(map(str, range(first, first + devices_per_process)))
    return env


def _stream(rank: int, pipe, lock: threading.Lock, out) -> None:
    for line in iter(pipe.readline, b""):
        with lock:
            out.write(f"[p{rank}] {line.decode(errors='replace')}")
            if not line.endswith(b"\n"):
                out.write("\n")
            out.flush()
    pipe.close()


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    """SIGTERM to each running process's group (the process and what it started), then
    SIGKILL to those still running after GRACE_S."""
    running = [p for p in procs if p.poll() is None]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, sig)  # each child leads its own group (start_new_session)
        deadline = time.monotonic() + GRACE_S
        while running and time.monotonic() < deadline:
            running = [p for p in running if p.poll() is None]
            time.sleep(0.05)
        if not running:
            return


def launch(command: Sequence[str], processes: int, *, devices_per_process: int | None = None,
           timeout_s: float | None = None, out=None) -> int:
    """Runs `command` as `processes` processes of one distributed JAX run on 127.0.0.1 and
    returns the exit status: 0 when all succeed, else the first failure's status (the others
    are stopped), 124 on timeout, 130 on Ctrl-C (or SIGTERM through `main`)."""
    if processes < 1:
        raise ValueError(f"processes must be >= 1; got {processes}")
    if devices_per_process is not None and devices_per_process < 1:
        raise ValueError(f"devices per process must be >= 1; got {devices_per_process}")
    if not command:
        raise ValueError("no command to run: give it after --, e.g. -- python script.py")
    out = sys.stdout if out is None else out
    lock = threading.Lock()
    procs: list[subprocess.Popen] = []
    threads: list[threading.Thread] = []
    status = 0

    def say(message: str) -> None:
        with lock:
            print(f"tiedae.launch: {message}", file=sys.stderr, flush=True)

    with reserved_port() as port:
        try:
            for rank in range(processes):
                env = process_env(rank, processes, port=port,
                                  devices_per_process=devices_per_process)
                proc = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
                procs.append(proc)
                thread = threading.Thread(target=_stream, args=(rank, proc.stdout, lock, out),
                                          daemon=True)
                thread.start()
                threads.append(thread)
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while True:
                codes = [p.poll() for p in procs]
                failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
                if failed:
                    rank, status = failed[0]
                    running = sum(c is None for c in codes)
                    say(f"process {rank} exited with status {status}"
                        + (f"; stopping the other {running}" if running else ""))
                    break
                if all(c == 0 for c in codes):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    say(f"timed out after {timeout_s:g} s; stopping all processes")
                    status = 124
                    break
                time.sleep(0.05)
        except KeyboardInterrupt:
            say("interrupted; stopping all processes")
            status = 130
        except OSError as err:  # the command could not be started
            say(f"cannot start {command[0]!r}: {err}")
            status = 127
        finally:
            _stop(procs)
            for thread in threads:
                thread.join(timeout=GRACE_S)
    return status


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds; got {value}")
    return value


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    _startup.started()  # Ctrl-C while starting (importing JAX) was one line and status 130
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    options = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        prog="python -m tiedae.launch",
        description="Run a command as N processes of one distributed JAX run on 127.0.0.1.",
        epilog="example: python -m tiedae.launch --processes 2 --devices-per-process 2 -- "
               "python my_script.py")
    parser.add_argument("--processes", "-n", type=_positive_int, required=True,
                        help="number of processes")
    parser.add_argument("--devices-per-process", type=_positive_int, default=None,
                        help="CPU devices per process (JAX_NUM_CPU_DEVICES); on GPUs, the GPUs "
                             "each process gets (JAX_LOCAL_DEVICE_IDS)")
    parser.add_argument("--timeout", type=_positive_float, default=None,
                        help="stop all processes after this many seconds (exit status 124)")
    args = parser.parse_args(options)
    if not command:
        parser.error("no command: put it after --, e.g. -- python my_script.py")
    signal.signal(signal.SIGTERM, _interrupt)  # stopping the launcher stops its processes
    return launch(command, args.processes, devices_per_process=args.devices_per_process,
                  timeout_s=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
