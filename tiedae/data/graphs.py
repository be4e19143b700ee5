r"""Graphs for the graph autoencoders: stochastic block models, the karate club, edge lists on
disk (e.g. Cora's `cora.cites`), and held-out edge splits for link prediction.

Example:
  >>> from tiedae.data import graphs
  >>> A, labels = graphs.stochastic_block_model((10, 10), 0.5, 0.05, seed=0)
  >>> split = graphs.split_edges(A, seed=0)
  >>> len(split.test_pos) == len(split.test_neg), bool((split.train_adj <= A).all())
  (True, True)

References:
  Holland, P. W., Laskey, K. B. & Leinhardt, S. (1983). Stochastic blockmodels: first steps.
  Social Networks 5(2), 109-137.
  Zachary, W. W. (1977). An information flow model for conflict and fission in small groups.
  J. Anthropological Research 33(4), 452-473.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "EdgeSplit",
    "check_adjacency",
    "karate_club",
    "load_edge_list",
    "split_edges",
    "stochastic_block_model",
]


def check_adjacency(A, name="A") -> np.ndarray:
    """`A` as a float32 symmetric 0/1 (n, n) matrix, or a ValueError naming `name`."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) adjacency matrix; got shape {A.shape}")
    if not np.isfinite(A).all() or not np.isin(A, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    if not np.array_equal(A, A.T):
        raise ValueError(f"{name} must be symmetric (undirected graph)")
    return A.astype(np.float32)


def stochastic_block_model(sizes, p_in: float, p_out: float, *, seed: int = 0):
    """Undirected SBM graph: nodes in block b; an edge with prob. p_in inside, p_out across.

    Returns:
      (A, labels): A float32 (n, n) symmetric 0/1 with zero diagonal; labels int (n,) blocks.
    """
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be positive block sizes; got {sizes}")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {p}")
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(seed)
    prob = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = np.triu(rng.random(prob.shape) < prob, k=1)
    A = (upper | upper.T).astype(np.float32)
    return A, labels


def karate_club():
    """Zachary's karate club (34 nodes, 78 edges) and its two factions; needs networkx."""
    try:
        import networkx as nx
    except ImportError as err:  # pragma: no cover - optional extra
        raise ImportError("karate_club needs networkx: pip install 'tiedae[graph]'") from err
    g = nx.karate_club_graph()
    A = (nx.to_numpy_array(g, nodelist=range(34)) > 0).astype(np.float32)
    labels = np.array([g.nodes[i]["club"] != "Mr. Hi" for i in range(34)], dtype=int)
    return A, labels


class EdgeSplit(NamedTuple):
    train_adj: np.ndarray  # (n, n) with validation and test edges removed
    val_pos: np.ndarray  # (m_val, 2) held-out edges
    val_neg: np.ndarray  # (m_val, 2) non-edges
    test_pos: np.ndarray  # (m_test, 2)
    test_neg: np.ndarray  # (m_test, 2)


def split_edges(A, *, val_fraction: float = 0.05, test_fraction: float = 0.1, seed: int = 0):
    """Holds out a share of the edges and samples as many non-edges (balanced negatives).

    Negatives are distinct pairs i < j that are not edges of the *full* graph.
    """
    A = check_adjacency(A)
    if not (0 <= val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise ValueError("need 0 <= val_fraction, 0 < test_fraction, and their sum < 1")
    rng = np.random.default_rng(seed)
    edges = np.argwhere(np.triu(A, k=1) > 0)
    rng.shuffle(edges)
    n_test = max(1, int(round(test_fraction * len(edges))))
    n_val = int(round(val_fraction * len(edges)))
    if n_test + n_val >= len(edges):
        raise ValueError(f"the graph has too few edges ({len(edges)}) to hold some out")
    test_pos, val_pos = edges[:n_test], edges[n_test : n_test + n_val]
    non_edges = np.argwhere(np.triu(1 - A, k=1) > 0)
    if len(non_edges) < n_test + n_val:
        raise ValueError("the graph has too few non-edges for balanced negatives")
    neg = non_edges[rng.choice(len(non_edges), n_test + n_val, replace=False)]
    train = A.copy()
    held = np.concatenate([test_pos, val_pos])
    train[held[:, 0], held[:, 1]] = 0.0
    train[held[:, 1], held[:, 0]] = 0.0
    return EdgeSplit(train, val_pos, neg[n_test:], test_pos, neg[:n_test])




def load_edge_list(path) -> tuple[np.ndarray, np.ndarray]:
    """An undirected graph from a text file of edges, one "a b" pair of node ids per line.

    Node ids are any whitespace-free tokens (Cora's `cora.cites` lists "cited citing" paper
    ids); lines that are empty or start with "#" are skipped. Direction, duplicates and
    self-loops are dropped, so Cora's 5429 lines give 5278 undirected edges on 2708 nodes.

    Returns:
      (A, ids): A float32 (n, n) symmetric 0/1 with zero diagonal, nodes in order of first
      appearance; ids (n,) the original tokens.

    Raises:
      ValueError: a missing or unreadable file, a line without exactly two tokens (named by
        its number), or no edges.
    """
    import os

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no such edge-list file: {path!r}")
    index: dict[str, int] = {}
    pairs = []
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                tokens = line.split()
                if not tokens or tokens[0].startswith("#"):
                    continue
                if len(tokens) != 2:
                    raise ValueError(f"{path}:{number}: expected two node ids, got "
                                     f"{len(tokens)} tokens")
                a, b = (index.setdefault(t, len(index)) for t in tokens)
                if a != b:
                    pairs.append((a, b))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path!r} is not a text edge list ({err.reason})") from None
    if not pairs:
        raise ValueError(f"{path!r} holds no edges between distinct nodes")
    edges = np.asarray(pairs, dtype=np.int64)
    A = np.zeros((len(index), len(index)), np.float32)
    A[edges[:, 0], edges[:, 1]] = 1.0
    A[edges[:, 1], edges[:, 0]] = 1.0
    return A, np.asarray(list(index))
