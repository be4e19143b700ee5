"""Checkpoints of `fit` and resuming: a resumed run ends bitwise where an uninterrupted one
does (in process, from every checkpoint; and across SIGKILLs of a training subprocess, one of
them during a write), another run's checkpoint is refused naming what differs, and the model
hooks are looked up in one place."""

import ast
import functools
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.training import Checkpoint, ModelHooks, RowChunks, model_hooks

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tiedae"
X = np.random.default_rng(0).normal(size=(48, 6)) * np.arange(1, 7) + 2.0


def _model(seed=0, decoder="untied"):
    return tiedae.LinearAE(6, 2, decoder=decoder, param_dtype=jnp.float64, rngs=nnx.Rngs(seed))


def _fit(directory, *, model=None, data=X, resume=True, every=6, keep=2, **kw):
    kw = {"optimizer": optax.adam(1e-2), "steps": 30, "log_every": 3, "batch_size": 16, **kw}
    if isinstance(data, RowChunks):
        kw.pop("batch_size")
    return tiedae.fit(_model() if model is None else model, data,
                      checkpoint=Checkpoint(directory, every=every, resume=resume, keep=keep),
                      **kw)


def _same(a, b):
    (model_a, hist_a), (model_b, hist_b) = a, b
    for name in ("W", "V", "mean"):
        assert np.array_equal(getattr(model_a, name)[...], getattr(model_b, name)[...]), name
    assert sorted(hist_a) == sorted(hist_b)
    for key in hist_a:
        if key != "wall_time":
            assert np.array_equal(hist_a[key], hist_b[key], equal_nan=True), key


def _steps(directory) -> list[int]:
    return sorted(int(p.name[11:20]) for p in pathlib.Path(directory).glob("checkpoint-*.npz"))


SOURCES = {
    "minibatches": {},
    "full batch, l2": {"batch_size": None, "l2": 0.01},
    "minibatches on 2 devices": {"devices": 2},
    "covariance": {"batch_size": "covariance"},
    "rows streamed from an array": {"data": RowChunks(X, 16)},
    "rows from a function": {"data": RowChunks(lambda: iter([X[:20], X[20:]]), 8,
                                               mean=X.mean(axis=0))},
}


@pytest.mark.parametrize("case", list(SOURCES))
def test_resuming_from_any_checkpoint_ends_bitwise_where_the_whole_run_does(case, tmp_path):
    whole = _fit(tmp_path / "whole", keep=100, **SOURCES[case])
    written = _steps(tmp_path / "whole")
    assert written == [6, 12, 18, 24, 30]  # each multiple of every, and the last step
    for step in written:
        folder = tmp_path / f"from{step}"
        folder.mkdir()
        name = f"checkpoint-{step:09d}.npz"
        shutil.copy(tmp_path / "whole" / name, folder / name)
        _same(whole, _fit(folder, **SOURCES[case]))


def test_checkpoints_fall_on_the_first_log_point_after_each_multiple(tmp_path):
    _fit(tmp_path, every=5, keep=100, steps=20, log_every=3)  # log points 0, 3, 6, ..., 18, 20
    assert _steps(tmp_path) == [6, 12, 15, 20]


def test_only_the_latest_checkpoints_are_kept(tmp_path):
    _fit(tmp_path, keep=2)
    assert _steps(tmp_path) == [24, 30]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


OTHER_RUNS = {
    "seed": ({"seed": 1}, "seed (checkpoint: 0; this call: 1)"),
    "steps": ({"steps": 9}, "steps (checkpoint: 6; this call: 9)"),
    "log_every": ({"log_every": 2}, "log_every"),
    "batch_size": ({"batch_size": 8}, "batch_size (checkpoint: 16; this call: 8)"),
    "learning rate": ({"optimizer": optax.adam(2e-2)},
                      "checkpoint \"-0.01\", this call \"-0.02\""),
    "optimizer": ({"optimizer": optax.sgd(1e-2)}, "optimizer state"),
    "regularizer": ({"l2": 0.1}, "objective: functions"),
    "data": ({"data": X + 1.0}, "data: digest"),
    "data shape": ({"data": X[:40]}, "data: digest"),
    "initial parameters": ({"model": _model(seed=1)}, "initial parameters"),
    "architecture": ({"model": _model(decoder="transpose")}, "parameters (checkpoint:"),
    "eval data": ({"eval_data": X[:4]}, "eval_data"),
}


