"""Multi-process data parallelism (tiedae.training.distributed, python -m tiedae.launch): two
local processes with a coordinator on 127.0.0.1 train exactly what one process trains."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest
from distributed_worker import RUNS, model, problem
from flax import nnx

import tiedae
from tiedae import launch
from tiedae.training import distributed

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCH_TIMEOUT_S = 150  # the launcher stops everything after this; pytest waits a bit longer


def _run_launcher(args: list[str], timeout_s: float = LAUNCH_TIMEOUT_S):
    """python -m tiedae.launch ARGS; on a hang, SIGTERM (the launcher stops its processes),
    then SIGKILL. Returns (status, output)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tiedae.launch", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=launch.GRACE_S * 2 + 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"the launcher hung; its output:\n{out}")
    return proc.returncode, out


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """The worker's records (one per process) of a 2-process x 2-device run."""
    out_dir = tmp_path_factory.mktemp("distributed")
    status, out = _run_launcher(["--processes", "2", "--devices-per-process", "2", "--timeout",
                                 str(LAUNCH_TIMEOUT_S), "--", sys.executable,
                                 str(REPO / "tests" / "distributed_worker.py"), str(out_dir)])
    assert status == 0, out
    return [json.loads((out_dir / f"p{rank}.json").read_text()) for rank in (0, 1)]


def _single_process(name: str) -> dict:
    """The worker's run `name` in this one process, on all of X, on one device."""
    X = problem()
    kw = dict(RUNS[name])
    kw["optimizer"] = {"sgd": optax.sgd(0.05), "adam": optax.adam(1e-2)}[kw["optimizer"]]
    trained, hist = tiedae.fit(model(), X, reference=tiedae.pca.fit(X, 2), eval_data=X[:12],
                               **kw)
    return {"encoder": np.asarray(trained.encoder_matrix()), "mean": np.asarray(trained.mean[...]),
            "history": hist}


@pytest.mark.parametrize("name", list(RUNS))
def test_distributed_two_processes_match_one_process(two_processes, name):
    one = _single_process(name)
    for record in two_processes:
        assert (record["processes"], record["devices"], record["local_devices"]) == (2, 4, 2)
        run = record[name]
        np.testing.assert_allclose(run["encoder"], one["encoder"], rtol=0, atol=1e-6)
        # the global mean, not this process's (the two halves' means differ by ~0.1)
        np.testing.assert_allclose(run["mean"], problem().mean(axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(run["mean"], one["mean"], rtol=0, atol=1e-12)
        for key, values in run["history"].items():
            np.testing.assert_allclose(values, one["history"][key], rtol=1e-6, atol=1e-9,
                                       err_msg=key)
        assert run["callback_steps"] == list(one["history"]["step"])
    # training moved the parameters (the comparison is not of two initialisations)
    assert np.abs(one["encoder"] - np.asarray(model().encoder_matrix())).max() > 1e-2


def test_distributed_bad_inputs_raise_the_same_clear_error_on_every_process(two_processes):
    errors = [record["errors"] for record in two_processes]
    assert errors[0].pop("other_process_devices") == "no error"  # a mesh of its own devices
    assert "this process (1) has no device in the mesh" in errors[1].pop("other_process_devices")
    assert errors[0] == errors[1]
    e = errors[0]
    assert e["uneven_rows"].startswith("ValueError") and "50 + 46 rows" in e["uneven_rows"]
    assert "n/4=24" in e["uneven_rows"] and "[50, 46]" in e["uneven_rows"]
    assert "n=94 rows (47 + 47 rows from 2 processes) cannot be split evenly over 4 devices" \
        in e["indivisible_rows"]
    assert "row shape must be the same on every process; got process 0: [8], process 1: [7]" \
        in e["row_shapes"]
    assert e["nan_on_one_process"] == ("ValueError: process 1: X contains 1 non-finite value(s) "
                                       "(NaN or inf)")
    assert "settings must be the same" in e["seeds"]
    assert "seed: process 0: 0, process 1: 1" in e["seeds"]
    assert "initial parameters must be the same" in e["initial_parameters"]
    assert "eval_data must be the same" in e["eval_data"]
    # after the errors the processes were still in step: a last run trained as before
    for record in two_processes:
        np.testing.assert_allclose(record["after_errors"], record["full"]["encoder"], atol=0)


def test_distributed_covariance_pass_over_two_processes_matches_one_process(tmp_path):
    """2 processes x 2 CPU devices, each reading its own (uneven) share of a file: the
    covariance pass, pca.fit_chunks and fit on the Covariance source give every process what
    one process gets from all the rows (float64, to 1e-12); a NaN on one process raises on
    both, naming it (tests/distributed_moments_worker.py)."""
    import distributed_moments_worker as worker

    status, out = _run_launcher(["--processes", "2", "--devices-per-process", "2", "--timeout",
                                 str(LAUNCH_TIMEOUT_S), "--", sys.executable,
                                 str(REPO / "tests" / "distributed_moments_worker.py"),
                                 str(tmp_path)])
    assert status == 0, out
    records = [json.loads((tmp_path / f"m{rank}.json").read_text()) for rank in (0, 1)]
    X = worker.problem()
    ref = tiedae.pca.moments(X, dtype=np.float64)
    components = tiedae.pca.fit_chunks(X, worker.K).components
    encoder = worker.train(X)
    for rec in records:
        assert rec["n"] == worker.N
        C = np.asarray(rec["covariance"])
        np.testing.assert_allclose(C, ref.covariance, rtol=0,
                                   atol=1e-12 * np.abs(ref.covariance).max())
        np.testing.assert_allclose(rec["mean"], ref.mean, rtol=1e-12)
        np.testing.assert_allclose(rec["components"], components, atol=1e-10)
        np.testing.assert_allclose(rec["encoder"], encoder, atol=1e-10)
    assert records[1]["bad"].startswith("process 1: chunk 0 contains 1 non-finite value")
    assert records[0]["bad"].startswith("the rows of process(es) [1] are bad")


def test_distributed_launcher_stops_the_others_when_one_fails(capsys):
    script = ("import os, sys, time\n"
              "rank = int(os.environ['JAX_PROCESS_ID'])\n"
              "print('rank', rank, 'of', os.environ['JAX_NUM_PROCESSES'],"
              " os.environ['JAX_COORDINATOR_ADDRESS'], os.environ['JAX_NUM_CPU_DEVICES'])\n"
              "if rank == 1:\n"
              "    time.sleep(0.5)\n"
              "    sys.exit(3)\n"
              "time.sleep(120)\n")
    start = time.monotonic()
    status = launch.launch([sys.executable, "-c", script], 2, devices_per_process=3,
                           timeout_s=100)
    out = capsys.readouterr()
    assert status == 3, out
    assert time.monotonic() - start < 60  # process 0 was stopped, not waited for
    assert "[p0] rank 0 of 2 127.0.0.1:" in out.out and "[p1] rank 1 of 2 127.0.0.1:" in out.out
    assert out.out.count(" 3\n") == 2  # JAX_NUM_CPU_DEVICES
    assert "process 1 exited with status 3; stopping the other 1" in out.err


def test_distributed_launcher_stops_its_processes_on_sigterm():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-m", "tiedae.launch", "--processes", "2",
                             "--timeout", "100", "--", sys.executable, "-c", script], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        pids = []
        for line in proc.stdout:  # wait until both processes run
            if " pid " in line:
                pids.append(int(line.split()[-1]))
            if len(pids) == 2:
                break
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=launch.GRACE_S * 2 + 10)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and "interrupted; stopping all processes" in out
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_distributed_launcher_times_out_and_rejects_a_missing_command(capsys):
    status = launch.launch([sys.executable, "-c", "import time; time.sleep(60)"], 2,
                           timeout_s=1)
    assert status == 124 and "timed out after 1 s" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        launch.main(["--processes", "2"])
    assert info.value.code == 2 and "no command" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        launch.main(["--processes", "0", "--", "true"])
    assert "expected a positive integer; got 0" in capsys.readouterr().err


