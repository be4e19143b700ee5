"""One process of the multi-process run in tests/test_distributed.py.

    python -m tiedae.launch --processes 2 --devices-per-process 2 -- \
        python tests/distributed_worker.py OUT_DIR

Each process trains on its own rows of `problem()` (rows split in process order) over a mesh of
all processes' devices, then feeds `fit` bad inputs and records the errors; it writes what it
saw to OUT_DIR/p<rank>.json.
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

N, D, K = 96, 8, 2
RUNS = {  # name: (fit keyword arguments) - the same in the single-process reference
    "full": {"optimizer": "sgd", "steps": 40, "log_every": 10},
    "minibatches": {"optimizer": "adam", "steps": 60, "log_every": 20, "batch_size": 16,
                    "seed": 3},
}


def problem() -> np.ndarray:
    # Not centred (mean 3): the DataMean must be the global mean for the runs to agree.
    return tiedae.data.spiked_covariance(N, D, k=K, gap=4.0, seed=1).X + 3.0


def model(seed: int = 0) -> tiedae.LinearAE:
    return tiedae.LinearAE(D, K, param_dtype=jax.numpy.float64, rngs=nnx.Rngs(seed))


def train(rows, name: str, devices, reference, eval_rows):
    kw = dict(RUNS[name])
    kw["optimizer"] = {"sgd": optax.sgd(0.05), "adam": optax.adam(1e-2)}[kw["optimizer"]]
    steps_seen = []
    trained, hist = tiedae.fit(model(), rows, devices=devices, reference=reference,
                               eval_data=eval_rows, callback=lambda t, m: steps_seen.append(t),
                               **kw)
    return {"encoder": np.asarray(trained.encoder_matrix()).tolist(),
            "mean": np.asarray(trained.mean[...]).tolist(),
            "history": {k: v.tolist() for k, v in hist.items() if k != "wall_time"},
            "callback_steps": steps_seen}


def error_of(fn) -> str:
    try:
        fn()
    except (ValueError, TypeError) as err:
        return f"{type(err).__name__}: {err}"
    return "no error"


def main(out: Path) -> None:
    rank, count = jax.process_index(), jax.process_count()
    X = problem()
    mine = np.array_split(X, count)[rank]
    reference, eval_rows = tiedae.pca.fit(X, K), X[:12]
    record = {"rank": rank, "processes": count, "devices": len(jax.devices()),
              "local_devices": len(jax.local_devices())}
    for name in RUNS:
        record[name] = train(mine, name, "all", reference, eval_rows)

    def fit(rows, init=0, **kw):
        return tiedae.fit(model(init), rows, devices="all", steps=2, **kw)

    uneven = X[:50] if rank == 0 else X[50:]
    odd = X[:47] if rank == 0 else X[48:95]
    narrow = mine if rank == 0 else mine[:, :-1]
    nan = mine.copy()
    if rank == 1:
        nan[3, 2] = np.nan
    record["errors"] = {
        "uneven_rows": error_of(lambda: fit(uneven)),
        "indivisible_rows": error_of(lambda: fit(odd)),
        "row_shapes": error_of(lambda: fit(narrow)),
        "nan_on_one_process": error_of(lambda: fit(nan)),
        "seeds": error_of(lambda: fit(mine, batch_size=16, seed=rank)),
        "initial_parameters": error_of(lambda: fit(mine, init=rank)),
        "eval_data": error_of(lambda: fit(mine, eval_data=X[rank: rank + 4])),
        "other_process_devices": error_of(lambda: tiedae.fit(
            model(), mine, steps=2, devices=jax.devices()[:1])),  # process 0 trains alone
    }
    record["after_errors"] = train(mine, "full", "all", reference, eval_rows)["encoder"]
    (out / f"p{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
