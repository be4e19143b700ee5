"""The paper: its claims checked in float64, and its figures/tables regenerated from records.

The first half checks the theorem-like claims of paper/ that no other test covers (each is
named in the manuscript next to its claim). The second half regenerates every figure, table and
number from a tiny but complete results set and checks that everything the manuscript includes
exists, that every test it names exists, and (when TeX has every package the manuscript loads)
that the PDF builds.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from tiedae import decoders, pca

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "paper"


# ----------------------------------------------------------------------------------------------
# Claims of the paper (float64, explicit tolerances)
# ----------------------------------------------------------------------------------------------


def _spd(rng, d, spectrum=None):
    """A random covariance with the given (or a random, distinct) spectrum and its eigvecs."""
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    e = np.sort(rng.uniform(0.5, 5.0, d))[::-1] if spectrum is None else np.asarray(spectrum)
    return (Q * e[None, :]) @ Q.T, e, Q


def _loss(W, V, C):
    return float(pca.reconstruction_loss(jnp.asarray(W), jnp.asarray(V), jnp.asarray(C)))


def _projector(W):
    return np.linalg.pinv(W) @ W


def test_least_squares_decoder_split_and_excess_loss(rng):
    d, k = 9, 3
    C, _, _ = _spd(rng, d)
    W = rng.standard_normal((k, d))
    A = W @ C @ W.T
    V_star = np.asarray(jax.jit(pca.optimal_decoder)(jnp.asarray(W), jnp.asarray(C)))
    # V* = W^+ + (I - Pi_W) C W^T A^{-1}
    split = np.linalg.pinv(W) + (np.eye(d) - _projector(W)) @ C @ W.T @ np.linalg.inv(A)
    np.testing.assert_allclose(V_star, split, atol=1e-11)
    # L(W, V) = L(W, V*) + ||(V - V*) A^{1/2}||_F^2 for any V
    A_half = scipy.linalg.sqrtm(A).real
    for V in (rng.standard_normal((d, k)), W.T, np.linalg.pinv(W)):
        excess = np.linalg.norm((V - V_star) @ A_half) ** 2
        assert _loss(W, V, C) == pytest.approx(_loss(W, V_star, C) + excess, rel=1e-11)


def test_right_inverse_is_optimal_only_on_invariant_row_space(rng):
    d, k = 8, 3
    C, _, U = _spd(rng, d)
    idx = [0, 4, 6]  # any k eigenvectors span an invariant subspace
    S = rng.standard_normal((k, k)) + 3 * np.eye(k)  # invertible, not orthogonal
    O, _ = np.linalg.qr(rng.standard_normal((k, k)))

    def v_star(W):
        return np.asarray(pca.optimal_decoder(jnp.asarray(W), jnp.asarray(C)))

    W_inv = S @ U[:, idx].T
    np.testing.assert_allclose(v_star(W_inv), np.linalg.pinv(W_inv), atol=1e-11)
    assert np.linalg.norm(v_star(W_inv) - W_inv.T) > 1e-2  # not orthonormal: W^T is not V*
    W_orth = O @ U[:, idx].T
    np.testing.assert_allclose(v_star(W_orth), W_orth.T, atol=1e-11)
    W_gen = rng.standard_normal((k, d))  # generic row space: the right inverse loses
    assert np.linalg.norm(v_star(W_gen) - np.linalg.pinv(W_gen)) > 1e-2
    assert _loss(W_gen, np.linalg.pinv(W_gen), C) > _loss(W_gen, v_star(W_gen), C) + 1e-3


@pytest.mark.parametrize("rank", [3, 2])
def test_transpose_loss_is_pinv_loss_plus_orthonormality_penalty(rng, rank):
    d, k = 7, 3
    C, _, _ = _spd(rng, d)
    W = rng.standard_normal((k, rank)) @ rng.standard_normal((rank, d))
    Pi = _projector(W)
    L_T = _loss(W, W.T, C)
    L_P = _loss(W, np.asarray(decoders.pinv(jnp.asarray(W))), C)
    assert L_P == pytest.approx(np.trace((np.eye(d) - Pi) @ C), rel=1e-10)
    penalty = np.linalg.norm((Pi - W.T @ W) @ scipy.linalg.sqrtm(C).real) ** 2
    assert L_T == pytest.approx(L_P + penalty, rel=1e-10)
    # with unit singular values the penalty vanishes: L_T = L_P
    P, _, Qt = np.linalg.svd(W, full_matrices=False)
    W1 = P[:, :rank] @ Qt[:rank]
    assert _loss(W1, W1.T, C) == pytest.approx(_loss(W1, np.linalg.pinv(W1), C), rel=1e-12)


def _transpose_loss(W, C):
    return pca.reconstruction_loss(W, W.T, C)


def test_transpose_gradient_closed_form(rng):
    d, k = 8, 3
    C, e, U = _spd(rng, d)
    W = rng.standard_normal((k, d))
    G = np.asarray(jax.jit(jax.grad(_transpose_loss))(jnp.asarray(W), jnp.asarray(C)))
    closed = -4 * W @ C + 2 * W @ W.T @ W @ C + 2 * W @ C @ W.T @ W
    np.testing.assert_allclose(G, closed, atol=1e-10)
    # critical points: W = O U_S^T (orthonormal rows, invariant row space) ...
    O, _ = np.linalg.qr(rng.standard_normal((k, k)))
    W_crit = O @ U[:, [1, 2, 5]].T
    G_crit = jax.grad(_transpose_loss)(jnp.asarray(W_crit), jnp.asarray(C))
    assert float(jnp.abs(G_crit).max()) < 1e-12
    assert _loss(W_crit, W_crit.T, C) == pytest.approx(e.sum() - e[[1, 2, 5]].sum(), rel=1e-12)
    # ... while the same row space with non-unit singular values is not critical: G W^T != 0
    W_scaled = np.diag([0.5, 1.0, 2.0]) @ W_crit
    G_s = np.asarray(jax.grad(_transpose_loss)(jnp.asarray(W_scaled), jnp.asarray(C)))
    assert np.linalg.norm(G_s @ W_scaled.T) > 1e-2


def test_transpose_loss_has_only_strict_saddles(rng):
    """Every critical point of L_T that is not a global minimiser has negative curvature, with
    the closed-form curvatures of the proof: 2(e_j - e_i) for turning a row from u_j towards an
    omitted u_i, -4 e_i for growing a zero row along u_i, and Hessian -4 (I_k kron C) at W = 0.
    Also when C is singular (a zero eigenvalue, as for the digits' constant pixels)."""
    d, k = 7, 3
    for spectrum in (None, [5.0, 4.0, 3.0, 2.0, 1.5, 0.5, 0.0]):
        C, e, U = _spd(rng, d, spectrum)
        hess = jax.jit(jax.hessian(lambda w, C=C: _transpose_loss(w, jnp.asarray(C))))

        def curvature(W, D, hess=hess):
            H = np.asarray(hess(jnp.asarray(W))).reshape(k * d, k * d)
            D = D / np.linalg.norm(D)
            return H, float(D.ravel() @ H @ D.ravel())

        # a saddle: rows u_0, u_1, u_4 (u_2 omitted, e_2 > e_4)
        W = U[:, [0, 1, 4]].T
        assert float(jnp.abs(jax.grad(_transpose_loss)(jnp.asarray(W), jnp.asarray(C))).max()) \
            < 1e-12
        D = np.zeros((k, d))
        D[2] = U[:, 2]
        H, c = curvature(W, D)
        assert c == pytest.approx(2 * (e[4] - e[2]), abs=1e-10)
        assert np.linalg.eigvalsh(H)[0] <= 2 * (e[4] - e[2]) + 1e-10
        # a rank-deficient critical point: rows u_0, u_1 and a zero row
        W = np.vstack([U[:, [0, 1]].T, np.zeros(d)])
        D = np.zeros((k, d))
        D[2] = U[:, 3]
        _, c = curvature(W, D)
        assert c == pytest.approx(-4 * e[3], abs=1e-10)
        # W = 0: Hessian -4 (I_k kron C), most negative at -4 e_1
        H, _ = curvature(np.zeros((k, d)), np.ones((k, d)))
        np.testing.assert_allclose(H, -4 * np.kron(np.eye(k), C), atol=1e-10)
        # the global minima U_k^T are not saddles: the Hessian is positive semidefinite there
        H, _ = curvature(U[:, :k].T, np.ones((k, d)))
        assert np.linalg.eigvalsh(H)[0] > -1e-10


@pytest.mark.parametrize("name", ["pinv", "right_inverse"])
def test_pinv_gradient_annihilates_rows_and_gd_drift_is_eta_squared(rng, name):
    d, k, eta = 9, 3, 0.05
    C, _, _ = _spd(rng, d)
    W = rng.standard_normal((k, d))
    decoder = decoders.tied(name)

    def loss(W):
        return pca.reconstruction_loss(W, decoder(W), jnp.asarray(C))

    G = np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(W)))
    Pi = _projector(W)
    closed = -2 * np.linalg.solve(W @ W.T, W @ C @ (np.eye(d) - Pi))
    np.testing.assert_allclose(G, closed, atol=1e-10)
    assert np.abs(G @ W.T).max() < 1e-10
    # loss invariant under W -> S W; so the gradient scales like 1/||W||: G(cW) = G(W)/c
    S = rng.standard_normal((k, k)) + 2 * np.eye(k)
    assert float(loss(jnp.asarray(S @ W))) == pytest.approx(float(loss(jnp.asarray(W))), rel=1e-10)
    np.testing.assert_allclose(np.asarray(jax.grad(loss)(jnp.asarray(3.0 * W))), G / 3.0,
                               atol=1e-10)
    # one gradient-descent step changes W W^T by exactly eta^2 G G^T
    W1 = W - eta * G
    np.testing.assert_allclose(W1 @ W1.T - W @ W.T, eta**2 * G @ G.T, atol=1e-12)


