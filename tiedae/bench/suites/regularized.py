r"""Suite `regularized`: L2-regularised untied training against its closed form, and the
tied gradient against Oja's subspace rule.

1. Untied x_hat = V W x with loss mean_i ||x_i - V W x_i||^2 + lam (||W||_F^2 + ||V||_F^2)
   (Kunin et al. 2019): at the minimum V = W^T = U_k diag(s) with
   s_i = sqrt(max(0, 1 - lam / e_i)), e_i the top eigenvalues of C = X_c^T X_c / n. (The
   constant is e_i, not n e_i, because the loss is a mean over samples: with
   V = W^T = U diag(s), L = tr C - sum_i e_i (2 s_i^2 - s_i^4) + 2 lam sum_i s_i^2, and
   dL/d(s_i^2) = 0 gives s_i^2 = 1 - lam / e_i.) Logged along the way: ||V - W^T||_F and the
   largest |s_i - sqrt(1 - lam / e_i)|, which fall together as training converges.
2. Tied W (k, d): -(1/2) grad L(W) = [W C - W C W^T W] + (I - W W^T) W C, i.e. Oja's subspace
   rule plus a term that vanishes at W W^T = I. Near the optimum the extra term doubles the
   curvature along the row norms (rate 4 e_i instead of 2 e_i), so the largest stable step of
   W <- W + eta * direction is about 1/(2 e_1) for the direction -(1/2) grad L and 1/e_1 for
   Oja. Plain gradient descent W <- W - eta grad L takes twice that direction, so its limit is
   eta e_1 = 1/4. Measured by bisection along each direction, and predicted from the Jacobian
   of each update at the optimum.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, seeds
from tiedae.linear.algorithms import oja_direction, tied_direction
from tiedae.report import stats

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
RULES = {"tied_gradient": tied_direction, "oja": oja_direction}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    steps = 1500 if options.quick else 20000
    out = []
    for seed in seeds(options, quick=5, full=10):
        for lam_rel in (0.2, 0.7) if options.quick else (0.1, 0.4, 0.7, 0.9):
            out.append({"run_id": f"{tag}-l2-{lam_rel}-s{seed}", "kind": "l2", "seed": seed,
                        "data_seed": options.seed, "lambda_over_lambda1": lam_rel,
                        "lr_times_lambda1": 0.1, "steps": steps, "init_scale": 0.5,
                        "dtype": "float64", **SPIKED})
        for start in ("near_optimum", "random_orthonormal"):
            out.append({"run_id": f"{tag}-stability-{start}-s{seed}", "kind": "stability",
                        "start": start, "seed": seed, "data_seed": options.seed,
                        "steps": 600 if options.quick else 4000,
                        "bisections": 10 if options.quick else 16, **SPIKED})
    return out


def _data(config):
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"])
    return X, tiedae.pca.fit(X, config["k"])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ClosedFormGap:
    """fit metrics: ||V - W^T||_F and max_i |s_i(V) - theory_i| of an untied model."""

    theory: jax.Array

    def __call__(self, model, loss):
        W, V = model.W[...], model.V[...]
        s = jnp.linalg.svd(V, compute_uv=False)
        return {"V_minus_W_T": jnp.linalg.norm(V - W.T),
                "sv_error": jnp.max(jnp.abs(s - self.theory.astype(s.dtype)))}


GD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)  # one compiled program per shape


def _run_l2(config):
    X, ref = _data(config)
    k = config["k"]
    e = ref.eigenvalues[:k]
    lam = config["lambda_over_lambda1"] * float(e[0])
    model = tiedae.LinearAE(config["d"], k, decoder="untied", init_scale=config["init_scale"],
                            param_dtype=config["dtype"], rngs=nnx.Rngs(config["seed"]))
    theory_sv = np.sqrt(np.clip(1.0 - lam / e, 0.0, None))
    model, hist = tiedae.fit(model, X, optimizer=GD,
                             hyperparams={"learning_rate": config["lr_times_lambda1"] / e[0]},
                             steps=config["steps"], l2=lam, batch_size="covariance",
                             metrics=ClosedFormGap(theory_sv),
                             log_every=max(1, config["steps"] // 100))
    W, V = np.asarray(model.W[...]), np.asarray(model.V[...])
    U, s, _ = np.linalg.svd(V, full_matrices=False)
    theory = np.sqrt(np.clip(1.0 - lam / e, 0.0, None))
    wrong = np.sqrt(np.clip(1.0 - lam / (ref.n_samples * e), 0.0, None))  # sum-over-samples
    alive = theory > 0
    sub = float(tiedae.metrics.subspace_distance(jnp.asarray(U[:, alive].T),
                                                 jnp.asarray(ref.components[alive])))
    return {
        "final": {"max_sv_error": np.max(np.abs(s - theory)),
                  "max_sv_error_if_constant_were_n_e": np.max(np.abs(s - wrong)),
                  "V_minus_W_T": np.linalg.norm(V - W.T), "n_alive": int(alive.sum()),
                  "subspace_distance_alive": sub},
        "trajectory": {"step": hist["step"], "objective": hist["objective"],
                       "V_minus_W_T": hist["V_minus_W_T"], "sv_error": hist["sv_error"]},
        "extra": {"singular_values": s, "theory": theory, "eigenvalues": e, "lambda": lam},
    }


@functools.partial(jax.jit, static_argnames=("rule", "steps"))
def _final_gap(W0, C, eta, optimal_loss, *, rule, steps):
    direction = RULES[rule]

    def body(W, _):
        return W + eta * direction(W, C), None

    W, _ = jax.lax.scan(body, W0, None, length=steps)
    return tiedae.pca.reconstruction_loss(W, W.T, C) - optimal_loss


def _largest_stable(W0, C, ref, rule, steps, iters):
    """Bisection (in log eta) for the largest step whose loss gap falls 1000-fold in `steps`."""
    C = jnp.asarray(C)
    gap0 = float(tiedae.pca.reconstruction_loss(W0, W0.T, C)) - ref.optimal_loss
    lam1 = float(ref.eigenvalues[0])

    def stable(c):
        gap = float(_final_gap(W0, C, c / lam1, ref.optimal_loss, rule=rule, steps=steps))
        return np.isfinite(gap) and abs(gap) <= 1e-3 * gap0

    lo, hi = 0.1, 4.0  # eta * e1 = 0.1 is well inside both limits (0.5 and 1)
    if not stable(lo):
        return float("nan")
    for _ in range(iters):
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


@functools.partial(jax.jit, static_argnames=("rule",))
def _direction_jacobian(Wstar, C, *, rule):
    J = jax.jacfwd(lambda w: RULES[rule](w, C).ravel())(Wstar)
    return J.reshape(Wstar.size, Wstar.size)


def _local_prediction(ref, C, rule):
    """2 / (largest |eigenvalue| of d(direction)/dW at the optimum), in units of 1/e_1."""
    J = _direction_jacobian(jnp.asarray(ref.components), C, rule=rule)
    mu = np.linalg.eigvals(np.asarray(J))
    return 2.0 / np.max(np.abs(mu)) * float(ref.eigenvalues[0])


def _run_stability(config):
    X, ref = _data(config)
    _, C = tiedae.pca.covariance(X)
    C = jnp.asarray(C)
    k, d = config["k"], config["d"]
    rng = np.random.default_rng(config["seed"])
    if config["start"] == "near_optimum":
        W0 = ref.components + 1e-3 * rng.standard_normal((k, d))
    else:
        W0 = np.linalg.qr(rng.standard_normal((d, k)))[0].T
    W0 = jnp.asarray(W0)
    final = {}
    for rule in RULES:
        final[f"{rule}_eta_max_times_e1"] = _largest_stable(
            W0, C, ref, rule, config["steps"], config["bisections"])
        final[f"{rule}_local_theory"] = _local_prediction(ref, C, rule)
    final["ratio_oja_over_gradient"] = (final["oja_eta_max_times_e1"]
                                        / final["tied_gradient_eta_max_times_e1"])
    # plain gradient descent W <- W - eta grad L = W + 2 eta (-(1/2) grad L): half the step
    final["gd_eta_max_times_e1"] = final["tied_gradient_eta_max_times_e1"] / 2
    final["gd_local_theory"] = final["tied_gradient_local_theory"] / 2
    return {"final": final, "trajectory": {}, "extra": {}}


def run(config: dict) -> dict:
    return _run_l2(config) if config["kind"] == "l2" else _run_stability(config)


def ci(values, digits: int = 3) -> str:
    """'mean ± half-width of the 95% t interval' (the value alone for one seed)."""
    iv = stats.interval(values)
    if iv.n < 2:
        return fmt(iv.mean, digits)
    return f"{fmt(iv.mean, digits)} ± {fmt(iv.hi - iv.mean, 2)}"


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    l2 = [r for r in records if r["config"]["kind"] == "l2"]
    for (lam_rel,), recs in group_by(l2, "lambda_over_lambda1").items():
        f = [r["final"] for r in recs]
        rows.append([f"untied L2 lam={lam_rel} e1", "max |s_i - sqrt(1 - lam/e_i)|",
                     ci([x["max_sv_error"] for x in f], 2),
                     f"||V - W^T|| {ci([x['V_minus_W_T'] for x in f], 2)}",
                     f"{f[0]['n_alive']} of {recs[0]['config']['k']} kept; with n*e_i: "
                     f"{ci([x['max_sv_error_if_constant_were_n_e'] for x in f], 2)}"])
    if l2:
        worst = max(r["final"]["max_sv_error"] for r in l2)
        wrong = [r["final"]["max_sv_error_if_constant_were_n_e"] for r in l2]
        vw = max(r["final"]["V_minus_W_T"] for r in l2)
        findings.append(
            f"untied + L2 ({len(l2)} runs): decoder singular values match sqrt(1 - lam/e_i) to "
            f"{fmt(worst, 2)} and V = W^T to {fmt(vw, 2)} (Kunin et al.'s closed form holds with "
            f"e_i the eigenvalues of the mean covariance; with n*e_i the largest error would be "
            f"{fmt(min(wrong), 2)} to {fmt(max(wrong), 2)} across lam and seeds); components with "
            "e_i <= lam are switched off."
        )
    stab = [r for r in records if r["config"]["kind"] == "stability"]
    for (start,), recs in group_by(stab, "start").items():
        f = [r["final"] for r in recs]
        grad = stats.interval([x["tied_gradient_eta_max_times_e1"] for x in f])
        oja = stats.interval([x["oja_eta_max_times_e1"] for x in f])
        rows.append([f"largest stable eta*e1 ({start})",
                     "along -1/2 grad L / plain GD / Oja",
                     f"{ci([x['tied_gradient_eta_max_times_e1'] for x in f])} / "
                     f"{ci([x['tied_gradient_eta_max_times_e1'] / 2 for x in f])} / "
                     f"{ci([x['oja_eta_max_times_e1'] for x in f])}",
                     f"local theory {fmt(f[0]['tied_gradient_local_theory'])} / "
                     f"{fmt(f[0]['tied_gradient_local_theory'] / 2)} / "
                     f"{fmt(f[0]['oja_local_theory'])}",
                     f"ratio Oja / gradient {ci([x['ratio_oja_over_gradient'] for x in f])}"])
        findings.append(
            f"step size ({start.replace('_', ' ')} start, {grad.n} runs): steps W <- W + eta * "
            f"(-1/2 grad L) stay stable up to eta*e1 = {fmt(grad.mean)} (95% CI "
            f"[{fmt(grad.lo)}, {fmt(grad.hi)}]), so plain gradient descent W <- W - eta grad L "
            f"up to eta*e1 = {fmt(grad.mean / 2)}; Oja's rule up to {fmt(oja.mean)} (linear "
            f"theory at the optimum: {fmt(f[0]['tied_gradient_local_theory'])}, "
            f"{fmt(f[0]['tied_gradient_local_theory'] / 2)} and {fmt(f[0]['oja_local_theory'])}):"
            " the extra (I - WW^T)WC term that pulls the rows to unit norm halves the usable "
            "step."
        )
    return Summary(title="regularized: closed forms and step-size limits (mean ± 95% CI "
                         "half-width over seeds)",
                   columns=["setting", "quantity", "measured", "reference", "note"],
                   rows=rows, findings=findings)


SUITE = Suite(
    name="regularized",
    description="untied + L2 vs the closed form sqrt(1 - lam/e_i), V = W^T; tied gradient vs "
                "Oja's rule: largest stable step (and plain GD's, half of it)",
    configs=configs, run=run, summarize=summarize,
)
