"""Row-major BLAS calls that write into a given array: the matrix products of the hot path,
and which BLAS library runs them.

``gemm(alpha, a, b, beta, c)`` computes, in place in ``c``,

.. math:: c \\leftarrow \\alpha\\, \\mathrm{op}(a)\\, \\mathrm{op}(b) + \\beta\\, c

for C-contiguous (row-major) arrays, where ``op(a)`` is ``a`` or ``a.T``; shapes
``op(a)`` (m, k), ``op(b)`` (k, n), ``c`` (m, n). With ``beta=1`` and ``alpha=-lr`` this
is the SGD step ``W -= lr * x.T @ g`` done inside one BLAS call, without ever forming
``dW``. A single-row product (online learning, batch size 1) goes to GEMV instead: with
some OpenBLAS kernels GEMM is several times slower than GEMV for one row (the batch-1
rows of ``python -m benchmarks`` measure it).

Two libraries can run these products:

* ``openblas``: SciPy's bundled OpenBLAS through ``scipy.linalg.blas`` (always present).
  BLAS is column-major, and a C-contiguous ``(m, n)`` array is, unchanged in memory, the
  Fortran-ordered ``(n, m)`` array ``c.T``; so ``c.T = op(b).T op(a).T`` is one Fortran
  GEMM with the operands swapped and their transpose flags exchanged: no copies.
* ``mkl``: Intel's oneAPI MKL from the ``mkl`` wheel (``pip install "relunet[fast]"`` on
  Linux x86-64), called through its row-major CBLAS interface (``cblas_?gemm``,
  ``cblas_?gemv``, ``cblas_?axpy``) with ``ctypes``, threaded by GNU OpenMP (the
  runtime of the fused kernels and of PyTorch; see ``_MKL_THREADING_GNU``).

Which one runs is decided once per process, before the first product (:func:`backend`):

* ``RELUNET_BLAS=openblas`` or ``RELUNET_BLAS=mkl``: that library (``mkl`` when it is not
  installed is a :class:`~relunet.errors.ConfigError`);
* ``RELUNET_BLAS=auto`` (the default): OpenBLAS when MKL is not installed; otherwise a
  **calibration** times both libraries on the products of one batch-128 training step of
  784-500-500-500-10 (float32, at every core this process may use, the best of five
  alternating rounds, about 1.3 s) and keeps MKL when it ran at least
  :data:`MIN_SPEEDUP` times as fast. The verdict is cached in ``blas.json`` in the cache
  folder (``$RELUNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/relunet``, else
  ``~/.cache/relunet``) under a key of the CPU model, the usable cores and the versions of
  NumPy, SciPy and MKL, so a machine calibrates once per setting; not when the machine was
  busy (a 1-minute load average of at least the cores + 1), since a verdict measured under
  load is used for that process only. A cache that cannot be read (or written) is ignored.
  Processes starting together calibrate one at a time (a lock beside the cache), the
  others reading the first one's verdict.

:func:`backend` says which library runs and why; ``fit`` records it in
``history.info["blas"]``; :func:`use` switches library within a process (tests,
benchmarks, ``relunet blas``).

Floating-point results of the two libraries differ in the last bits (they sum in other
orders). Each gives the same bits for the same thread count, so a seeded run repeats bit
for bit on one machine; MKL's GEMMs (its strict reproducible mode) give them at any
thread count, OpenBLAS's large ones do not, and neither do MKL's single-row products
(GEMV: batch size 1, ``predict`` of one sample), which differ between 1 and 2 threads.
With MKL chosen, single-row products of a matrix of fewer than :data:`MKL_GEMV_MIN`
elements still run on OpenBLAS (one thread, the same bits at any thread count): there
MKL's fixed cost per call is most of the product's time.
Set ``RELUNET_BLAS`` to the same library to compare runs across machines.

NOTE: every product of the hot path goes through this module, never ``numpy.matmul``.
NumPy and SciPy wheels each bundle their own OpenBLAS with its own thread pool (and MKL
has a third), and the pool of one keeps spinning for a while after a call. Alternating two
makes each pool wait for the other's spinning threads, many times slower per GEMM on a
small machine, so a hot loop must stay on one library.

Arrays of any other dtype than float32/float64, not C-contiguous or not aligned, with an
empty dimension, or an output that overlaps an input, and a non-finite ``alpha`` or
``beta``, take a plain NumPy fallback (correct, slower). A read-only output is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.metadata
import json
import math
import os
import platform
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import blas as _scipy_blas

from relunet.errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the cache is not locked
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "AXPY_MIN",
    "BLAS_CHOICES",
    "MIN_SPEEDUP",
    "MKL_GEMV_MIN",
    "BlasInfo",
    "available",
    "axpy",
    "backend",
    "cache_key",
    "cache_path",
    "calibrate",
    "gemm",
    "recalibrate",
    "step_products",
    "use",
]

#: the values of ``RELUNET_BLAS`` (and of :func:`use`)
BLAS_CHOICES = ("auto", "openblas", "mkl")
#: the calibration keeps MKL when it ran the training products at least this many times as
#: fast as OpenBLAS: a smaller gain is within the noise of a short measurement
MIN_SPEEDUP = 1.05
#: a cache file larger than this is not read (it holds a few short entries)
CACHE_MAX_BYTES = 65536
#: seconds a process waits for another's calibration (the cache's lock) before its own
CACHE_LOCK_WAIT = 30.0
#: the calibration network and batch (the products of one training step)
CALIBRATION_SIZES = (784, 500, 500, 500, 10)
CALIBRATION_BATCH = 128


@dataclass(frozen=True)
class BlasInfo:
    """Which BLAS library runs the products, and why.

    Attributes:
        name: ``"openblas"`` or ``"mkl"``.
        version: the library's version.
        reason: how it was chosen (``RELUNET_BLAS``, MKL not installed, the calibration, ...).
        speedup: MKL's speed over OpenBLAS's in the calibration (None without one).
    """

    name: str
    version: str
    reason: str
    speedup: float | None = None

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.reason})"


# -- the two libraries ---------------------------------------------------------------------
class _OpenBLAS:
    """SciPy's OpenBLAS through ``scipy.linalg.blas`` (f2py, column-major)."""

    name = "openblas"

    def __init__(self) -> None:
        self.routines = {
            np.dtype(np.float32): (_scipy_blas.sgemm, _scipy_blas.sgemv, _scipy_blas.saxpy),
            np.dtype(np.float64): (_scipy_blas.dgemm, _scipy_blas.dgemv, _scipy_blas.daxpy),
        }

    @property
    def version(self) -> str:
        try:
            from threadpoolctl import threadpool_info

            for lib in threadpool_info():
                if lib.get("internal_api") == "openblas" and "scipy" in lib.get("filepath", ""):
                    return str(lib.get("version"))
        except Exception:  # pragma: no cover - threadpoolctl is a dependency; a report only
            pass
        return "(SciPy " + importlib.metadata.version("scipy") + ")"  # pragma: no cover

    def gemm(self, alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray,
             trans_a: bool, trans_b: bool) -> None:
        gemm_ = self.routines[c.dtype][0]
        ct = c.T
        r = gemm_(alpha, b.T, a.T, beta=beta, c=ct, trans_a=trans_b, trans_b=trans_a, overwrite_c=True)
        if r is not ct:  # pragma: no cover - f2py copied (never for fitting arrays)
            c[...] = r.T

    def gemv(self, alpha: float, x: np.ndarray, b: np.ndarray, beta: float, y: np.ndarray,
             trans_b: bool) -> None:
        """``y = alpha * op(b).T @ x + beta * y`` (y, x 1-d)."""
        gemv_ = self.routines[y.dtype][1]
        r = gemv_(alpha, b.T, x, beta=beta, y=y, trans=trans_b, overwrite_y=True)
        if r.base is not y and r is not y:  # pragma: no cover - f2py copied (never for fitting arrays)
            y[...] = r

    def axpy(self, alpha: float, x: np.ndarray, y: np.ndarray) -> None:
        self.routines[y.dtype][2](x.reshape(-1), y.reshape(-1), a=alpha)


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
#: MKL_Set_Threading_Layer's value for GNU OpenMP (libgomp), the OpenMP runtime Numba's
#: kernels and PyTorch use: one runtime in the process. MKL's default, Intel OpenMP
#: (libiomp5), loaded beside a libgomp already there (``import torch`` first) gave wrong
#: products, different from run to run (tests/test_blas.py loads them in both orders)
_MKL_THREADING_GNU = 3
#: MKL_CBWR_Set's "conditional numerical reproducibility" mode: AUTO (the CPU's own code
#: path) | STRICT (bitwise the same products whatever the thread count and alignment).
#: Without it, MKL threads products that OpenBLAS runs on one thread (a small network's),
#: and those differed in the last bits between 1 and 2 threads, so a sweep's 1-thread
#: workers did not repeat its sequential runs; measured at the same speed. It covers GEMM
#: only: MKL's GEMV (a single row) still differs between thread counts
_MKL_CBWR_AUTO_STRICT = 2 | 0x10000


