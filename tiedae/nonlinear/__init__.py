"""Nonlinear autoencoders (models only; they train through `tiedae.fit`).

* `mlp`: `MLPAE`, a deep MLP autoencoder with a mirrored, tied, linear or resized decoder.
* `conv`: `ConvAE`, strided convolutions with a transposed-conv, upsample+conv, bilinear+conv
  or tied decoder, and the checkerboard measure.
* `graph`: `GraphAE`, a GCN encoder with the inner-product or an MLP adjacency decoder, its
  loss and link prediction.
* `sequential`: `SequentialAE`, an autoencoder from layer specs (Keras / MATLAB style: conv,
  max-pool, upsampling, transposed conv, dense), for the posts' own architectures.
* `layers`: activations, initialisers and parameter counts they share.
"""

from tiedae._submodules import lazy_submodules as _lazy_submodules
from tiedae.nonlinear import conv, graph, layers, mlp, sequential
from tiedae.nonlinear.conv import ConvAE
from tiedae.nonlinear.graph import GraphAE
from tiedae.nonlinear.mlp import MLPAE
from tiedae.nonlinear.sequential import SequentialAE

__all__ = ["ConvAE", "GraphAE", "MLPAE", "SequentialAE", "conv", "graph", "layers", "mlp",
           "sequential"]

__getattr__ = _lazy_submodules(__name__)  # e.g. `link_prediction`, imported on first use
