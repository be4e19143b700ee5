"""One process of the multi-process covariance run in tests/test_distributed.py.

    python -m tiedae.launch --processes 2 --devices-per-process 2 -- \
        python tests/distributed_moments_worker.py OUT_DIR

Every process writes the same rows to its own `.npy` file and reads its share of them (process
0 the first `SPLIT` rows, process 1 the rest: an uneven split) through a memory map; the
covariance pass (`pca.moments`), `pca.fit_chunks` and `fit` on the `Covariance` source then
see all the rows. Bad rows on one process make every process raise. Writes OUT_DIR/m<rank>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tiedae.training import distributed

distributed.initialize()  # before anything computes

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

import tiedae  # noqa: E402
from tiedae.training import Covariance  # noqa: E402

N, D, K, SPLIT = 301, 6, 2, 140


def problem() -> np.ndarray:
    return tiedae.data.spiked_covariance(N, D, k=K, gap=4.0, seed=2).X * 3.0 + 100.0


def train(rows) -> np.ndarray:
    model = tiedae.LinearAE(D, K, param_dtype=jax.numpy.float64, rngs=nnx.Rngs(0))
    trained, _ = tiedae.fit(model, Covariance(rows, chunk_size=32), optimizer=optax.sgd(1e-3),
                            steps=30, log_every=10)
    return np.asarray(trained.encoder_matrix())


def main(out_dir: Path) -> None:
    rank = jax.process_index()
    path = out_dir / f"x{rank}.npy"
    np.save(path, problem())
    mm = np.load(path, mmap_mode="r")
    mine = mm[:SPLIT] if rank == 0 else mm[SPLIT:]
    m = tiedae.pca.moments(mine, chunk_size=32)
    res = tiedae.pca.fit_chunks(mine, K, chunk_size=32)
    record = {"n": m.n_samples, "mean": m.mean.tolist(), "covariance": m.covariance.tolist(),
              "components": res.components.tolist(), "encoder": train(mine).tolist()}
    bad = np.array(mine)
    if rank == 1:
        bad[3, 2] = np.nan
    try:
        tiedae.pca.moments(bad)
        record["bad"] = None
    except ValueError as err:
        record["bad"] = str(err)
    (out_dir / f"m{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
