"""Strict JAX for every test: float64 available, no implicit rank promotion, full-precision
matmuls, 4 fake CPU devices.

The settings must be applied before any computation, so they live here at import time.
Compiled programs are shared across tests through JAX's persistent compilation cache in a
folder of this session (deleted at exit): a test whose program another test already compiled
loads it instead of compiling it again (tracing still runs; results are those of the same XLA
executable). `python -m tiedae.bench`, in-process or in a child process (which inherits the
environment), uses that folder too, never the user's ~/.cache.
"""

import atexit
import os
import shutil
import tempfile

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

XLA_CACHE = tempfile.mkdtemp(prefix="tiedae-tests-xla-")
atexit.register(shutil.rmtree, XLA_CACHE, True)
jax.config.update("jax_compilation_cache_dir", XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
# read by tiedae.bench.compile_cache.user_cache_dir() and by the JAX of child processes
os.environ["JAX_COMPILATION_CACHE_DIR"] = XLA_CACHE


@pytest.fixture
def rng():
    return np.random.default_rng(0)

