"""`tiedae.save` / `tiedae.load`: every model round-trips bit for bit (every variable, the
`DataMean` included), writes are atomic, and bad files get a clear error."""

import json
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import tiedae
from tiedae.nonlinear.sequential import Conv, Dense, Flatten, MaxPool, Reshape, UpSample


def _filled(model, seed=0):
    """`model` with every variable set to random values (a trained-looking model, mean set)."""
    rng = np.random.default_rng(seed)
    flat = list(nnx.to_flat_state(nnx.state(model)))
    new = [(k, v.replace(jnp.asarray(rng.standard_normal(v.get_value().shape),
                                     v.get_value().dtype))) for k, v in flat]
    nnx.update(model, nnx.from_flat_state(new))
    return model


def _linear(dtype, decoder, use_bias):
    return tiedae.LinearAE(6, 2, decoder=decoder, use_bias=use_bias, param_dtype=dtype,
                           decoder_eps=0.5 if decoder == "right_inverse" else 0.0,
                           rngs=nnx.Rngs(0))


MODELS = {
    "mlp-tied": lambda dt: tiedae.MLPAE(12, (6, 3), decoder="tied", activation="tanh",
                                        param_dtype=dt, rngs=nnx.Rngs(0)),
    "mlp-mirror-x2": lambda dt: tiedae.MLPAE(12, (6, 3), decoder_width_multiplier=1.5,
                                             output_activation="sigmoid", param_dtype=dt,
                                             rngs=nnx.Rngs(0)),
    "mlp-shallow-no-bias": lambda dt: tiedae.MLPAE(12, (3,), code_activation="sigmoid",
                                                   decoder="tied", use_bias=False,
                                                   param_dtype=dt, rngs=nnx.Rngs(0)),
    "mlp-widths": lambda dt: tiedae.MLPAE(12, (6, 3), decoder=(5, 7), param_dtype=dt,
                                          rngs=nnx.Rngs(0)),
    "conv-tied": lambda dt: tiedae.ConvAE((8, 8, 1), (2, 3), decoder="tied", param_dtype=dt,
                                          rngs=nnx.Rngs(0)),
    "conv-upsample": lambda dt: tiedae.ConvAE((8, 8, 2), (3,), decoder="upsample_conv",
                                              activation="elu", param_dtype=dt,
                                              rngs=nnx.Rngs(0)),
    "sequential": lambda dt: tiedae.nonlinear.SequentialAE(
        (8, 8, 1), [Conv(2, 3), MaxPool(2), Flatten(), Dense(4, activation="linear")],
        [Dense(32), Reshape((4, 4, 2)), UpSample(2), Conv(1, 3, activation="clipped_relu")],
        param_dtype=dt, rngs=nnx.Rngs(0)),
}


def _inputs(model, dtype):
    if isinstance(model, tiedae.LinearAE):
        return (jnp.asarray(np.random.default_rng(1).standard_normal((5, 6)), dtype),)
    if isinstance(model, tiedae.MLPAE):
        return (jnp.asarray(np.random.default_rng(1).standard_normal((5, 12)), dtype),)
    shape = getattr(model, "image_shape", None) or model.input_shape
    return (jnp.asarray(np.random.default_rng(1).standard_normal((2, *shape)), dtype),)


def _round_trip(model, tmp_path, dtype):
    model = _filled(model)
    path = tmp_path / "model.npz"
    tiedae.save(model, path)
    restored = tiedae.load(path)
    assert type(restored) is type(model)
    saved = nnx.to_flat_state(nnx.state(model))
    back = nnx.to_flat_state(nnx.state(restored))
    assert [k for k, _ in saved] == [k for k, _ in back]
    for (_, a), (_, b) in zip(saved, back, strict=True):
        assert type(a) is type(b)
        assert a.get_value().dtype == b.get_value().dtype
        np.testing.assert_array_equal(np.asarray(a.get_value()), np.asarray(b.get_value()))
    args = _inputs(model, dtype)
    np.testing.assert_array_equal(np.asarray(restored(*args)), np.asarray(model(*args)))
    return restored


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("decoder", tiedae.linear.LINEAR_DECODERS)
@pytest.mark.parametrize("use_bias", [False, True])
def test_linear_ae_round_trips_bitwise_with_its_mean(tmp_path, dtype, decoder, use_bias):
    model = _linear(dtype, decoder, use_bias)
    restored = _round_trip(model, tmp_path, dtype)
    assert restored.decoder == decoder and restored.use_bias == use_bias
    assert restored.decoder_eps == model.decoder_eps
    assert bool(jnp.any(restored.mean[...] != 0))  # the DataMean came back


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_nonlinear_models_round_trip_bitwise(tmp_path, dtype, name):
    model = MODELS[name](dtype)
    restored = _round_trip(model, tmp_path, dtype)
    if name == "mlp-tied":  # still one parameter per tied pair
        assert len(restored.decoder_weights) == 0
        assert restored.decoder_kind == "tied"
    if name == "mlp-mirror-x2":
        assert restored.decoder_width_multiplier == 1.5
        assert restored.decoder_widths == model.decoder_widths
    if name == "mlp-shallow-no-bias":  # the code's sigmoid and the absent biases come back
        assert not restored.use_bias and len(restored.decoder_biases) == 0
        assert restored.code_activation is jax.nn.sigmoid


