"""Which BLAS runs relunet's training products fastest here: OpenBLAS, MKL, BLIS, torch.

The products of one training step of 784-500-500-500-10 at batch B, as relunet's layers
make them (:func:`relunet.core.blas.step_products`, the calibration's products), through

* ``openblas`` and ``mkl``: :func:`relunet.core.blas.gemm` on each of relunet's two
  libraries (:func:`relunet.core.blas.use`): SciPy's OpenBLAS, and Intel MKL's
  ``cblas_sgemm`` from the ``mkl`` wheel, loaded as relunet loads it (GNU OpenMP, strict
  reproducible mode);
* ``blis``: the ``blis`` wheel's ``blis.py.gemm`` (what spaCy's thinc uses);
* ``torch``: ``torch.addmm`` with ``out=`` (the products PyTorch eager runs);

timed in alternating rounds (median GF/s), at 1 thread and at every usable core. A library
that is not installed is left out. Run it in an environment that has them, e.g.::

    python -m venv /tmp/blas && /tmp/blas/bin/pip install numpy scipy threadpoolctl mkl blis torch
    PYTHONPATH=src /tmp/blas/bin/python -m benchmarks.bench_blas

(``relunet[test]`` has all but ``blis``.) relunet's calibration chooses between OpenBLAS and
MKL the same way on batch 128 (see ``PROFILE.md``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from relunet.core import blas

#: a product as :func:`relunet.core.blas.step_products` lists it: (alpha, a, b, beta, c, trans_a, trans_b)
Gemm = Callable[[float, np.ndarray, np.ndarray, float, np.ndarray, bool, bool], Any]


def _relunet(name: str) -> Gemm:
    """relunet's own product on the library ``name`` (switched to at each call: cheap once loaded)."""
    def gemm(alpha, a, b, beta, c, ta, tb):
        if blas.backend().name != name:
            blas.use(name)
        blas.gemm(alpha, a, b, beta, c, ta, tb)

    return gemm


def _blis() -> Gemm | None:
    if importlib.util.find_spec("blis") is None:
        return None
    import blis.py

    def gemm(alpha, a, b, beta, c, ta, tb):
        blis.py.gemm(a, b, out=c, trans1=ta, trans2=tb, alpha=alpha, beta=beta)

    return gemm


def _torch() -> tuple[Gemm, Callable[[int], None]] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    def gemm(alpha, a, b, beta, c, ta, tb):
        A, B, C = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        torch.addmm(C, A.T if ta else A, B.T if tb else B, beta=beta, alpha=alpha, out=C)

    return gemm, torch.set_num_threads


def measure(threads: list[int], batches: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    found_torch = _torch()  # imported before MKL is loaded (see PROFILE.md: PyTorch after MKL)
    libs: dict[str, Gemm] = {name: _relunet(name) for name in blas.available()}
    for name in libs:  # every library loaded before the thread limits, so that they cover it
        blas.use(name)
    setters: list[Callable[[int], None]] = []
    if found_torch is not None:
        libs["torch"], setter = found_torch
        setters.append(setter)
    blis_gemm = _blis()
    if blis_gemm is not None:
        libs["blis"] = blis_gemm
    rows = []
    for n in threads:
        for set_threads in setters:
            set_threads(n)
        with threadpool_limits(limits=n):
            for B in batches:
                ops = blas.step_products(B)
                flops = sum(2 * c.shape[0] * c.shape[1] * (a.shape[0] if ta else a.shape[1])
                            for al, a, b, be, c, ta, tb in ops)
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
