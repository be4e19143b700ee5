"""Graph autoencoder: SBM generator, edge split, GCN propagation matrices, decoders, loss."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.data import graphs
from tiedae.nonlinear import graph, link_prediction
from tiedae.nonlinear.layers import count_params


def test_sbm_is_a_seeded_simple_graph_with_block_structure():
    A, labels = graphs.stochastic_block_model((30, 30, 40), 0.5, 0.02, seed=3)
    assert A.shape == (100, 100) and A.dtype == np.float32
    np.testing.assert_array_equal(A, A.T)
    assert np.all(np.diag(A) == 0) and set(np.unique(A)) <= {0.0, 1.0}
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], [30, 30, 40]))
    same = labels[:, None] == labels[None, :]
    inside = A[same & ~np.eye(100, dtype=bool)].mean()
    across = A[~same].mean()
    assert abs(inside - 0.5) < 0.05 and abs(across - 0.02) < 0.01
    A2, _ = graphs.stochastic_block_model((30, 30, 40), 0.5, 0.02, seed=3)
    np.testing.assert_array_equal(A, A2)
    with pytest.raises(ValueError, match="p_in"):
        graphs.stochastic_block_model((5, 5), 1.5, 0.1)


def test_split_edges_holds_out_edges_with_balanced_negatives():
    A, _ = graphs.stochastic_block_model((40, 40), 0.3, 0.05, seed=0)
    s = graphs.split_edges(A, val_fraction=0.05, test_fraction=0.1, seed=1)
    n_edges = int(np.triu(A, 1).sum())
    assert len(s.test_pos) == round(0.1 * n_edges) and len(s.test_neg) == len(s.test_pos)
    assert len(s.val_neg) == len(s.val_pos)
    for pos in (s.test_pos, s.val_pos):
        assert np.all(A[pos[:, 0], pos[:, 1]] == 1)  # real edges ...
        assert np.all(s.train_adj[pos[:, 0], pos[:, 1]] == 0)  # ... removed from training
    neg = np.concatenate([s.test_neg, s.val_neg])
    assert np.all(A[neg[:, 0], neg[:, 1]] == 0) and np.all(neg[:, 0] < neg[:, 1])
    assert len({tuple(p) for p in neg}) == len(neg)
    assert int(np.triu(s.train_adj, 1).sum()) == n_edges - len(s.test_pos) - len(s.val_pos)
    np.testing.assert_array_equal(s.train_adj, s.train_adj.T)


def test_normalized_adjacency():
    A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)
    N = graph.normalized_adjacency(A)
    deg = np.array([2.0, 3.0, 2.0])
    expected = (A + np.eye(3)) / np.sqrt(deg[:, None] * deg[None, :])
    np.testing.assert_allclose(N, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="symmetric"):
        graph.normalized_adjacency(np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="square"):
        graph.normalized_adjacency(np.zeros((3, 4)))


def test_sharpened_adjacency_is_park_et_al_s_stable_form():
    A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)
    S = graph.sharpened_adjacency(A)
    d_hat = np.array([1.0, 2.0, 1.0]) + 2.0  # D + 2I
    expected = (2 * np.eye(3) - A) / np.sqrt(d_hat[:, None] * d_hat[None, :])
    np.testing.assert_allclose(S, expected, rtol=1e-6)
    B, _ = graphs.stochastic_block_model((15, 15), 0.5, 0.1, seed=1)
    eig = np.linalg.eigvalsh(graph.sharpened_adjacency(B).astype(np.float64))
    assert -1 - 1e-6 <= eig.min() and eig.max() <= 1 + 1e-6  # numerically stable
    unstable = np.linalg.eigvalsh(2 * np.eye(30) - graph.normalized_adjacency(B))
    assert unstable.max() > 1.5  # the plain sharpening 2I - A_norm amplifies


def _batch(seed=0):
    A, _ = graphs.stochastic_block_model((25, 25), 0.4, 0.02, seed=seed)
    s = graphs.split_edges(A, seed=seed)
    return s, graph.training_batch(s.train_adj)


def test_decoders_compute_their_formulas():
    """Each decoder against a float64 numpy reference built from its own parameters, with the
    dense propagation matrices (the batch holds them sparse)."""
    s, batch = _batch()
    N = graph.normalized_adjacency(s.train_adj).astype(np.float64)
    S = graph.sharpened_adjacency(s.train_adj).astype(np.float64)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    for decoder in graph.GRAPH_DECODERS:
        for propagation, P in (("sharpening", S), ("smoothing", N)):
            model = graph.GraphAE(50, hidden=16, code_dim=8, decoder=decoder,
                                  decoder_propagation=propagation, rngs=nnx.Rngs(3))
            p = {k: np.asarray(v, np.float64) for k, v in nnx.state(model, nnx.Param).items()
                 if k in ("W0", "W1", "W2", "W3")}
            Z = N @ relu(N @ p["W0"]) @ p["W1"]
            if decoder == "inner_product":
                expected = Z @ Z.T
            elif decoder == "mirrored_gcn":
                expected = P @ relu(P @ Z @ p["W2"]) @ p["W3"]
            else:
                h = Z
                for i, (W, b) in enumerate(zip(model.mlp_weights, model.mlp_biases,
                                               strict=True)):
                    h = h @ np.asarray(W[...], np.float64) + np.asarray(b[...], np.float64)
                    h = relu(h) if i < len(model.mlp_weights) - 1 else h
                expected = h
            got = np.asarray(model(batch.a_norm, batch.a_sharp), np.float64)
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
            dense = model(jnp.asarray(N, jnp.float32), jnp.asarray(S, jnp.float32))
            np.testing.assert_allclose(got, np.asarray(dense), rtol=1e-4, atol=1e-6)
            if decoder != "mirrored_gcn":
                break  # the propagation matters to the mirrored decoder only


def test_decoders_share_the_initial_encoder_and_differ_in_parameters():
    models = {d: graph.GraphAE(50, hidden=16, code_dim=8, decoder=d, rngs=nnx.Rngs(5))
              for d in graph.GRAPH_DECODERS}
    for m in models.values():
        np.testing.assert_array_equal(m.W0[...], models["inner_product"].W0[...])
        np.testing.assert_array_equal(m.W1[...], models["inner_product"].W1[...])
    encoder = 50 * 16 + 16 * 8
    assert count_params(models["inner_product"]) == encoder
    assert count_params(models["mirrored_gcn"]) == encoder + 8 * 16 + 16 * 50
    assert count_params(models["mlp"]) == encoder + (8 * 64 + 64) + (64 * 50 + 50)
    assert not hasattr(models["inner_product"], "W2")


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown decoder"):
        graph.GraphAE(10, decoder="mirror", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="decoder_propagation"):
        graph.GraphAE(10, decoder="mirrored_gcn", decoder_propagation="heat", rngs=nnx.Rngs(0))
    model = graph.GraphAE(10, decoder="mirrored_gcn", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="needs a_sharp"):
        model(jnp.eye(10))


def test_adjacency_loss_is_kipf_and_wellings_weighted_cross_entropy():
    """The one-softplus form against the textbook two-log form in float64, logits up to
    +-60 (where a naive log(sigmoid) would overflow)."""
    s, batch = _batch()

    class Fixed(nnx.Module):  # a stand-in whose logits are given
        def __init__(self, logits):
            self.logits = nnx.Param(jnp.asarray(logits))

        def __call__(self, a_norm, a_sharp=None):
            return self.logits[...]

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 20, (50, 50))
    logits[0, :5] = [60.0, -60.0, 0.0, 30.0, -30.0]
    T = np.asarray(batch.target, np.float64)
    w, norm = float(batch.pos_weight), float(batch.norm)
    log_p = -np.logaddexp(0.0, -logits)
    log_not_p = -np.logaddexp(0.0, logits)
    expected = -norm * np.mean(w * T * log_p + (1 - T) * log_not_p)
    n_pos = T.sum()
    np.testing.assert_allclose(w, (2500 - n_pos) / n_pos, rtol=1e-6)
    np.testing.assert_allclose(norm, 2500 / (2 * (2500 - n_pos)), rtol=1e-6)
    got = jax.jit(graph.adjacency_loss)(Fixed(logits), batch)
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


@pytest.mark.parametrize("decoder", graph.GRAPH_DECODERS)
def test_graph_ae_learns_links(decoder):
    s, batch = _batch()
    model = graph.GraphAE(50, hidden=16, code_dim=8, decoder=decoder, rngs=nnx.Rngs(0))
    logits = model(batch.a_norm, batch.a_sharp)
    assert logits.shape == (50, 50)
    if decoder == "inner_product":
        np.testing.assert_allclose(logits, logits.T, rtol=1e-5, atol=1e-6)
    model, hist = tiedae.fit(model, batch, loss_fn=graph.adjacency_loss,
                             optimizer=optax.adam(0.01), steps=100)
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    scores = link_prediction.evaluate(model, batch, s.test_pos, s.test_neg)
    assert scores["auc"] > 0.7 and 0.5 < scores["ap"] <= 1.0


def test_karate_club():
    pytest.importorskip("networkx")
    A, labels = graphs.karate_club()
    assert A.shape == (34, 34) and int(A.sum()) == 2 * 78
    assert set(labels) == {0, 1}


def test_edge_list_loader_drops_direction_duplicates_and_self_loops(tmp_path):
    path = tmp_path / "g.cites"
    path.write_text("# a comment\n10 20\n20 10\n20 30\n30 30\n\n10 20\n40 10\n")
    A, ids = graphs.load_edge_list(path)
    assert list(ids) == ["10", "20", "30", "40"]
    expected = np.zeros((4, 4), np.float32)
    for a, b in [(0, 1), (1, 2), (3, 0)]:
        expected[a, b] = expected[b, a] = 1.0
    np.testing.assert_array_equal(A, expected)


@pytest.mark.parametrize(("text", "match"), [
    ("1 2 3\n", r"g.txt:1: expected two node ids, got 3"),
    ("5 5\n", "no edges"),
    ("", "no edges"),
])
def test_edge_list_loader_rejects_bad_files(tmp_path, text, match):
    path = tmp_path / "g.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        graphs.load_edge_list(path)
    with pytest.raises(ValueError, match="no such edge-list file"):
        graphs.load_edge_list(tmp_path / "missing.txt")
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match="not a text edge list"):
        graphs.load_edge_list(path)
