"""The training engine: fused steps, sources, centring in the model, divergence, callbacks,
hyperparameters, RAG, and the architecture rules (one optimizer loop; models never import
training)."""

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae import data, pca
from tiedae.linear import algorithms
from tiedae.training import (
    Covariance,
    FullBatch,
    Minibatches,
    NonuniformL2,
    Observe,
    RowChunks,
    StopWhen,
    TrainState,
    make_train_step,
    step,
)

PACKAGE = pathlib.Path(tiedae.__file__).parent


@pytest.fixture(scope="module")
def spiked():
    X = data.spiked_covariance(600, 12, k=3, gap=4.0, seed=1).X + 3.0
    return X, pca.fit(X, 3)


def _linear(decoder="transpose", seed=0, **kw):
    return tiedae.LinearAE(12, 3, decoder=decoder, param_dtype=jnp.float64,
                           rngs=nnx.Rngs(seed), **kw)


def test_fused_steps_give_the_single_step_iterates(spiked):
    """fit's compiled log intervals run exactly the steps of make_train_step, in order."""
    X, _ = spiked
    tx = optax.adam(1e-2)
    model, hist = tiedae.fit(_linear("untied"), X, optimizer=tx, steps=37, log_every=10,
                             center=False, l2=0.01)
    reference = _linear("untied")
    graphdef, params, rest = nnx.split(reference, nnx.Param, ...)
    one = make_train_step(graphdef, rest, tx, l2=0.01)
    state, losses = TrainState.create(params, tx), []
    for _ in range(37):
        state, logged = one(state, jnp.asarray(X))
        losses.append(float(logged["loss"]))
    np.testing.assert_allclose(model.W[...], state.params["W"][...], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.V[...], state.params["V"][...], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hist["loss"][:-1], np.asarray(losses)[[0, 10, 20, 30]],
                               rtol=1e-12)
    assert list(hist["step"]) == [0, 10, 20, 30, 37]


def test_a_run_of_the_same_structure_is_not_compiled_again(spiked):
    X, ref = spiked
    tx = optax.sgd(1e-3)
    tiedae.fit(_linear(seed=0), X, optimizer=tx, steps=5, reference=ref)
    before = step.trace_count()
    tiedae.fit(_linear(seed=1), X[::-1], optimizer=tx, steps=25, log_every=5, reference=ref)
    assert step.trace_count() == before


def test_runs_with_the_default_optimizer_share_one_compilation(spiked):
    X, _ = spiked
    tiedae.fit(_linear(seed=0), X, steps=5)
    before = step.trace_count()
    tiedae.fit(_linear(seed=1), X, steps=25, log_every=5)
    assert step.trace_count() == before


def test_the_model_keeps_its_centring_and_reconstructs_raw_data_at_the_pca_optimum():
    X = data.digits().astype(np.float64) + 7.0  # shifted digits
    ref = pca.fit(X, 8)
    model = tiedae.LinearAE(64, 8, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    model, hist = tiedae.fit(model, X, optimizer=optax.adam(3e-2), steps=3000, log_every=500)
    np.testing.assert_allclose(model.mean[...], X.mean(axis=0), rtol=1e-12)
    raw = float(tiedae.training.reconstruction_error(model, jnp.asarray(X)))
    assert (raw - ref.optimal_loss) / ref.optimal_loss < 1e-3

    class Wrapper(nnx.Module):  # a LinearAE inside one's own module: the same default
        def __init__(self):
            self.inner = tiedae.LinearAE(64, 8, param_dtype=jnp.float64, rngs=nnx.Rngs(0))

        def __call__(self, x):
            return self.inner(x)

    wrapped, wrapped_hist = tiedae.fit(Wrapper(), X, optimizer=optax.adam(3e-2), steps=3000,
                                       log_every=500)
    # The wrapper trains by autodiff through model(x), the LinearAE by its closed-form
    # gradient: the same loss from the same start, then the same optimum (Adam's iterates near
    # it depend on the last bits of the gradient, so they are not compared).
    np.testing.assert_allclose(wrapped.inner.mean[...], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(wrapped_hist["loss"][0], hist["loss"][0], rtol=1e-12)
    raw = float(tiedae.training.reconstruction_error(wrapped, jnp.asarray(X)))
    assert (raw - ref.optimal_loss) / ref.optimal_loss < 1e-3


def test_centring_needs_a_place_for_the_mean():
    mlp = tiedae.MLPAE(4, (3, 2), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="DataMean"):
        tiedae.fit(mlp, np.ones((8, 4), np.float32), steps=1, center=True)


def _diverges(model, batch, **kw):
    with pytest.raises(tiedae.TrainingDiverged) as info:
        tiedae.fit(model, batch, **kw)
    err = info.value
    assert isinstance(err, ValueError) and 0 <= err.step
    assert all(np.isfinite(v).all() for v in err.history.values())
    assert all(np.isfinite(np.asarray(leaf)).all()
               for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)))
    return err


