"""Which BLAS runs relunet's training products fastest here: OpenBLAS, MKL, BLIS, torch.

The products of one training step of 784-500-500-500-10 at batch B, as relunet's layers
make them (per dense layer: forward ``z = x W + z`` with the bias in ``z``, the update
``W -= lr x^T g`` as one GEMM into ``W``, and ``dx = g W^T`` below the first layer), through

* ``openblas``: SciPy's ``sgemm`` (what :mod:`relunet.core.blas` calls);
* ``mkl``: Intel MKL's ``cblas_sgemm`` from the ``mkl`` wheel's ``libmkl_rt`` (ctypes);
* ``blis``: the ``blis`` wheel's ``blis.py.gemm`` (what spaCy's thinc uses);
* ``torch``: ``torch.addmm`` / ``torch.mm`` with ``out=`` (the products PyTorch eager runs);

timed in alternating rounds (median GF/s), at 1 thread and at every usable core. A library
that is not installed is left out. Run it in an environment that has them, e.g.::

    python -m venv /tmp/blas && /tmp/blas/bin/pip install numpy scipy threadpoolctl mkl blis torch
    LD_LIBRARY_PATH=/tmp/blas/lib PYTHONPATH=src /tmp/blas/bin/python -m benchmarks.bench_blas

relunet keeps OpenBLAS unless another library wins clearly (see ``PROFILE.md``).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import importlib.util
import os
import sys
import time
from typing import Any, Callable

import numpy as np
from scipy.linalg import blas as scipy_blas
from threadpoolctl import threadpool_limits

SIZES = [784, 500, 500, 500, 10]
Gemm = Callable[[np.ndarray, np.ndarray, np.ndarray, bool, bool, float, float], None]


def openblas_gemm(a, b, c, ta, tb, alpha, beta):
    scipy_blas.sgemm(alpha, b.T, a.T, beta=beta, c=c.T, trans_a=tb, trans_b=ta, overwrite_c=True)


def _mkl() -> tuple[Gemm, Callable[[int], None]] | None:
    paths = glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])
    f, p, i = ctypes.c_float, ctypes.c_void_p, ctypes.c_int
    lib.cblas_sgemm.argtypes = [i] * 6 + [f, p, i, p, i, f, p, i]
    lib.MKL_Set_Num_Threads.argtypes = [i]

    def gemm(a, b, c, ta, tb, alpha, beta):
        m, n = c.shape
        k = a.shape[0] if ta else a.shape[1]
        lib.cblas_sgemm(101, 112 if ta else 111, 112 if tb else 111, m, n, k, alpha, a.ctypes.data,
                        a.shape[1], b.ctypes.data, b.shape[1], beta, c.ctypes.data, c.shape[1])

    return gemm, lib.MKL_Set_Num_Threads


def _blis() -> Gemm | None:
    if importlib.util.find_spec("blis") is None:
        return None
    import blis.py

    def gemm(a, b, c, ta, tb, alpha, beta):
        blis.py.gemm(a, b, out=c, trans1=ta, trans2=tb, alpha=alpha, beta=beta)

    return gemm


def _torch() -> tuple[Gemm, Callable[[int], None]] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    def gemm(a, b, c, ta, tb, alpha, beta):
        A, B, C = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        torch.addmm(C, A.T if ta else A, B.T if tb else B, beta=beta, alpha=alpha, out=C)

    return gemm, torch.set_num_threads


def step_products(B: int, rng: np.random.Generator) -> list[tuple]:
    """(a, b, c, trans_a, trans_b, alpha, beta) of one training step at batch B."""
    ops = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        x = rng.standard_normal((B, n_in), dtype=np.float32)
        W = rng.standard_normal((n_in, n_out), dtype=np.float32)
        g = rng.standard_normal((B, n_out), dtype=np.float32)
        ops.append((x, W, np.zeros((B, n_out), np.float32), False, False, 1.0, 1.0))
        ops.append((x, g, W, True, False, -1e-6, 1.0))
        if i:
            ops.append((g, W, np.zeros((B, n_in), np.float32), False, True, 1.0, 0.0))
    return ops


def measure(threads: list[int], batches: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    libs: dict[str, Gemm] = {"openblas": openblas_gemm}
    setters: list[Callable[[int], None]] = []
    for name, found in (("mkl", _mkl()), ("torch", _torch())):
        if found is not None:
            libs[name], setter = found
            setters.append(setter)
    blis_gemm = _blis()
    if blis_gemm is not None:
        libs["blis"] = blis_gemm
    rng = np.random.default_rng(0)
    rows = []
    for n in threads:
        for set_threads in setters:
            set_threads(n)
        with threadpool_limits(limits=n):
            for B in batches:
                ops = step_products(B, rng)
                flops = sum(2 * c.shape[0] * c.shape[1] * (a.shape[0] if ta else a.shape[1])
                            for a, b, c, ta, tb, al, be in ops)
                reps = max(3, int(5e8 / flops))
                times: dict[str, list[float]] = {k: [] for k in libs}
                for _ in range(rounds):
                    for name, gemm in libs.items():
                        time.sleep(0.1)  # the previous library's threads stop spinning
                        for op in ops:
                            gemm(*op)
                        t = time.perf_counter()
                        for _ in range(reps):
                            for op in ops:
                                gemm(*op)
                        times[name].append((time.perf_counter() - t) / reps)
                row = {"threads": n, "batch": B,
                       "gflops": {k: flops / float(np.median(v)) / 1e9 for k, v in times.items()}}
                rows.append(row)
                print(f"threads {n} batch {B}: " + ", ".join(
                    f"{k} {g:.1f} GF/s ({g / row['gflops']['openblas']:.2f}x)" for k, g in row["gflops"].items()),
                    flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_blas", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    measure(sorted({1, cores}), (1, 128, 512), args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