@pytest.mark.parametrize("case", list(OTHER_RUNS))
def test_a_checkpoint_of_another_run_is_refused_naming_the_difference(case, tmp_path):
    _fit(tmp_path, steps=6)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    changes, named = OTHER_RUNS[case]
    changes = {"steps": 6, **changes}
    with pytest.raises(ValueError, match="is of another run") as err:
        _fit(tmp_path, **changes)
    assert named in str(err.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing touched


def _scaled_error(model, x, scale):
    return scale * tiedae.training.reconstruction_error(model, x)


def test_a_loss_with_other_settings_in_a_partial_or_closure_is_another_run(tmp_path):
    """A partial or a closure is one static leaf of the objective: the numbers it holds are
    part of the run's identity (as the optimizer's are), its name alone is not enough."""
    def closure(scale):
        return lambda model, x: _scaled_error(model, x, scale)

    for name, make in {"partial": lambda s: functools.partial(_scaled_error, scale=s),
                       "closure": closure}.items():
        _fit(tmp_path / name, steps=6, loss_fn=make(1.0))
        _same(_fit(tmp_path / name, steps=6, loss_fn=make(1.0)),  # the same run resumes
              _fit(tmp_path / f"{name} again", steps=6, loss_fn=make(1.0)))
        with pytest.raises(ValueError, match="is of another run; .*objective: functions"):
            _fit(tmp_path / name, steps=6, loss_fn=make(2.0))


def test_a_folder_with_checkpoints_is_refused_without_resume(tmp_path):
    _fit(tmp_path, steps=6)
    with pytest.raises(ValueError, match="already holds checkpoints .* pass Checkpoint"):
        _fit(tmp_path, steps=6, resume=False)


def test_streamed_rows_that_differ_on_resume_are_refused(tmp_path):
    source = lambda rows: RowChunks(lambda: iter([rows]), 8, mean=X.mean(axis=0))  # noqa: E731
    _fit(tmp_path, data=source(X), steps=12, every=6)
    (tmp_path / "checkpoint-000000012.npz").unlink()
    with pytest.raises(ValueError, match="differ from those the checkpointed run read"):
        _fit(tmp_path, data=source(X[::-1]), steps=12, every=6)


def test_streamed_rows_resume_when_a_log_interval_takes_several_calls(tmp_path, monkeypatch):
    """Two batches per compiled call at most, log_every=3: the run reads 2+1 batches per log
    interval, the resume reads 2+2+2 to reach step 6; the digest of the rows must not depend
    on how the reads were split."""
    batch_bytes = 16 * X.shape[1] * np.dtype(np.float64).itemsize
    monkeypatch.setattr(tiedae.training.sources, "_MAX_STREAMED_BYTES", 2 * batch_bytes)
    whole = _fit(tmp_path / "whole", keep=100, data=RowChunks(X, 16), steps=12)
    folder = tmp_path / "from6"
    folder.mkdir()
    shutil.copy(tmp_path / "whole" / "checkpoint-000000006.npz", folder)
    _same(whole, _fit(folder, data=RowChunks(X, 16), steps=12))


def test_a_failed_write_leaves_the_older_checkpoint_and_no_temporary_file(tmp_path,
                                                                        monkeypatch):
    _fit(tmp_path, steps=12, every=6)
    (tmp_path / "checkpoint-000000012.npz").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    savez = np.savez

    def full_disk(file, **arrays):
        savez(file, **arrays)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _fit(tmp_path, steps=12, every=6)  # resumes after step 6; the write at 12 fails
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    whole = _fit(tmp_path / "whole")
    (tmp_path / "whole" / "checkpoint-000000030.npz").write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="cannot read the checkpoint"):
        _same(whole, _fit(tmp_path / "whole"))
    np.savez(tmp_path / "whole" / "checkpoint-000000036.npz", x=np.zeros(2))  # not ours
    with pytest.warns(UserWarning, match="is not a tiedae checkpoint"):
        _same(whole, _fit(tmp_path / "whole"))


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"every": 0}, ValueError, "Checkpoint's every must be >= 1"),
    ({"every": 2.5}, TypeError, "Checkpoint's every must be a positive integer"),
    ({"resume": "yes"}, TypeError, "Checkpoint's resume must be True or False"),
    ({"keep": 0}, ValueError, "Checkpoint's keep must be >= 1"),
    ({"directory": 3}, TypeError, "Checkpoint's directory must be a path"),
])
def test_bad_checkpoint_arguments_are_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Checkpoint(**{"directory": "ckpt", "every": 5, **kwargs})


