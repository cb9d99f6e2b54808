"""``fit`` as users call it: relunet's ``net.fit`` against a PyTorch eager training loop.

Part of ``python -m benchmarks`` (:mod:`benchmarks.suite` calls :func:`measure`); it adds:

* **fit** rows: one epoch of ``net.fit(X, y, epochs=1, batch_size=B, optimizer=...)`` on
  the BLAS library relunet chose here and, in the same alternating rounds, on the other one
  when both are installed (OpenBLAS and MKL, :mod:`relunet.core.blas`)
  (shuffling, batch gather, training loss and accuracy per epoch, snapshot: everything a
  user's call does) against the loop a PyTorch user writes for the same epoch
  (``randperm``, index gather, ``zero_grad``, forward, cross-entropy, ``backward``,
  ``step``, the running loss and accuracy by ``.item()``), 784-500-500-500-10 ReLU, float32,
  SGD (lr 0.01) and Adam (lr 0.001) at batch 1 (on a small sample so it stays short), 128,
  512, and SGD with Nesterov momentum 0.9 (scikit-learn's MLP default) at 128 and 512; both start from the same weights and alternate round by round;
* **outside BLAS**: the fraction of a batch-128 ``train_step`` spent outside the BLAS
  calls of :mod:`relunet.core.blas` (each call timed by a wrapper), per optimizer;
* **thread scaling**: the SGD fit rows at batch 128 and 512 at 1, 2, 4, 8, ... and all
  usable cores, relunet (``fit(threads=n)``) and PyTorch (``torch.set_num_threads(n)``),
  each one's speed-up over its own 1-thread rate, and what the 1- and 2-thread rates imply
  for a many-core CPU (:func:`serial_fraction`, :func:`implied_speedup`,
  :func:`outside_blas_speedup`).

Standalone: ``PYTHONPATH=src python -m benchmarks.bench_fit [--quick] [--scaling-only]``
prints the tables (``--scaling-only``: the thread-scaling table alone, a few minutes on a
many-core machine);
``RELUNET_BLAS=openblas`` or ``=mkl`` in front names the library of relunet's products
(default: the calibrated choice, see :mod:`relunet.core.blas`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import numpy as np

SIZES = [784, 500, 500, 500, 10]
ARCH = "784-500-500-500-10"
#: the optimizers measured: name -> (relunet optimizer, its hyper-parameters); "momentum" is
#: SGD with Nesterov momentum 0.9 (scikit-learn's MLP default), torch.optim.SGD's same rule
OPTIMIZERS = {"sgd": ("sgd", {"lr": 0.01}),
              "momentum": ("sgd", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
              "adam": ("adam", {"lr": 0.001})}
#: the batch sizes measured per optimizer (momentum only where the update is a step's cost)
BATCHES = {"sgd": (1, 128, 512), "momentum": (128, 512), "adam": (1, 128, 512)}
#: samples per timed epoch, by batch size (quick, full): batch 1 on a small sample
ROWS = {1: (256, 2048), 128: (4096, 16384), 512: (4096, 16384)}
#: the batch sizes of the thread-scaling table (SGD)
SCALING_BATCHES = (128, 512)
#: the core count the 1- and 2-thread rates are extrapolated to (the issue's many-core CPU)
MANY_CORES = 16


def _data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, SIZES[0]), dtype=np.float32), rng.integers(0, SIZES[-1], rows)


def _net():
    from relunet import MLP

    return MLP(SIZES, activation="relu", output="softmax", dtype=np.float32, seed=0)


def fit_relunet(opt: str, B: int, X: np.ndarray, y: np.ndarray, threads: int,
                library: str | None = None) -> tuple[Callable[[], Any], int, dict]:
    """One call = one epoch of ``net.fit`` (the same network trains on from call to call),
    on the BLAS ``library`` when given (:func:`relunet.core.blas.use`)."""
    from relunet.core import blas

    net = _net()

    def call():
        if library is not None:
            blas.use(library)
        name, hyper = OPTIMIZERS[opt]
        net.fit(X, y, epochs=1, batch_size=B, optimizer=name, threads=threads, **hyper)

    return call, len(X), {}


def fit_torch(opt: str, B: int, X: np.ndarray, y: np.ndarray) -> tuple[Callable[[], Any], int, dict]:
    """One call = one epoch of the PyTorch loop a user writes, with relunet's initial weights."""
    import torch

    mods: list[Any] = []
    for layer in _net().dense_layers:
        lin = torch.nn.Linear(layer.n_in, layer.n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(layer.b.copy()))
        mods += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods[:-1])
    params = list(model.parameters())
    name, hyper = OPTIMIZERS[opt]
    optimizer = torch.optim.SGD(params, **hyper) if name == "sgd" else torch.optim.Adam(params, **hyper)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)

    def call():
        model.train()
        order = torch.randperm(n)
        total, correct = 0.0, 0
        for s in range(0, n, B):
            idx = order[s : s + B]
            xb, yb = Xt[idx], yt[idx]
            optimizer.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == yb).sum().item())
        return total / n, correct / n

    return call, n, {}