def test_divergence_of_every_model_kind_including_a_finite_blow_up(spiked):
    X, _ = spiked
    rng = np.random.default_rng(0)
    images = rng.random((16, 8, 8, 1)).astype(np.float32)
    A, _ = tiedae.data.graphs.stochastic_block_model((10, 10), 0.5, 0.05, seed=0)
    graph_batch = tiedae.nonlinear.graph.training_batch(A)
    models = {
        "linear": (lambda: tiedae.LinearAE(12, 3, rngs=nnx.Rngs(0)), X.astype(np.float32)),
        "mlp": (lambda: tiedae.MLPAE(12, (8, 3), rngs=nnx.Rngs(0)), X.astype(np.float32)),
        "conv": (lambda: tiedae.ConvAE((8, 8, 1), (4,), rngs=nnx.Rngs(0)), images),
        "graph": (lambda: tiedae.GraphAE(20, hidden=8, code_dim=4, rngs=nnx.Rngs(0)),
                  graph_batch),
    }
    for name, (make, batch) in models.items():
        extra = {"loss_fn": tiedae.nonlinear.graph.adjacency_loss} if name == "graph" else {}
        # a negative step ascends: the loss stays finite but grows without bound
        err = _diverges(make(), batch, optimizer=optax.adam(-1.0), steps=3000, log_every=100,
                        **extra)
        assert "grew from" in str(err) and "negative" in str(err), name
        # NaN in the gradient from the first step on
        err = _diverges(make(), batch, optimizer=optax.chain(optax.sgd(0.1),
                                                             optax.scale(jnp.nan)),
                        steps=10, log_every=5, **extra)
        assert "non-finite" in str(err) and err.step == 0, name


def test_adam_with_a_negative_rate_stops_instead_of_returning_a_huge_loss(spiked):
    X, _ = spiked
    err = _diverges(_linear(), X, optimizer=optax.adam(-1e-2), steps=5000)
    assert err.history["objective"][-1] < 1e6 * err.history["objective"][0]


def test_divergence_names_data_that_overflow_the_dtype_and_a_singular_right_inverse():
    X = np.random.default_rng(0).normal(size=(50, 12)) * 1e19
    err = _diverges(tiedae.LinearAE(12, 3, rngs=nnx.Rngs(0)), X.astype(np.float32), steps=5,
                    center=False)
    assert "overflows float32" in str(err)
    model = _linear("right_inverse")
    model.W[...] = jnp.zeros((3, 12), jnp.float64).at[0, 0].set(1.0)  # rank 1
    err = _diverges(model, np.random.default_rng(1).normal(size=(50, 12)), steps=5)
    assert "rank-deficient" in str(err) and err.step == 0


def test_covariance_source_around_any_mean_matches_the_full_batch(spiked):
    X, _ = spiked
    for center in (True, False):
        runs = [tiedae.fit(_linear("pinv"), src, optimizer=optax.sgd(1e-2), steps=50,
                           center=center)[0].W[...] for src in (FullBatch(X), Covariance(X))]
        np.testing.assert_allclose(runs[0], runs[1], atol=1e-10)


def test_row_chunks_stream_the_same_batches(spiked, tmp_path):
    X, _ = spiked
    path = tmp_path / "rows.npy"
    np.save(path, X)
    rows = np.load(path, mmap_mode="r")
    full, _ = tiedae.fit(_linear(), X, optimizer=optax.sgd(1e-2), steps=20)
    streamed, hist = tiedae.fit(_linear(), RowChunks(rows, 600, shuffle=False),
                                optimizer=optax.sgd(1e-2), steps=20)
    np.testing.assert_allclose(streamed.W[...], full.W[...], atol=1e-10)
    # chunks of any size are regrouped; a function gives a fresh iterator per epoch
    def chunks():
        return (X[i: i + 70] for i in range(0, 600, 70))

    regrouped, _ = tiedae.fit(_linear(), RowChunks(chunks, 600), optimizer=optax.sgd(1e-2),
                              steps=20)
    np.testing.assert_allclose(regrouped.W[...], full.W[...], atol=1e-10)
    with pytest.raises(ValueError, match="ran out"):
        tiedae.fit(_linear(), RowChunks(iter([X[:100], X[100:200]]), 100, mean=X.mean(0)),
                   steps=5)
    with pytest.raises(ValueError, match="columns"):
        tiedae.fit(_linear(), RowChunks(iter([X[:100], X[:100, :5]]), 50, mean=X.mean(0)),
                   steps=5)


