"""Bad and odd input through the public API: a clear error naming the problem, or, where the
input is valid, the right number (checked against numpy). Never a silent wrong number.

`BAD` is a table of (case, call, exception type, message pattern), one row per distinct bad
input; the hypothesis tests below vary shapes, dtypes, NaN/inf placement and k against d.
"""

import gzip
import math
import os
import pathlib
import struct
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tiedae
from tiedae import decoders, metrics, pca
from tiedae._validation import check_data
from tiedae.data import graphs, mnist
from tiedae.training import (
    L2,
    Covariance,
    FullBatch,
    Minibatches,
    NonuniformL2,
    Observe,
    RowChunks,
    StopWhen,
)

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW = settings(FAST, max_examples=12)  # each new shape compiles
X = np.random.default_rng(0).normal(size=(40, 6))
X_MEAN = X.mean(axis=0)


def _rngs():
    return nnx.Rngs(0)


def _linear(**kw):
    return tiedae.LinearAE(6, 2, rngs=_rngs(), **kw)


def _mlp():
    return tiedae.MLPAE(6, (3,), rngs=_rngs())


def _same_iterator(rows):
    """A rows function that returns one iterator on every call (empty from the second on)."""
    it = iter([rows])
    return lambda: it


def _fit(data=X, model=None, **kw):
    kw.setdefault("steps", 2)
    return tiedae.fit(_linear() if model is None else model, data, **kw)


def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def _file(name: str, content: bytes) -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="tiedae-bad-"), name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _npz(**arrays) -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="tiedae-bad-"), "data.npz")
    np.savez(path, **arrays)
    return path


def _folder(**files: bytes) -> str:
    folder = tempfile.mkdtemp(prefix="tiedae-bad-")
    for name, content in files.items():
        with open(os.path.join(folder, name.replace("_", "-")), "wb") as f:
            f.write(content)
    return folder


_IMAGES = np.random.default_rng(1).integers(0, 256, (6, 4, 4), dtype=np.uint8)
_LABELS = np.arange(6, dtype=np.uint8) % 10
_E = np.eye(3)

