"""The speed suite: relunet against PyTorch (eager, torch.compile) and scikit-learn.

``python -m benchmarks [--quick] [--out PATH] [--threads N] [--both]`` measures, in one
process:

* the machine's float32 GEMM rate: ``numpy.matmul`` at the shapes of each network's
  layers, ``(batch, n_in) @ (n_in, n_out)`` summed over the layers (the reference for
  "fraction of the GEMM rate"), plus the three training GEMMs per layer through the
  BLAS relunet uses, and a large square GEMM for the peak;
* training throughput (samples/s) of 784-500-500-500-10 and 784-256-128-10 (ReLU,
  softmax + cross-entropy, float32) at batch sizes 1, 32, 128, 512 with SGD and Adam,
  for relunet (``net.train_step``), PyTorch eager, ``torch.compile`` (a subset: it
  compiles for minutes here) and scikit-learn's ``MLPClassifier`` (``partial_fit``),
  all starting from relunet's initial weights; FLOPs per sample = 6 x sum(n_in n_out);
* inference throughput at batch 1 and 1000 (relunet's evaluation-mode ``forward``,
  torch under ``inference_mode``, sklearn ``predict_proba``), FLOPs = 2 x sum;
* full softmax against hierarchical softmax (:mod:`benchmarks.bench_hsoftmax`): one
  training step at V = 1k, 10k, 50k classes (and the Shakespeare corpus's vocabulary),
  the per-sample loss and the exact probabilities' sums;
* ``fit`` as users call it (:mod:`benchmarks.bench_fit`): one epoch of ``net.fit`` against
  a PyTorch eager training loop, SGD and Adam at batch 1, 128 and 512, the fraction of a
  batch-128 step spent outside BLAS, and a thread-scaling table (batch 128 and 512 at 1, 2,
  4, ... and all cores, with what the 1- and 2-thread rates imply for 16 cores);
* peak memory of one training epoch on MNIST-sized data (60000 x 784 float32,
  synthetic) in a fresh process, with ``tracemalloc`` and ``getrusage``, against
  data + 2 x parameters + relunet's per-batch work arrays.
* the playground under load (:mod:`benchmarks.bench_playground`): view updates per
  second of the server (``relunet playground`` in its own process) over loopback, the
  latency of a concurrent request, and 20 sessions training at once with the server's
  memory (``--quick``: 1 s measurements, a 3 s load, no browser; ``--no-playground``).

Every timing is a median of several repeats after a warm-up. The machine's thread count
is applied to every library (``torch.set_num_threads`` and ``threadpoolctl``).

Results go to ``benchmarks/results.json`` (one entry per BLAS-kernel setting, so that
runs with and without ``OPENBLAS_CORETYPE`` sit side by side; ``--both`` runs both in
subprocesses) and ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks import bench_fit
from relunet.io.archive import output_target, write_atomic

from benchmarks import bench_hsoftmax, bench_playground

HERE = Path(__file__).resolve().parent
ARCHS: dict[str, list[int]] = {
    "784-500-500-500-10": [784, 500, 500, 500, 10],
    "784-256-128-10": [784, 256, 128, 10],
}
TRAIN_BATCHES = (1, 32, 128, 512)
INFER_BATCHES = (1, 1000)
LR = {"sgd": 0.01, "adam": 0.001}
#: torch.compile takes ~10-60 s per shape on this machine: only these are compiled
COMPILE_TRAIN = {("784-500-500-500-10", "sgd", 128), ("784-500-500-500-10", "sgd", 512)}
COMPILE_INFER = {("784-500-500-500-10", 1000), ("784-500-500-500-10", 1)}
KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# -- timing ------------------------------------------------------------------------------


class Timer:
    """Back-to-back timing of several libraries on the same job.

    Each candidate is warmed up and calibrated (calls per timed segment of about
    ``seconds``); then ``repeats`` rounds time every candidate once, in turn, so that all
    see the same machine load. Before each segment the process sleeps ``settle`` s: the
    BLAS thread pools (NumPy's and SciPy's OpenBLAS, torch's OpenMP) spin ~0.1 s after
    their last call and would otherwise steal the cores from the next library. Rates are
    medians over rounds; ratios are medians of the per-round ratios.
    """

    def __init__(self, quick: bool):
        self.warmup = 0.02 if quick else 0.2
        self.seconds = 0.03 if quick else 0.2
        self.repeats = 2 if quick else 5
        self.settle = 0.1  # the BLAS / OpenMP pools spin ~0.1 s after a call (see above)

    def _calibrate(self, call: Callable[[], Any]) -> int:
        t0 = time.perf_counter()
        n = 0
        while n < 2 or time.perf_counter() - t0 < self.warmup:
            call()
            n += 1
        per = (time.perf_counter() - t0) / n
        return max(1, int(self.seconds / max(per, 1e-9)))

    def compare(self, jobs: dict[str, tuple[Callable[[], Any], int]]) -> dict[str, dict[str, Any]]:
        """``jobs``: name -> (call, units per call). Returns name -> rate, rates, ratios."""
        calls = {}
        for name, (call, _) in jobs.items():
            time.sleep(self.settle)
            calls[name] = self._calibrate(call)
        rates: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(self.repeats):
            for name, (call, per_call) in jobs.items():
                time.sleep(self.settle)
                call()  # untimed: wakes this library's threads
                t = time.perf_counter()
                for _ in range(calls[name]):
                    call()
                rates[name].append(calls[name] * per_call / (time.perf_counter() - t))
        first = next(iter(jobs))
        out = {}
        for name in jobs:
            out[name] = {"rate": float(np.median(rates[name])), "best": float(max(rates[name])),
                         "rates": [round(r, 1) for r in rates[name]],
                         "calls_per_repeat": calls[name]}
            if name != first:
                out[name]["ratio"] = float(np.median(np.array(rates[first]) / np.array(rates[name])))
                # best against best: load only ever slows a run down, so on a busy machine
                # the fastest round of each is the closest to its unloaded speed
                out[name]["ratio_best"] = max(rates[first]) / max(rates[name])
        return out

    def rate(self, call: Callable[[], Any], per_call: int) -> dict[str, Any]:
        return self.compare({"x": (call, per_call)})["x"]

    def seconds_per_call(self, call: Callable[[], Any]) -> float:
        return 1.0 / self.rate(call, 1)["rate"]


def flops_per_sample(sizes: list[int]) -> int:
    """sum over layers of n_in * n_out (multiply by 6 for training, 2 for inference)."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# -- the machine -----------------------------------------------------------------------------


def machine_info(threads: int) -> dict[str, Any]:
    import scipy
    import sklearn
    import threadpoolctl
    import torch

    from relunet.core import blas, kernels

    cpu = cpu_model()
    return {
        "cpu": cpu["model name"] or platform.processor(),
        "cpu_id": cpu,
        "kernels": kernels.backend(),
        "relunet_blas": str(blas.backend()),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": list(os.getloadavg()),
        "env": {k: os.environ.get(k) for k in KERNEL_VARS},
        "threads": {"requested": threads, "torch": torch.get_num_threads()},
        "blas": [
            {k: lib.get(k) for k in ("internal_api", "prefix", "version", "architecture",
                                     "num_threads", "filepath")}
            for lib in threadpoolctl.threadpool_info()
        ],
        "versions": {
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__,
            "sklearn": sklearn.__version__,
        },
        "note": ("2 shared cores: other developers ran tests on this machine during the run; "
                 "see loadavg_start/loadavg_end, and the per-repeat rates for the spread"),
    }


def cpu_model() -> dict[str, str | None]:
    """The CPU's ``model name``, ``vendor_id``, ``cpu family`` and ``model`` (as lscpu shows
    them), from /proc/cpuinfo; None where it cannot be read."""
    info: dict[str, str | None] = {"model name": None, "vendor_id": None, "cpu family": None, "model": None}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in info and info[key] is None:
                info[key] = value.strip()
            if not line.strip() and info["model name"]:
                break
    except OSError:
        pass
    return info


def cpu_line(m: dict[str, Any]) -> str:
    """``Intel(R) Xeon(R) Processor (GenuineIntel, family 6, model 167), 2 cores``."""
    cid = m.get("cpu_id") or {}
    ident = ", ".join(f"{k} {cid[k]}" for k in ("cpu family", "model") if cid.get(k))
    vendor = cid.get("vendor_id")
    extra = ", ".join(x for x in (vendor, ident.replace("cpu family", "family")) if x)
    return (f"{m['cpu']}{f' ({extra})' if extra else ''}, {m['logical_cores']} cores "
            f"({m.get('usable_cores')} usable)")


#: the command that reruns the suite (printed with every report)
RERUN = "python -m benchmarks   (--quick: a 1-2 min smoke run; --threads N; --both: both OpenBLAS kernels)"


def run_key(machine: dict[str, Any], label: str) -> str:
    """A run's key in ``results.json`` and its column / section title: the CPU, then the
    BLAS kernel and threads (runs on another CPU are kept beside, never replaced)."""
    return f"{machine.get('cpu') or 'unknown CPU'}: {label}"


def kernel_label(threads: int = 0) -> str:
    """The key of a run in results.json: the BLAS kernel setting, the library of relunet's
    products when it is not OpenBLAS (``RELUNET_BLAS``), and threads if not all."""
    from relunet.core import blas

    core = os.environ.get("OPENBLAS_CORETYPE")
    label = f"OPENBLAS_CORETYPE={core}" if core else "default-kernel"
    if blas.backend().name != "openblas":
        label += f", relunet on {blas.backend().name.upper()}"
    if threads and threads != os.cpu_count():
        label += f", {threads} thread{'s' if threads > 1 else ''}"
    return label


# -- GEMM rates ------------------------------------------------------------------------------


def gemm_rates(timer: Timer, batches: tuple[int, ...]) -> dict[str, Any]:
    from relunet.core import blas as _blas

    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    n = 1024 if timer.repeats < 5 else 2048
    A = rng.standard_normal((n, n), dtype=np.float32)
    C = np.empty_like(A)
    t = timer.seconds_per_call(lambda: np.matmul(A, A, out=C))
    out["peak_square"] = {"n": n, "gflops": 2 * n**3 / t / 1e9}
    for arch, sizes in ARCHS.items():
        per = {}
        for B in batches:
            layers = []
            for a, b in zip(sizes[:-1], sizes[1:]):
                X = rng.standard_normal((B, a), dtype=np.float32)
                W = rng.standard_normal((a, b), dtype=np.float32)
                G = rng.standard_normal((B, b), dtype=np.float32)
                Z, DX, DW = np.empty((B, b), np.float32), np.empty((B, a), np.float32), np.empty_like(W)
                layers.append((X, W, G, Z, DX, DW))

            def numpy_fwd():
                for X, W, _, Z, _, _ in layers:
                    np.matmul(X, W, out=Z)

            def relunet_train_gemms():
                for i, (X, W, G, Z, DX, DW) in enumerate(layers):
                    _blas.gemm(1.0, X, W, 0.0, Z)
                    _blas.gemm(1.0, X, G, 0.0, DW, trans_a=True)
                    if i:
                        _blas.gemm(1.0, G, W, 0.0, DX, trans_b=True)

            f = flops_per_sample(sizes)
            first = sizes[0] * sizes[1]
            t_np = timer.seconds_per_call(numpy_fwd)
            t_tr = timer.seconds_per_call(relunet_train_gemms)
            per[str(B)] = {
                "numpy_matmul_gflops": 2 * B * f / t_np / 1e9,
                "numpy_matmul_seconds": t_np,
                # the GEMMs a training step really runs (no dL/dx for the first layer)
                "train_gemms_gflops": 2 * B * (3 * f - first) / t_tr / 1e9,
                "train_gemms_seconds": t_tr,
            }
        out[arch] = per
    return out


# -- the three libraries -----------------------------------------------------------------------


def _data(sizes: list[int], rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], rows)
    Y = np.eye(sizes[-1], dtype=np.float32)[y]
    return X, y, Y


