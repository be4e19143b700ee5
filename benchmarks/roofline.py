"""The training step against the device's own matmul rate: closed form, autodiff, PyTorch.

At n=65536, d=4096, k=256 (float32) by default, one full-batch SGD step of a tied (transpose)
linear autoencoder, timed on the default JAX device (an NVIDIA GPU when there is one) as:

* `jax_closed_form`: the step `tiedae.fit` runs (`tiedae.training.make_train_step`, closed-form
  gradient of `tiedae.linear.closed_form`; nominal 4 n d k FLOPs: two (n, d) x (d, k)-sized
  products);
* `jax_autodiff`: the same step with autodiff through the reconstruction
  (`autodiff_reconstruction_error`; nominal 10 n d k FLOPs: two products forward, three
  backward);
* `torch_eager`: PyTorch, the autodiff step as the `peers` suite writes it (loss.backward(),
  torch.optim.SGD), on the same data (shared through DLPack) and device;
* `torch_closed_form_eager`: PyTorch eager with the closed-form gradient written out (4 n d k);
* `torch_compile`: `torch_eager`'s loss under `torch.compile` (tried when CUDA is available, or
  with `--torch-compile on`; its error is recorded when it fails).

Each step's rate (its nominal FLOPs / its time) is reported as a fraction of the matmul rate of
the same framework on the step's two product shapes, (n, d) @ (d, k) and (k, n) @ (n, d),
measured in the same run at the same precision (1 = the step runs as fast as its products
would back to back). Every call is synchronised (`block_until_ready`, `torch.cuda.synchronize`)
and all functions are timed interleaved, round by round, best round of each. On a GPU both
float32 modes are measured: `float32` (full float32 products: JAX's matmul precision "float32",
PyTorch's "highest") and `tensorfloat32` (TF32 tensor cores: JAX's "tensorfloat32", PyTorch's
"high"); the bfloat16 matmul rate of the same product is reported as a reference.

    python benchmarks/roofline.py [--n 65536 --d 4096 --k 256] [--repeats 5]
                                  [--torch-compile auto|on|off] [--out FILE.json]
    python benchmarks/roofline.py --n 4096 --d 256 --k 32   # a quick check on the CPU
"""

from __future__ import annotations

import os

# JAX must not take most of the GPU's memory up front: PyTorch shares the device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _output import write_json

from tiedae.bench.suites.step_cost import best_times, nominal_flops, step_function  # noqa: E402

JAX_PRECISION = {"float32": "float32", "tensorfloat32": "tensorfloat32"}
TORCH_PRECISION = {"float32": "highest", "tensorfloat32": "high"}
LEARNING_RATE = 1e-4


def _in_precision(fn, precision: str):
    def run():
        with jax.default_matmul_precision(JAX_PRECISION[precision]):
            return fn()

    return run


def _jax_functions(X, k: int, precision: str, on_cpu: bool) -> dict:
    n, d = X.shape
    W = jax.random.normal(jax.random.key(1), (k, d), X.dtype) / d**0.5
    limit = 1 if on_cpu else None  # as tiedae.fit runs it (no-op off the CPU)
    forward = jax.jit(lambda W, X: X @ W.T)
    back = jax.jit(lambda Z, X: Z.T @ X)
    with jax.default_matmul_precision(JAX_PRECISION[precision]):
        Z = jax.block_until_ready(forward(W, X))
    fns = {
        "jax_closed_form": step_function("transpose", X, k, blas_limit=limit),
        "jax_autodiff": step_function("transpose", X, k, mode="autodiff", blas_limit=limit),
        "jax_matmul_forward": lambda: forward(W, X).block_until_ready(),
        "jax_matmul_transposed": lambda: back(Z, X).block_until_ready(),
    }
    return {f"{name}@{precision}": _in_precision(fn, precision) for name, fn in fns.items()}