def test_distributed_launcher_environment():
    env = launch.process_env(2, 4, port=5555, devices_per_process=2, base={"X": "1"})
    assert env == {"X": "1", "JAX_COORDINATOR_ADDRESS": "127.0.0.1:5555",
                   "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "2", "PYTHONUNBUFFERED": "1",
                   "JAX_NUM_CPU_DEVICES": "2", "JAX_LOCAL_DEVICE_IDS": "4,5"}
    with launch.reserved_port() as port:
        assert 1 <= port <= 65535


@pytest.mark.parametrize(
    ("env", "match"),
    [({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234"},
      "JAX_NUM_PROCESSES and JAX_PROCESS_ID are not set"),
     ({"JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"}, "JAX_COORDINATOR_ADDRESS is not set"),
     ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"},
      "host:port"),
     ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234", "JAX_NUM_PROCESSES": "two",
       "JAX_PROCESS_ID": "0"}, "JAX_NUM_PROCESSES must be an integer"),
     ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234", "JAX_NUM_PROCESSES": "2",
       "JAX_PROCESS_ID": "2"}, r"JAX_PROCESS_ID must be in 0\.\.1"),
     ])
def test_distributed_initialize_names_what_is_missing_or_wrong(monkeypatch, env, match):
    for key in distributed.ENV_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=match):
        distributed.initialize()


def test_distributed_initialize_without_environment_is_one_process_and_too_late_is_an_error(
        monkeypatch):
    for key in distributed.ENV_VARS:
        monkeypatch.delenv(key, raising=False)
    assert distributed.initialize() is False
    jax.devices()  # this process has its devices: connecting now is too late
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "0")
    with pytest.raises(RuntimeError, match="before any JAX computation"):
        distributed.initialize()


def test_distributed_devices_all_in_one_process_matches_one_device(rng):
    X = rng.normal(size=(64, 6)) + 1.0
    a, b = (tiedae.fit(tiedae.LinearAE(6, 2, param_dtype=jax.numpy.float64, rngs=nnx.Rngs(0)),
                       X, optimizer=optax.sgd(0.05), steps=20, batch_size=16, devices=devices)[0]
            for devices in (None, "all"))
    np.testing.assert_allclose(a.encoder_matrix(), b.encoder_matrix(), atol=1e-12)
    with pytest.raises(ValueError, match='devices must be None, an int, "all"'):
        tiedae.fit(tiedae.LinearAE(6, 2, rngs=nnx.Rngs(0)), X, steps=1, devices="gpu")