def test_tied_gradient_is_oja_plus_correction(rng):
    d, k = 8, 3
    C, _, _ = _spd(rng, d)
    W = rng.standard_normal((k, d))
    G = np.asarray(jax.grad(_transpose_loss)(jnp.asarray(W), jnp.asarray(C)))
    oja = W @ C - W @ C @ W.T @ W
    np.testing.assert_allclose(-0.5 * G, oja + (np.eye(k) - W @ W.T) @ W @ C, atol=1e-10)
    # the two fields agree on orthonormal rows
    Q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    G_orth = np.asarray(jax.grad(_transpose_loss)(jnp.asarray(Q.T), jnp.asarray(C)))
    np.testing.assert_allclose(-0.5 * G_orth, Q.T @ C - Q.T @ C @ Q @ Q.T, atol=1e-12)


def test_untied_imbalance_decays_by_one_minus_four_eta_lambda(rng):
    d, k, eta, lam = 8, 3, 0.01, 0.3
    C, _, _ = _spd(rng, d)
    W = rng.standard_normal((k, d))
    V = 2.0 * rng.standard_normal((d, k))

    def loss(W, V):
        return pca.reconstruction_loss(W, V, jnp.asarray(C)) + lam * (
            jnp.sum(W**2) + jnp.sum(V**2))

    gW, gV = (np.asarray(g) for g in jax.jit(jax.grad(loss, argnums=(0, 1)))(W, V))
    D = W @ W.T - V.T @ V
    W1, V1 = W - eta * gW, V - eta * gV
    D1 = W1 @ W1.T - V1.T @ V1
    np.testing.assert_allclose(D1, (1 - 4 * eta * lam) * D + eta**2 * (gW @ gW.T - gV.T @ gV),
                               atol=1e-10)
    # gradient flow (tiny steps): D(t) = exp(-4 lam t) D(0)
    Wt, Vt, h, steps = W.copy(), V.copy(), 1e-4, 2000
    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    for _ in range(steps):
        gW, gV = (np.asarray(g) for g in grad(Wt, Vt))
        Wt, Vt = Wt - h * gW, Vt - h * gV
    Dt = Wt @ Wt.T - Vt.T @ Vt
    flow = np.exp(-4 * lam * h * steps) * D  # the O(h) discretisation error is what remains
    assert np.linalg.norm(Dt - flow) < 1e-2 * np.linalg.norm(D)
    assert np.linalg.norm(Dt - D) > 0.1 * np.linalg.norm(D)  # it did decay