def test_a_checkpoint_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="checkpoint directory .*file is a file"):
        _fit(tmp_path / "file", steps=6)


# ---------------------------------------------------------------------------------------------
# SIGKILL of a training process at several points, then resume.

CHILD = textwrap.dedent('''
    import pathlib, sys, time
    import numpy as np
    import optax
    from flax import nnx
    import tiedae
    from tiedae.training import Checkpoint

    folder, out, stall = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if stall:  # hang inside the stall-th checkpoint write, after its bytes, before the rename
        savez = np.savez
        def stalling(*args, **kwargs):
            savez(*args, **kwargs)
            pathlib.Path(out + ".stalled").touch()
            time.sleep(600)
        np.savez = stalling
    X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32) + 1.0
    model = tiedae.LinearAE(5, 2, decoder="untied", rngs=nnx.Rngs(0))
    model, hist = tiedae.fit(model, X, optimizer=optax.adam(1e-2), steps=80, log_every=5,
                             batch_size=16, callback=lambda step, logged: time.sleep(0.08),
                             checkpoint=Checkpoint(folder, every=10, resume=True))
    np.savez(out, W=model.W[...], V=model.V[...], mean=model.mean[...],
             **{"history_" + key: value for key, value in hist.items()})
''')


def _child(script, folder, out, stall=0):
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, str(script), str(folder), str(out), str(stall)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(proc, ready, what):
    deadline = time.time() + 120
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"the child ended before {what}: {proc.stderr.read()}")
        assert time.time() < deadline, f"no {what} within 120 s"
        time.sleep(0.005)


def _results(path):
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


