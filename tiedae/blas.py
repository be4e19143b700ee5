"""BLAS thread pools on the CPU: a scoped limit that keeps LAPACK's idle threads off XLA's cores."""

from __future__ import annotations

import contextlib
import functools

import jax

__all__ = ["blas_threads", "limit_blas_threads"]


@functools.cache
def _threadpool_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it the pools are left as they are
        return None
    import scipy.linalg  # noqa: F401  (load the LAPACK that XLA's CPU solvers call into)

    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(limit: int | None = 1):
    """Limits the BLAS/LAPACK thread pools of the process to `limit` threads inside the block.

    On CPU, XLA runs matrix products on its own threads, while its linear-algebra calls
    (Cholesky, triangular solves, SVD: the `pinv` and `right_inverse` decoders) go to the
    OpenBLAS that numpy and scipy load. After each call OpenBLAS's idle workers keep spinning
    for a while and take cores from XLA's products; with one BLAS thread they do not. `python
    benchmarks/step_throughput.py` and the `step-cost` suite time the steps both ways. numpy's
    own matmuls are slower with one thread, which is why the limit is scoped to a block rather
    than set through an environment variable. A no-op when `limit` is None, when JAX does not
    run on the CPU, or when `threadpoolctl` is not installed.

    Example:
      >>> from tiedae.blas import blas_threads
      >>> with blas_threads(1):
      ...     pass
    """
    if jax.default_backend() != "cpu":
        yield
        return
    with limit_blas_threads(limit):
        yield


@contextlib.contextmanager
def limit_blas_threads(limit: int | None = 1):
    """Limits the BLAS/LAPACK pools to `limit` threads inside the block, whatever JAX runs on
    (for numpy and scipy work, e.g. timing numpy's matmul with one thread). A no-op when
    `limit` is None or `threadpoolctl` is not installed.

    Example:
      >>> import numpy as np
      >>> from tiedae.blas import limit_blas_threads
      >>> with limit_blas_threads(1):
      ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    controller = _threadpool_controller()
    if limit is None or controller is None:
        yield
        return
    with controller.limit(limits=int(limit), user_api="blas"):
        yield
