"""Time one optimizer step, and full-batch CG / L-BFGS on the digits MLP.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_optimizers.py [--size 500 --repeat 200]``

Part 1 (why plain SGD uses chunked BLAS axpy): the SGD update ``p -= lr * g`` for one
``size x size`` float32 array, written four ways -- numpy with a temporary, numpy into a
preallocated buffer, BLAS ``saxpy`` in one call, and in chunks of 8192 (what relunet
does: each call single-threaded) -- alone, then right after numpy GEMMs as in training
(scipy's OpenBLAS pool against numpy's); then ``step`` of every relunet optimizer and of
torch.optim (one thread) on the same array.

Part 2: ``relunet.training.minimizers.minimize`` on a 64-32-10 tanh MLP (float64) on digits
(75/25 stratified split): iterations, function evaluations, seconds, test accuracy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.linalg import blas

from relunet import MLP
from relunet.training import optimizers
from relunet.training.optimizers import _axpy

try:
    import torch
except ImportError:  # torch is only a test dependency
    torch = None


def _median_us(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def bench_step(size: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    p = rng.standard_normal((size, size)).astype(np.float32)
    g = (rng.standard_normal((size, size)) * 1e-3).astype(np.float32)
    buf = np.empty_like(p)
    lr = 1e-3
    pf, gf = p.reshape(-1), g.reshape(-1)

    def numpy_temp():
        nonlocal p
        p -= lr * g

    def numpy_buffer():
        np.multiply(g, -lr, out=buf)
        np.add(p, buf, out=p)

    def blas_axpy():
        blas.saxpy(gf, pf, a=-lr)

    def blas_axpy_chunked():  # what relunet does: single-threaded OpenBLAS calls
        _axpy(-lr, g, p)

    variants = [("p -= lr * g", numpy_temp), ("multiply+add into buffer", numpy_buffer),
                ("BLAS saxpy, one call", blas_axpy), ("BLAS saxpy, 8192 chunks", blas_axpy_chunked)]
    print(f"one {size}x{size} float32 array; median of {repeat} runs, microseconds")
    for name, fn in variants:
        print(f"  {name:<28} {_median_us(fn, repeat):9.1f}")

    # In training the update follows numpy's GEMMs (numpy's own OpenBLAS thread pool).
    # CPU time (all threads) per (GEMMs + update), minus GEMMs alone:
    A = rng.standard_normal((128, size)).astype(np.float32)
    Z = np.empty((128, size), dtype=np.float32)
    G = np.empty_like(g)

    def gemms():
        np.dot(A, p, out=Z)
        np.dot(A.T, Z, out=G)

    def cpu_us(fn, n=100):
        t0 = time.process_time()
        for _ in range(n):
            gemms()
            fn()
        return (time.process_time() - t0) / n * 1e6

    base = min(cpu_us(lambda: None) for _ in range(3))
    print(f"after two {128}x{size}x{size} GEMMs ({base:.0f} us CPU alone): extra CPU us of the update")
    for name, fn in variants:
        print(f"  {name:<28} {min(cpu_us(fn) for _ in range(3)) - base:9.1f}")
    if torch is not None:
        torch.set_num_threads(1)
    for name, hyper, tname in [
        ("sgd", {"lr": lr}, "SGD"),
        ("sgd", {"lr": lr, "momentum": 0.9, "nesterov": True}, "SGD"),
        ("adagrad", {"lr": lr}, "Adagrad"),
        ("rmsprop", {"lr": lr}, "RMSprop"),
        ("adam", {"lr": lr}, "Adam"),
        ("adamw", {"lr": lr}, "AdamW"),
    ]:
        opt = optimizers.get(name, **hyper)
        ours = _median_us(lambda: opt.step([p], [g]), repeat)
        line = f"  {name + ' ' + str({k: v for k, v in hyper.items() if k != 'lr'}):<28} {ours:9.1f}"
        if torch is not None:
            tp = torch.tensor(p, requires_grad=True)
            tp.grad = torch.tensor(g)
            topt = getattr(torch.optim, tname)([tp], **hyper, foreach=False)
            line += f"   torch {_median_us(topt.step, repeat):9.1f}"
        print(line)


def bench_fullbatch() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    print("\ndigits 64-32-10 tanh, float64, max_iter=200")
    for method in ("lbfgs", "cg"):
        net = MLP([64, 32, 10], activation="tanh", dtype=np.float64, seed=0)
        res = optimizers.get(method).minimize(net, net.check_X(Xtr), net.encode_targets(ytr), max_iter=200)
        print(f"  {method:<6} nit={res.nit:4d} nfev={res.nfev:4d} loss={res.loss:.2e} "
              f"{res.seconds:6.2f} s  test accuracy {net.score(Xte, yte):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    bench_step(args.size, args.repeat)
    bench_fullbatch()


if __name__ == "__main__":
    main()
