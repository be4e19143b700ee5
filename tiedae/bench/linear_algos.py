r"""Small linear-autoencoder algorithms the suites compare against tiedae's training.

* `train_trace`: a training loop over `tiedae.train.make_train_step` that hands the model to
  an observer every few steps (for quantities `fit` does not log, e.g. W W^T - V^T V).
* `oja_direction`: Oja's subspace rule, E[y x^T - y y^T W] = W C - W C W^T W (Oja 1989).
* `tied_direction`: -(1/2) grad of the tied loss L(W) = tr C - 2 tr(W^T W C) + tr(W W^T W C W^T);
  it equals `oja_direction` + (I - W W^T) W C, so the two agree wherever W W^T = I.
* `rag_correction`: the rotation-augmented gradient of Bao et al. (2020).
* `bao_axis_distance`: Bao et al.'s "distance to axis alignment".
* `run_untied`: untied training on the covariance with plain, non-uniform-L2 or RAG updates.

References:
  Oja, "Neural networks, principal components, and subspaces", Int. J. Neural Systems 1 (1989).
  Bao, Lucas, Sachdeva & Grosse, "Regularized linear autoencoders recover the principal
  components, eventually", NeurIPS 2020 (code: github.com/XuchanBao/linear-ae).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tiedae import metrics, pca
from tiedae.train import TrainState, make_train_step

__all__ = [
    "bao_axis_distance",
    "oja_direction",
    "rag_correction",
    "run_untied",
    "sweep_learning_rates",
    "tied_direction",
    "train_trace",
]


def train_trace(model, data, optimizer, *, steps: int, every: int, observe: Callable,
                mode: str = "covariance", l2: float = 0.0) -> tuple[list[int], list]:
    """Trains `model` in place with `make_train_step`, calling `observe(model)` every `every`
    steps (and at 0 and `steps`). `data` is C (mode "covariance") or centred X (mode "full").

    Returns (steps observed, observations). Raises FloatingPointError if the step diverged.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    step_fn = make_train_step(graphdef, rest, optimizer, l2=float(l2), mode=mode)
    state = TrainState.create(params, optimizer)
    seen, obs = [0], [observe(model)]
    for t in range(1, steps + 1):
        state, _ = step_fn(state, data, False)
        if t % every == 0 or t == steps:
            if int(state.first_bad_step) >= 0:
                raise FloatingPointError(f"training diverged at step {int(state.first_bad_step)}")
            nnx.update(model, state.params)
            seen.append(t)
            obs.append(observe(model))
    nnx.update(model, state.params)
    return seen, obs


def sweep_learning_rates(model, C, optimizer, etas, *, steps: int) -> list[np.ndarray]:
    """Runs `steps` covariance-mode steps from `model`'s parameters once per step size.

    `optimizer` must come from `optax.inject_hyperparams` so the step size is part of the
    optimizer state: one compiled step serves the whole sweep. Returns the final encoder W
    (numpy) for each eta. The model itself is left unchanged.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    step_fn = make_train_step(graphdef, rest, optimizer, mode="covariance")
    C = jnp.asarray(C)
    out = []
    for eta in etas:
        state = TrainState.create(params, optimizer)
        state.opt_state.hyperparams["learning_rate"] = jnp.asarray(eta, jnp.float64)
        for _ in range(steps):
            state, _ = step_fn(state, C, False)
        if int(state.first_bad_step) >= 0:
            raise FloatingPointError(f"eta={eta} diverged at step {int(state.first_bad_step)}")
        out.append(np.asarray(nnx.merge(graphdef, state.params, rest).encoder_matrix()))
    return out


def oja_direction(W: jax.Array, C: jax.Array) -> jax.Array:
    r"""Oja's subspace rule (expected update direction): W C - W C W^T W, for W (k, d)."""
    WC = W @ C
    return WC - (WC @ W.T) @ W


def tied_direction(W: jax.Array, C: jax.Array) -> jax.Array:
    r"""-(1/2) dL/dW for the transpose-tied loss L(W) = `pca.reconstruction_loss(W, W^T, C)`.

    Analytically -(1/2) grad L = (W C - W C W^T W) + (W C - W W^T W C); the second bracket,
    (I - W W^T) W C, is what separates it from Oja's rule and vanishes when W W^T = I.
    """
    return -0.5 * jax.grad(lambda w: pca.reconstruction_loss(w, w.T, C))(W)