def test_minibatches_visit_every_row_once_per_epoch():
    bound = Minibatches(np.zeros((10, 2)), 5, seed=3).bind(dtype=np.float32, mesh=None,
                                                          seed=0, offset=None)
    idx = bound.next_inputs(4, 4)
    assert sorted(idx[:2].ravel()) == list(range(10))
    assert sorted(idx[2:].ravel()) == list(range(10))


def test_callbacks_observe_the_model_and_stop_training(spiked):
    X, ref = spiked
    seen = Observe(lambda m: np.asarray(m.W[...]))
    stop = StopWhen("subspace_distance", 1e-6)
    calls = []
    model, hist = tiedae.fit(_linear(), X, optimizer=optax.sgd(0.02), steps=5000, log_every=25,
                             reference=ref, callback=[seen, stop,
                                                      lambda t, m: calls.append(t)])
    assert stop.step == hist["step"][-1] < 5000 and hist["subspace_distance"][-1] <= 1e-6
    assert seen.steps == calls == list(hist["step"])
    np.testing.assert_array_equal(seen.values[-1], model.W[...])
    np.testing.assert_array_equal(seen.values[0], _linear().W[...])  # the initial W


def test_held_out_losses_are_logged(spiked):
    X, _ = spiked
    _, hist = tiedae.fit(_linear(), X[:500], steps=10, log_every=5, eval_data=X[500:])
    model = _linear()
    model.mean[...] = X[:500].mean(0)
    first = float(tiedae.training.reconstruction_error(model, jnp.asarray(X[500:])))
    np.testing.assert_allclose(hist["eval_loss"][0], first, rtol=1e-12)


def test_convolutions_take_one_step_per_call_on_a_cpu_with_the_same_iterates():
    """On a CPU a step with a convolution is not fused into a while loop (XLA:CPU runs it far
    slower there); the quiet calls between log points skip the evaluation, and the logged
    held-out loss is still that of the parameters at the log point."""
    X = np.random.default_rng(0).random((40, 64))
    model = lambda: tiedae.ConvAE((8, 8, 1), (3,), kernel_size=3, stride=2,  # noqa: E731
                                  param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    dynamic, static = step.partition((tiedae.training.reconstruction_error,) * 2 + (None, None))
    conv = model()
    for m, d in ((_linear(), 12), (conv, 64)):
        graphdef, params, rest = nnx.split(m, nnx.Param, ...)
        bound = FullBatch(np.zeros((4, d))).bind(dtype=np.float64, mesh=None, seed=0,
                                                 offset=None)
        spec = step.StepSpec(graphdef, optax.sgd(0.1), bound.select, static, (), None)
        segment, _ = step.compiled_segment(spec)
        args = (TrainState.create(params, optax.sgd(0.1)), rest, bound.resident, None,
                np.int32(1), {}, dynamic, True)
        fuses = isinstance(m, tiedae.LinearAE) or jax.default_backend() != "cpu"
        assert step.fuses_well(segment, *args) == fuses
    tx = optax.adam(1e-2)
    _, hist = tiedae.fit(conv, X, optimizer=tx, steps=7, log_every=3, batch_size=8,
                         eval_data=X[:10])
    for i, t in enumerate(hist["step"]):
        partial, _ = tiedae.fit(model(), X, optimizer=tx, steps=int(t), batch_size=8,
                                log_every=max(1, int(t)))
        expected = tiedae.training.reconstruction_error(partial, jnp.asarray(X[:10]))
        np.testing.assert_allclose(hist["eval_loss"][i], float(expected), rtol=1e-12)


def test_binary_cross_entropy_matches_numpy_and_eval_loss_fn_is_logged():
    rng = np.random.default_rng(1)
    x, p = rng.random((5, 7)), rng.random((5, 7))
    expected = -np.mean(np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1))
    # the model's output p, whatever its input
    bce = jax.jit(lambda p, x: tiedae.training.binary_cross_entropy(lambda _: p, x))
    np.testing.assert_allclose(float(bce(jnp.asarray(p), jnp.asarray(x))), expected, rtol=1e-12)
    # outputs of exactly 0 or 1 are clipped (Keras's epsilon), not log(0)
    edge = bce(jnp.asarray([[0.0, 1.0]]), jnp.asarray([[1.0, 0.0]]))
    np.testing.assert_allclose(float(edge), -2 * np.log(1e-7), rtol=1e-6)
    X = rng.random((30, 12))
    sigmoid = tiedae.MLPAE(12, (6, 3), output_activation="sigmoid", param_dtype=jnp.float64,
                           rngs=nnx.Rngs(0))
    _, hist = tiedae.fit(sigmoid, X, steps=4, log_every=2, eval_data=X,
                         loss_fn=tiedae.training.binary_cross_entropy,
                         eval_loss_fn=tiedae.training.reconstruction_error)
    assert hist["eval_loss"][0] < hist["loss"][0]  # squared error of probabilities < BCE
    with pytest.raises(TypeError, match="eval_loss_fn"):
        tiedae.fit(sigmoid, X, steps=1, eval_loss_fn="mse")