def _torch_functions(torch, Xt, k: int, precision: str, compiled, sync) -> dict:
    n, d = Xt.shape
    gen = torch.Generator(device=Xt.device).manual_seed(0)
    W0 = torch.randn(k, d, device=Xt.device, generator=gen) / d**0.5

    def eager_loss(W, X):
        return ((X - (X @ W.T) @ W) ** 2).sum(1).mean()

    def autodiff_step(loss_fn):
        W = W0.clone().requires_grad_()
        opt = torch.optim.SGD([W], lr=LEARNING_RATE)

        def step():
            opt.zero_grad()
            loss = loss_fn(W, Xt)
            loss.backward()
            opt.step()
            sync()

        return step

    W_cf = W0.clone()

    @torch.no_grad()
    def closed_form_step():
        Z = Xt @ W_cf.T
        A = Z.T @ Xt
        G = A @ W_cf.T
        G = 0.5 * (G + G.T)
        loss = ((Xt * Xt).sum() - 2 * torch.trace(G) + torch.sum(G * (W_cf @ W_cf.T))) / n
        grad = (2.0 / n) * (G @ W_cf - 2.0 * A + (W_cf @ W_cf.T) @ A)
        W_cf.sub_(LEARNING_RATE * grad)
        sync()
        return loss

    Z = Xt @ W0.T
    fns = {
        "torch_eager": autodiff_step(eager_loss),
        "torch_closed_form_eager": closed_form_step,
        "torch_matmul_forward": lambda: (Xt @ W0.T, sync()),
        "torch_matmul_transposed": lambda: (Z.T @ Xt, sync()),
    }
    if compiled is not None:
        fns["torch_compile"] = autodiff_step(compiled)

    def in_precision(fn):
        def run():
            torch.set_float32_matmul_precision(TORCH_PRECISION[precision])
            return fn()

        return run

    return {f"{name}@{precision}": in_precision(fn) for name, fn in fns.items()}


def _try_torch_compile(torch, Xt, k: int, sync) -> tuple:
    """(compiled loss or None, {"ok", "error", "compile_seconds"})."""
    def eager_loss(W, X):
        return ((X - (X @ W.T) @ W) ** 2).sum(1).mean()

    t0 = time.perf_counter()
    try:
        compiled = torch.compile(eager_loss)
        W = (torch.randn(k, Xt.shape[1], device=Xt.device) / Xt.shape[1] ** 0.5)
        W.requires_grad_()
        compiled(W, Xt).backward()
        sync()
    except Exception as err:  # no compiler, no triton, ...: record why and go on
        return None, {"ok": False, "error": f"{type(err).__name__}: {str(err)[:300]}",
                      "compile_seconds": time.perf_counter() - t0}
    return compiled, {"ok": True, "error": None, "compile_seconds": time.perf_counter() - t0}


def _summarise(times: dict, n: int, d: int, k: int, precision: str) -> dict:
    t = {name.split("@")[0]: s for name, s in times.items() if name.endswith(f"@{precision}")}
    product_flops = 2.0 * n * d * k
    rates = {fw: 2 * product_flops / (t[f"{fw}_matmul_forward"] + t[f"{fw}_matmul_transposed"])
             / 1e9 for fw in ("jax", "torch") if f"{fw}_matmul_forward" in t}
    flops = {"jax_closed_form": nominal_flops("transpose", n, d, k),
             "jax_autodiff": nominal_flops("transpose", n, d, k, mode="autodiff"),
             "torch_eager": nominal_flops("transpose", n, d, k, mode="autodiff"),
             "torch_closed_form_eager": nominal_flops("transpose", n, d, k),
             "torch_compile": nominal_flops("transpose", n, d, k, mode="autodiff")}
    steps = {}
    for name, f in flops.items():
        if name not in t:
            continue
        gflops = f / t[name] / 1e9
        steps[name] = {"ms": 1e3 * t[name], "nominal_flops": f, "gflops": gflops,
                       "of_matmul_rate": gflops / rates[name.split("_")[0]]}
    out = {"matmul_gflops": rates, "steps": steps,
           "closed_form_speedup": t["jax_autodiff"] / t["jax_closed_form"]}
    for name in ("torch_eager", "torch_closed_form_eager", "torch_compile"):
        if name in t:
            out[f"{name}_over_jax_closed_form"] = t[name] / t["jax_closed_form"]
    return out