class _MKL:
    """Intel MKL's row-major CBLAS through ``ctypes`` (``libmkl_rt``)."""

    name = "mkl"

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.MKL_Set_Threading_Layer(_MKL_THREADING_GNU)  # before any other MKL call; overrides MKL_THREADING_LAYER
        if lib.MKL_CBWR_Set(_MKL_CBWR_AUTO_STRICT) != 0:  # 0: MKL_CBWR_SUCCESS
            raise OSError("MKL refused its strict reproducible mode (MKL_CBWR=AUTO,STRICT): MKL 2019.3 or later needed")
        i, p = ctypes.c_int, ctypes.c_void_p
        for prefix, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            getattr(lib, f"cblas_{prefix}gemm").argtypes = [i] * 6 + [real, p, i, p, i, real, p, i]
            getattr(lib, f"cblas_{prefix}gemv").argtypes = [i] * 4 + [real, p, i, p, i, real, p, i]
            getattr(lib, f"cblas_{prefix}axpy").argtypes = [i, real, p, i, p, i]
            for fn in ("gemm", "gemv", "axpy"):
                getattr(lib, f"cblas_{prefix}{fn}").restype = None
        self.routines = {
            np.dtype(np.float32): (lib.cblas_sgemm, lib.cblas_sgemv, lib.cblas_saxpy),
            np.dtype(np.float64): (lib.cblas_dgemm, lib.cblas_dgemv, lib.cblas_daxpy),
        }
        self.version = _dist_version("mkl") or "(installed)"
        self.small = _load("openblas")  # the single-row products below MKL_GEMV_MIN

    def gemm(self, alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray,
             trans_a: bool, trans_b: bool) -> None:
        m, n = c.shape
        k = a.shape[0] if trans_a else a.shape[1]
        self.routines[c.dtype][0](_ROW_MAJOR, _TRANS if trans_a else _NO_TRANS, _TRANS if trans_b else _NO_TRANS,
                                  m, n, k, alpha, _address(a), a.shape[1], _address(b), b.shape[1],
                                  beta, _address(c), n)

    def gemv(self, alpha: float, x: np.ndarray, b: np.ndarray, beta: float, y: np.ndarray,
             trans_b: bool) -> None:
        # op(b).T @ x: b (k, n) row-major is transposed; b given as (n, k) (trans_b) is not
        rows, cols = b.shape
        if rows * cols < MKL_GEMV_MIN:
            self.small.gemv(alpha, x, b, beta, y, trans_b)
            return
        self.routines[y.dtype][1](_ROW_MAJOR, _NO_TRANS if trans_b else _TRANS, rows, cols, alpha,
                                  _address(b), cols, _address(x), 1, beta, _address(y), 1)

    def axpy(self, alpha: float, x: np.ndarray, y: np.ndarray) -> None:
        self.routines[y.dtype][2](y.size, alpha, _address(x), 1, _address(y), 1)