def _relunet_net(sizes):
    from relunet import MLP

    return MLP(sizes, activation="relu", output="softmax", dtype=np.float32, seed=0)


def _torch_model(net):
    import torch

    mods: list[Any] = []
    for layer in net.dense_layers:
        lin = torch.nn.Linear(layer.n_in, layer.n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(layer.b.copy()))
        mods += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*mods[:-1])


def _batches(rows: int, B: int) -> list[slice]:
    return [slice(s, s + B) for s in range(0, rows - B + 1, B)]


# Each returns (call, samples per call, info): the Timer times them back to back.


def gemm_job(sizes, B):
    """numpy.matmul of the layer shapes at batch B: the forward GEMMs alone (2 x sum FLOPs
    per sample), timed alongside the libraries as the reference rate."""
    rng = np.random.default_rng(0)
    mats = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mats.append((rng.standard_normal((B, a), dtype=np.float32),
                     rng.standard_normal((a, b), dtype=np.float32), np.empty((B, b), np.float32)))

    def call():
        for X, W, Z in mats:
            np.matmul(X, W, out=Z)

    return call, B, {}


def train_relunet(sizes, opt_name, B, X, Y):
    from relunet.training import optimizers

    net = _relunet_net(sizes)
    opt = optimizers.get(opt_name, lr=LR[opt_name])
    sl = _batches(len(X), B)
    Xb = [X[s] for s in sl]
    Yb = [Y[s] for s in sl]
    i = [0]

    def step():
        k = i[0] = (i[0] + 1) % len(Xb)
        net.train_step(Xb[k], Yb[k], opt)

    return step, B, {}