def outside_blas(opt: str, B: int, threads: int, steps: int, repeats: int) -> dict[str, float]:
    """The fraction of ``train_step`` time outside :func:`relunet.core.blas.gemm` (median
    over ``repeats`` runs of ``steps`` steps); the wrapper's own cost (two clock reads per
    GEMM, < 1 us) is counted as BLAS time."""
    from relunet.core import blas, kernels
    from relunet.training import optimizers

    X, y = _data(B * 8, seed=1)
    net = _net()
    Y = net.encode_targets(y, len(X))
    name, hyper = OPTIMIZERS[opt]
    optimizer = optimizers.get(name, **hyper)
    batches = [(X[s : s + B], Y[s : s + B]) for s in range(0, len(X), B)]
    real = blas.gemm
    inside = [0.0]

    def timed_gemm(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - t

    fractions, per_step = [], []
    with kernels.threads(threads):
        for xb, yb in batches:  # warm-up: work arrays, optimizer state, compiled kernels
            net.train_step(xb, yb, optimizer)
        blas.gemm = timed_gemm
        try:
            for _ in range(repeats):
                time.sleep(0.1)  # other libraries' BLAS / OpenMP threads stop spinning
                inside[0] = 0.0
                t = time.perf_counter()
                for i in range(steps):
                    xb, yb = batches[i % len(batches)]
                    net.train_step(xb, yb, optimizer)
                total = time.perf_counter() - t
                fractions.append(1.0 - inside[0] / total)
                per_step.append(total / steps)
        finally:
            blas.gemm = real
    return {"fraction": float(np.median(fractions)), "fractions": [round(f, 4) for f in fractions],
            "ms_per_step": 1e3 * float(np.median(per_step))}


def thread_counts(all_cores: int) -> list[int]:
    """1, 2, 4, 8, ... below ``all_cores``, and ``all_cores`` (each once)."""
    powers = [1 << k for k in range(all_cores.bit_length()) if 1 << k < all_cores]
    return powers + [all_cores]


def serial_fraction(rate_1: float, rate_2: float) -> float:
    r"""Amdahl's law fitted to the rates on 1 and 2 threads: a step's time on ``n`` threads
    is :math:`T(n) = T(1)\,(s + (1 - s)/n)` with a serial fraction :math:`s`, so
    :math:`T(2)/T(1) = r_1/r_2 = (1 + s)/2` and :math:`s = 2 r_1/r_2 - 1`, clipped to
    [0, 1]. Everything that did not halve on the second core counts as serial: the
    element-wise work on one core, and the products' own shortfall (memory, the spin of the
    thread team) alike."""
    return min(1.0, max(0.0, 2.0 * rate_1 / rate_2 - 1.0))


def implied_speedup(s: float, n: int) -> float:
    r"""Amdahl's speed-up on ``n`` cores for a serial fraction ``s``: :math:`1/(s + (1 - s)/n)`."""
    return 1.0 / (s + (1.0 - s) / n)


def outside_blas_speedup(f: float, threads: int, n: int) -> float:
    r"""The most a step could gain from 1 to ``n`` cores if its matrix products scaled
    perfectly and everything outside them stayed on one core, from ``f``, the fraction of
    the step outside BLAS measured on ``threads`` threads: with the time outside :math:`f`
    and the products' :math:`1 - f` on ``threads`` = :math:`t` threads,
    :math:`T(1) = f + t(1 - f)` and :math:`T(n) = f + t(1 - f)/n`."""
    return (f + threads * (1.0 - f)) / (f + threads * (1.0 - f) / n)


def scaling(timer: Any, X: np.ndarray, y: np.ndarray, all_cores: int, batches: tuple[int, ...] = SCALING_BATCHES,
            log: Callable[..., Any] = print) -> list[dict[str, Any]]:
    """The SGD fit rates of relunet and PyTorch at each of :func:`thread_counts` threads per
    batch size, each with its speed-up over its own 1-thread rate."""
    import threadpoolctl
    import torch

    rows = []
    for B in batches:
        first = None
        for n in thread_counts(all_cores):
            torch.set_num_threads(n)
            with threadpoolctl.threadpool_limits(limits=n):
                res = timer.compare({"relunet": fit_relunet("sgd", B, X, y, n)[:2],
                                     "torch": fit_torch("sgd", B, X, y)[:2]})
            row = {"batch": B, "threads": n, "relunet": res["relunet"]["rate"], "torch": res["torch"]["rate"],
                   "ratio_torch": res["torch"]["ratio"]}
            first = first or row
            row["relunet_speedup"] = row["relunet"] / first["relunet"]
            row["torch_speedup"] = row["torch"] / first["torch"]
            rows.append(row)
            log(f"threads {n} batch {B}: relunet {row['relunet']:,.0f}/s torch {row['torch']:,.0f}/s", flush=True)
    return rows


def measure(timer: Any, threads: int, quick: bool, log: Callable[..., Any] = print) -> dict[str, Any]:
    """The fit rows, the outside-BLAS fractions and the thread-scaling table."""
    import torch

    from relunet.core import blas, kernels

    primary = blas.backend().name
    others = [name for name in blas.available() if name != primary]
    out: dict[str, Any] = {"kernels": kernels.backend(), "blas": primary, "other_blas": others,
                           "threads": threads, "rows": [], "outside_blas": {}, "scaling": []}
    torch.set_num_threads(threads)
    for opt in OPTIMIZERS:
        for B in BATCHES[opt]:
            X, y = _data(ROWS[B][0 if quick else 1])
            jobs = {"relunet": fit_relunet(opt, B, X, y, threads, primary if others else None)[:2],
                    "torch": fit_torch(opt, B, X, y)[:2]}
            for name in others:  # the same fit on the library not chosen, in the same rounds
                jobs["relunet_" + name] = fit_relunet(opt, B, X, y, threads, name)[:2]
            res = timer.compare(jobs)
            row = {"arch": ARCH, "optimizer": opt, "batch": B, "samples": len(X), "relunet": res["relunet"],
                   "torch": res["torch"], "ratio_torch": res["torch"]["ratio"],
                   "ratio_best_torch": res["torch"]["ratio_best"], "other_blas": {}}
            for name in others:
                mine, theirs = np.array(res["relunet_" + name]["rates"]), np.array(res["torch"]["rates"])
                row["other_blas"][name] = {"rate": res["relunet_" + name]["rate"],
                                           "ratio_torch": float(np.median(mine / theirs))}
            out["rows"].append(row)
            log(f"fit   {ARCH} {opt:4s} B={B:<4d} relunet {row['relunet']['rate']:,.0f}/s  "
                f"torch {row['torch']['rate']:,.0f}/s  x{row['ratio_torch']:.2f}"
                + "".join(f"  (on {n}: {v['rate']:,.0f}/s x{v['ratio_torch']:.2f})"
                          for n, v in row["other_blas"].items()), flush=True)
    if others:
        blas.use(primary)
    for opt in OPTIMIZERS:
        out["outside_blas"][opt] = outside_blas(opt, 128, threads, 8 if quick else 32, 3 if quick else 7)
        log(f"outside BLAS, batch 128 {opt}: {out['outside_blas'][opt]['fraction']:.1%}", flush=True)
    out["scaling"] = scaling(timer, *_data(ROWS[128][0 if quick else 1]), kernels.default_threads(), log=log)
    torch.set_num_threads(threads)
    return out


def blas_bound(fit: dict[str, Any], opt: str = "sgd", B: int = 128) -> float | None:
    """The most ``net.fit`` could gain over PyTorch here with this BLAS: PyTorch's time per
    batch-``B`` step (from its fit rate) over the time relunet's step spends inside its BLAS
    calls (``outside_blas``' ms/step times the fraction inside). A ratio target above this
    bound needs faster matrix products, not less work around them."""
    row = next((r for r in fit.get("rows", []) if r["optimizer"] == opt and r["batch"] == B), None)
    ob = fit.get("outside_blas", {}).get(opt)
    if row is None or ob is None or not row["torch"]["rate"]:
        return None
    torch_ms = 1e3 * B / row["torch"]["rate"]
    inside_ms = ob["ms_per_step"] * (1.0 - ob["fraction"])
    return torch_ms / inside_ms if inside_ms > 0 else None


def fit_table(fit: dict[str, Any]) -> str:
    lines = [f"`net.fit` (one epoch, as users call it; BLAS: {fit.get('blas', 'openblas')}; fused kernels: "
             f"{fit['kernels']}, {fit['threads']} threads) "
             "against a PyTorch eager training loop over the same data:", "",
             "| optimizer | batch | samples/epoch | relunet fit /s | torch eager /s | x torch | best-round x torch |"
             + "".join(f" relunet on {n} /s | x torch |" for n in fit.get("other_blas", [])),
             "|---|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(fit.get("other_blas", []))]
    for r in fit["rows"]:
        lines.append(f"| {r['optimizer']} | {r['batch']} | {r['samples']:,} | {r['relunet']['rate']:,.0f} | "
                     f"{r['torch']['rate']:,.0f} | {r['ratio_torch']:.2f} | {r['ratio_best_torch']:.2f} |"
                     + "".join(f" {v['rate']:,.0f} | {v['ratio_torch']:.2f} |"
                               for v in r.get("other_blas", {}).values()))
    rates = {opt: {r["batch"]: r["relunet"]["rate"] for r in fit["rows"] if r["optimizer"] == opt}
             for opt in ("sgd", "momentum", "adam")}
    sgd = rates["sgd"]
    for opt, label in (("momentum", "Nesterov momentum's"), ("adam", "Adam's")):
        if rates[opt]:
            lines += ["", f"{label} fit rate over plain SGD's: " + ", ".join(
                f"batch {b}: {rates[opt][b] / sgd[b]:.2f}" for b in sorted(rates[opt]) if b in sgd)]
    ob = fit["outside_blas"]
    lines += ["", "Time outside BLAS in a batch-128 `train_step` (the rest is the BLAS calls): " + ", ".join(
        f"{opt} {v['fraction']:.1%} ({v['ms_per_step']:.2f} ms/step)" for opt, v in ob.items())]
    bound = blas_bound(fit)
    if bound is not None:
        lines += ["", f"BLAS bound, batch 128 SGD: PyTorch's step time over the time relunet's step spends in BLAS "
                  f"= {bound:.2f}x, the most `fit` could reach against PyTorch here with these matrix products "
                  "and nothing else"]
    return "\n".join(lines + scaling_lines(fit))


def implied_scaling(fit: dict[str, Any], n: int = MANY_CORES) -> dict[int, dict[str, float]]:
    """Per batch size with rates on 1 and 2 threads: each library's serial fraction
    (:func:`serial_fraction`) and the speed-up from 1 to ``n`` cores it implies."""
    out = {}
    for B in sorted({s.get("batch", 128) for s in fit.get("scaling") or []}):
        by = {s["threads"]: s for s in fit["scaling"] if s.get("batch", 128) == B}
        if 1 in by and 2 in by:
            v = out[B] = {}
            for lib in ("relunet", "torch"):
                v[lib + "_serial"] = serial_fraction(by[1][lib], by[2][lib])
                v[lib + "_implied"] = implied_speedup(v[lib + "_serial"], n)
    return out


def scaling_lines(fit: dict[str, Any]) -> list[str]:
    """The thread-scaling table and what its 1- and 2-thread rows imply for a many-core CPU
    (results from before the batch column are batch 128)."""
    rows = fit.get("scaling") or []
    if not rows:
        return []
    lines = ["", "Thread scaling, SGD fit:", "",
             "| batch | threads | relunet /s | torch eager /s | x torch | relunet speed-up | torch speed-up |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for s in rows:
        lines.append(f"| {s.get('batch', 128)} | {s['threads']} | {s['relunet']:,.0f} | {s['torch']:,.0f} | "
                     f"{s['ratio_torch']:.2f} | {s['relunet_speedup']:.2f} | {s['torch_speedup']:.2f} |")
    implied = implied_scaling(fit)
    if implied:
        lines += ["", f"What the 1- and 2-thread rates imply for {MANY_CORES} cores (Amdahl's law fitted to them, "
                  "serial fraction s = 2 r1/r2 - 1; an extrapolation, not a measurement): " + "; ".join(
                      f"batch {B}: relunet s = {v['relunet_serial']:.2f}, {v['relunet_implied']:.1f}x; "
                      f"PyTorch s = {v['torch_serial']:.2f}, {v['torch_implied']:.1f}x" for B, v in implied.items())]
    ob = fit.get("outside_blas", {}).get("sgd")
    if ob is not None:
        lines += ["", f"With the products scaling perfectly and the time outside BLAS ({ob['fraction']:.1%} of a "
                  f"batch-128 SGD step on {fit['threads']} threads) on one core, the step could gain at most "
                  f"{outside_blas_speedup(ob['fraction'], fit['threads'], MANY_CORES):.1f}x from 1 to "
                  f"{MANY_CORES} cores"]
    return lines


def targets(fit: dict[str, Any] | None) -> list[tuple[str, float | None, str, Callable[[float], bool], float | None]]:
    """The issue's fit targets: (name, measured, goal, test, best round)."""
    rows = (fit or {}).get("rows", [])

    def find(opt: str, B: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["optimizer"] == opt and r["batch"] == B), None)

    out = []
    for B in (1, 128, 512):
        r = find("sgd", B)
        out.append((f"net.fit {ARCH} SGD batch {B}: relunet / torch eager loop", r and r["ratio_torch"],
                    ">= 1.5", lambda v: v >= 1.5, r and r["ratio_best_torch"]))
    for B in (128, 512):
        a, s = find("adam", B), find("sgd", B)
        out.append((f"net.fit {ARCH} batch {B}: Adam rate / SGD rate",
                    a["relunet"]["rate"] / s["relunet"]["rate"] if a and s else None, ">= 0.90",
                    lambda v: v >= 0.9, a["relunet"]["best"] / s["relunet"]["best"] if a and s else None))
    ob = (fit or {}).get("outside_blas", {}).get("sgd")
    out.append((f"train_step {ARCH} SGD batch 128: time outside BLAS", ob and ob["fraction"], "<= 0.10",
                lambda v: v <= 0.1, ob and min(ob["fractions"])))
    most = [s for s in (fit or {}).get("scaling") or [] if s.get("batch", 128) == 128]
    top = max(most, key=lambda s: s["threads"]) if most else None
    out.append((f"net.fit {ARCH} SGD batch 128: speed-up from 1 thread to all cores, relunet's / PyTorch's",
                top["relunet_speedup"] / top["torch_speedup"] if top and top["threads"] > 1 else None,
                ">= 1.0", lambda v: v >= 1.0, None))
    return out


def main(argv: list[str] | None = None) -> int:
    from benchmarks.suite import Timer

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_fit", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="threads (default: every usable core)")
    p.add_argument("--scaling-only", action="store_true",
                   help="only the thread-scaling table (1, 2, 4, ... and all usable cores)")
    args = p.parse_args(argv)
    from relunet.core import kernels

    threads = args.threads or kernels.default_threads()
    if args.scaling_only:
        res = {"threads": threads, "scaling": scaling(Timer(args.quick), *_data(ROWS[128][0 if args.quick else 1]),
                                                      threads)}
        print("\n".join(scaling_lines(res)))
        return 0
    res = measure(Timer(args.quick), threads, args.quick)
    print()
    print(fit_table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