def _address(x: np.ndarray) -> int:
    """The address of a C-contiguous array's first element, for a ``ctypes`` call:
    through the buffer protocol (a quarter of a microsecond), or for a read-only array
    through ``x.ctypes.data`` (~0.8 us, three times per product: a batch-1 inference's
    four products spent ~10 us on it)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(x))
    except (TypeError, ValueError, BufferError):  # read-only: from_buffer wants a writable buffer
        return x.ctypes.data


# -- products ----------------------------------------------------------------------------------
#: shorter vectors are added by NumPy (two ufunc passes): on a bias-sized vector the call
#: into the BLAS library (through ctypes) costs more than the whole addition
AXPY_MIN = 4096
#: with MKL, single-row products (GEMV) of a matrix of fewer elements run on SciPy's
#: OpenBLAS: MKL's call costs 3 us at any size (and 6 us on 2 threads) where OpenBLAS's is
#: done in 1.5 us (a 500 x 10 output layer at batch 1); OpenBLAS runs products this small on
#: one thread (its own bound is 2304 x 4 elements), so no second thread pool wakes
MKL_GEMV_MIN = 9216
#: BLAS takes 32-bit dimensions (LP64); larger arrays take the NumPy fallback
_MAX_DIM = 2**31 - 1


def _fits(alpha: Any, beta: Any, c: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> bool:
    """True when every array is C-contiguous and aligned, of c's BLAS dtype (float32 /
    float64), with no empty and no over-long dimension; ``c`` shares no memory with ``a``
    or ``b`` (BLAS would read what it has already written); and ``alpha``, ``beta`` are
    finite reals (MKL ignores a NaN ``alpha``). (Plain loops: this runs before every product.)"""
    dtype = c.dtype
    if dtype not in _DTYPES:
        return False
    try:
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            return False
    except (TypeError, OverflowError):  # complex, not a number, an int too large for a float
        return False
    for x in (c, a) if b is None else (c, a, b):
        flags = x.flags
        if x.dtype != dtype or not flags.c_contiguous or not flags.aligned or x.size == 0:
            return False
        if x.size > _MAX_DIM and max(x.shape) > _MAX_DIM:
            return False
    # bounds overlap, exact for contiguous arrays
    return not (np.may_share_memory(c, a) or (b is not None and np.may_share_memory(c, b)))


def _check_writeable(out: np.ndarray, name: str, fn: str) -> None:
    """BLAS writes through a raw pointer, past NumPy's read-only flag: refuse first."""
    if not out.flags.writeable:
        raise ValueError(f"{fn}: the output {name} is read-only")


