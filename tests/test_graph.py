"""Graph autoencoder: SBM generator, edge split, GCN normalisation, decoders, link metrics."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import tiedae
from tiedae.data import graphs
from tiedae.nonlinear import graph


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


@pytest.mark.parametrize("decoder", graph.GRAPH_DECODERS)
def test_graph_ae_learns_links(decoder):
    A, _ = graphs.stochastic_block_model((25, 25), 0.4, 0.02, seed=0)
    s = graphs.split_edges(A, seed=0)
    model = graph.GraphAE(50, hidden=16, code_dim=8, decoder=decoder, rngs=nnx.Rngs(0))
    logits = model(jnp.asarray(graph.normalized_adjacency(s.train_adj)))
    assert logits.shape == (50, 50)
    if decoder == "inner_product":
        np.testing.assert_allclose(logits, logits.T, rtol=1e-5, atol=1e-6)
        assert not hasattr(model, "mlp_weights")
    model, hist = tiedae.fit(model, graph.training_batch(s.train_adj),
                             loss_fn=graph.adjacency_loss, optimizer=optax.adam(0.01), steps=100)
    assert hist["loss"][-1] < hist["loss"][0]
    scores = graph.link_prediction(model, s.train_adj, s.test_pos, s.test_neg)
    assert scores["auc"] > 0.7 and 0.0 <= scores["ap"] <= 1.0


def test_link_prediction_metrics_match_a_perfect_and_a_useless_scorer():
    class Fixed:  # a stand-in whose logits are given
        def __init__(self, logits):
            self.logits = logits

        def __call__(self, _):
            return self.logits

    A = np.zeros((4, 4), np.float32)
    logits = np.full((4, 4), -5.0)
    logits[0, 1] = logits[1, 0] = 5.0
    pos, neg = np.array([[0, 1]]), np.array([[2, 3]])
    perfect = graph.link_prediction(Fixed(logits), A, pos, neg)
    assert perfect == {"auc": 1.0, "ap": 1.0}
    flat = graph.link_prediction(Fixed(np.zeros((4, 4))), A, pos, neg)
    assert flat["auc"] == 0.5


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
