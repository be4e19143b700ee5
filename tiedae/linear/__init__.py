"""The linear theory: tied decoders, the `LinearAE` model, PCA (the analytic optimum), the
geometry of an encoder, and the algorithms compared with plain gradient descent.

* `decoders`: W^T, W^+ and the right inverse as functions of the encoder W.
* `model`: `LinearAE`, `DataMean` and `CenteringWarning`.
* `closed_form`: the reconstruction error with its gradient from two n-sized products.
* `pca`: float64 PCA, the covariance in row chunks, the least-squares decoder.
* `subspace`: top-k PCA without the d x d covariance (subspace iteration over passes through
  the rows, with a certificate of its answer).
* `metrics`: orthonormality, principal angles, subspace distance, condition number, alignment.
* `algorithms`: Oja's rule, the tied gradient direction, Bao et al.'s RAG and metrics.
"""

from tiedae.linear import algorithms, closed_form, decoders, metrics, pca, subspace
from tiedae.linear.model import LINEAR_DECODERS, CenteringWarning, DataMean, LinearAE

__all__ = ["LINEAR_DECODERS", "CenteringWarning", "DataMean", "LinearAE", "algorithms",
           "closed_form", "decoders", "metrics", "pca", "subspace"]
