"""Link-prediction metrics: AUC and AP against scikit-learn and closed forms, padding, and the
in-step `LinkMetrics` of `fit` against the host evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.metrics import average_precision_score, roc_auc_score

import tiedae
from tiedae.data import graphs
from tiedae.nonlinear import graph
from tiedae.nonlinear import link_prediction as lp


def _sklearn(pos, neg):
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    return roc_auc_score(y, s), average_precision_score(y, s)


@pytest.mark.parametrize("seed", range(6))
def test_auc_and_ap_equal_scikit_learn_ties_included(seed):
    rng = np.random.default_rng(seed)
    m_pos, m_neg = rng.integers(1, 40, size=2)
    levels = rng.integers(2, 12)  # few distinct values: many ties, within and across classes
    pos = rng.integers(0, levels, m_pos) / levels + 0.1
    neg = rng.integers(0, levels, m_neg) / levels
    auc, ap = _sklearn(pos, neg)
    np.testing.assert_allclose(float(lp.roc_auc(pos, neg)), auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(float(lp.average_precision(pos, neg)), ap, rtol=0, atol=1e-12)
    # jitted, with padding entries masked out (their scores must not matter)
    pad_pos = np.r_[pos, [5.0, -5.0, 0.3]]
    pad_neg = np.r_[neg, [7.0, -1.0]]
    pm, nm = np.r_[np.ones(m_pos), np.zeros(3)], np.r_[np.ones(m_neg), np.zeros(2)]
    jit_auc, jit_ap = jax.jit(lambda *a: (lp.roc_auc(*a), lp.average_precision(*a)))(
        pad_pos, pad_neg, pm, nm)
    np.testing.assert_allclose(float(jit_auc), auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(float(jit_ap), ap, rtol=0, atol=1e-12)


def test_auc_and_ap_closed_forms():
    # perfect ranking, reversed ranking, all tied
    assert float(lp.roc_auc([2.0, 3.0], [0.0, 1.0])) == 1.0
    assert float(lp.average_precision([2.0, 3.0], [0.0, 1.0])) == 1.0
    assert float(lp.roc_auc([0.0], [1.0, 2.0])) == 0.0
    # one positive below two negatives: precision at its score is 1/3
    np.testing.assert_allclose(float(lp.average_precision([0.0], [1.0, 2.0])), 1 / 3)
    assert float(lp.roc_auc([1.0, 1.0], [1.0])) == 0.5
    # all tied: AP is the share of positives (a tied group counts at its final precision)
    np.testing.assert_allclose(float(lp.average_precision([1.0, 1.0], [1.0] * 6)), 0.25)
    with pytest.raises(ValueError, match="1-D"):
        lp.roc_auc(np.ones((2, 2)), np.ones(2))


def _trained(decoder, steps=60, seed=0):
    A, _ = graphs.stochastic_block_model((25, 25), 0.4, 0.03, seed=seed)
    split = graphs.split_edges(A, seed=seed)
    batch = graph.training_batch(split.train_adj)
    model = graph.GraphAE(50, hidden=16, code_dim=8, decoder=decoder, rngs=nnx.Rngs(seed))
    return split, batch, model


@pytest.mark.parametrize("decoder", graph.GRAPH_DECODERS)
def test_in_step_metrics_equal_the_host_evaluation(decoder):
    split, batch, model = _trained(decoder)
    pairs = {"val": (split.val_pos, split.val_neg), "test": (split.test_pos, split.test_neg)}
    metrics = lp.LinkMetrics.from_pairs(batch, pairs)
    model, hist = tiedae.fit(model, batch, loss_fn=graph.adjacency_loss, metrics=metrics,
                             optimizer=optax.adam(0.01), steps=40, log_every=20)
    assert hist["test_auc"].shape == (3,)
    for name, (pos, neg) in pairs.items():
        host = lp.evaluate(model, batch, pos, neg)
        scores = lp.pair_logits(model, split.train_adj, np.concatenate([pos, neg]))
        auc, ap = _sklearn(scores[: len(pos)], scores[len(pos):])
        np.testing.assert_allclose(host["auc"], auc, atol=1e-12)
        np.testing.assert_allclose(host["ap"], ap, atol=1e-12)
        np.testing.assert_allclose(hist[f"{name}_auc"][-1], auc, atol=1e-6)
        np.testing.assert_allclose(hist[f"{name}_ap"][-1], ap, atol=1e-6)


def test_padding_changes_nothing_but_the_shapes():
    split, batch, model = _trained("mirrored_gcn")
    pairs = {"test": (split.test_pos, split.test_neg)}
    plain = lp.LinkMetrics.from_pairs(batch, pairs)(model, jnp.float32(0))
    padded_batch = graph.training_batch(split.train_adj, pad_to=5000)
    assert padded_batch.a_norm.nse == 5000
    wide = lp.LinkMetrics.from_pairs(padded_batch, pairs, pad_to={"test": 300})
    assert wide.pairs[0][0].shape == (300, 2)
    for key, value in wide(model, jnp.float32(0)).items():
        np.testing.assert_allclose(float(value), float(plain[key]), atol=1e-6)


def test_pair_logits_are_the_symmetrised_logits():
    split, batch, model = _trained("mlp")
    logits = np.asarray(model(batch.a_norm, batch.a_sharp), np.float64)
    pairs = np.array([[0, 1], [3, 7], [7, 3], [10, 10]])
    expected = 0.5 * (logits[pairs[:, 0], pairs[:, 1]] + logits[pairs[:, 1], pairs[:, 0]])
    np.testing.assert_allclose(lp.pair_logits(model, batch, pairs), expected, rtol=1e-6)


@pytest.mark.parametrize(("pairs", "match"), [
    (np.array([[0, 50]]), r"outside 0\.\.49"),
    (np.array([[-1, 0]]), "outside"),
    (np.array([0, 1]), r"\(m, 2\)"),
    (np.array([[0.0, 1.0]]), r"\(m, 2\)"),
])
def test_bad_pairs_are_refused(pairs, match):
    split, batch, model = _trained("inner_product")
    with pytest.raises(ValueError, match=match):
        lp.pair_logits(model, batch, pairs)
    with pytest.raises(ValueError, match=match):
        lp.LinkMetrics.from_pairs(batch, {"test": (pairs, split.test_neg)})


def test_evaluation_needs_both_classes_and_a_graph_batch():
    split, batch, model = _trained("inner_product")
    with pytest.raises(ValueError, match="one positive and one negative"):
        lp.evaluate(model, batch, np.zeros((0, 2), int), split.test_neg)
    with pytest.raises(ValueError, match="one positive and one negative"):
        lp.LinkMetrics.from_pairs(batch, {"test": (split.test_pos, np.zeros((0, 2), int))})
    with pytest.raises(TypeError, match="GraphBatch"):
        lp.LinkMetrics.from_pairs(split.train_adj, {"test": (split.test_pos, split.test_neg)})
    with pytest.raises(ValueError, match="identifiers"):
        lp.LinkMetrics.from_pairs(batch, {"test set": (split.test_pos, split.test_neg)})