def measure(n: int, d: int, k: int, repeats: int, torch_compile: str = "auto",
            min_time: float = 0.05) -> dict:
    start = time.perf_counter()
    device = jax.devices()[0]
    on_cpu = device.platform == "cpu"
    X = jax.block_until_ready(jax.random.normal(jax.random.key(0), (n, d), jnp.float32))
    precisions = ["float32"] if on_cpu else ["float32", "tensorfloat32"]
    fns: dict = {}
    for p in precisions:
        fns.update(_jax_functions(X, k, p, on_cpu))
    Xb = X.astype(jnp.bfloat16)
    Wb = (jax.random.normal(jax.random.key(1), (k, d), jnp.float32) / d**0.5).astype(
        jnp.bfloat16)
    bf16 = jax.jit(lambda W, X: X @ W.T)
    fns["jax_matmul_forward_bf16"] = lambda: bf16(Wb, Xb).block_until_ready()
    result = {"n": n, "d": d, "k": k, "dtype": "float32", "platform": device.platform,
              "jax_device_kind": device.device_kind, "jax_version": jax.__version__,
              "repeats": repeats}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        cuda = not on_cpu and torch.cuda.is_available()
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        # Shared memory with JAX's X (zero copy) on the same device.
        Xt = torch.from_dlpack(X)
        compiled, status = None, {"ok": False, "error": "not tried", "compile_seconds": 0.0}
        if torch_compile == "on" or (torch_compile == "auto" and cuda):
            with contextlib.suppress(Exception):
                torch.set_float32_matmul_precision("highest")
            compiled, status = _try_torch_compile(torch, Xt, k, sync)
        for p in precisions:
            fns.update(_torch_functions(torch, Xt, k, p, compiled, sync))
        Wt = torch.from_dlpack(Wb.astype(jnp.float32)).to(torch.bfloat16)
        Xtb = Xt.to(torch.bfloat16)
        fns["torch_matmul_forward_bf16"] = lambda: (Xtb @ Wt.T, sync())
        result.update({"torch_version": torch.__version__, "torch_device": str(Xt.device),
                       "torch_device_name": (torch.cuda.get_device_name() if cuda else
                                             "cpu"),
                       "torch_compile": status})
    times = best_times(fns, repeats, min_time=min_time)
    result["device"] = (f"{device.device_kind}" if on_cpu else
                        f"{device.device_kind} ({device.platform})")
    result["modes"] = {p: _summarise(times, n, d, k, p) for p in precisions}
    result["bf16_matmul_gflops"] = {
        fw: 2.0 * n * d * k / times[f"{fw}_matmul_forward_bf16"] / 1e9
        for fw in ("jax", "torch") if f"{fw}_matmul_forward_bf16" in times}
    result["seconds_per_call"] = times
    result["wall_seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=65536)
    parser.add_argument("--d", type=int, default=4096)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.05,
                        help="seconds each timing repeats calls for, at least")
    parser.add_argument("--torch-compile", choices=["auto", "on", "off"], default="auto",
                        help="try torch.compile (auto: when CUDA is available)")
    parser.add_argument("--out", help="write the figures as JSON to this file")
    args = parser.parse_args()
    res = measure(args.n, args.d, args.k, args.repeats, args.torch_compile, args.min_time)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    for mode, fig in res["modes"].items():
        table = Table(title=f"{mode}: n={res['n']} d={res['d']} k={res['k']} on "
                            f"{res['device']}; matmul GFLOP/s "
                            + ", ".join(f"{fw} {r:.4g}" for fw, r in fig["matmul_gflops"].items()))
        for col in ("step", "ms", "nominal GFLOP/s", "of the matmul rate", "time / closed form"):
            table.add_column(col)
        base = fig["steps"]["jax_closed_form"]["ms"]
        for name, s in fig["steps"].items():
            table.add_row(name, f"{s['ms']:.4g}", f"{s['gflops']:.4g}",
                          f"{s['of_matmul_rate']:.3g}", f"{s['ms'] / base:.3g}")
        console.print(table)
    console.print(f"bf16 matmul GFLOP/s: {res['bf16_matmul_gflops']}; torch.compile: "
                  f"{res.get('torch_compile')}; {res['wall_seconds']:.1f} s in all",
                  highlight=False)
    if args.out:
        write_json(args.out, res)
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