_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def gemm(
    alpha: float,
    a: np.ndarray,
    b: np.ndarray,
    beta: float,
    c: np.ndarray,
    trans_a: bool = False,
    trans_b: bool = False,
) -> np.ndarray:
    """``c = alpha * op(a) @ op(b) + beta * c`` in place; returns ``c``.

    Args:
        a: ``shape (m, k)``, or ``(k, m)`` with ``trans_a``.
        b: ``shape (k, n)``, or ``(n, k)`` with ``trans_b``.
        c: ``shape (m, n)``, written in place (its contents are not read when beta = 0).

    Raises:
        ValueError: shapes that do not chain, or a read-only ``c``.
    """
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        raise ValueError(f"gemm needs 2-d arrays, got shapes {a.shape}, {b.shape}, {c.shape}")
    m, k = a.shape[::-1] if trans_a else a.shape
    k2, n = b.shape[::-1] if trans_b else b.shape
    if k != k2 or c.shape != (m, n):
        raise ValueError(f"gemm: op(a) {(m, k)} @ op(b) {(k2, n)} does not give c {c.shape}")
    _check_writeable(c, "c", "gemm")
    if not _fits(alpha, beta, c, a, b):
        prod = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
        if beta == 0:
            np.multiply(prod, alpha, out=c)
        else:
            c *= beta
            prod *= alpha
            c += prod
        return c
    lib = _library()
    if m == 1 and n > 1:
        # One row: c[0] = alpha * op(b).T @ op(a)[0] + beta * c[0]  (GEMV on b.T).
        lib.gemv(float(alpha), a.reshape(-1), b, float(beta), c[0], trans_b)  # a (1, k), or (k, 1): contiguous either way
    else:
        lib.gemm(float(alpha), a, b, float(beta), c, trans_a, trans_b)
    return c


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y += alpha * x`` in place, without a temporary; returns ``y``.

    Raises:
        ValueError: ``x`` and ``y`` of different sizes, or a read-only ``y``.
    """
    if x.size != y.size:
        raise ValueError(f"axpy: x of {x.size} elements added to y of {y.size}")
    _check_writeable(y, "y", "axpy")
    if y.size < AXPY_MIN or not _fits(alpha, 1.0, y, x):
        with np.errstate(over="ignore", invalid="ignore"):  # inf / NaN without a warning, as BLAS gives
            y += alpha * x
        return y
    _library().axpy(float(alpha), x, y)
    return y


# -- which library --------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _library() -> Any:
    lib = _STATE.get("lib")
    if lib is None:
        backend()
        lib = _STATE["lib"]
    return lib


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _mkl_path() -> str | None:
    """``libmkl_rt``'s path: in the ``lib`` folder of this environment or of the user's
    site when the ``mkl`` wheel is installed (it puts the library there), else the
    system's; None when MKL is not installed. (Not from the wheel's file list: reading it
    makes ~15 MB of Python objects.)"""
    if "mkl_path" not in _STATE:
        import site
        import sys

        found = None
        for base in dict.fromkeys((sys.prefix, sys.base_prefix, site.getuserbase())):
            candidates = sorted(Path(base, "lib").glob("libmkl_rt.so*"))
            if candidates and _dist_version("mkl") is not None:
                found = str(candidates[0])
                break
        _STATE["mkl_path"] = found or ctypes.util.find_library("mkl_rt")
    return _STATE["mkl_path"]


def available() -> list[str]:
    """The libraries that can run here: ``"openblas"``, and ``"mkl"`` when it is installed."""
    return ["openblas"] + (["mkl"] if _mkl_path() is not None else [])


def _load(name: str) -> Any:
    """The library object ``name`` (loaded once per process)."""
    key = "loaded_" + name
    if key not in _STATE:
        if name == "openblas":
            _STATE[key] = _OpenBLAS()
        else:
            path = _mkl_path()
            if path is None:
                raise ConfigError("Intel MKL is not installed: pip install mkl (Linux x86-64; "
                                  "or pip install \"relunet[fast]\"), or use RELUNET_BLAS=openblas")
            try:
                _STATE[key] = _MKL(path)
            except (OSError, AttributeError) as e:
                raise ConfigError(f"Intel MKL at {path} did not load: {e}") from e
    return _STATE[key]


def _set(lib: Any, reason: str, speedup: float | None = None) -> BlasInfo:
    _STATE["lib"] = lib
    _STATE["info"] = BlasInfo(lib.name, lib.version, reason, speedup)
    return _STATE["info"]


def backend() -> BlasInfo:
    """The library that runs the products, chosen on the first call (see the module's
    docstring: ``RELUNET_BLAS``, else the cached or a new calibration).

    Raises:
        ConfigError: a ``RELUNET_BLAS`` value not in :data:`BLAS_CHOICES`, or ``mkl`` when
            MKL is not installed or does not load.
    """
    if "info" not in _STATE:
        wanted = os.environ.get("RELUNET_BLAS", "auto").strip().lower() or "auto"
        if wanted not in BLAS_CHOICES:
            raise ConfigError(f"RELUNET_BLAS must be one of {', '.join(BLAS_CHOICES)}, got {wanted!r}")
        _choose(wanted, f"RELUNET_BLAS={wanted}")
    return _STATE["info"]


def use(name: str) -> BlasInfo:
    """Run the products on ``name`` from now on in this process (``"openblas"``, ``"mkl"``,
    or ``"auto"``: the cached or a new calibration); returns :func:`backend`.

    Raises:
        ConfigError: an unknown name, or ``mkl`` when MKL is not installed.
    """
    if not isinstance(name, str) or name.strip().lower() not in BLAS_CHOICES:
        raise ConfigError(f"the BLAS must be one of {', '.join(BLAS_CHOICES)}, got {name!r}")
    return _choose(name.strip().lower(), "chosen by relunet.core.blas.use")


def _choose(wanted: str, reason: str) -> BlasInfo:
    if wanted != "auto":
        return _set(_load(wanted), reason)
    if _mkl_path() is None:
        return _set(_load("openblas"), "MKL is not installed")
    try:
        mkl = _load("mkl")
    except ConfigError as e:
        return _set(_load("openblas"), str(e))
    return _verdict(mkl, refresh=False)


def _verdict(mkl: Any, refresh: bool) -> BlasInfo:
    """The cached calibration's choice, or a new calibration (cached unless the machine was
    busy: a verdict measured under load is used once, not kept)."""
    from relunet.core.kernels import default_threads

    threads = default_threads()
    key = cache_key(threads)
    with _cache_lock():  # another process calibrating now: wait for its verdict, not time beside it
        cached = None if refresh else _read_cache().get(key)
        if cached is not None:
            speedup, how = cached, "cached calibration"
        else:
            # to the 2 decimals the reason shows, so that the shown figure and the choice agree
            speedup, how = round(calibrate(threads), 2), "calibrated"
            load = _load_average()
            if load is not None and load >= threads + 1:
                how += f" on a busy machine (load {load:.1f}; not cached)"
            else:
                _write_cache(key, speedup)
    name = "mkl" if speedup >= MIN_SPEEDUP else "openblas"
    reason = (f"{how}: MKL ran one training step's products at {speedup:.2f}x OpenBLAS's speed "
              f"on {threads} thread{'s' if threads > 1 else ''}")
    return _set(_load(name), reason, speedup)


def _load_average() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def recalibrate() -> BlasInfo:
    """Calibrate again (replacing the cached verdict) and run the winner; OpenBLAS without
    MKL. Returns :func:`backend`."""
    if _mkl_path() is None:
        return _set(_load("openblas"), "MKL is not installed")
    return _verdict(_load("mkl"), refresh=True)


def step_products(batch: int = CALIBRATION_BATCH, rng: np.random.Generator | None = None) -> list[tuple[Any, ...]]:
    """``(alpha, a, b, beta, c, trans_a, trans_b)`` of one training step's products of
    :data:`CALIBRATION_SIZES` at ``batch`` rows, float32, as relunet's layers make them (per
    dense layer: the forward ``z += x W`` with the bias in ``z``, the update ``W -= lr x^T g``
    as one GEMM into ``W``, and ``dx = g W^T`` below the first layer): what the calibration
    and ``benchmarks/bench_blas.py`` time. ``rng``: the arrays' generator (default seed 0)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    ops = []
    sizes = CALIBRATION_SIZES
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rng.standard_normal((batch, n_in), dtype=np.float32)
        W = rng.standard_normal((n_in, n_out), dtype=np.float32)
        g = rng.standard_normal((batch, n_out), dtype=np.float32)
        ops.append((1.0, x, W, 1.0, np.zeros((batch, n_out), np.float32), False, False))
        ops.append((-1e-6, x, g, 1.0, W, True, False))
        if i:
            ops.append((1.0, g, W, 0.0, np.zeros((batch, n_in), np.float32), False, True))
    return ops