def test_nonuniform_l2_optimum_pairs_smallest_penalty_with_largest_eigenvalue(rng):
    d, k = 6, 3
    e = np.array([6.0, 4.5, 3.0, 1.0, 0.5, 0.2])
    C, _, U = _spd(rng, d, e)
    lams = np.array([0.3, 0.6, 0.9])  # increasing penalties, all below e_k

    def objective(W, V):
        return pca.reconstruction_loss(W, V, jnp.asarray(C)) + jnp.sum(
            jnp.asarray(lams) * (jnp.sum(W**2, axis=1) + jnp.sum(V**2, axis=0)))

    def candidate(perm):
        W = np.sqrt(1 - lams[perm] / e[:k])[:, None] * U[:, :k].T  # row i along u_i
        return W[np.argsort(perm)]  # row j carries penalty lams[j]

    W = candidate(np.arange(k))
    value = float(objective(jnp.asarray(W), jnp.asarray(W.T)))
    assert value == pytest.approx(e[k:].sum() + np.sum(2 * lams - lams**2 / e[:k]), rel=1e-12)
    gW, gV = jax.grad(objective, argnums=(0, 1))(jnp.asarray(W), jnp.asarray(W.T))
    assert max(float(jnp.abs(gW).max()), float(jnp.abs(gV).max())) < 1e-12
    for perm in ([1, 0, 2], [2, 1, 0], [0, 2, 1]):
        Wp = candidate(np.array(perm))
        assert float(objective(jnp.asarray(Wp), jnp.asarray(Wp.T))) > value + 1e-3
    for _ in range(5):  # a local minimum: small perturbations do not lower it
        dW, dV = 1e-3 * rng.standard_normal((k, d)), 1e-3 * rng.standard_normal((d, k))
        assert float(objective(jnp.asarray(W + dW), jnp.asarray(W.T + dV))) > value