def train_torch(sizes, opt_name, B, X, y, compiled=False):
    import torch

    model = _torch_model(_relunet_net(sizes))
    params = list(model.parameters())
    opt = (torch.optim.SGD(params, lr=LR["sgd"]) if opt_name == "sgd"
           else torch.optim.Adam(params, lr=LR["adam"]))
    run = torch.compile(model, dynamic=False) if compiled else model
    loss_fn = torch.nn.CrossEntropyLoss()
    sl = _batches(len(X), B)
    Xb = [torch.from_numpy(X[s]) for s in sl]
    yb = [torch.from_numpy(y[s]) for s in sl]
    i = [0]

    def step():
        k = i[0] = (i[0] + 1) % len(Xb)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(run(Xb[k]), yb[k])
        loss.backward()
        opt.step()

    info: dict[str, Any] = {}
    if compiled:
        t0 = time.perf_counter()
        step()
        info["compile_seconds"] = time.perf_counter() - t0
    return step, B, info


def _partial_fit_job(estimator, sizes, opt_name, B, X, y, quick):
    """One ``partial_fit`` over a chunk of rows of a scikit-learn-style ``MLPClassifier``
    class, with plain settings (solver, batch, rate, alpha 0, no shuffling) and relunet's
    starting weights. One call = one pass over ``chunk`` rows in batches of B (amortises
    the per-call input validation over many batches, as fit does)."""
    net = _relunet_net(sizes)
    kw = dict(solver="sgd", momentum=0.0, nesterovs_momentum=False, learning_rate="constant") \
        if opt_name == "sgd" else dict(solver="adam")
    clf = estimator(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", alpha=0.0,
                    batch_size=B, learning_rate_init=LR[opt_name], shuffle=False,
                    random_state=0, **kw)
    chunk = min(len(X), max(B * (2 if quick else 8), 64 if quick else 256))
    Xc, yc = X[:chunk], y[:chunk]
    clf.partial_fit(Xc[:B], yc[:B], classes=np.arange(sizes[-1]))  # creates coefs_, optimizer
    for c, i_, layer in zip(clf.coefs_, clf.intercepts_, net.dense_layers):
        c[...] = layer.W  # in place: the estimator's optimizer holds these arrays
        i_[...] = layer.b
    return (lambda: clf.partial_fit(Xc, yc)), chunk, {"dtype": str(clf.coefs_[0].dtype)}


def train_sklearn(sizes, opt_name, B, X, y, quick=False):
    from sklearn.neural_network import MLPClassifier

    return _partial_fit_job(MLPClassifier, sizes, opt_name, B, X, y, quick)


def train_estimator(sizes, opt_name, B, X, y, quick=False):
    """relunet.sklearn's MLPClassifier timed exactly as :func:`train_sklearn` times
    scikit-learn's: what a scikit-learn user gets by switching the import."""
    from relunet.sklearn import MLPClassifier

    return _partial_fit_job(MLPClassifier, sizes, opt_name, B, X, y, quick)


def infer_relunet(sizes, B, X):
    net = _relunet_net(sizes).eval()
    x = X[:B]
    return (lambda: net.forward(x)), B, {}


def infer_torch(sizes, B, X, compiled=False):
    import torch

    model = _torch_model(_relunet_net(sizes)).eval()
    if compiled:
        model = torch.compile(model, dynamic=False)
    x = torch.from_numpy(X[:B])

    def call():
        with torch.inference_mode():
            return torch.softmax(model(x), dim=1)

    info: dict[str, Any] = {}
    if compiled:
        t0 = time.perf_counter()
        call()
        info["compile_seconds"] = time.perf_counter() - t0
    return call, B, info