def calibrate(threads: int | None = None, rounds: int = 5, settle: float = 0.12) -> float:
    """MKL's speed over OpenBLAS's on one training step's products (batch
    :data:`CALIBRATION_BATCH` of :data:`CALIBRATION_SIZES`, float32) at ``threads`` threads
    (None: every usable core): OpenBLAS's best time over MKL's best time in ``rounds``
    alternating rounds (the best, because other work on the machine only ever adds time).
    Each library waits ``settle`` seconds before its turn, so that the other's threads have
    stopped spinning. Caches nothing (see :func:`backend`).

    Raises:
        ConfigError: MKL is not installed or does not load.
    """
    from threadpoolctl import threadpool_limits

    from relunet.core.kernels import default_threads

    libs = [_load("openblas"), _load("mkl")]  # loaded before the limits, so that they cover MKL
    ops = step_products()
    best = [math.inf, math.inf]
    with threadpool_limits(limits=threads or default_threads(), user_api="blas"):
        for _ in range(rounds):
            for i, lib in enumerate(libs):
                time.sleep(settle)
                for alpha, a, b, beta, c, ta, tb in ops:  # warm: threads up, caches filled
                    lib.gemm(alpha, a, b, beta, c, ta, tb)
                t = time.perf_counter()
                for alpha, a, b, beta, c, ta, tb in ops:
                    lib.gemm(alpha, a, b, beta, c, ta, tb)
                best[i] = min(best[i], time.perf_counter() - t)
    return best[0] / max(best[1], 1e-9)


