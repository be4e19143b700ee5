r"""The nets of the `conv-decoders` suite (post 003): the posts' two CAEs and `tiedae.ConvAE`.

Post 003's two convolutional autoencoders, built as the posts build them with
`tiedae.nonlinear.sequential.SequentialAE`:

* ``keras_cae`` (the Keras blog): Conv 16/8/8 (3 x 3, ReLU) each followed by 2 x 2
  max-pooling; decoder Conv 8 + UpSample, Conv 8 + UpSample, *unpadded* Conv 16 + UpSample,
  Conv 1 (sigmoid) — 28 -> 4 x 4 x 8 -> 28. ``keras_cae_squared`` is the same net (the suite
  trains it on the squared error instead of the blog's binary cross-entropy);
* ``matlab_cae`` (MATLAB's image-to-image example): Conv 8/16/32 (3 x 3, ReLU) + max-pooling;
  decoder three 2 x 2 stride-2 transposed convolutions 32/16/8 (ReLU), a 1 x 1 convolution and
  a clipped ReLU. Its three poolings need a side divisible by 8: 28 x 28 images are zero-padded
  to 32 x 32 (centred) first and the output cropped back to 28 x 28 (`Pad`, `Crop`).

On the 8 x 8 digits the Keras net runs on the digits zero-padded to 28 x 28 and cropped back;
the MATLAB net needs no padding (8 -> 1 x 1 x 32).

Every other model id is ``"<decoder>-k<kernel>"``: `tiedae.ConvAE` (two stride-s
convolutions with the config's `channels`) with that decoder of
`tiedae.nonlinear.conv.CONV_DECODERS` and kernel size.

Example:
  >>> from flax import nnx
  >>> from tiedae.bench.suites import conv_models
  >>> net = conv_models.post_003_model("matlab_cae", (28, 28, 1), nnx.Rngs(0))
  >>> net.code_shape
  (4, 4, 32)
  >>> conv_models.parse("tied-k3"), conv_models.parse("keras_cae")
  (('tied', 3), ('keras_cae', None))
"""

from __future__ import annotations

from flax import nnx

from tiedae import ConvAE
from tiedae.nonlinear.sequential import (
    Conv,
    ConvTranspose,
    Crop,
    MaxPool,
    Pad,
    SequentialAE,
    UpSample,
)

__all__ = ["POST_MODELS", "build", "parse", "post_003_model"]

POST_MODELS = ("keras_cae", "keras_cae_squared", "matlab_cae")


def post_003_model(name: str, shape: tuple, rngs: nnx.Rngs) -> SequentialAE:
    """Post 003's Keras or MATLAB CAE on images of `shape` (padded and cropped as needed);
    ``keras_cae_squared`` is the Keras net too (it differs in its loss only).

    Raises:
      ValueError: an unknown name.
    """
    h, w, c = shape
    if name in ("keras_cae", "keras_cae_squared"):
        pad, crop = ([Pad(28, 28)], [Crop(h, w)]) if (h, w) != (28, 28) else ([], [])
        enc = [*pad, Conv(16, 3), MaxPool(2), Conv(8, 3), MaxPool(2), Conv(8, 3), MaxPool(2)]
        dec = [Conv(8, 3), UpSample(2), Conv(8, 3), UpSample(2), Conv(16, 3, padding="valid"),
               UpSample(2), Conv(c, 3, activation="sigmoid"), *crop]
    elif name == "matlab_cae":
        ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
        pad, crop = ([Pad(ph, pw)], [Crop(h, w)]) if (ph, pw) != (h, w) else ([], [])
        enc = [*pad, Conv(8, 3), MaxPool(2), Conv(16, 3), MaxPool(2), Conv(32, 3), MaxPool(2)]
        dec = [ConvTranspose(32, 2, 2), ConvTranspose(16, 2, 2), ConvTranspose(8, 2, 2),
               Conv(c, 1, activation="clipped_relu"), *crop]
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {POST_MODELS}")
    return SequentialAE(shape, enc, dec, rngs=rngs)


def parse(model: str) -> tuple[str, int | None]:
    """(decoder or post model name, kernel size or None) of a model id."""
    base, _, k = model.partition("-k")
    return base, (int(k) if k else None)


def build(config: dict, shape: tuple) -> nnx.Module:
    """The untrained model of a run: its `model` (a post 003 net, or ConvAE with `decoder`,
    `kernel_size`, `channels` and `stride`), initialised from its `seed`."""
    rngs = nnx.Rngs(config["seed"])
    if config.get("decoder") is None:
        return post_003_model(config["model"], shape, rngs)
    return ConvAE(shape, tuple(config["channels"]), kernel_size=config["kernel_size"],
                  stride=config["stride"], decoder=config["decoder"], rngs=rngs)