def test_injected_hyperparameters_set_the_step_size(spiked):
    X, _ = spiked
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)
    a, _ = tiedae.fit(_linear(), X, optimizer=tx, steps=10, hyperparams={"learning_rate": 0.01})
    b, _ = tiedae.fit(_linear(), X, optimizer=optax.sgd(0.01), steps=10)
    np.testing.assert_allclose(a.W[...], b.W[...], atol=1e-14)
    with pytest.raises(ValueError, match="inject_hyperparams"):
        tiedae.fit(_linear(), X, optimizer=optax.sgd(0.1), steps=1, hyperparams={"lr": 1.0})


def test_rag_transform_applies_bao_et_al_update(spiked):
    X, _ = spiked
    mean, C = pca.covariance(X)
    model = algorithms.bao_model(12, 3, 0.1, seed=0, dtype=jnp.float64)
    W0, V0 = np.asarray(model.W[...]), np.asarray(model.V[...])
    tx = optax.chain(algorithms.rotation_augmented_gradient(C), optax.sgd(0.01))
    model, _ = tiedae.fit(model, Covariance(X), optimizer=tx, steps=1)
    # L = tr C - 2 tr(V W C) + tr(V^T V W C W^T): its gradients in closed form
    gw = 2 * (V0.T @ V0 @ W0 @ C - V0.T @ C)
    gv = 2 * (V0 @ W0 @ C @ W0.T - C @ W0.T)
    A = W0 @ C @ W0.T
    gamma = 0.5 * (np.triu(A, 1) - np.triu(A, 1).T)
    np.testing.assert_allclose(model.W[...], W0 - 0.01 * (gw - gamma @ W0), atol=1e-12)
    np.testing.assert_allclose(model.V[...], V0 - 0.01 * (gv - V0 @ gamma.T), atol=1e-12)


def test_nonuniform_l2_is_bao_et_al_penalty():
    model = tiedae.LinearAE(5, 2, decoder="untied", param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    W, V = np.asarray(model.W[...]), np.asarray(model.V[...])
    w = algorithms.bao_penalty_weights(2, 5)
    expected = np.sum(w * ((W**2).sum(1) + (V**2).sum(0)))
    np.testing.assert_allclose(float(jax.jit(NonuniformL2(w).__call__)(model)), expected,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="weights"):
        NonuniformL2(np.array([1.0, -1.0]))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"optimizer": "adam"}, TypeError, "optax transformation"),
    ({"log_every": 0}, ValueError, "log_every"),
    ({"blowup_factor": 0.5}, ValueError, "blowup_factor"),
    ({"l2": 0.1, "regularizer": NonuniformL2(np.ones(3))}, ValueError, "either l2"),
    ({"callback": 3}, TypeError, "callable"),
    ({"eval_data": {"bad name": np.ones((2, 12))}}, ValueError, "identifiers"),
    ({"batch_size": "cov"}, ValueError, "batch_size"),
])
def test_fit_rejects_bad_arguments_with_a_message(spiked, kwargs, error, match):
    X, _ = spiked
    with pytest.raises(error, match=match):
        tiedae.fit(_linear(), X, steps=1, **kwargs)


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_models_and_data_never_import_training():
    for folder in ("linear", "nonlinear", "data"):
        for path in (PACKAGE / folder).glob("*.py"):
            bad = {m for m in _imports(path) if m.startswith(("tiedae.training", "tiedae.bench",
                                                              "tiedae.paper"))}
            assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_no_optimizer_loop_outside_the_engine():
    """Only tiedae/training applies optax updates or takes value_and_grad."""
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "training":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("apply_updates", "value_and_grad", ".update(grads"):
            assert needle not in text, f"{path.relative_to(PACKAGE)} uses {needle}"