# -- the calibration cache ------------------------------------------------------------------
def cache_path() -> Path:
    """The calibration cache: ``blas.json`` in ``$RELUNET_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/relunet``, else ``~/.cache/relunet``."""
    folder = os.environ.get("RELUNET_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "relunet")
    return Path(folder) / "blas.json"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()  # pragma: no cover


def cache_key(threads: int | None = None) -> str:
    """The calibration's key in the cache: CPU model, machine, ``threads`` (None: every
    usable core) and the versions of NumPy, SciPy and MKL."""
    if threads is None:
        from relunet.core.kernels import default_threads

        threads = default_threads()
    versions = ",".join(f"{n} {_dist_version(n)}" for n in ("numpy", "scipy", "mkl"))
    return f"{_cpu_model()} | {platform.machine()} | {threads} threads | {versions}"


def _read_cache() -> dict[str, float]:
    """The cached verdicts (key -> MKL's speed-up); {} for a missing, oversized or
    malformed file (entries that are not finite positive numbers are dropped)."""
    try:
        data = json.loads(_read_small_file(cache_path(), CACHE_MAX_BYTES))
    except (OSError, ValueError, RecursionError):  # RecursionError: deeply nested JSON
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in ((k, _speedup(v)) for k, v in data.items()) if isinstance(k, str) and v is not None}


