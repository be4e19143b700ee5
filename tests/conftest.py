"""Strict JAX for every test: float64 available, no implicit rank promotion, 4 fake CPU devices.

The settings must be applied before any computation, so they live here at import time.
"""

import jax
import numpy as np
import pytest

jax.config.update("jax_num_cpu_devices", 4)
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "standard")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