def infer_sklearn(sizes, B, X, y):
    from sklearn.neural_network import MLPClassifier

    net = _relunet_net(sizes)
    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), batch_size=256, random_state=0)
    clf.partial_fit(X[:256], y[:256], classes=np.arange(sizes[-1]))
    for c, i_, layer in zip(clf.coefs_, clf.intercepts_, net.dense_layers):
        c[...] = layer.W
        i_[...] = layer.b
    x = X[:B]
    return (lambda: clf.predict_proba(x)), B, {"dtype": str(clf.coefs_[0].dtype)}


# -- peak memory (a fresh process) ---------------------------------------------------------------


def _proc_status_bytes(field: str) -> int:
    """VmRSS / VmHWM of this process from /proc (ru_maxrss survives exec: unusable here)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory_child(mode: str, max_steps: int | None = None) -> dict[str, Any]:
    """Train 784-500-500-500-10 for one epoch on 60000 x 784 float32; report peak memory.

    Traced from before the network and the data are created; the budget is the data
    (X, labels, one-hot targets, the epoch's shuffle order), 2 x the parameters and the
    per-batch arrays (relunet's work arrays and, in the loop, the gathered batch).
    """
    from relunet.core import kernels
    from relunet.training import optimizers

    sizes = ARCHS["784-500-500-500-10"]
    B = 128
    # Numba and its compiled kernels (tens of MB of Python objects, whatever the data) are
    # loaded before tracing: the budget is about what training adds per data set
    kernels.warm_up(np.float32)
    rss0 = _proc_status_bytes("VmRSS")
    tracemalloc.start()
    net = _relunet_net(sizes)  # first: the float64 draws of the initialisation are not training
    params = sum(p.nbytes for p in net.parameters())
    X, y, Y = _data(sizes, 60000, seed=1)
    order_bytes = len(X) * np.dtype(np.intp).itemsize
    targets_bytes = Y.nbytes
    t0 = time.perf_counter()
    if mode == "fit":
        # fit encodes y into its own one-hot targets: the benchmark's copy would be a second
        del Y
        # the per-batch buffers fit gathers each shuffled batch into (X rows, target rows)
        batch_bytes = B * (sizes[0] + sizes[-1]) * np.dtype(np.float32).itemsize
        net.fit(X, y, epochs=1, batch_size=B, lr=0.01, optimizer="sgd")
    else:
        # the lean loop: each shuffled batch gathered into one reused buffer
        opt = optimizers.get("sgd", lr=0.01)
        xb = np.empty((B, sizes[0]), np.float32)
        yb = np.empty((B, sizes[-1]), np.float32)
        batch_bytes = xb.nbytes + yb.nbytes
        order = net.rng.permutation(len(X))
        for s in range(0, len(X) - B + 1, B)[:max_steps]:
            idx = order[s : s + B]
            np.take(X, idx, axis=0, out=xb, mode="clip")  # "raise" would buffer a copy
            np.take(Y, idx, axis=0, out=yb, mode="clip")
            net.train_step(xb, yb, opt)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _proc_status_bytes("VmHWM")
    work = sum(a.nbytes for a in getattr(net, "_storage", {}).values()) + batch_bytes
    data = X.nbytes + y.nbytes + targets_bytes + order_bytes
    budget = data + 2 * params + work
    return {
        "mode": mode, "batch": B, "seconds": seconds,
        "data_bytes": data, "params_bytes": params, "work_arrays_bytes": work,
        "budget_bytes": budget,
        "tracemalloc_peak_bytes": peak,
        "rss_growth_bytes": hwm - rss0,
        "peak_over_budget": peak / budget,
        "peak_minus_budget_bytes": peak - budget,
        "rss_growth_over_budget": (hwm - rss0) / budget,
    }


def measure_memory(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("loop",) if quick else ("loop", "fit"):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.suite", "--memory-child", mode]
            + (["--quick"] if quick else []),
            capture_output=True, text=True, cwd=HERE.parent, env=os.environ.copy(),
        )
        try:
            out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            out[mode] = {"error": (proc.stderr or proc.stdout)[-2000:]}
    return out


# -- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import warnings

    import threadpoolctl
    import torch

    warnings.filterwarnings("ignore", module="sklearn")
    # Load every BLAS / OpenMP library first: threadpoolctl limits only those loaded.
    import sklearn.neural_network  # noqa: F401
    from scipy.linalg import blas  # noqa: F401

    from relunet.core import blas as _blas  # noqa: F401

    from relunet.core import kernels

    threads = args.threads or kernels.default_threads()
    torch.set_num_threads(threads)
    limiter = threadpoolctl.threadpool_limits(limits=threads)
    kernel_threads = kernels.threads(threads)  # the train_step rows' fused kernels too
    kernel_threads.__enter__()
    timer = Timer(args.quick)
    res: dict[str, Any] = {"machine": machine_info(threads), "quick": args.quick}
    t_start = time.perf_counter()

    res["gemm"] = gemm_rates(timer, TRAIN_BATCHES + (1000,))
    log = print if not args.silent else (lambda *a, **k: None)
    log(f"GEMM: peak {res['gemm']['peak_square']['gflops']:.0f} GF/s", flush=True)

    compile_status: dict[str, Any] = {"works": None}
    if args.quick or args.no_compile:
        compile_status = {"works": None, "skipped": "--quick" if args.quick else "--no-compile"}

    def compiled(fn, *a, **k):
        if "skipped" in compile_status or compile_status["works"] is False:
            return None
        try:
            r = fn(*a, compiled=True, **k)
            compile_status.setdefault("compile_seconds", []).append(round(r[2]["compile_seconds"], 1))
            compile_status["works"] = True
            return r
        except Exception as exc:  # record why it does not work here
            compile_status["works"] = False
            compile_status["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
            return None

    def timed(row, jobs):
        results = timer.compare({k: (call, per) for k, (call, per, _) in jobs.items()})
        for k, (_, _, info) in jobs.items():
            row[k] = {**results[k], **info}
            if k != "relunet":
                row[f"ratio_{k}"] = results[k]["ratio"]
                row[f"ratio_best_{k}"] = results[k]["ratio_best"]

    train = []
    for arch, sizes in ARCHS.items():
        X, y, Y = _data(sizes, 8192)
        f6 = 6 * flops_per_sample(sizes)
        for opt_name in ("sgd", "adam"):
            for B in TRAIN_BATCHES:
                row: dict[str, Any] = {"arch": arch, "optimizer": opt_name, "batch": B}
                jobs = {
                    "relunet": train_relunet(sizes, opt_name, B, X, Y),
                    "torch": train_torch(sizes, opt_name, B, X, y),
                    "sklearn": train_sklearn(sizes, opt_name, B, X, y, quick=args.quick),
                    "estimator": train_estimator(sizes, opt_name, B, X, y, quick=args.quick),
                    "gemm": gemm_job(sizes, B),
                }
                if (arch, opt_name, B) in COMPILE_TRAIN:
                    job = compiled(train_torch, sizes, opt_name, B, X, y)
                    if job:
                        jobs["torch_compile"] = job
                timed(row, jobs)
                r = row["relunet"]["rate"]
                row["relunet_gflops"] = r * f6 / 1e9
                # relunet's training GF/s over numpy.matmul's GF/s at the layer shapes, timed
                # in the same rounds: 6 f r_relunet / (2 f r_gemm)
                row["fraction_of_gemm_rate"] = 3 * row.pop("ratio_gemm")
                row["fraction_of_gemm_rate_best"] = 3 * row.pop("ratio_best_gemm")
                row["gemm_gflops"] = row["gemm"]["rate"] * f6 / 3 / 1e9
                g = res["gemm"][arch][str(B)]
                row["fraction_of_train_gemms"] = row["relunet_gflops"] / g["train_gemms_gflops"]
                # The most any library could reach: its training GEMMs (both skip dL/dx of the
                # first layer) at numpy.matmul's rate with nothing else taking time; over
                # sklearn's rate, the highest relunet / sklearn ratio this machine allows.
                train_flops = f6 - 2 * sizes[0] * sizes[1]
                ceiling = row["gemm"]["rate"] * (f6 / 3) / train_flops
                row["ceiling_rate"] = ceiling
                if row.get("sklearn"):
                    row["sklearn_ceiling_ratio"] = ceiling / row["sklearn"]["rate"]
                if row.get("sklearn") and row.get("estimator"):
                    # the drop-in: relunet.sklearn's partial_fit over scikit-learn's, same settings
                    row["estimator_over_sklearn"] = row["estimator"]["rate"] / row["sklearn"]["rate"]
                train.append(row)
                log(_row_line(row), flush=True)
    res["train"] = train

    infer = []
    for arch, sizes in ARCHS.items():
        X, y, _ = _data(sizes, 1000)
        f2 = 2 * flops_per_sample(sizes)
        for B in INFER_BATCHES:
            row = {"arch": arch, "batch": B}
            jobs = {
                "relunet": infer_relunet(sizes, B, X),
                "torch": infer_torch(sizes, B, X),
                "sklearn": infer_sklearn(sizes, B, X, y),
                "gemm": gemm_job(sizes, B),
            }
            if (arch, B) in COMPILE_INFER:
                job = compiled(infer_torch, sizes, B, X)
                if job:
                    jobs["torch_compile"] = job
            timed(row, jobs)
            r = row["relunet"]["rate"]
            row["relunet_gflops"] = r * f2 / 1e9
            row["gemm_gflops"] = row["gemm"]["rate"] * f2 / 1e9
            # time per batch over numpy.matmul's time for the same layer products
            row["time_over_gemm_bound"] = 1 / row.pop("ratio_gemm")
            row["time_over_gemm_bound_best"] = 1 / row.pop("ratio_best_gemm")
            row["latency_best_us"] = {k: 1e6 * B / row[k]["best"] for k in ("relunet", "torch")}
            row["latency_us"] = {k: 1e6 * B / row[k]["rate"] for k in ("relunet", "torch")}
            infer.append(row)
            log(_row_line(row), flush=True)
    res["infer"] = infer
    res["torch_compile"] = compile_status
    # (under the same thread limits as the rows above)
    res["hsoftmax"] = (bench_hsoftmax.measure(timer, args.quick, log) if not getattr(args, "no_hsoftmax", False)
                       else {"skipped": "--no-hsoftmax"})
    kernel_threads.__exit__(None, None, None)
    limiter.restore_original_limits()
    if not args.no_fit:
        res["fit"] = bench_fit.measure(timer, threads, args.quick, log)

    res["memory"] = measure_memory(args.quick) if not args.no_memory else {"skipped": "--no-memory"}
    res["playground"] = playground(args, log)
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["seconds"] = time.perf_counter() - t_start
    res["targets"] = targets(res)
    return res


def playground(args: argparse.Namespace, log: Callable[..., Any] = print) -> dict[str, Any]:
    """The playground section (:func:`benchmarks.bench_playground.measure`): its own server
    process, so the suite's thread limits do not apply; ``--quick`` runs
    :data:`benchmarks.bench_playground.SUITE_QUICK`'s short timings without the browser."""
    if getattr(args, "no_playground", False):
        return {"skipped": "--no-playground"}
    log("playground (server in its own process):", flush=True)
    short = bench_playground.SUITE_QUICK if args.quick else {}
    return bench_playground.measure(args.quick, log, browser=not args.quick, command="python -m benchmarks", **short)


def _find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets: the measured value (medians) and whether it was met, and the
    same from the best round of each library (``best``; see ``Timer.compare``)."""
    big = "784-500-500-500-10"
    out = []

    def add(name, value, goal, test, best=None):
        out.append({"target": name, "measured": value, "goal": goal,
                    "met": None if value is None else bool(test(value)),
                    "best": best, "met_best": None if best is None else bool(test(best))})

    for B in (128, 512, 1):
        r = _find(res["train"], arch=big, optimizer="sgd", batch=B)
        add(f"train {big} SGD batch {B}: relunet / torch eager", r and r.get("ratio_torch"),
            ">= 1.5", lambda v: v >= 1.5, r and r.get("ratio_best_torch"))
    r = _find(res["train"], arch=big, optimizer="sgd", batch=128)
    add(f"train {big} SGD batch 128: relunet / sklearn", r and r.get("ratio_sklearn"), ">= 3",
        lambda v: v >= 3, r and r.get("ratio_best_sklearn"))
    out.append({"target": "bound: relunet / sklearn at batch 128 if relunet ran at 100% of the GEMM rate",
                "measured": r and r.get("sklearn_ceiling_ratio"), "goal": "(context)", "met": None,
                "best": None, "met_best": None, "context": True})
    r = _find(res["train"], arch=big, optimizer="sgd", batch=512)
    add(f"train {big} SGD batch 512: fraction of numpy float32 GEMM rate",
        r and r["fraction_of_gemm_rate"], ">= 0.90", lambda v: v >= 0.9,
        r and r.get("fraction_of_gemm_rate_best"))
    r = _find(res["infer"], arch=big, batch=1000)
    add(f"inference {big} batch 1000: time / GEMM-bound time", r and r["time_over_gemm_bound"],
        "<= 1.10", lambda v: v <= 1.1, r and r.get("time_over_gemm_bound_best"))
    r = _find(res["infer"], arch=big, batch=1)
    add(f"inference {big} batch 1: latency relunet / torch eager",
        r and r["latency_us"]["relunet"] / r["latency_us"]["torch"], "< 1", lambda v: v < 1,
        r and r.get("latency_best_us") and r["latency_best_us"]["relunet"] / r["latency_best_us"]["torch"])
    r = _find(res.get("hsoftmax", {}).get("steps", []), V=50_000, optimizer="sgd")
    add("train V=50000 SGD batch 256: hierarchical softmax step / full softmax step speed",
        r and r["speedup"], ">= 10", lambda v: v >= 10, r and r.get("speedup_best"))
    add("V=50000: max |sum of the exact probabilities - 1|", r and r["max_abs_sum_minus_1"], "<= 1e-5",
        lambda v: v <= 1e-5)
    for name, value, goal, test, best in bench_fit.targets(res.get("fit")):
        add(name, value, goal, test, best)
    for mode in ("loop", "fit"):
        m = res.get("memory", {}).get(mode, {})
        # allowance: interpreter objects and NumPy's bounded (<= 32 KiB) ufunc buffers
        add(f"peak memory, 1 epoch 60000x784 ({'train_step loop' if mode == 'loop' else 'net.fit'}) "
            "/ (data + 2 x params + work arrays)", m.get("peak_over_budget"), "<= 1.001",
            lambda v: v <= 1.001)
    return out


# -- reporting ----------------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _row_line(row: dict[str, Any]) -> str:
    kind = "train" if "optimizer" in row else "infer"
    parts = [f"{kind:5s} {row['arch']:18s} {row.get('optimizer', ''):4s} B={row['batch']:<4d}"]
    for k in ("relunet", "torch", "torch_compile", "sklearn", "estimator"):
        if row.get(k):
            parts.append(f"{k} {_fmt(row[k]['rate'])}/s")
    return "  ".join(parts)


def _spread(row: dict[str, Any]) -> float:
    """max / min of the per-round rates over relunet and its peers: 1.0 is a quiet machine."""
    worst = 1.0
    for k in ("relunet", "torch", "sklearn", "gemm"):
        rates = row.get(k, {}).get("rates") if row.get(k) else None
        if rates and min(rates) > 0:
            worst = max(worst, max(rates) / min(rates))
    return worst


def table(res: dict[str, Any]) -> str:
    lines = [
        "| phase | network | opt | batch | relunet /s | torch eager /s | x torch | torch.compile /s "
        "| x compile | sklearn /s | x sklearn | relunet GF/s | of GEMM rate | spread |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in ("train", "infer"):
        for r in res[phase]:
            def rate(k):
                return _fmt(r[k]["rate"]) if r.get(k) else "-"

            def ratio(k):
                v = r.get(f"ratio_{k}")
                return f"{v:.2f}" if v else "-"

            frac = (f"{100 * r['fraction_of_gemm_rate']:.0f}%" if phase == "train"
                    else f"time {r['time_over_gemm_bound']:.2f}x bound")
            lines.append(
                f"| {phase} | {r['arch']} | {r.get('optimizer', '-')} | {r['batch']} | "
                f"{rate('relunet')} | {rate('torch')} | {ratio('torch')} | {rate('torch_compile')} | "
                f"{ratio('torch_compile')} | {rate('sklearn')} | {ratio('sklearn')} | "
                f"{r['relunet_gflops']:.1f} | {frac} | {_spread(r):.1f} |"
            )
    return "\n".join(lines)


def targets_table(res: dict[str, Any]) -> str:
    lines = ["| target | measured (medians) | goal | met | best rounds | met |",
             "|---|---:|---|---|---:|---|"]
    word = {True: "yes", False: "**no**", None: "not measured"}
    for t in res["targets"]:
        v, b = t["measured"], t.get("best")
        if t.get("context"):
            lines.append(f"| {t['target']} | {'-' if v is None else f'{v:.3g}'} | - | - | - | - |")
            continue
        lines.append(f"| {t['target']} | {'-' if v is None else f'{v:.5g}'} | {t['goal']} | "
                     f"{word[t['met']]} | {'-' if b is None else f'{b:.4g}'} | "
                     f"{'-' if b is None else word[t.get('met_best')]} |")
    return "\n".join(lines)


def memory_table(res: dict[str, Any]) -> str:
    mem = res.get("memory", {})
    if "skipped" in mem:
        return f"(memory not measured: {mem['skipped']})"
    lines = ["| run | data MB | 2 x params MB | work arrays MB | budget MB | tracemalloc peak MB "
             "| peak - budget KB | peak RSS growth MB | traced peak / budget |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mode, m in mem.items():
        if "error" in m:
            lines.append(f"| {mode} | error: {m['error'][-200:]!r} |")
            continue
        mb = 1 / 2**20
        lines.append(
            f"| {'train_step loop, batches gathered into one buffer' if mode == 'loop' else 'net.fit(epochs=1)'} | "
            f"{m['data_bytes'] * mb:.1f} | {2 * m['params_bytes'] * mb:.1f} | {m['work_arrays_bytes'] * mb:.1f} | "
            f"{m['budget_bytes'] * mb:.1f} | {m['tracemalloc_peak_bytes'] * mb:.1f} | "
            f"{(m['tracemalloc_peak_bytes'] - m['budget_bytes']) / 1024:,.0f} | "
            f"{m['rss_growth_bytes'] * mb:.1f} | {m['peak_over_budget']:.4f} |"
        )
    return "\n".join(lines)


def estimator_table(res: dict[str, Any]) -> str:
    """relunet.sklearn.MLPClassifier.partial_fit against scikit-learn's on the same settings."""
    lines = ["| network | optimizer | batch | relunet.sklearn /s | sklearn /s | relunet.sklearn / sklearn |",
             "|---|---|---:|---:|---:|---:|"]
    for row in res.get("train", []):
        if row.get("estimator") and row.get("sklearn"):
            lines.append(f"| {row['arch']} | {row['optimizer']} | {row['batch']} | "
                         f"{_fmt(row['estimator']['rate'])} | {_fmt(row['sklearn']['rate'])} | "
                         f"{row['estimator_over_sklearn']:.2f}x |")
    return "\n".join(lines)


def gemm_table(res: dict[str, Any]) -> str:
    g = res["gemm"]
    lines = [f"Peak float32 GEMM ({g['peak_square']['n']}^3, numpy): "
             f"{g['peak_square']['gflops']:.0f} GF/s", "",
             "| network | batch | numpy matmul at the layer shapes GF/s | training GEMMs (relunet BLAS) GF/s |",
             "|---|---:|---:|---:|"]
    for arch in ARCHS:
        for B, v in g[arch].items():
            lines.append(f"| {arch} | {B} | {v['numpy_matmul_gflops']:.1f} | {v['train_gemms_gflops']:.1f} |")
    return "\n".join(lines)


def summary_table(all_results: dict[str, Any]) -> str:
    """The issue's targets, one column per run (kernel / threads setting)."""
    runs = all_results["runs"]
    labels = list(runs)
    names = list(dict.fromkeys(t["target"] for r in runs.values() for t in r["targets"]))  # every run's, in order
    goals = {t["target"]: t["goal"] for r in runs.values() for t in r["targets"]}
    lines = ["| target | goal | " + " | ".join(labels) + " |",
             "|---|---|" + "---:|" * len(labels)]
    for name in names:
        cells = []
        for label in labels:
            t = next((t for t in runs[label]["targets"] if t["target"] == name), None)
            if t is None or t["measured"] is None:
                cells.append("-")
            elif t.get("context"):
                cells.append(f"{t['measured']:.3g}")
            else:
                cell = f"{t['measured']:.4g} {'yes' if t['met'] else '**no**'}"
                if t.get("best") is not None:
                    cell += f" (best {t['best']:.3g} {'yes' if t['met_best'] else '**no**'})"
                cells.append(cell)
        lines.append(f"| {name} | {goals[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(all_results: dict[str, Any]) -> str:
    out = [
        "# relunet speed benchmarks",
        "",
        "Rerun from the repository root: `python -m benchmarks --both` (both BLAS-kernel "
        "settings, ~2 x 4-8 min), or `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m "
        "benchmarks` and `python -m benchmarks` separately; add `--threads 1` for the "
        "single-thread runs; `--quick` for a smoke run of about 1.5 min (written to `results-quick.json`, "
        "never here). `relunet bench` (same options) runs the same suite. Each run replaces its own "
        "section (keyed by kernel and threads) in `results.json` and rewrites this file.",
        "",
        "Samples/second: median of 5 rounds after a warm-up, the libraries timed in turn within "
        "each round; `x torch` etc.: median over rounds of relunet's rate / the peer's. FLOPs per sample: 6 x sum(n_in n_out) for training, 2 x for "
        "inference; `of GEMM rate` is relunet's training GF/s over `numpy.matmul`'s GF/s at the "
        "layer shapes and batch size, timed in the same rounds (the issue's FLOP count includes "
        "dL/dx of the first layer, which is never computed, so up to ~117% is possible for "
        "784-500-500-500-10); for inference, the time per batch over that GEMM time. "
        "`spread`: the largest max/min ratio of per-round rates in the row (1.0 = quiet "
        "machine). Targets are judged on the medians; `best` judges them on each library's "
        "fastest round (load only slows a run down, so on a busy machine the best round is "
        "the closest to unloaded speed). torch.compile runs only for a subset (it compiles for 10-60 s per shape "
        "here). scikit-learn trains with `partial_fit` over chunks of batches. The `bound` row is "
        "context, not a target: the relunet / scikit-learn ratio relunet would reach if its "
        "training GEMMs ran at `numpy.matmul`'s rate and nothing else took any time (both "
        "libraries skip dL/dx of the first layer, so both do the same FLOPs); a target above it "
        "cannot be met on the machine.",
        "",
        "**Noise:** the machine has 2 cores shared with other developers running test suites; "
        "load averages at the start and end of each run are listed. Ratios between libraries "
        "measured back to back are more reliable than absolute rates.",
        "",
        "## The issue's targets, every run",
        "",
        summary_table(all_results),
    ]
    for label, res in all_results["runs"].items():
        m = res["machine"]
        blas = ", ".join(f"{b['prefix']} {b.get('version')} ({b.get('architecture') or b['internal_api']}, "
                         f"{b['num_threads']} thr)" for b in m["blas"])
        out += [
            "", f"## {label}{' (--quick)' if res.get('quick') else ''}", "",
            f"CPU: {cpu_line(m)}; threads: {m['threads']}; fused kernels: {m.get('kernels', '-')}; "
            f"env: {m['env']}; load average (1, 5, 15 min) start "
            f"{[round(x, 2) for x in m['loadavg_start']]}, end {[round(x, 2) for x in m.get('loadavg_end', [])]}; "
            f"run took {res['seconds']:.0f} s.",
            f"BLAS: {blas}.",
            f"relunet's matrix products: {m.get('relunet_blas', 'openblas (before the choice existed)')}.",
            f"Versions: {m['versions']}.",
            f"torch.compile: {res['torch_compile']}.",
            "", "### Targets", "", targets_table(res),
            "", "### net.fit as users call it", "",
            bench_fit.fit_table(res["fit"]) if res.get("fit") else "(not measured: --no-fit)",
            "", "### Throughput (train_step loop and inference)", "", table(res),
            "", "### relunet.sklearn vs scikit-learn (the drop-in estimators, same settings)", "",
            estimator_table(res),
            "", "### GEMM rate", "", gemm_table(res),
            "", "### Peak memory (784-500-500-500-10, batch 128, one epoch, fresh process)", "",
            memory_table(res),
            "", "### Full softmax vs hierarchical softmax (128-128-V, batch 256, one training step)", "",
            bench_hsoftmax.table(res["hsoftmax"]) if "steps" in res.get("hsoftmax", {}) else "(not run)",
            "", "### The playground under load (server process, clients over loopback)", "",
            bench_playground.table(res["playground"]) if "load" in res.get("playground", {}) else "(not run)",
        ]
        sk = {r["sklearn"].get("dtype") for r in res["train"] if r.get("sklearn")}
        out += ["", f"scikit-learn trained in {', '.join(sorted(sk))} (it follows the input dtype)."]
    return "\n".join(out) + "\n"


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The results JSON and its Markdown report: ``--out``/``--md``, else beside this file;
    a ``--quick`` smoke run goes to ``results-quick.json`` / ``RESULTS-quick.md``."""
    quick = args.quick and not args.out
    out = Path(args.out) if args.out else HERE / ("results-quick.json" if quick else "results.json")
    md = Path(args.md) if args.md else out.with_name("RESULTS-quick.md" if quick else "RESULTS.md")
    return out, md


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short timings, no torch.compile (about 1.5 min on 2 cores)")
    p.add_argument("--out", default=None,
                   help="results JSON, merged per kernel (default: benchmarks/results.json; with --quick "
                        "benchmarks/results-quick.json, so a smoke run never replaces measured results)")
    p.add_argument("--md", default=None, help="Markdown report (default: RESULTS.md beside --out)")
    p.add_argument("--threads", type=int, default=0, help="threads for every library (default: all cores)")
    p.add_argument("--both", action="store_true",
                   help="run twice in subprocesses: without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, then as set")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--no-hsoftmax", action="store_true", help="skip full vs hierarchical softmax")
    p.add_argument("--no-fit", action="store_true", help="skip the net.fit rows and thread scaling")
    p.add_argument("--no-playground", action="store_true", help="skip the playground under load")
    p.add_argument("--silent", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, 60 if args.quick else None)))
        return 0
    out, md = output_paths(args)
    try:  # before minutes of measuring, not after
        for path in (out, md):
            path.parent.mkdir(parents=True, exist_ok=True)
            output_target(path)
    except OSError as exc:
        print(f"python -m benchmarks: error: cannot write {exc.filename or path}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    if args.both:
        passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--both"]
        for drop in (True, False):
            env = os.environ.copy()
            if drop:
                for k in KERNEL_VARS:
                    env.pop(k, None)
            print(f"== run with {'default kernel' if drop else {k: env.get(k) for k in KERNEL_VARS}}", flush=True)
            rc = subprocess.call([sys.executable, "-m", "benchmarks", *passthrough], env=env, cwd=HERE.parent)
            if rc:
                return rc
        return 0

    res = run(args)
    all_results: dict[str, Any] = {"runs": {}}
    if out.exists():
        try:
            all_results = json.loads(out.read_text())
            all_results.setdefault("runs", {})
        except (OSError, json.JSONDecodeError):
            pass
    all_results["runs"][run_key(res["machine"], kernel_label(args.threads))] = res
    all_results["command"] = "python -m benchmarks --both   (or: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks; python -m benchmarks)"
    write_atomic(out, json.dumps(all_results, indent=1, default=float) + "\n")  # never half-written
    write_atomic(md, markdown(all_results))
    print()
    print(f"CPU: {cpu_line(res['machine'])}; fused kernels: {res['machine'].get('kernels')}")
    print(f"rerun: {RERUN}")
    print()
    print(table(res))
    if res.get("fit"):
        print()
        print(bench_fit.fit_table(res["fit"]))
    print()
    print(targets_table(res))
    print()
    print(memory_table(res))
    print(f"\nwrote {out} and {md} ({time.strftime('%H:%M:%S')}, {res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