def test_upsample_conv_equals_box_filtered_transposed_conv(rng):
    s, m = 2, 7
    # 1-D: nearest upsampling then convolution with K == zero-insertion then convolution with
    # K * box_s (the stride-s transposed convolution), for odd and even kernel sizes
    for size in (3, 4):
        z, K = rng.standard_normal(m), rng.standard_normal(size)
        upsample_conv = np.convolve(np.repeat(z, s), K)
        zeros_inserted = np.zeros(s * m)
        zeros_inserted[::s] = z
        T = np.convolve(K, np.ones(s))
        transposed = np.convolve(zeros_inserted, T)[: upsample_conv.size]
        np.testing.assert_allclose(upsample_conv, transposed, atol=1e-12)
        phase_sums = [T[r::s].sum() for r in range(s)]
        np.testing.assert_allclose(phase_sums, K.sum(), atol=1e-12)
    # the same through JAX's dilated convolution (what a ConvTranspose layer computes), in 2-D
    z2, K2 = rng.standard_normal((5, 5)), rng.standard_normal((3, 3))
    up = np.kron(z2, np.ones((s, s)))
    ref = scipy.signal.convolve2d(up, K2)
    T2 = scipy.signal.convolve2d(K2, np.ones((s, s)))
    lhs = jnp.asarray(z2)[None, None]
    rhs = jnp.asarray(T2[::-1, ::-1].copy())[None, None]
    pad = T2.shape[0] - 1
    out = jax.lax.conv_general_dilated(lhs, rhs, window_strides=(1, 1),
                                       padding=[(pad, pad + s - 1)] * 2, lhs_dilation=(s, s))
    np.testing.assert_allclose(np.asarray(out)[0, 0][: ref.shape[0], : ref.shape[1]], ref,
                               atol=1e-12)
    # a transposed convolution whose kernel size is not a multiple of s: a constant code gives
    # a checkerboard (unequal phase sums), upsampling + conv gives a constant interior
    ones = np.zeros(s * 12)
    ones[::s] = 1.0
    interior = np.convolve(ones, np.ones(3))[4:-4]
    assert np.ptp(interior) > 0.5
    assert np.ptp(np.convolve(np.repeat(np.ones(12), s), np.ones(3))[4:-4]) < 1e-12


