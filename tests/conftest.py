"""Strict JAX for every test: float64 available, no implicit rank promotion, full-precision
matmuls, 4 fake CPU devices.

The settings must be applied before any computation, so they live here at import time.
`python -m tiedae.bench` keeps compiled programs in the user's cache folder; in tests (and the
processes they start, which inherit the environment) it uses a temporary folder instead.
"""

import os

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


@pytest.fixture(autouse=True, scope="session")
def _bench_cache_in_a_temporary_folder(tmp_path_factory):
    """`tiedae.bench.compile_cache.user_cache_dir()` is `$JAX_COMPILATION_CACHE_DIR` when set:
    a folder of this session, never the user's ~/.cache (JAX itself read the variable when it
    was imported above, so this process's own compilations are not affected)."""
    old = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
    yield
    if old is None:
        del os.environ["JAX_COMPILATION_CACHE_DIR"]
    else:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = old