def rag_correction(W: jax.Array, V: jax.Array, C: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""Rotation-augmented gradient terms (Bao et al. 2020, their released code).

    With A = W C W^T (the code covariance) and Gamma = (1/2)(triu(A, 1) - triu(A, 1)^T), RAG
    replaces the gradients (G_W, G_V) by (G_W - Gamma W, G_V - V Gamma^T). Gamma is
    skew-symmetric: the extra terms rotate the code space (leaving V W, hence the loss,
    unchanged to first order) towards the ordering in which A is diagonal.

    Returns:
      (Gamma W, V Gamma^T), to be subtracted from the encoder and decoder gradients.
    """
    A = W @ C @ W.T
    upper = jnp.triu(A, 1)
    gamma = 0.5 * (upper - upper.T)
    return gamma @ W, V @ gamma.T


def bao_axis_distance(V: jax.Array, components: jax.Array) -> jax.Array:
    r"""Bao et al.'s distance to axis alignment: (1/k) sum_i (1 - max_j cos^2(u_i, v_j)).

    u_i are the top-k eigenvectors (rows of `components`), v_j the decoder columns. 0 when
    every eigenvector has a decoder column along it, about 1 - 1/d for random directions.
    Note `tiedae.metrics.axis_alignment` is a similarity instead (mean |cos| of matched pairs,
    1 = aligned).
    """
    Vn = V / (jnp.linalg.norm(V, axis=0, keepdims=True) + 1e-8)
    cos = components.astype(V.dtype) @ Vn  # (k, k): rows eigenvectors, columns decoder
    return jnp.mean(1.0 - jnp.max(cos**2, axis=1))


def _penalty_weights(k: int, d: int) -> np.ndarray:
    """Bao et al.'s non-uniform L2 weights: linspace(0.1, min(0.1 (d - k - 1), 0.01 d), k)."""
    return np.linspace(0.1, min(0.1 * (d - k - 1), 0.01 * d), k)


def run_untied(C, components, *, method: str, k: int, optimizer, steps: int, every: int,
               init_scale: float, seed: int, dtype=jnp.float32) -> tuple[dict, dict]:
    r"""Untied linear AE x_hat = V W x trained on the covariance C (float32 by default, as in
    Bao et al.'s code).

    method: "plain" (reconstruction loss only), "nonuniform_l2" (adds
    sum_i r_i^2 (||W_i||^2 + ||V_:,i||^2) with Bao et al.'s r_i, which orders the columns),
    or "rag" (plain loss, rotation-augmented gradient). Entries of W and V start
    N(0, init_scale^2), as in Bao et al.'s code.

    Returns:
      (history, final parameters {"W", "V"}); history has step, wall_time (s, compilation
      excluded), loss, axis_distance (Bao), axis_alignment (tiedae), subspace_distance.
    """
    if method not in ("plain", "nonuniform_l2", "rag"):
        raise ValueError(f"unknown method {method!r}")
    C = jnp.asarray(C, dtype)
    U = jnp.asarray(components, dtype)
    d = C.shape[0]
    weights = jnp.asarray(_penalty_weights(k, d) ** 2, dtype)
    kw, kv = jax.random.split(jax.random.key(seed))
    params = {"W": init_scale * jax.random.normal(kw, (k, d), dtype),
              "V": init_scale * jax.random.normal(kv, (d, k), dtype)}

    def objective(p, C):
        loss = pca.reconstruction_loss(p["W"], p["V"], C)
        if method == "nonuniform_l2":
            pen = jnp.sum(weights * (jnp.sum(p["W"] ** 2, axis=1) + jnp.sum(p["V"] ** 2, axis=0)))
            return loss + pen
        return loss

    def measure(p, C, U):
        return {
            "loss": pca.reconstruction_loss(p["W"], p["V"], C),
            "axis_distance": bao_axis_distance(p["V"], U),
            "axis_alignment": metrics.axis_alignment(p["V"].T, U),
            "subspace_distance": metrics.subspace_distance(p["V"].T, U),
        }

    @jax.jit
    def chunk(p, opt_state, C, U):  # C, U are arguments, not constants baked into the program
        def one(carry, _):
            p, opt_state = carry
            g = jax.grad(objective)(p, C)
            if method == "rag":
                gw, gv = rag_correction(p["W"], p["V"], C)
                g = {"W": g["W"] - gw, "V": g["V"] - gv}
            updates, opt_state = optimizer.update(g, opt_state, p)
            return (optax.apply_updates(p, updates), opt_state), None

        (p, opt_state), _ = jax.lax.scan(one, (p, opt_state), None, length=every)
        return p, opt_state, measure(p, C, U)

    opt_state = optimizer.init(params)
    hist = {key: [float(v)] for key, v in jax.device_get(measure(params, C, U)).items()}
    hist["step"], hist["wall_time"] = [0], [0.0]
    compiled = chunk.lower(params, opt_state, C, U).compile()
    start = time.perf_counter()
    for t in range(every, steps + 1, every):
        params, opt_state, m = compiled(params, opt_state, C, U)
        m = jax.device_get(m)
        hist["wall_time"].append(time.perf_counter() - start)
        if not np.isfinite(m["loss"]):
            raise FloatingPointError(f"{method} diverged before step {t}")
        hist["step"].append(t)
        for key, v in m.items():
            hist[key].append(float(v))
    return {key: np.asarray(v) for key, v in hist.items()}, jax.device_get(params)