@pytest.mark.parametrize("decoder", ["inner_product", "mlp", "mirrored_gcn"])
def test_graph_ae_round_trips_bitwise(tmp_path, decoder):
    model = _filled(tiedae.GraphAE(6, hidden=4, code_dim=2, decoder=decoder, mlp_hidden=(5, 3),
                                   decoder_propagation="smoothing", rngs=nnx.Rngs(0)))
    tiedae.save(model, tmp_path / "g.npz")
    restored = tiedae.load(tmp_path / "g.npz")
    a = jnp.asarray(np.eye(6) + np.eye(6, k=1) + np.eye(6, k=-1), jnp.float32) / 3
    np.testing.assert_array_equal(np.asarray(restored(a, a)), np.asarray(model(a, a)))
    assert restored.decoder_propagation == "smoothing"


def test_save_refuses_other_modules_and_own_activations(tmp_path):
    with pytest.raises(TypeError, match=r"nnx\.state\(model\)"):
        tiedae.save(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), tmp_path / "m.npz")
    own = tiedae.MLPAE(4, (2,), activation=lambda x: x * 2, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="activation is a function of your own"):
        tiedae.save(own, tmp_path / "m.npz")
    assert not os.listdir(tmp_path)  # nothing half-written


def test_save_replaces_a_model_file_but_never_another_file(tmp_path):
    model = tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0))
    path = tmp_path / "m.npz"
    tiedae.save(model, path)
    tiedae.save(_filled(model, 3), path)  # re-saving over one's own model file is fine
    np.testing.assert_array_equal(np.asarray(tiedae.load(path).W[...]), np.asarray(model.W[...]))
    data = tmp_path / "data.npz"
    np.savez(data, X=np.ones(3))
    with pytest.raises(FileExistsError, match="not a tiedae model file"):
        tiedae.save(model, data)
    assert np.load(data)["X"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["data.npz", "m.npz"]  # no temporary left


def test_an_interrupted_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model = _filled(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)))
    path = tmp_path / "m.npz"
    tiedae.save(model, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)  # interrupted after writing, before the rename
    with pytest.raises(KeyboardInterrupt):
        tiedae.save(_filled(model, 5), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def _rewrite_meta(src, dst, change):
    with np.load(src, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["__tiedae__"].tobytes())
    change(meta)
    arrays["__tiedae__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(dst, **arrays)


def test_load_explains_bad_files(tmp_path):
    good = tmp_path / "good.npz"
    tiedae.save(_filled(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0))), good)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a tiedae model file"):
        tiedae.load(text)
    single = tmp_path / "a.npy"
    np.save(single, np.ones(3))
    with pytest.raises(ValueError, match="single array"):
        tiedae.load(single)
    plain = tmp_path / "plain.npz"
    np.savez(plain, W=np.ones(3))
    with pytest.raises(ValueError, match="without it"):
        tiedae.load(plain)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        tiedae.load(truncated)
    flipped = bytearray(good.read_bytes())
    flipped[flipped.find(b"v0.npy") + 150] ^= 1  # one bit of the first array's data
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        tiedae.load(tmp_path / "flipped.npz")
    newer = tmp_path / "newer.npz"
    _rewrite_meta(good, newer, lambda m: m.update(version=99))
    with pytest.raises(ValueError, match="newer tiedae"):
        tiedae.load(newer)
    unknown = tmp_path / "unknown.npz"
    _rewrite_meta(good, unknown, lambda m: m.update({"class": "os.system"}))
    with pytest.raises(ValueError, match="unknown class 'os.system'"):
        tiedae.load(unknown)
    mismatch = tmp_path / "mismatch.npz"
    _rewrite_meta(good, mismatch, lambda m: m["config"].update(d=5))
    with pytest.raises(ValueError, match="does not fit"):
        tiedae.load(mismatch)
    seq = tmp_path / "seq.npz"
    tiedae.save(MODELS["sequential"](jnp.float32), seq)
    odd = tmp_path / "odd.npz"
    _rewrite_meta(seq, odd, lambda m: m["config"]["encoder"][0].update(evil=1))
    with pytest.raises(ValueError, match="do not build a model"):
        tiedae.load(odd)
    with pytest.raises(FileNotFoundError):
        tiedae.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tiedae.save(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)), tmp_path / "no" / "m.npz")


