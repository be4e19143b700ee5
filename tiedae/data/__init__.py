"""Data, offline only: nothing here downloads.

* `synthetic`: Gaussian data with a known population spectrum (`spiked_covariance`,
  `linear_spectrum`).
* `images`: scikit-learn's bundled 8x8 digits.
* `mnist`: MNIST-format files a user has (IDX, gzipped or not, or `.npz`); never unpickles.
* `graphs`: stochastic block models, the karate club, edge splits for link prediction.
* `chunks`: rows read chunk by chunk (arrays, memory maps, `.npy` files, iterators), checked,
  without holding X or the file's pages in memory.
* `moments`: the streaming mean and covariance of rows (`moments`, `CovarianceAccumulator`), the
  one pass under `tiedae.pca.fit_chunks`, the training sources and `LinearAutoencoder`.
"""

from tiedae.data import chunks, graphs, images, mnist, moments, synthetic
from tiedae.data.images import digits
from tiedae.data.synthetic import SpikedData, linear_spectrum, spiked_covariance

__all__ = [
    "SpikedData",
    "chunks",
    "digits",
    "graphs",
    "images",
    "linear_spectrum",
    "mnist",
    "moments",
    "spiked_covariance",
    "synthetic",
]