def _speedup(v: Any) -> float | None:
    """A cached speed-up as a finite positive float, else None (text, bool, NaN, an integer
    too large for a float)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) and f > 0 else None


def _read_small_file(path: Path, limit: int) -> str:
    """The text of a regular file of at most ``limit`` bytes. Opened without blocking (a
    FIFO would wait for a writer) and checked after opening, so a name that points at a
    device (``/dev/zero``), a FIFO or a folder is refused rather than read.

    Raises:
        OSError: the file cannot be opened, is not a regular file, or is larger.
        ValueError: it is not UTF-8.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise OSError(f"{path} is not a regular file of at most {limit} bytes")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8")


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """Hold ``.blas.lock`` in the cache folder (``flock``): one process at a time calibrates
    and rewrites the cache, so two starting together neither measure each other's load nor
    lose each other's entry. Waits at most :data:`CACHE_LOCK_WAIT` seconds (a lock is freed
    when its process ends); without a lock (no ``fcntl``, a folder that cannot be written)
    the block runs anyway."""
    fd = None
    try:
        if fcntl is None:  # pragma: no cover - Windows
            raise ImportError("fcntl")
        cache_path().parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache_path().parent / ".blas.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        deadline = time.monotonic() + CACHE_LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    except (ImportError, OSError):
        pass
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _write_cache(key: str, speedup: float) -> None:
    """Add the verdict to the cache, written whole to a temporary file then renamed (a
    reader never sees half a file); nothing when the folder cannot be written."""
    path = cache_path()
    data = _read_cache()
    data[key] = round(speedup, 4)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".blas-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