def test_load_reads_no_pickle(tmp_path):
    path = tmp_path / "m.npz"
    tiedae.save(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)), path)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():  # every member is a plain .npy array, no object dtype
            header = archive.read(name)[:128]
            assert header.startswith(b"\x93NUMPY") and b"'O'" not in header


def test_float64_files_ask_for_x64(tmp_path):
    path = tmp_path / "m.npz"
    tiedae.save(tiedae.LinearAE(4, 2, param_dtype=jnp.float64, rngs=nnx.Rngs(0)), path)
    with jax.enable_x64(False), pytest.raises(ValueError, match="jax_enable_x64"):
        tiedae.load(path)


def test_paths_as_str_bytes_pathlib_or_with_a_tilde_name_the_same_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = _filled(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)))
    tiedae.save(model, "~/model")  # the name exactly as given: no suffix added
    assert sorted(os.listdir(tmp_path)) == ["model"]
    for path in ("~/model", str(tmp_path / "model"), tmp_path / "model",
                 os.fsencode(tmp_path / "model")):
        assert np.array_equal(tiedae.load(path).W[...], model.W[...])
    tiedae.save(model, os.fsencode(tmp_path / "b.npz"))
    assert (tmp_path / "b.npz").is_file()


@pytest.mark.parametrize("path, error, pattern", [
    ("", ValueError, "tiedae.save's path is empty"),
    (3, TypeError, r"tiedae.save's path must be a file name .*got 3"),
    (None, TypeError, "tiedae.save's path must be a file name"),
])
def test_bad_paths_are_named(tmp_path, monkeypatch, path, error, pattern):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(error, match=pattern):
        tiedae.save(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)), path)
    assert os.listdir(tmp_path) == ["sub"]  # no temporary file left in the parent
    with pytest.raises(error, match=pattern.replace("save", "load")):
        tiedae.load(path)


def test_load_of_a_fit_checkpoint_says_how_to_get_its_model(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 4)) + 1.0
    tiedae.fit(tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0)), X, steps=2, log_every=1,
               checkpoint=tiedae.training.Checkpoint(tmp_path, every=2))
    with pytest.raises(ValueError, match="is a checkpoint of tiedae.fit, not a model file.*"
                                         "resume=True"):
        tiedae.load(tmp_path / "checkpoint-000000002.npz")


def test_save_of_the_estimator_says_to_pickle_it(tmp_path):
    estimator = tiedae.estimator.LinearAutoencoder(2)
    with pytest.raises(TypeError, match="LinearAutoencoder is a scikit-learn estimator: save it "
                                        "with pickle.dump or joblib.dump"):
        tiedae.save(estimator, tmp_path / "est.npz")


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_models_round_trip_bitwise(tmp_path, dtype):
    # numpy writes bfloat16 (an ml_dtypes type) as raw bytes, |V2: load gave "corrupt"
    model = _filled(tiedae.MLPAE(6, (3,), param_dtype=dtype, rngs=nnx.Rngs(0)))
    tiedae.save(model, tmp_path / "half.npz")
    restored = tiedae.load(tmp_path / "half.npz")
    for (key, a), (_, b) in zip(_flat_values(model), _flat_values(restored), strict=True):
        assert b.dtype == dtype and np.array_equal(np.asarray(a, np.float32),
                                                   np.asarray(b, np.float32)), key


def _flat_values(model):
    return [(k, v.get_value()) for k, v in nnx.to_flat_state(nnx.state(model))]


def test_load_of_a_text_file_does_not_talk_of_pickles(tmp_path):
    (tmp_path / "notes.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a tiedae model file.*not an .npz .zip. archive") \
            as info:
        tiedae.load(tmp_path / "notes.npz")
    assert "pickle" not in str(info.value)


def test_save_inside_jit_is_named(tmp_path):
    model = tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="traced LinearAE .called inside jit"):
        nnx.jit(lambda m: tiedae.save(m, tmp_path / "m.npz"))(model)
    assert not list(tmp_path.iterdir())