# ----------------------------------------------------------------------------------------------
# The generator: figures, tables and numbers from records; the manuscript's references
# ----------------------------------------------------------------------------------------------

_TEST_DEF = re.compile(r"^(?:    )?def (test_\w+)\(", re.M)


def test_every_test_named_in_the_manuscript_exists():
    from tiedae.paper import manuscript_refs

    refs = manuscript_refs(PAPER).testrefs
    assert len(refs) >= 10
    missing = []
    for ref in refs:
        path, _, name = ref.partition("::")
        file = REPO / path
        if not file.exists() or name not in _TEST_DEF.findall(file.read_text(encoding="utf-8")):
            missing.append(ref)
    assert not missing, f"the paper names tests that do not exist: {missing}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """All figures, tables and numbers generated from a tiny complete results set."""
    from paper_records import write_tiny_results

    from tiedae.paper import generate

    results = tmp_path_factory.mktemp("results")
    write_tiny_results(results)  # every suite
    out = tmp_path_factory.mktemp("paper") / "figures"
    summary = generate(results, out, paper_dir=PAPER, log=lambda _msg: None)
    return out, summary


def test_generator_writes_everything_the_manuscript_includes(generated):
    from tiedae.paper import manuscript_refs

    out, summary = generated
    paper = manuscript_refs(PAPER)
    assert paper.graphics and paper.generated_tables() and paper.macros
    for name in paper.graphics:
        assert (out / f"{name}.pdf").stat().st_size > 0, name
    for name in paper.generated_tables():
        assert (out / "tables" / f"{name}.tex").exists(), name
    numbers = (out / "numbers.tex").read_text(encoding="utf-8")
    defined = set(re.findall(r"\\newcommand\{\\(R[A-Za-z]+)\}", numbers))
    assert set(paper.macros) <= defined
    assert not re.search(r"\d", "".join(re.findall(r"\\newcommand\{\\R[A-Za-z]*\}", numbers)))
    for inp in paper.inputs:  # every \input resolves to a file in the paper or the output
        if not inp.startswith("figures/"):
            assert (PAPER / f"{inp.removesuffix('.tex')}.tex").exists(), inp


def test_optimal_decoder_sentence_names_the_headline_data_set():
    from paper_records import _optimal_decoder

    from tiedae.bench.suites import optimal_decoder

    rng = np.random.default_rng(0)
    records = [{"config": {"dataset": "digits", "d": 64, "k": 4, "seed": s},
                **_optimal_decoder({}, rng)} for s in range(3)]
    macros = optimal_decoder.analyze(records).numbers
    assert macros["RFindOptimalDecoder"].startswith("On the digits data (")
    assert "lower with the least-squares decoder" in macros["RFindOptimalDecoder"]
    spiked = [{**r, "config": {**r["config"], "dataset": "spiked"}} for r in records]
    macros = optimal_decoder.analyze(records + spiked).numbers
    assert macros["RFindOptimalDecoder"].startswith("On the spiked data (")


def test_missing_suite_is_an_error_naming_it(tmp_path):
    from paper_records import write_tiny_results

    from tiedae.paper import generate

    write_tiny_results(tmp_path / "results", ["decoders"])
    with pytest.raises(ValueError, match="conservation"):
        generate(tmp_path / "results", tmp_path / "figures", paper_dir=PAPER, log=lambda _m: None)
    with pytest.warns(UserWarning, match="placeholders"):
        generate(tmp_path / "results", tmp_path / "figures", paper_dir=PAPER,
                 allow_missing=True, log=lambda _m: None)
    assert (tmp_path / "figures" / "conservation.pdf").exists()
    with pytest.raises(FileNotFoundError):
        generate(tmp_path / "nowhere", tmp_path / "figures", paper_dir=PAPER)


def test_corrupt_record_line_is_reported_with_its_place(tmp_path):
    from tiedae.report import query

    (tmp_path / "decoders.jsonl").write_text('{"suite": "decoders"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"decoders.jsonl:1"):
        query.load(tmp_path)


@pytest.mark.parametrize("name", ["tiedae.report.format", "tiedae.report.query",
                                  "tiedae.report.analysis"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_numbers_are_formatted_for_latex():
    from tiedae.report import format as F

    assert F.num(3.2e-6) == r"\ensuremath{3.2\times10^{-6}}"
    assert F.num(None) == F.num(float("nan")) == r"\textit{n/a}"
    assert F.pm([350, 240, 460]) == r"\ensuremath{350\pm110}"
    assert F.pm([3.5e-7, 1e-7, 6e-7]) == r"\ensuremath{(3.5\pm2.5)\times10^{-7}}"
    assert F.pm([1e-16, -2e-16], zero_below=1e-12) == r"\ensuremath{\approx0}"
    assert F.tex_escape("a_b & 50%") == r"a\_b \& 50\%"


def _build_pdf(figures_dir: Path, build_dir: Path) -> subprocess.CompletedProcess:
    for item in ("tiedae.tex", "refs.bib", "Makefile"):
        shutil.copy(PAPER / item, build_dir / item)
    shutil.copytree(PAPER / "sections", build_dir / "sections")
    if figures_dir != build_dir / "figures":
        shutil.copytree(figures_dir, build_dir / "figures")
    return subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                           "tiedae.tex"], cwd=build_dir, capture_output=True, text=True,
                          timeout=300)


def tex_needs(manuscript: Path) -> list[str]:
    """The TeX files `manuscript` loads: its class, every \\usepackage'd package, its
    bibliography style (comments stripped; options may span lines)."""
    text = re.sub(r"(?<!\\)%.*", "", manuscript.read_text(encoding="utf-8"))
    arg = r"\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}"
    names = [f"{n}.cls" for n in re.findall(r"\\documentclass" + arg, text)]
    for group in re.findall(r"\\(?:usepackage|RequirePackage)" + arg, text):
        names += [f"{n.strip()}.sty" for n in group.split(",") if n.strip()]
    names += [f"{n}.bst" for n in re.findall(r"\\bibliographystyle\s*\{([^}]*)\}", text)]
    return list(dict.fromkeys(names))


def test_tex_needs_reads_every_package_of_the_manuscript(tmp_path):
    tex = tmp_path / "m.tex"
    tex.write_text("\\documentclass[10pt]{article}\n\\usepackage{amsmath, amssymb}\n"
                   "% \\usepackage{commented}\n\\usepackage[colorlinks=true,\n  x=blue!5]"
                   "{hyperref}\n\\bibliographystyle{plainnat}\n")
    assert tex_needs(tex) == ["article.cls", "amsmath.sty", "amssymb.sty", "hyperref.sty",
                              "plainnat.bst"]
    needs = tex_needs(PAPER / "tiedae.tex")
    assert {"geometry.sty", "natbib.sty", "hyperref.sty", "plainnat.bst"} <= set(needs)


def _tex_missing() -> list[str]:
    """What building the PDF needs and this machine lacks (programs, then TeX files)."""
    tools = [t for t in ("latexmk", "pdflatex", "bibtex", "kpsewhich") if shutil.which(t) is None]
    if tools:
        return tools
    found = subprocess.run(["kpsewhich", *tex_needs(PAPER / "tiedae.tex")],
                           capture_output=True, text=True, timeout=60).stdout.splitlines()
    found = {Path(f).name for f in found}
    return [n for n in tex_needs(PAPER / "tiedae.tex") if n not in found]


TEX_MISSING = _tex_missing()


@pytest.mark.slow
@pytest.mark.skipif(bool(TEX_MISSING), reason=f"the TeX install lacks {', '.join(TEX_MISSING)}")
def test_pdf_builds_from_generated_figures(generated, tmp_path):
    out, _ = generated
    proc = _build_pdf(out, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "tiedae.pdf").stat().st_size > 10_000
    log = (tmp_path / "tiedae.log").read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"(Citation|Reference) `[^']*' on page \d+ undefined", log)


@pytest.mark.slow
def test_committed_results_regenerate_byte_identical(tmp_path):
    """The results the paper uses (paper/results/) regenerate every figure (no placeholders),
    and numbers.tex and every table byte for byte as committed: redesigning how suites analyse
    and render their records changes no number."""
    from tiedae.bench.suites import SUITES
    from tiedae.paper import generate

    results = PAPER / "results"
    if not all((results / f"{s.name}.jsonl").exists() for s in SUITES):
        pytest.skip("paper/results/ does not hold every suite yet")
    out = tmp_path / "figures"
    generate(results, out, paper_dir=PAPER, log=lambda _m: None)
    committed = PAPER / "figures"
    names = ["numbers.tex", *(f"tables/{p.name}" for p in (committed / "tables").glob("*.tex"))]
    assert sorted(p.name for p in (out / "tables").glob("*.tex")) == sorted(
        p.name for p in (committed / "tables").glob("*.tex"))
    for name in names:
        assert (out / name).read_bytes() == (committed / name).read_bytes(), name


# ----------------------------------------------------------------------------------------------
# `python -m tiedae.paper`: arguments checked up front, output never half-written
# ----------------------------------------------------------------------------------------------


def _paper_cli(capsys, args):
    from tiedae.paper.__main__ import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def one_suite_results(tmp_path_factory):
    from paper_records import write_tiny_results

    results = tmp_path_factory.mktemp("one") / "results"
    write_tiny_results(results, ["optimal-decoder"])  # a suite without figures: fast
    return results


BAD_PAPER_ARGS = {  # arguments ({tmp}: a scratch folder, {results}: good results), message
    "--out a file": (["--results", PAPER / "results", "--out", "{tmp}/afile"], "is a file"),
    "--out inside a file": (["--results", "{results}", "--out", "{tmp}/afile/figs"],
                            "afile is a file"),
    "--out/tables a file": (["--results", "{results}", "--out", "{tmp}/figs"],
                            "the tables go into that folder"),
    "--results missing": (["--results", "{tmp}/missing", "--out", "{tmp}/o"], "no such folder"),
    "--results a file": (["--results", "{tmp}/afile", "--out", "{tmp}/o"], "is a file, not"),
    "--results empty": (["--results", "{tmp}/empty", "--out", "{tmp}/o"], "holds no bench"),
    "--results damaged": (["--results", "{tmp}/damaged", "--out", "{tmp}/o"],
                          "decoders.jsonl:1"),
    "--results ''": (["--results", "", "--out", "{tmp}/o"], "give a folder name"),
    "--paper without a manuscript": (["--results", "{results}", "--out", "{tmp}/o", "--paper",
                                      "{tmp}"], "no manuscript there"),
    "a suite missing": (["--results", "{results}", "--out", "{tmp}/o"], "lack the suites"),
}


@pytest.mark.parametrize("case", BAD_PAPER_ARGS)
def test_paper_command_refuses_bad_arguments_in_one_line_writing_nothing(
        tmp_path, capsys, one_suite_results, case):
    args, message = BAD_PAPER_ARGS[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "afile").write_text("mine\n")
    (scratch / "empty").mkdir()
    (scratch / "damaged").mkdir()
    (scratch / "damaged" / "decoders.jsonl").write_text('{"suite": "decoders"\n')
    (scratch / "figs").mkdir()
    (scratch / "figs" / "tables").write_text("mine\n")
    if case == "a suite missing":
        (scratch / "tiedae.tex").touch()  # an (empty) manuscript above --out
    before = _tree(scratch)
    code, err = _paper_cli(capsys, [str(a).format(tmp=scratch, results=one_suite_results)
                                    for a in args])
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert _tree(scratch) == before  # nothing written, nothing removed


def test_paper_command_writes_elsewhere_without_a_manuscript(tmp_path, capsys,
                                                             one_suite_results):
    """--out in a folder with no manuscript above it works (nothing to check, said in a note);
    the user's files in --out stay, generated ones are replaced, no temporary folder is left
    (also none of a killed run)."""
    out = tmp_path / "a" / "b" / "figs"
    code, err = _paper_cli(capsys, ["--results", one_suite_results, "--out", out,
                                    "--allow-missing"])
    assert code == 0, err
    assert "no manuscript" in err and "--paper" in err
    assert (out / "numbers.tex").read_text().count("\\newcommand") > 5
    (out / "mine.txt").write_text("mine\n")
    (out / "numbers.tex").write_text("old\n")
    (out / ".tiedae-paper-4194305-abc").mkdir()  # left by a killed run (no such pid)
    assert _paper_cli(capsys, ["--results", one_suite_results, "--out", out,
                               "--allow-missing"])[0] == 0
    assert (out / "mine.txt").read_text() == "mine\n"
    assert (out / "numbers.tex").read_text() != "old\n"
    assert not list(out.glob(".tiedae-paper-*"))


def test_a_failure_while_generating_leaves_the_output_as_it_was(tmp_path, monkeypatch,
                                                                one_suite_results):
    from tiedae.bench.suites import BY_NAME
    from tiedae.paper import build
    from tiedae.report import Analysis, Figure, plots

    def fails():
        raise ValueError("a figure fails after another was written")

    def analyze(records):
        return Analysis(figures=[Figure("fig", "drawn", lambda: plots.new_figure(1)[0]),
                                 Figure("bad", "fails", fails)])

    suite = dataclasses.replace(BY_NAME["optimal-decoder"], analyze=analyze)
    monkeypatch.setattr(build, "SUITES", [suite])
    out = tmp_path / "figures"
    out.mkdir()
    (out / "fig.pdf").write_text("old\n")
    (out / "numbers.tex").write_text("old\n")
    before = _tree(out)
    with pytest.raises(ValueError, match="a figure fails"):
        build.generate(one_suite_results, out, log=lambda _m: None)
    assert _tree(out) == before
    fresh = tmp_path / "new" / "figures"
    with pytest.raises(ValueError):
        build.generate(one_suite_results, fresh, log=lambda _m: None)
    assert not (tmp_path / "new").exists()  # the folders it made for the output went too


def test_paper_command_documents_every_option():
    from tiedae.paper.__main__ import build_parser

    readme = (PAPER / "README.md").read_text(encoding="utf-8")
    options = [a for a in build_parser()._actions if a.option_strings != ["-h", "--help"]]
    assert {o.option_strings[0] for o in options} >= {"--results", "--out", "--paper"}
    for action in options:
        flag = action.option_strings[0]
        assert action.help and len(action.help) > 20, flag
        assert f"`{flag}" in readme, f"paper/README.md does not explain {flag}"