@pytest.mark.slow  # six short training processes
def test_sigkill_at_several_points_then_resume_ends_bitwise_where_the_whole_run_does(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    whole = _child(script, tmp_path / "whole", tmp_path / "whole.npz")
    killed = tmp_path / "killed"
    seen = []
    for k in (1, 2, 3):  # kill as soon as the k-th checkpoint of the run is there
        proc = _child(script, killed, tmp_path / "out.npz")
        _wait(proc, lambda k=k: killed.exists() and _steps(killed) and
              _steps(killed)[-1] >= 10 * k, f"checkpoint {k}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.append(_steps(killed)[-1])
        for path in killed.glob("checkpoint-*.npz"):  # every file under its final name loads
            _results(path)
    assert seen == sorted(seen) and seen[-1] < 80
    # Killed during a write: the new checkpoint's bytes are in a temporary file, not renamed.
    proc = _child(script, killed, tmp_path / "stall.npz", stall=1)
    _wait(proc, (tmp_path / "stall.npz.stalled").exists, "a stalled write")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [p.name for p in killed.glob(".checkpoint-*.npz.tmp")]
    assert _steps(killed)[-1] == seen[-1]
    proc = _child(script, killed, tmp_path / "out.npz")
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert whole.wait(timeout=120) == 0, whole.stderr.read()
    assert not list(killed.glob("*.tmp"))
    resumed, reference = _results(tmp_path / "out.npz"), _results(tmp_path / "whole.npz")
    assert sorted(resumed) == sorted(reference)
    for key in reference:
        if key != "history_wall_time":
            assert np.array_equal(resumed[key], reference[key]), key


# ---------------------------------------------------------------------------------------------
# Model hooks: one Protocol, looked up in one place.


class _Bare(nnx.Module):
    def __init__(self):
        self.A = nnx.Param(jnp.eye(3))

    def __call__(self, x):
        return x @ self.A[...]


def test_model_hooks_give_the_models_own_members_or_defaults():
    linear = model_hooks(_model())
    assert isinstance(linear, ModelHooks) and linear.linear and linear.d == 6
    assert linear.own >= {"reconstruction_error", "default_metrics", "d", "use_bias"}
    bare = model_hooks(_Bare())
    assert isinstance(bare, ModelHooks) and not bare.linear and bare.own == frozenset()
    assert (bare.d, bare.use_bias, bare.divergence_hint()) == (None, False, None)
    assert len(bare.weight_matrices()) == 1 and bare.default_metrics(None) is None
    x = jnp.ones((2, 3))
    assert float(bare.reconstruction_error(x)) == 0.0
    with pytest.raises(TypeError, match="_Bare has no encoder_matrix"):
        bare.encoder_matrix()
    with pytest.raises(ValueError, match="_Bare has none: pass metrics= instead"):
        bare.default_metrics("a reference")


def test_a_hook_of_the_wrong_kind_is_named():
    model = _Bare()
    model.d = "six"
    with pytest.raises(TypeError, match=r"_Bare.d must be the number of input features"):
        tiedae.fit(model, np.ones((4, 3)), steps=1)


def test_hooks_of_numpy_scalar_types_are_accepted():
    """d and use_bias as numpy scalars (e.g. d=X.shape[1] of a numpy computation, use_bias from
    a numpy mask) worked before the hooks were checked: they still do."""
    model = _Bare()
    model.d, model.use_bias = np.int64(3), np.bool_(False)
    hooks = model_hooks(model)
    assert (hooks.d, hooks.use_bias) == (3, False) and type(hooks.d) is int
    _, hist = tiedae.fit(model, np.ones((4, 3)), steps=2)
    assert np.isfinite(hist["loss"]).all()
    linear = tiedae.LinearAE(6, 2, use_bias=np.bool_(True), rngs=nnx.Rngs(0))
    assert np.isfinite(float(tiedae.training.reconstruction_error(linear, jnp.ones((3, 6)))))


def test_only_the_hooks_module_probes_a_model_for_what_it_offers():
    """hasattr/getattr on a model appear in tiedae/training/hooks.py only (fit looks the hooks
    up once, with model_hooks)."""
    offenders = []
    for path in sorted((PACKAGE / "training").glob("*.py")):
        if path.name == "hooks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                    "hasattr", "getattr") and isinstance(node.args[0], ast.Name) and \
                    node.args[0].id == "model":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders


class _Weights(_Bare):
    """A model with its own weight_matrices (the L2 penalty acts on A only)."""

    def __init__(self):
        super().__init__()
        self.B = nnx.Param(jnp.eye(3))

    def weight_matrices(self):
        return [self.A[...]]


@pytest.mark.parametrize("make", [_Bare, _Weights])
def test_hooks_inside_the_compiled_step_see_the_parameters_being_trained(make):
    """The regularizer reaches the model through weight_matrices (the model's own or the
    default): its gradient must move the trained parameters, not those of the model fit was
    given (which would leave the penalty constant, its gradient zero)."""
    model = make()
    no_loss = lambda model, x: 0.0 * jnp.sum(model(x))  # noqa: E731
    _, hist = tiedae.fit(model, np.ones((4, 3)), optimizer=optax.sgd(0.1), steps=20,
                         log_every=10, loss_fn=no_loss, l2=1.0)
    assert hist["objective"][-1] < 0.5 * hist["objective"][0]
    assert float(jnp.abs(model.A[...]).max()) < 0.5
    if make is _Weights:  # not penalised
        assert np.array_equal(model.B[...], np.eye(3))


def test_the_default_loss_of_a_model_without_its_own_error_decreases():
    model = _Bare()
    X = np.random.default_rng(1).normal(size=(16, 3))
    model.A[...] = jnp.zeros((3, 3))
    _, hist = tiedae.fit(model, X, optimizer=optax.adam(5e-2), steps=40, log_every=20)
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]


def test_a_tilde_in_the_directory_is_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert Checkpoint("~/runs", every=2).directory == tmp_path / "home" / "runs"
    _fit("~/runs", steps=6)
    assert not (tmp_path / "~").exists()  # no folder literally named "~"
    assert _steps(tmp_path / "home" / "runs") == [6]


def test_more_steps_after_a_finished_run_is_refused_saying_how_to_train_further(tmp_path):
    _fit(tmp_path, steps=6)
    with pytest.raises(ValueError, match=r"steps \(checkpoint: 6; this call: 12\).*cannot "
                                         r"extend a run of steps=6 to steps=12.*fit it again"):
        _fit(tmp_path, steps=12)
    with pytest.raises(ValueError, match="log_every") as info:  # other settings: no such hint
        _fit(tmp_path, steps=6, log_every=2)
    assert "extend" not in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="no advisory locks")
def test_a_second_run_into_a_directory_in_use_is_refused_and_the_first_is_untouched(tmp_path):
    refused = []

    def second_run(step, metrics, model):
        if step == 3:
            with pytest.raises(ValueError, match="is in use by another running fit"):
                _fit(tmp_path, steps=6, callback=None)
            refused.append(step)

    first = _fit(tmp_path, steps=6, callback=second_run)
    assert refused == [3] and _steps(tmp_path) == [6]
    _same(_fit(tmp_path, steps=6), first)  # released when the run ended: resumes
    with pytest.raises(ValueError, match="log_every"):  # released after a refused resume too
        _fit(tmp_path, steps=6, log_every=2)
    _fit(tmp_path, steps=6)