BAD = [
    # --- LinearAE
    ("LinearAE d=0", lambda: tiedae.LinearAE(0, 1, rngs=_rngs()), ValueError, "d must be >= 1"),
    ("LinearAE d=-3", lambda: tiedae.LinearAE(-3, 1, rngs=_rngs()), ValueError, "d must be >= 1"),
    ("LinearAE d float", lambda: tiedae.LinearAE(6.0, 1, rngs=_rngs()), TypeError,
     "d must be a positive integer"),
    ("LinearAE d str", lambda: tiedae.LinearAE("6", 1, rngs=_rngs()), TypeError,
     "d must be a positive integer"),
    ("LinearAE k > d", lambda: tiedae.LinearAE(6, 7, rngs=_rngs()), ValueError, "k must be <= d"),
    ("LinearAE k=0", lambda: tiedae.LinearAE(6, 0, rngs=_rngs()), ValueError, "k must be >= 1"),
    ("LinearAE decoder", lambda: _linear(decoder="inverse"), ValueError,
     "unknown decoder 'inverse'"),
    ("LinearAE init_scale nan", lambda: _linear(init_scale=float("nan")), ValueError,
     "init_scale must be a finite number > 0"),
    ("LinearAE init_scale inf", lambda: _linear(init_scale=float("inf")), ValueError,
     "init_scale must be a finite number > 0"),
    ("LinearAE init_scale 0", lambda: _linear(init_scale=0.0), ValueError, "init_scale"),
    ("LinearAE init_scale str", lambda: _linear(init_scale="1"), TypeError,
     "init_scale must be a number"),
    ("LinearAE int dtype", lambda: _linear(param_dtype=jnp.int32), TypeError,
     "param_dtype must be a floating dtype"),
    ("LinearAE decoder_eps < 0", lambda: _linear(decoder="right_inverse", decoder_eps=-1.0),
     ValueError, "decoder_eps must be a finite number >= 0"),
    ("LinearAE decoder_eps nan", lambda: _linear(decoder_eps=float("nan")), ValueError,
     "decoder_eps"),
    ("LinearAE rngs int", lambda: tiedae.LinearAE(6, 2, rngs=0), TypeError,
     "rngs must be an nnx.Rngs"),
    ("LinearAE input width", lambda: _linear()(jnp.ones((2, 5))), ValueError,
     r"x must have shape \(\.\.\., 6\)"),
    ("LinearAE code width", lambda: _linear().decode(jnp.ones((2, 3))), ValueError,
     r"z must have shape \(\.\.\., 2\)"),
    # --- MLPAE, ConvAE, GraphAE
    ("MLPAE no widths", lambda: tiedae.MLPAE(6, (), rngs=_rngs()), ValueError,
     "encoder_widths must name at least"),
    ("MLPAE width 0", lambda: tiedae.MLPAE(6, (4, 0), rngs=_rngs()), ValueError,
     "encoder_widths must hold positive ints"),
    ("MLPAE widths int", lambda: tiedae.MLPAE(6, 3, rngs=_rngs()), TypeError,
     "encoder_widths must be a sequence"),
    ("MLPAE width float", lambda: tiedae.MLPAE(6, (3.5,), rngs=_rngs()), ValueError,
     "encoder_widths must hold positive ints"),
    ("MLPAE decoder", lambda: tiedae.MLPAE(6, (3,), decoder="bogus", rngs=_rngs()), ValueError,
     "unknown decoder 'bogus'"),
    ("MLPAE activation", lambda: tiedae.MLPAE(6, (3,), activation="swishy", rngs=_rngs()),
     ValueError, "unknown activation 'swishy'"),
    ("MLPAE multiplier nan",
     lambda: tiedae.MLPAE(6, (3,), decoder_width_multiplier=float("nan"), rngs=_rngs()),
     ValueError, "decoder_width_multiplier must be > 0"),
    ("MLPAE multiplier, tied",
     lambda: tiedae.MLPAE(6, (3,), decoder="tied", decoder_width_multiplier=2.0, rngs=_rngs()),
     ValueError, "only applies to decoder='mirror'"),
    ("MLPAE input width", lambda: _mlp()(jnp.ones((2, 5))), ValueError,
     r"x must have shape \(batch, 6\)"),
    ("ConvAE 2-D shape", lambda: tiedae.ConvAE((8, 8), rngs=_rngs()), ValueError,
     r"image_shape must be \(H, W, C\)"),
    ("ConvAE zero size", lambda: tiedae.ConvAE((8, 0, 1), rngs=_rngs()), ValueError,
     "image_shape must hold positive ints"),
    ("ConvAE no channels", lambda: tiedae.ConvAE((8, 8, 1), (), rngs=_rngs()), ValueError,
     "channels must name at least one"),
    ("ConvAE kernel 0", lambda: tiedae.ConvAE((8, 8, 1), kernel_size=0, rngs=_rngs()),
     ValueError, "kernel_size must be >= 1"),
    ("ConvAE stride 0", lambda: tiedae.ConvAE((8, 8, 1), stride=0, rngs=_rngs()), ValueError,
     "stride must be >= 1"),
    ("ConvAE decoder", lambda: tiedae.ConvAE((8, 8, 1), decoder="deconv", rngs=_rngs()),
     ValueError, "unknown decoder 'deconv'"),
    ("ConvAE input", lambda: tiedae.ConvAE((8, 8, 1), rngs=_rngs())(jnp.ones((2, 63))),
     ValueError, r"x must have shape \(batch, 8, 8, 1\) or \(batch, 64\)"),
    ("GraphAE n=1", lambda: tiedae.GraphAE(1, rngs=_rngs()), ValueError, "n_nodes must be >= 2"),
    ("GraphAE n float", lambda: tiedae.GraphAE(2.5, rngs=_rngs()), TypeError,
     "n_nodes must be a positive integer"),
    ("GraphAE n str", lambda: tiedae.GraphAE("5", rngs=_rngs()), TypeError, "n_nodes"),
    ("GraphAE hidden 0", lambda: tiedae.GraphAE(5, hidden=0, rngs=_rngs()), ValueError,
     "hidden must be >= 1"),
    ("GraphAE code_dim 0", lambda: tiedae.GraphAE(5, code_dim=0, rngs=_rngs()), ValueError,
     "code_dim must be >= 1"),
    ("GraphAE mlp_hidden 0", lambda: tiedae.GraphAE(5, decoder="mlp", mlp_hidden=(0,),
                                                    rngs=_rngs()),
     ValueError, "mlp_hidden must hold positive ints"),
    ("GraphAE mlp_hidden int", lambda: tiedae.GraphAE(5, decoder="mlp", mlp_hidden=4,
                                                      rngs=_rngs()),
     TypeError, "mlp_hidden must be a sequence"),
    ("GraphAE decoder", lambda: tiedae.GraphAE(5, decoder="dot", rngs=_rngs()), ValueError,
     "unknown decoder 'dot'"),
    # --- fit: model, data
    ("fit model str", lambda: tiedae.fit("model", X), TypeError, "model must be an nnx.Module"),
    ("fit X wrong d", lambda: _fit(np.ones((10, 5))), ValueError,
     "d=5 features but the model expects d=6"),
    ("fit X 1-D", lambda: _fit(np.ones(6)), ValueError, "X must be 2-D"),
    ("fit X 3-D (linear)", lambda: _fit(np.ones((4, 2, 3))), ValueError, "X must be 2-D"),
    ("fit X NaN", lambda: _fit(np.where(X > 2, np.nan, X)), ValueError, "non-finite"),
    ("fit X -inf", lambda: _fit(np.where(X > 2, -np.inf, X)), ValueError, "non-finite"),
    ("fit X strings", lambda: _fit(np.full((4, 6), "a")), TypeError, "real numbers"),
    ("fit X complex", lambda: _fit(X + 1j), TypeError, "real numbers"),
    ("fit X object", lambda: _fit(np.array([[object()] * 6] * 4)), TypeError, "real numbers"),
    ("fit X ragged list", lambda: _fit([[1.0] * 6, [1.0] * 5]), TypeError,
     "rows of different lengths"),
    ("fit X 1 row", lambda: _fit(X[:1]), ValueError, "at least 2 samples"),
    ("fit X 0 rows", lambda: _fit(X[:0]), ValueError, "at least 2 samples"),
    ("fit X beyond float32", lambda: _fit(X * 1e39), ValueError, "beyond float32's range"),
    # --- fit: arguments
    ("fit steps -1", lambda: _fit(steps=-1), ValueError, "steps must be a non-negative integer"),
    ("fit steps 1.5", lambda: _fit(steps=1.5), ValueError, "steps must be a non-negative"),
    ("fit steps None", lambda: _fit(steps=None), ValueError, "steps must be a non-negative"),
    ("fit log_every 0", lambda: _fit(log_every=0), ValueError, "log_every must be >= 1"),
    ("fit batch_size 0", lambda: _fit(batch_size=0), ValueError, r"batch_size must be in \[1, "),
    ("fit batch_size > n", lambda: _fit(batch_size=41), ValueError, r"batch_size must be in \[1, "),
    ("fit batch_size str", lambda: _fit(batch_size="cov"), ValueError,
     'batch_size must be None, an int or "covariance"'),
    ("fit batch_size float", lambda: _fit(batch_size=2.5), ValueError, "batch_size must be"),
    ("fit optimizer factory", lambda: _fit(optimizer=optax.adam), TypeError,
     "optimizer must be an optax transformation"),
    ("fit optimizer number", lambda: _fit(optimizer=0.1), TypeError, "optimizer must be"),
    ("fit l2 < 0", lambda: _fit(l2=-1.0), ValueError, "L2 coefficient must be a finite number"),
    ("fit l2 nan", lambda: _fit(l2=float("nan")), ValueError, "L2 coefficient"),
    ("fit l2 and regularizer", lambda: _fit(l2=0.1, regularizer=L2(0.1)), ValueError,
     "either l2 or regularizer"),
    ("fit loss_fn int", lambda: _fit(loss_fn=3), TypeError, "loss_fn must be a function"),
    ("fit regularizer float", lambda: _fit(regularizer=0.1), TypeError,
     "regularizer must be a function"),
    ("fit metrics dict", lambda: _fit(metrics={"a": 1}), TypeError, "metrics must be a function"),
    ("fit seed str", lambda: _fit(batch_size=4, seed="a"), TypeError,
     "seed must be a non-negative integer"),
    ("fit seed < 0", lambda: _fit(seed=-1), ValueError, "seed must be a non-negative integer"),
    ("fit devices 0", lambda: _fit(devices=0), ValueError, "devices must be >= 1"),
    ("fit devices 99", lambda: _fit(devices=99), ValueError, "devices=99 but JAX sees"),
    ("fit devices float", lambda: _fit(devices=2.0), TypeError,
     'devices must be None, an int, "all" or a list of devices .*got float 2.0'),
    ("fit devices list of ints", lambda: _fit(devices=[0, 1]), TypeError,
     "the list holds int 0, not a jax.Device"),
    ("fit devices empty", lambda: _fit(devices=[]), ValueError, "got an empty list"),
    ("fit checkpoint str", lambda: _fit(checkpoint="ckpt"), TypeError,
     r"checkpoint must be a tiedae.training.Checkpoint\(directory, every=...\)"),
    ("fit blowup 1", lambda: _fit(blowup_factor=1), ValueError,
     "blowup_factor must be a finite number > 1"),
    ("fit blowup nan", lambda: _fit(blowup_factor=float("nan")), ValueError, "blowup_factor"),
    ("fit hyperparams, plain optimizer", lambda: _fit(hyperparams={"learning_rate": 0.1}),
     ValueError, "needs an optimizer made with optax.inject_hyperparams"),
    ("fit hyperparams unknown name",
     lambda: _fit(optimizer=optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
                  hyperparams={"lr": 0.1}), ValueError, "no hyperparameter 'lr'"),
    ("fit center, no DataMean", lambda: _fit(model=_mlp(), center=True), ValueError,
     "center=True needs a model with a tiedae.DataMean"),
    ("fit eval_data width", lambda: _fit(eval_data=np.ones((3, 5))), ValueError,
     r"eval_data\['eval'\] has d=5 features but the model expects d=6"),
    ("fit eval_data NaN", lambda: _fit(eval_data=np.full((3, 6), np.nan)), ValueError,
     r"eval_data\['eval'\] contains 18 non-finite"),
    ("fit eval_data name", lambda: _fit(eval_data={"a b": X}), ValueError,
     "eval_data names must be identifiers"),
    ("fit callback int", lambda: _fit(callback=5), TypeError, "callback must be callable"),
    ("fit source and batch_size", lambda: _fit(FullBatch(X), batch_size=4), ValueError,
     "batch_size is set by the data source"),
    # --- fit: reference
    ("fit reference str", lambda: _fit(reference="pca"), TypeError,
     "reference must be a pca.PCAResult"),
    ("fit reference k", lambda: _fit(reference=pca.fit(X, 3)), ValueError,
     r"reference has components of shape \(3, 6\)"),
    ("fit reference, shifted data", lambda: _fit(reference=pca.fit(X + 1.0, 2)), ValueError,
     "fit on other data than X: their means differ"),
    ("fit reference, subset", lambda: _fit(X[:20], reference=pca.fit(X, 2)), ValueError,
     "X has n=20 rows, the reference n=40"),
    ("fit reference, scaled data", lambda: _fit(reference=pca.fit(X * 3.0, 2)), ValueError,
     "fit on other data than X"),
    ("fit reference, centred other data",
     lambda: _fit(X - X_MEAN, reference=pca.fit(2 * (X - X_MEAN), 2)), ValueError,
     "total variance"),
    ("fit reference, minibatches", lambda: _fit(reference=pca.fit(X[::2], 2), batch_size=5),
     ValueError, "fit on other data than X"),
    ("fit reference, covariance source",
     lambda: _fit(Covariance(X[:30]), reference=pca.fit(X, 2)), ValueError, "n=30 rows"),
    ("fit reference, streamed rows",
     lambda: _fit(RowChunks(X[:30], 5), reference=pca.fit(X, 2)), ValueError, "n=30 rows"),
    ("fit reference, streamed function",
     lambda: _fit(RowChunks(lambda: iter([X[:20] + 1.0]), 5), reference=pca.fit(X, 2)),
     ValueError, "means differ"),
    ("fit reference and metrics", lambda: _fit(reference=pca.fit(X, 2),
                                               metrics=lambda m, loss: {}),
     ValueError, "reference= sets up the model's default metrics"),
    ("fit reference, MLP", lambda: _fit(model=_mlp(), reference=pca.fit(X, 2)), ValueError,
     "reference metrics need a model with default_metrics"),
    # --- sources
    ("covariance source, MLP", lambda: _fit(model=_mlp(), batch_size="covariance"), TypeError,
     "covariance source .* trains linear models"),
    ("covariance source, biases", lambda: _fit(model=_linear(use_bias=True),
                                               batch_size="covariance"),
     ValueError, "leave untrained"),
    ("covariance source, chunk_size 0", lambda: _fit(batch_size="covariance", chunk_size=0),
     ValueError, "chunk_size must be >= 1"),
    ("Covariance chunk_size float", lambda: Covariance(X, chunk_size=1.5), TypeError,
     "chunk_size must be a positive integer"),
    ("Covariance 1-D", lambda: _fit(Covariance(np.ones(6))), ValueError, "must be 2-D"),
    ("Covariance NaN", lambda: _fit(Covariance(np.full((5, 6), np.nan))), ValueError,
     "non-finite"),
    ("Minibatches batch 0", lambda: Minibatches(X, 0), ValueError, "batch_size must be >= 1"),
    ("Minibatches batch > n", lambda: _fit(Minibatches(X, 100)), ValueError,
     r"batch_size must be in \[1, n=40\]"),
    ("Minibatches NaN", lambda: _fit(Minibatches(np.full((5, 6), np.nan), 2)), ValueError,
     "non-finite"),
    ("RowChunks 1-D", lambda: RowChunks(np.ones(6), 2), ValueError,
     r"rows must be 2-D with shape \(n, d\); got 1-D"),
    ("RowChunks int", lambda: RowChunks(5, 2), TypeError,
     r"rows must be an \(n, d\) array, a numpy memmap, a path to a .npy file"),
    ("RowChunks batch 0", lambda: RowChunks(X, 0), ValueError, "batch_size must be >= 1"),
    ("RowChunks iterator ran out",
     lambda: _fit(RowChunks(iter([X[:10]]), 5, mean=X_MEAN), steps=5, log_every=1),
     ValueError, "the rows ran out: a plain iterator is read once"),
    ("RowChunks iterator, no mean", lambda: _fit(RowChunks(iter([X[:10]]), 5)), ValueError,
     "cannot compute the mean of a one-pass iterator"),
    ("RowChunks chunk width",
     lambda: _fit(RowChunks(iter([X[:3], np.ones((3, 5))]), 5, mean=X_MEAN)), ValueError,
     "chunk 1 has 5 columns; the chunks before it have 6"),
    # with the default centring: the problem itself, not "cannot compute the mean"
    ("RowChunks chunk width, centred", lambda: _fit(RowChunks(iter([X[:3], np.ones((3, 5))]), 5)),
     ValueError, "chunk 1 has 5 columns; the chunks before it have 6"),
    ("RowChunks NaN chunk, centred",
     lambda: _fit(RowChunks(iter([np.full((6, 6), np.nan)]), 5)), ValueError,
     r"chunk 0 contains 36 non-finite value\(s\)"),
    ("RowChunks empty iterator, centred", lambda: _fit(RowChunks(iter([]), 5)), ValueError,
     "the rows are empty: the iterator yielded no chunks"),
    ("RowChunks empty chunks, centred", lambda: _fit(RowChunks(iter([X[:0], X[:0]]), 5)),
     ValueError, "the rows are empty: every chunk has 0 rows"),
    ("RowChunks too short, centred", lambda: _fit(RowChunks(iter([X[:3]]), 5)), ValueError,
     r"the rows ran out: the iterator holds 3 rows, fewer than one batch \(batch_size=5\)"),
    ("RowChunks spent function", lambda: _fit(RowChunks(_same_iterator(X), 5), steps=20),
     ValueError, "the rows function returned no rows on its call 2"),
    ("RowChunks empty function", lambda: _fit(RowChunks(lambda: iter([]), 5)), ValueError,
     "the rows are empty"),
    ("RowChunks NaN chunk", lambda: _fit(RowChunks(iter([np.full((6, 6), np.nan)]), 5,
                                                   mean=X_MEAN)),
     ValueError, r"chunk 0 contains 36 non-finite value\(s\) \(NaN or inf\), the first \(nan\) "
                 r"at row 0"),
    ("RowChunks mean shape", lambda: _fit(RowChunks(X, 5, mean=np.zeros(3))), ValueError,
     r"the data's mean has 3 entries"),
    ("RowChunks mean NaN", lambda: _fit(RowChunks(X, 5, mean=np.full(6, np.nan))), ValueError,
     "mean contains NaN or inf"),
    # --- callbacks and regularizers
    ("Observe int", lambda: Observe(3), TypeError, "Observe needs a function"),
    ("StopWhen key not logged", lambda: _fit(callback=StopWhen("nope", 1.0)), KeyError,
     "StopWhen watches 'nope', which is not logged"),
    ("StopWhen threshold str", lambda: StopWhen("loss", "a"), TypeError,
     "threshold must be a number"),
    ("StopWhen threshold NaN", lambda: StopWhen("loss", float("nan")), ValueError,
     "would never stop"),
    ("StopWhen key int", lambda: StopWhen(3, 1.0), TypeError, "key must be the name"),
    ("L2 < 0", lambda: L2(-1.0), ValueError, "L2 coefficient must be a finite number >= 0"),
    ("L2 vector", lambda: L2(np.ones(2)), ValueError, "L2 coefficient"),
    ("NonuniformL2 2-D", lambda: NonuniformL2(np.ones((2, 2))), ValueError,
     r"must be a 1-D array \(k,\)"),
    ("NonuniformL2 NaN", lambda: NonuniformL2(np.array([1.0, np.nan])), ValueError,
     "finite non-negative"),
    ("NonuniformL2 k", lambda: _fit(regularizer=NonuniformL2(np.ones(3))), ValueError,
     "has 3 weights for a code of size k=2"),
    # --- pca
    ("pca.fit k=0", lambda: pca.fit(X, 0), ValueError, "k must be >= 1"),
    ("pca.fit k > d", lambda: pca.fit(X, 7), ValueError, "k must be <= d"),
    ("pca.fit k > n", lambda: pca.fit(X[:3], 5), ValueError, "k must be <= n"),
    ("pca.fit k None", lambda: pca.fit(X, None), TypeError, "k must be a positive integer"),
    ("pca.fit k float", lambda: pca.fit(X, 2.0), TypeError, "k must be a positive integer"),
    ("pca.fit 3-D", lambda: pca.fit(np.ones((3, 3, 3)), 1), ValueError, "must be 2-D"),
    ("pca.fit inf", lambda: pca.fit(np.full((3, 3), np.inf), 1), ValueError, "non-finite"),
    ("pca.fit overflow", lambda: pca.fit(X * 1e200, 1), ValueError,
     "covariance of X overflows float64"),
    ("pca.fit overflow, n < d", lambda: pca.fit(X[:3] * 1e200, 1), ValueError,
     "overflows float64"),
    ("pca.covariance overflow", lambda: pca.covariance(X * 1e200), ValueError,
     "overflows float64"),
    ("pca.covariance 1-D", lambda: pca.covariance(np.ones(3)), ValueError, "must be 2-D"),
    ("pca.covariance 1 row", lambda: pca.covariance(np.ones((1, 3))), ValueError,
     "at least 2 samples"),
    ("pca.covariance strings", lambda: pca.covariance(np.full((3, 3), "a")), TypeError,
     "real numbers"),
    ("pca.reconstruction_loss C", lambda: pca.reconstruction_loss(jnp.ones((2, 3)),
                                                                  jnp.ones((3, 2)),
                                                                  jnp.eye(4)),
     ValueError, r"need W \(k, d\), V \(d, k\) and C \(d, d\)"),
    ("pca.reconstruction_loss V", lambda: pca.reconstruction_loss(jnp.ones((2, 3)),
                                                                  jnp.ones((2, 3)),
                                                                  jnp.eye(3)),
     ValueError, r"V \(2, 3\)"),
    ("pca.optimal_decoder C", lambda: pca.optimal_decoder(jnp.ones((2, 3)), jnp.eye(4)),
     ValueError, r"C must have shape \(d, d\)"),
    ("pca.optimal_decoder singular", lambda: pca.optimal_decoder(jnp.ones((2, 3)), jnp.eye(3)),
     ValueError, "W C W\\^T is singular"),
    ("PCAResult.check_data d", lambda: pca.fit(X, 2).check_data(np.zeros(5)), ValueError,
     "d=5 features"),
    # --- decoders
    ("transpose 3-D", lambda: decoders.transpose(jnp.ones((2, 2, 2))), ValueError,
     "W must be a 2-D matrix"),
    ("transpose int", lambda: decoders.transpose(jnp.ones((2, 2), int)), TypeError,
     "W must be floating point"),
    ("pinv rtol < 0", lambda: decoders.pinv(jnp.eye(2, 3), rtol=-1.0), ValueError,
     "rtol must be a finite number >= 0"),
    ("pinv rtol 1", lambda: decoders.pinv(jnp.eye(2, 3), rtol=1.0), ValueError,
     r"rtol must be in \[0, 1\)"),
    ("pinv NaN", lambda: decoders.pinv(jnp.full((2, 3), jnp.nan)), ValueError,
     "W contains NaN or inf"),
    ("pinv inf", lambda: decoders.pinv(jnp.eye(2, 3).at[0, 0].set(jnp.inf)), ValueError,
     "W contains NaN or inf"),
    ("right_inverse zeros", lambda: decoders.right_inverse(jnp.zeros((2, 3))), ValueError,
     "rank-deficient"),
    ("right_inverse rank 1", lambda: decoders.right_inverse(jnp.ones((2, 3))), ValueError,
     "rank-deficient"),
    ("right_inverse ill-conditioned float32",
     lambda: decoders.right_inverse(jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1e-4, 0.0]],
                                                jnp.float32)),
     ValueError, "rank-deficient"),
    ("right_inverse k > d", lambda: decoders.right_inverse(jnp.ones((3, 2))), ValueError,
     "no right inverse"),
    ("right_inverse eps str", lambda: decoders.right_inverse(jnp.eye(2, 3), eps="a"), ValueError,
     "eps must be a finite number >= 0"),
    ("right_inverse eps inf", lambda: decoders.right_inverse(jnp.eye(2, 3), eps=np.inf),
     ValueError, "eps must be a finite number"),
    ("right_inverse inf", lambda: decoders.right_inverse(jnp.full((2, 3), jnp.inf)), ValueError,
     "NaN or inf"),
    ("tied name", lambda: decoders.tied(3), ValueError, "unknown tied decoder 3"),
    # --- metrics
    ("orthonormality_error 1-D", lambda: metrics.orthonormality_error(jnp.ones(3)), ValueError,
     r"W must be a 2-D matrix of shape \(k, d\)"),
    ("orthonormality_error complex", lambda: metrics.orthonormality_error(jnp.ones((2, 3)) * 1j),
     TypeError, "W must hold real numbers"),
    ("condition_number 1-D", lambda: metrics.condition_number(jnp.ones(3)), ValueError,
     "W must be a 2-D matrix"),
    ("subspace_distance shapes", lambda: metrics.subspace_distance(jnp.ones((3, 4)), jnp.eye(2, 4)),
     ValueError, "same shape"),
    ("subspace_distance k > d", lambda: metrics.subspace_distance(jnp.ones((3, 2)),
                                                                  jnp.ones((3, 2))),
     ValueError, "k=3 rows but only d=2 columns"),
    ("principal_angles 1-D", lambda: metrics.principal_angles(jnp.ones(3), jnp.ones(3)),
     ValueError, "2-D matrix"),
    ("axis_alignment shapes", lambda: metrics.axis_alignment(jnp.ones((2, 3)), jnp.ones((3, 3))),
     ValueError, "same shape"),
    ("LinearAEMetrics reference int",
     lambda: metrics.LinearAEMetrics.from_reference(3, k=2, d=6), TypeError,
     "reference must be a pca.PCAResult"),
    # --- synthetic and graph data
    ("spiked n=0", lambda: tiedae.data.spiked_covariance(0, 4, k=1, gap=1.0), ValueError,
     "n must be >= 1"),
    ("spiked k > d", lambda: tiedae.data.spiked_covariance(10, 4, k=5, gap=1.0), ValueError,
     "k must be <= d"),
    ("spiked gap < 0", lambda: tiedae.data.spiked_covariance(10, 4, k=1, gap=-1.0), ValueError,
     "gap must be finite and > 0"),
    ("spiked eigenvalue < 0", lambda: tiedae.data.spiked_covariance(10, 3,
                                                                    eigenvalues=[1, -1, 0]),
     ValueError, "finite and non-negative"),
    ("spiked d float", lambda: tiedae.data.spiked_covariance(10, 3.5, k=1, gap=1.0), TypeError,
     "d must be a positive integer"),
    ("linear_spectrum 0", lambda: tiedae.data.linear_spectrum(0), ValueError, "d must be >= 1"),
    ("SBM block 0", lambda: graphs.stochastic_block_model([0, 3], 0.5, 0.1), ValueError,
     "sizes must be positive block sizes"),
    ("SBM probability 2", lambda: graphs.stochastic_block_model([3, 3], 2.0, 0.1), ValueError,
     r"p_in must be a probability in \[0, 1\]"),
    ("split_edges test 0", lambda: graphs.split_edges(np.ones((4, 4)) - np.eye(4),
                                                      test_fraction=0.0),
     ValueError, "0 < test_fraction"),
    ("adjacency asymmetric", lambda: graphs.check_adjacency(np.triu(np.ones((3, 3)), 1)),
     ValueError, "must be symmetric"),
    ("adjacency weights", lambda: tiedae.nonlinear.graph.normalized_adjacency(np.full((3, 3), 2.0)),
     ValueError, "must hold only 0 and 1"),
    ("probe labels", lambda: tiedae.features.linear_probe_accuracy(
        np.ones((4, 2)), np.ones(3), np.ones((2, 2)), np.ones(2)), ValueError, "n labels"),
    ("checkerboard NaN", lambda: tiedae.nonlinear.conv.checkerboard_energy(
        np.full((2, 4, 4), np.nan)), ValueError, "NaN or inf"),
    # --- MNIST-format files
    ("mnist missing path", lambda: mnist.load("/nonexistent/tiedae"), ValueError,
     "no such file or directory"),
    ("mnist random bytes .npz", lambda: mnist.load(_file("x.npz", b"\x07random" * 8)),
     ValueError, r"is not an \.npz file .*not a zip archive"),
    ("mnist .npy named .npz", lambda: mnist.load(_file("x.npz", b"\x93NUMPY\x01\x00" + b"0" * 20)),
     ValueError, r"a single \.npy array"),
    ("mnist empty .npz", lambda: mnist.load(_file("x.npz", b"")), ValueError, "it is empty"),
    ("mnist truncated .npz", lambda: mnist.load(_file("x.npz", pathlib.Path(_npz(
        x_train=_IMAGES, y_train=_LABELS)).read_bytes()[:200])), ValueError,
     "truncated or corrupt zip archive"),
    ("mnist .npz wrong keys", lambda: mnist.load(_npz(x=_IMAGES, y=_LABELS)), ValueError,
     r"lacks a complete pair of images and labels.*its arrays: \['x', 'y'\]"),
    ("mnist .npz images only", lambda: mnist.load(_npz(x_train=_IMAGES, x_test=_IMAGES)),
     ValueError, "lacks a complete pair"),
    ("mnist .npz object array", lambda: mnist.load(_npz(
        x_train=_IMAGES, y_train=np.array([{}] * 6, dtype=object))), ValueError,
     "object arrays"),
    ("mnist .npz float labels", lambda: mnist.load(_npz(x_train=_IMAGES,
                                                        y_train=_LABELS.astype(float))),
     ValueError, "1-D integer array of labels"),
    ("mnist .npz negative pixels", lambda: mnist.load(_npz(x_train=-np.ones((6, 4, 4)),
                                                           y_train=_LABELS)),
     ValueError, r"values must lie in \[0, 1\] or \[0, 255\]"),
    ("mnist .npz complex images", lambda: mnist.load(_npz(x_train=_IMAGES + 1j,
                                                          y_train=_LABELS)),
     TypeError, "must hold real numbers"),
    ("mnist .npz labels count", lambda: mnist.load(_npz(x_train=_IMAGES, y_train=_LABELS[:4])),
     ValueError, "4 labels for 6 images"),
    ("mnist .npz 1 image", lambda: mnist.load(_npz(x_train=_IMAGES[:1], y_train=_LABELS[:1])),
     ValueError, "cannot split 1 image"),
    ("mnist .npz no images", lambda: mnist.load(_npz(x_train=_IMAGES[:0], y_train=_LABELS[:0])),
     ValueError, "holds no images"),
    ("mnist text file", lambda: mnist.load(_file("x.txt", b"hello")), ValueError,
     "expected a directory with MNIST IDX files or a .npz"),
    ("mnist empty folder", lambda: mnist.load(_folder()), ValueError,
     "has neither the training files"),
    ("mnist folder, images without labels",
     lambda: mnist.load(_folder(t10k_images_idx3_ubyte=_idx(_IMAGES))), ValueError,
     "has neither the training files"),
    ("mnist truncated IDX", lambda: mnist.load_idx(_file("a-idx3-ubyte", _idx(_IMAGES)[:-5])),
     ValueError, "the file is truncated"),
    ("mnist IDX extra bytes", lambda: mnist.load_idx(_file("a-idx3-ubyte",
                                                           _idx(_IMAGES) + b"\x00")),
     ValueError, "has extra bytes"),
    ("mnist random binary IDX", lambda: mnist.load_idx(_file("a-idx3-ubyte", b"\x07" * 40)),
     ValueError, "is not an IDX file"),
    ("mnist IDX type code", lambda: mnist.load_idx(_file("a", b"\x00\x00\x07\x01" + b"\x00" * 8)),
     ValueError, "unknown IDX type code 0x07"),
    ("mnist IDX header cut", lambda: mnist.load_idx(_file("a", b"\x00\x00\x08\x03\x00")),
     ValueError, "truncated IDX header"),
    ("mnist truncated gzip", lambda: mnist.load_idx(_file("a.gz", gzip.compress(
        _idx(_IMAGES))[:-12])), ValueError, "truncated or corrupt gzip"),
    ("mnist folder: labels as images",
     lambda: mnist.load(_folder(t10k_images_idx3_ubyte=_idx(_LABELS),
                                t10k_labels_idx1_ubyte=_idx(_LABELS))),
     ValueError, r"t10k-images-idx3-ubyte \(x_test\) must be images of shape \(n, H, W\)"),
    ("mnist split fraction", lambda: mnist.load(_npz(x_train=_IMAGES, y_train=_LABELS),
                                                test_fraction=1.5),
     ValueError, r"test_fraction must be a number in \(0, 1\)"),
    ("mnist split seed", lambda: mnist.load(_npz(x_train=_IMAGES, y_train=_LABELS), seed=-1),
     ValueError, "seed must be a non-negative integer"),
]


