"""Strict JAX for every test: float64 available, no implicit rank promotion, full-precision
matmuls, 4 fake CPU devices.

The settings must be applied before any computation, so they live here at import time.
"""

import jax
import numpy as np
import pytest

jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "standard")
# Full float32 matmuls on every backend: GPUs default to TF32 (about three digits), which the
# float32 tolerances of the tests (and the theory they check) do not allow.
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