def test_the_table_is_large_and_its_cases_distinct():
    names = [case[0] for case in BAD]
    assert len(names) == len(set(names)) and len(names) >= 150


@pytest.mark.parametrize(("case", "call", "error", "pattern"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_named(case, call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert type(info.value) is error or issubclass(type(info.value), error)
    assert "Traceback" not in str(info.value)


# --- Valid odd input: the right number --------------------------------------------------------


def test_a_list_of_rows_trains_like_the_array():
    a, _ = tiedae.fit(_linear(), X, optimizer=optax.sgd(1e-2), steps=3)
    b, _ = tiedae.fit(_linear(), X.tolist(), optimizer=optax.sgd(1e-2), steps=3)
    np.testing.assert_array_equal(a.W[...], b.W[...])


def test_a_reference_of_the_same_data_is_accepted_in_every_form():
    ref = pca.fit(X, 2)
    X32 = X.astype(np.float32)  # float32 rounding of the same data is still the same data
    for data, kw in [(X32, {}), (X, {"batch_size": 8}), (X, {"batch_size": "covariance"}),
                     (RowChunks(lambda: iter([X[:25], X[25:]]), 8), {}),
                     (RowChunks(iter([X]), 8, mean=X_MEAN), {})]:
        _, hist = tiedae.fit(_linear(), data, steps=1, reference=ref, **kw)
        assert hist["loss_gap"][0] >= -1e-5  # never below the Eckart-Young optimum


def test_the_reference_loss_gap_is_right_where_it_is_accepted():
    ref = pca.fit(X, 2)
    model = _linear(param_dtype=jnp.float64)
    _, hist = tiedae.fit(model, X, optimizer=optax.sgd(1e-12), steps=1, reference=ref)
    W = np.asarray(model.W[...])
    Xc = X - X_MEAN
    loss = np.mean(np.sum((Xc - Xc @ W.T @ W) ** 2, axis=1))
    assert hist["loss_gap"][-1] == pytest.approx(loss - ref.optimal_loss, rel=1e-9)


def test_float64_beyond_float32_passes_in_float64():
    np.testing.assert_array_equal(check_data(X * 1e39), X * 1e39)  # float64 stays float64
    with pytest.raises(ValueError, match="beyond float32's range .* or use float64"):
        check_data(X * 1e39, dtype=np.float32)
    if np.finfo(np.longdouble).max > np.finfo(np.float64).max:  # x86's 80-bit long double
        with pytest.raises(ValueError, match=r"beyond float64's range"):
            check_data(np.full((2, 2), np.longdouble("1e400")), dtype=np.float64)


def test_the_rank_deficient_metrics_of_the_issue():
    e1, e2, e3 = np.eye(3)
    span12 = jnp.asarray(np.stack([e1, e2]))
    for fn in (metrics.subspace_distance, jax.jit(metrics.subspace_distance)):
        assert float(fn(jnp.asarray(np.stack([e3, 2 * e3])), span12)) == 1.0  # orthogonal
        assert float(fn(jnp.asarray(np.stack([e1 + e2, e1 + e2])), span12)) == 0.5  # half
        assert float(fn(jnp.zeros((2, 3)), span12)) == 1.0  # nothing spanned
    np.testing.assert_allclose(metrics.principal_angles(jnp.zeros((2, 3)), span12),
                               [np.pi / 2, np.pi / 2], rtol=1e-15)
    assert float(metrics.condition_number(jnp.zeros((2, 3)))) == np.inf
    assert float(jax.jit(metrics.condition_number)(jnp.zeros((2, 3)))) == np.inf


# --- Generated input ----------------------------------------------------------------------------


@FAST
@given(shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=6),
       data=st.data())
def test_nan_or_inf_anywhere_is_named_with_its_count(shape, data):
    arr = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    flat = data.draw(st.lists(st.integers(0, arr.size - 1), min_size=1, max_size=arr.size,
                              unique=True))
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    arr.flat[flat] = bad
    for call in (lambda: check_data(arr), lambda: pca.fit(arr, 1),
                 lambda: pca.covariance(arr)):
        with pytest.raises(ValueError, match=f"{len(flat)} non-finite value"):
            call()
    if shape[1] == 6:
        with pytest.raises(ValueError, match=f"X contains {len(flat)} non-finite"):
            _fit(arr)


@FAST
@given(dtype=st.sampled_from([np.int8, np.uint16, np.int64, np.bool_, np.float16, np.float32,
                              np.complex64, np.str_, np.bytes_, object]))
def test_every_dtype_is_cast_or_refused(dtype):
    arr = (np.arange(12).reshape(4, 3) % 2).astype(dtype)
    if np.dtype(dtype).kind in "iubf":
        out = check_data(arr)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, arr.astype(np.float64))
    else:
        with pytest.raises(TypeError, match="real numbers"):
            check_data(arr)


@FAST
@given(n=st.integers(1, 8), d=st.integers(1, 6), k=st.integers(-1, 8))
def test_pca_k_against_n_and_d(n, d, k):
    X_ = np.random.default_rng(n * 100 + d).normal(size=(n, d))
    if n < 2:
        with pytest.raises(ValueError, match="at least 2 samples"):
            pca.fit(X_, k)
    elif k < 1:
        with pytest.raises(ValueError, match="k must be >= 1"):
            pca.fit(X_, k)
    elif k > d:
        with pytest.raises(ValueError, match="k must be <= d"):
            pca.fit(X_, k)
    elif k > n:
        with pytest.raises(ValueError, match="k must be <= n"):
            pca.fit(X_, k)
    else:
        res = pca.fit(X_, k)
        Xc = X_ - X_.mean(axis=0)
        ev = np.sort(np.clip(np.linalg.eigvalsh(Xc.T @ Xc / n), 0, None))[::-1]
        assert res.optimal_loss == pytest.approx(ev[k:].sum(), abs=1e-10)


def _rank_r(seed: int, k: int, d: int, r: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(k, r)) @ rng.normal(size=(r, d)) if r else np.zeros((k, d))


def _numpy_distance(W: np.ndarray, U: np.ndarray) -> float:
    """1 - tr(P_W P_U) / k from numpy's SVD and matrix_rank."""
    def projector(A):
        r = np.linalg.matrix_rank(A)
        vh = np.linalg.svd(A)[2][:r]
        return vh.T @ vh
    return 1.0 - float(np.trace(projector(W) @ projector(U))) / W.shape[0]


@FEW
@given(k=st.integers(1, 3), extra=st.sampled_from([0, 2]), data=st.data())
def test_metrics_of_any_rank_match_numpy(k, extra, data):
    d = k + extra
    r_w, r_u = data.draw(st.integers(0, k)), data.draw(st.integers(1, k))
    seed = data.draw(st.integers(0, 2**16))
    W, U = _rank_r(seed, k, d, r_w), _rank_r(seed + 1, k, d, r_u)
    expected = _numpy_distance(W, U)
    for fn in (metrics.subspace_distance, jax.jit(metrics.subspace_distance)):
        assert float(fn(jnp.asarray(W), jnp.asarray(U))) == pytest.approx(expected, abs=1e-9)
    angles = np.asarray(jax.jit(metrics.principal_angles)(jnp.asarray(W), jnp.asarray(U)))
    assert np.all(np.diff(angles) >= -1e-12)  # ascending
    assert np.sum(np.isclose(angles, np.pi / 2)) >= k - min(r_w, r_u)
    assert np.mean(np.sin(angles) ** 2) == pytest.approx(expected, abs=1e-9)
    cond = float(metrics.condition_number(jnp.asarray(W)))
    if r_w == 0:
        assert cond == np.inf
    elif r_w < k:  # numerically rank-deficient: s_min is rounding noise
        assert cond > 1e12
    else:
        assert cond == pytest.approx(np.linalg.cond(W), rel=1e-6)


@FEW
@given(k=st.integers(1, 3), extra=st.sampled_from([0, 2]), rank_drop=st.integers(0, 3),
       seed=st.integers(0, 2**16))
def test_decoders_of_any_rank(k, extra, rank_drop, seed):
    d, r = k + extra, max(0, k - rank_drop)
    W = jnp.asarray(_rank_r(seed, k, d, r))
    expected = np.linalg.pinv(np.asarray(W), rtol=max(k, d) * np.finfo(np.float64).eps)
    scale = 1e-8 * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(decoders.pinv(W), expected, rtol=1e-6, atol=scale)
    if r == k:
        np.testing.assert_allclose(decoders.right_inverse(W), expected, rtol=1e-6, atol=scale)
    else:
        with pytest.raises(ValueError, match="rank-deficient"):
            decoders.right_inverse(W)
        assert np.isfinite(decoders.right_inverse(W, eps=1e-3)).all()


@FAST
@given(content=st.binary(min_size=0, max_size=80))
def test_any_bytes_give_an_array_or_a_value_error(content):
    for name, call in (("x.npz", mnist.load), ("x-idx3-ubyte", mnist.load_idx),
                       ("x.gz", mnist.load_idx)):
        path = _file(name, (b"\x1f\x8b" + content) if name.endswith(".gz") else content)
        try:
            out = call(path)
        except ValueError as err:
            assert str(path) in str(err) or "no such" in str(err)
        else:
            assert name == "x-idx3-ubyte" and isinstance(out, np.ndarray)


@FAST
@given(n=st.integers(2, 30), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**31))
def test_one_pair_is_split_into_disjoint_train_and_test(n, fraction, seed):
    images = np.arange(n, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    labels = np.arange(n, dtype=np.uint8)
    path = _npz(x_test=images, y_test=labels)
    n_test = math.ceil(fraction * n)
    if n_test >= n:
        with pytest.raises(ValueError, match="cannot split"):
            mnist.load(path, test_fraction=fraction, seed=seed)
        return
    ds = mnist.load(path, test_fraction=fraction, seed=seed)
    assert (len(ds.x_train), len(ds.x_test)) == (n - n_test, n_test)
    assert sorted(ds.y_train.tolist() + ds.y_test.tolist()) == list(range(n))
    np.testing.assert_allclose(ds.x_test[:, 0, 0] * 255.0, ds.y_test, atol=1e-4)
