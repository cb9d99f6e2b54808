r"""Fused element-wise kernels of the training step, and the thread count they (and BLAS) use.

Each kernel here has two forms that compute the same numbers bit for bit:

* the **reference**, plain NumPy ufuncs with ``out=`` (``*_numpy``): the clear statement of
  the arithmetic, one pass over the arrays per ufunc;
* the **fused** form, compiled by `Numba <https://numba.pydata.org>`_ when it is installed,
  for arrays of at least :data:`COMPILED_MIN` elements: one pass over the arrays for the whole update, split over ``threads`` cores (``prange``)
  for arrays of at least :data:`PARALLEL_MIN` elements when at least
  :data:`PARALLEL_MIN_THREADS` threads are set, in the same order of floating-point
  operations on the same dtype (every scalar is cast to the arrays' dtype first, as NumPy
  does with a Python float; no ``fastmath``, so no contraction into fused multiply-adds;
  NumPy's error model, so ``x / 0`` is ``inf`` as in NumPy, and the loops vectorize).

``tests/test_hotpath.py`` checks every fused kernel against its reference, bit for bit,
including NaN, infinities and signed zeros.

The kernels:

* :func:`relu_backward`: ``g <- g * [a > 0]`` in place (ReLU's backward, the mask taken
  from the output ``a``; two passes and a bool mask in NumPy);
* :func:`adam_step`: one Adam / AdamW / AMSGrad step on one parameter array (about twelve
  passes in NumPy, one fused);
* :func:`sgd_step`: one step of SGD with momentum (Nesterov's too) and / or weight decay
  on one parameter array (five to seven passes in NumPy, one fused; plain SGD needs no
  kernel: the network folds it into the weight gradient's product);
* :func:`bias_relu`: a dense layer's bias and ReLU, ``z <- max(z + b, 0)``, after the
  product ``z = x W`` (so the bias is not copied into ``z`` before the product);
* :func:`relu_backward_bias`: ReLU's backward with the bias gradient of the dense layer
  below it (and plain SGD's bias step), ``g <- g * [a > 0]``, ``db = sum_n g_n``;
* :func:`softmax_cross_entropy`: softmax + cross-entropy on one-hot (or soft) targets, the
  loss and ``delta = (softmax(z) - Y) / N`` (about fifteen ufunc calls on a few kilobytes
  in NumPy; three small compiled passes around NumPy's own ``exp`` and ``log``, from
  :data:`LOSS_COMPILED_MIN` logits on, never the parallel form).

Numba is optional (``pip install numba``); without it, or with the environment variable
``RELUNET_KERNELS=numpy``, the references run. It is imported on the first use of a kernel,
not with :mod:`relunet` (its import takes ~0.4 s). The compiled kernels are cached on disk
(``cache=True``), so only the first run on a machine pays the compilation (a few seconds).

Threads: :func:`threads` is the one setting for BLAS (through ``threadpoolctl``) and these
kernels (``numba.set_num_threads``); :func:`default_threads` is the number of cores this
process may run on (``os.sched_getaffinity``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from relunet.core import blas
from relunet.errors import ConfigError

__all__ = [
    "COMPILED_MIN",
    "LOSS_COMPILED_MIN",
    "PARALLEL_MIN",
    "PARALLEL_MIN_THREADS",
    "PARALLEL_MIN_THREADS_SHARED_POOL",
    "adam_step",
    "adam_step_numpy",
    "bias_relu",
    "bias_relu_numpy",
    "compiles",
    "backend",
    "default_threads",
    "flush_subnormal",
    "parallel_min_threads",
    "relu_backward",
    "relu_backward_bias",
    "relu_backward_bias_numpy",
    "relu_backward_numpy",
    "sgd_step",
    "sgd_step_numpy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_numpy",
    "threads",
    "warm_up",
]

#: arrays of fewer elements take the NumPy reference: a few microseconds either way, and a
#: small network (XOR, a test) then never imports Numba (~0.4 s)
COMPILED_MIN = 4096
#: :func:`softmax_cross_entropy` takes its compiled form from this many logits on (a batch
#: of 100 samples of 10 classes): its NumPy reference is some fifteen ufunc calls whose
#: fixed cost, not the arithmetic, is the time on a training batch's logits; smaller ones
#: (XOR, most tests) keep to NumPy and never import Numba
LOSS_COMPILED_MIN = 1000
#: arrays of fewer elements run the serial compiled kernel (a parallel region costs a few
#: microseconds to start, and its worker threads then spin a while: more than a bias
#: vector's, or a 128 x 500 ReLU mask's, whole update)
PARALLEL_MIN = 200_000
#: the parallel form runs only with more threads than this: on two cores the serial kernel
#: (4-5x NumPy already) was faster inside training, because each parallel region wakes one
#: more spinning thread pool beside OpenBLAS's (benchmarks/PROFILE.md)
PARALLEL_MIN_THREADS = 3
#: ... unless the products run on MKL and the kernels on Numba's OpenMP layer: both then run
#: on the one GNU OpenMP thread team (relunet.core.blas loads MKL on it), no second pool
#: spins, and the parallel form pays from 2 threads (Adam's fit at batch 128 on 2 cores:
#: 33.0k samples/s parallel against 30.9k serial; on OpenBLAS 12.2k against 25.5k)
PARALLEL_MIN_THREADS_SHARED_POOL = 2


# -- threads ---------------------------------------------------------------------------------
def default_threads() -> int:
    """The cores this process may run on (its CPU affinity), else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def check_threads(n: Any) -> int:
    """``n`` as a thread count (an integer from 1 to :func:`default_threads`, the cores this
    process may use: more threads than cores only make them wait for each other), or
    :func:`default_threads` for None."""
    if n is None:
        return default_threads()
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"threads must be an integer >= 1 (or None: every core this process may use), "
                          f"got {n!r}")
    cores = default_threads()
    if n > cores:
        raise ConfigError(f"threads must be at most {cores}, the cores this process may use, got {int(n)}")
    return int(n)


@contextlib.contextmanager
def threads(n: int | None = None) -> Iterator[int]:
    """Within the block, BLAS (every BLAS library ``threadpoolctl`` sees) and the fused
    kernels run on ``n`` threads (None: :func:`default_threads`); the previous settings come
    back after it. OpenMP runtimes are left alone (PyTorch's, in the same process, keeps its
    own setting). Yields the thread count."""
    n = check_threads(n)
    blas.backend()  # the BLAS library is loaded (MKL, calibrated) before the limits, so they cover it
    numba = _numba()
    before = numba.get_num_threads() if numba is not None else None
    # BLAS only: an OpenMP runtime in the process belongs to its owner (PyTorch's, say), and
    # Numba's thread count is its own setting (numba.set_num_threads, per calling thread)
    with threadpool_limits(limits=n, user_api="blas"):
        if numba is not None:
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        try:
            yield n
        finally:
            if numba is not None:
                numba.set_num_threads(before)


# -- the backend -----------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _numba() -> Any:
    """The ``numba`` module, or None when it is not installed or ``RELUNET_KERNELS=numpy``."""
    if "numba" not in _STATE:
        wanted = os.environ.get("RELUNET_KERNELS", "auto").strip().lower()
        if wanted not in ("auto", "numba", "numpy"):
            raise ConfigError(f"RELUNET_KERNELS must be 'auto', 'numba' or 'numpy', got {wanted!r}")
        module = None
        if wanted != "numpy" and importlib.util.find_spec("numba") is not None:
            module = _start_numba()
        elif wanted == "numba":
            raise ConfigError("RELUNET_KERNELS=numba, but numba is not installed (pip install numba)")
        _STATE["numba"] = module
    return _STATE["numba"]


def _start_numba() -> Any:
    """Import Numba and start its threading layer, leaving the process's OpenMP thread
    count as it was: Numba's OpenMP layer sets it to every core when it starts, which would
    change the thread count of another OpenMP user in the process (PyTorch's
    ``torch.get_num_threads()``); Numba's own count is :func:`threads`' setting."""
    numba = importlib.import_module("numba")
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "openmp"]
    numba.get_num_threads()  # starts the threading layer
    if before:
        threadpool_limits(limits=min(before), user_api="openmp")
    return numba


def warm_up(dtype: Any = np.float32) -> str:
    """Import Numba and load (or compile) every kernel's serial form for ``dtype`` now,
    rather than inside the first training step; returns :func:`backend`. Idempotent."""
    t = np.dtype(dtype).type
    one = np.ones(COMPILED_MIN, dtype=dtype)
    relu_backward(one.copy(), one)
    rows = one.reshape(-1, 64)
    bias_relu(rows.copy(), rows[0].copy())
    relu_backward_bias(rows.copy(), rows, rows[0].copy(), rows[0].copy(), -0.01)
    adam_step(one.copy(), one, one.copy(), one.copy(), None, one.copy(), None, b1=0.9, b2=0.999,
              step_size=t(0.001), bc2_sqrt=t(0.03), eps=t(1e-8), decay=0.0, coupled=False)
    sgd_step(one.copy(), one, one.copy(), one.copy(), one.copy(), lr=0.01, momentum=0.9, dampening=0.0,
             nesterov=True, weight_decay=1e-4, first=False)
    logits = np.ones((LOSS_COMPILED_MIN, 1), dtype=dtype)
    softmax_cross_entropy(logits, logits, logits.copy(), logits.copy(), logits.copy())
    return backend()


def backend() -> str:
    """``"numba"`` when the fused kernels are compiled, ``"numpy"`` when the references run."""
    return "numba" if _numba() is not None else "numpy"


def _compiled(name: str) -> tuple[Any, Any] | None:
    """The serial and the parallel compiled form of the kernel ``name`` (None without Numba)."""
    if name not in _STATE:
        numba = _numba()
        _STATE[name] = None if numba is None else _KERNELS[name](numba)
    return _STATE[name]


def compiles(size: int) -> bool:
    """True when an array of ``size`` elements takes the compiled kernels (Numba is there and
    ``size >= COMPILED_MIN``): the network folds a dense layer's bias into the ReLU after it
    only then (for a small array NumPy's separate passes cost less than the fold's)."""
    return size >= COMPILED_MIN and _numba() is not None


def _pick(name: str, size: int, smallest: int = COMPILED_MIN, parallel_ok: bool = True) -> Any:
    """The compiled kernel for an array of ``size`` elements: the parallel form for a large
    array when enough threads are set (and ``parallel_ok``), else the serial one; None for
    an array of fewer than ``smallest`` elements or without Numba (the caller then runs the
    NumPy reference)."""
    if size < smallest:
        return None
    forms = _compiled(name)
    if forms is None:
        return None
    parallel = (parallel_ok and size >= PARALLEL_MIN
                and _STATE["numba"].get_num_threads() >= parallel_min_threads())
    return forms[1] if parallel else forms[0]


def parallel_min_threads() -> int:
    """The fewest threads at which a large array takes a kernel's parallel form:
    :data:`PARALLEL_MIN_THREADS_SHARED_POOL` when the BLAS and these kernels share one
    OpenMP thread team (MKL on GNU OpenMP, Numba's ``omp`` layer), else
    :data:`PARALLEL_MIN_THREADS`."""
    if blas.backend().name != "mkl" or _numba() is None:
        return PARALLEL_MIN_THREADS
    if "layer" not in _STATE:
        try:
            _STATE["layer"] = _STATE["numba"].threading_layer()
        except ValueError:  # pragma: no cover - no parallel region has started the layer yet
            return PARALLEL_MIN_THREADS
    return PARALLEL_MIN_THREADS_SHARED_POOL if _STATE["layer"] == "omp" else PARALLEL_MIN_THREADS


# -- ReLU's backward ------------------------------------------------------------------------------
def relu_backward_numpy(g: np.ndarray, a: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    r"""``g <- g \odot [a > 0]`` in place (the reference); ``mask``: bool scratch of g's shape."""
    return np.multiply(g, np.greater(a, 0, out=mask), out=g)


def relu_backward(g: np.ndarray, a: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    r"""ReLU's backward in place: ``g <- g \odot [a > 0]``, ``a`` the ReLU output (``a > 0``
    exactly where the input was), g and a C-contiguous of one float dtype and shape.
    Returns ``g``. A product, not a selection: ``NaN * 0`` stays NaN, ``-x * 0`` is ``-0``."""
    kernel = _pick("relu_backward", g.size)
    if kernel is None or not _fits(g, a):
        return relu_backward_numpy(g, a, mask)
    kernel(g.reshape(-1), a.reshape(-1), g.dtype.type(1), g.dtype.type(0))
    return g


def _relu_backward_kernels(numba: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def make(parallel: bool) -> Callable[..., Any]:
        loop = numba.prange if parallel else range

        def kernel(g, a, one, zero):  # pragma: no cover - compiled
            for i in loop(g.size):
                g[i] = g[i] * (one if a[i] > 0 else zero)

        return numba.njit(parallel=parallel, cache=True, nogil=True, error_model="numpy")(kernel)

    return make(False), make(True)


# -- the optimizers' state: no subnormal numbers ---------------------------------------------------
def flush_subnormal(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    r"""``x`` with every subnormal value (``0 < |x| <`` the dtype's smallest normal number,
    1.2e-38 in float32) replaced by a zero of its sign, in place; ``w``: scratch of x's
    shape and dtype.

    For an optimizer's running averages: a weight whose gradient stays 0 (a unit inactive
    on every sample of many batches) has Adam's :math:`m \leftarrow 0.9\,m` decay into the
    subnormal range and through it, about 150 steps in float32, and on x86 every
    arithmetic operation with a subnormal operand or result takes a microcode assist of
    ~100 cycles: Adam at batch 1 ran at half speed, with 28-65% of ``m`` subnormal in the
    500 x 500 layers after one epoch (``benchmarks/PROFILE.md``). The flushed values are
    below 1.2e-38 (float32), so their share of a parameter's step is at most
    :math:`s \cdot 1.2\cdot10^{-38} / \epsilon` for Adam (about 1e-32 with its default
    :math:`\epsilon = 10^{-8}` and :math:`s \le 10\eta`, :math:`\eta \le 10^{-3}`) and
    :math:`\eta \cdot 1.2\cdot10^{-38}` for SGD: less than half a float32 unit of any weight
    larger than about 1e-24 in magnitude, which therefore takes the same value either way.
    PyTorch keeps them (slowly) unless ``torch.set_flush_denormal(True)``; TensorFlow
    flushes on its CPU threads.
    """
    np.absolute(x, out=w)
    np.less(w, _tiny(x.dtype.type), out=w)  # 1 where subnormal (or 0)
    np.subtract(1, w, out=w)
    x *= w  # x * 1 = x; a subnormal x * 0 = a zero of its sign
    return x


def _tiny(t: Any) -> Any:
    """The smallest normal number of the float type ``t``."""
    return t(np.finfo(t).tiny)


# -- Adam ------------------------------------------------------------------------------------------
def adam_step_numpy(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, vmax: np.ndarray | None,
                    w: np.ndarray, w2: np.ndarray | None, *, b1: float, b2: float, step_size: float,
                    bc2_sqrt: float, eps: float, decay: float, coupled: bool) -> None:
    r"""One Adam step on one parameter array, in place (the reference; torch's order of
    operations, see :class:`relunet.training.optimizers.Adam`):

    .. math::
        \theta &\leftarrow \theta (1 - \eta\lambda) \quad \text{(decoupled)}, \qquad
        g \leftarrow g + \lambda\theta \quad \text{(coupled)}\\
        m &\leftarrow m + (1 - \beta_1)(g - m), \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,
        \qquad \hat v = \max(\hat v, v) \ \text{(AMSGrad)}\\
        \theta &\leftarrow \theta - s\, \frac{m}{\sqrt{\hat v} / c_2 + \epsilon}

    with ``m`` and ``v`` flushed to zero below the dtype's smallest normal number
    (:func:`flush_subnormal`).

    Args:
        p, g, m, v: the parameter, its gradient (not modified) and the two moments.
        vmax: AMSGrad's running maximum of ``v`` (None: plain Adam).
        w, w2: scratch of p's shape (``w2`` only for coupled decay).
        step_size: :math:`s = \eta / (1 - \beta_1^t)`; bc2_sqrt: :math:`c_2 = \sqrt{1 - \beta_2^t}`.
        decay: the factor :math:`1 - \eta\lambda` (decoupled) or :math:`\lambda` (coupled);
            0 for neither.
        coupled: ``decay`` is the coupled (L2) coefficient.
    """
    # Python floats, which NumPy rounds to the arrays' dtype as the kernel does: a NumPy float64
    # (``opt.lr = np.float64(0.1)``) would take a float32 array's products in float64
    b1, b2, step_size, bc2_sqrt, eps, decay = map(float, (b1, b2, step_size, bc2_sqrt, eps, decay))
    if decay and not coupled:
        p *= decay
    elif decay:
        np.multiply(p, decay, out=w2)
        w2 += g
        g = w2
    np.subtract(g, m, out=w)
    w *= 1 - b1
    m += w
    flush_subnormal(m, w)
    v *= b2
    np.multiply(g, g, out=w)
    w *= 1 - b2
    v += w
    flush_subnormal(v, w)
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    np.sqrt(v, out=w)
    w /= bc2_sqrt
    w += eps
    np.divide(m, w, out=w)
    w *= -step_size
    p += w


def adam_step(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, vmax: np.ndarray | None,
              w: np.ndarray, w2: np.ndarray | None, *, b1: float, b2: float, step_size: float,
              bc2_sqrt: float, eps: float, decay: float, coupled: bool) -> None:
    """:func:`adam_step_numpy` in one fused pass (same arguments, same results bit for bit);
    the scratch arrays are then unused."""
    kernel = _pick("adam", p.size)
    states = (m, v) + (() if vmax is None else (vmax,))
    if kernel is None or not _fits(p, g, *states, writes=states):
        adam_step_numpy(p, g, m, v, vmax, w, w2, b1=b1, b2=b2, step_size=step_size, bc2_sqrt=bc2_sqrt,
                        eps=eps, decay=decay, coupled=coupled)
        return
    t = p.dtype.type
    mode = 0 if not decay else (2 if coupled else 1)
    flat_vmax = vmax.reshape(-1) if vmax is not None else v.reshape(-1)
    kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), flat_vmax, vmax is not None,
           t(1 - b1), t(b2), t(1 - b2), t(-step_size), t(bc2_sqrt), t(eps), t(decay), mode, _tiny(t))


def _adam_kernels(numba: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def make(parallel: bool) -> Callable[..., Any]:
        loop = numba.prange if parallel else range

        def kernel(p, g, m, v, vmax, ams, c1, b2, c2, neg_step, bc2, eps, decay, mode, tiny):  # pragma: no cover
            for i in loop(p.size):
                pi, gi = p[i], g[i]
                if mode == 1:  # decoupled (AdamW): p *= 1 - lr wd
                    pi = pi * decay
                elif mode == 2:  # coupled (L2): g + wd p
                    gi = pi * decay + gi
                mi = m[i] + (gi - m[i]) * c1
                vi = v[i] * b2 + (gi * gi) * c2
                mi = mi * (abs(mi) >= tiny)  # flush_subnormal: x * 1, or a subnormal x * 0
                vi = vi * (abs(vi) >= tiny)
                m[i] = mi
                v[i] = vi
                if ams:
                    vm = vmax[i]
                    vi = vm if (vm >= vi or vm != vm) else vi  # np.maximum: NaN wins
                    vmax[i] = vi
                p[i] = pi + (mi / (np.sqrt(vi) / bc2 + eps)) * neg_step

        return numba.njit(parallel=parallel, cache=True, nogil=True, error_model="numpy")(kernel)

    return make(False), make(True)


# -- SGD with momentum and / or weight decay -------------------------------------------------------
def sgd_step_numpy(p: np.ndarray, g: np.ndarray, buf: np.ndarray | None, w: np.ndarray, w2: np.ndarray | None,
                   *, lr: float, momentum: float, dampening: float, nesterov: bool, weight_decay: float,
                   first: bool) -> None:
    r"""One SGD step with momentum and / or (coupled) weight decay on one parameter array, in
    place (the reference; torch's order of operations, see
    :class:`relunet.training.optimizers.SGD`):

    .. math::
        d &= g + \lambda\theta \quad (\lambda \ne 0; \text{ else } d = g)\\
        b &\leftarrow d \ \text{(first step)}, \qquad b \leftarrow \mu b + (1 - \tau) d
            \ \text{(later steps)} \quad (\mu \ne 0)\\
        d &\leftarrow d + \mu b \ \text{(Nesterov)}, \qquad d \leftarrow b \ \text{(otherwise)}\\
        \theta &\leftarrow \theta - \eta\, d

    with ``b`` flushed to zero below the dtype's smallest normal number (:func:`flush_subnormal`).

    Args:
        p, g: the parameter and its gradient (not modified).
        buf: the momentum buffer :math:`b` (None when ``momentum`` is 0).
        w, w2: scratch of p's shape (``w2`` only with weight decay).
        first: the first step (the buffer starts as :math:`d`, as torch's ``clone(grad)``).
    """
    # Python floats (see adam_step_numpy)
    lr, momentum, dampening, weight_decay = map(float, (lr, momentum, dampening, weight_decay))
    d = g
    if weight_decay:
        np.multiply(p, weight_decay, out=w2)
        w2 += g
        d = w2
    if momentum:
        if first:
            np.copyto(buf, d)
        else:
            buf *= momentum
            np.multiply(d, 1 - dampening, out=w)
            buf += w
        flush_subnormal(buf, w)
        if nesterov:
            np.multiply(buf, momentum, out=w)
            w += d
            d = w
        else:
            d = buf
    np.multiply(d, -lr, out=w)
    p += w


def sgd_step(p: np.ndarray, g: np.ndarray, buf: np.ndarray | None, w: np.ndarray, w2: np.ndarray | None,
             *, lr: float, momentum: float, dampening: float, nesterov: bool, weight_decay: float,
             first: bool) -> None:
    """:func:`sgd_step_numpy` in one fused pass (same arguments, same results bit for bit):
    it reads ``p``, ``g`` and the buffer and writes ``p`` and the buffer once, where the
    reference makes five to seven passes; the scratch arrays are then unused."""
    kernel = _pick("sgd", p.size)
    bufs = () if buf is None else (buf,)
    if kernel is None or not _fits(p, g, *bufs, writes=bufs):
        sgd_step_numpy(p, g, buf, w, w2, lr=lr, momentum=momentum, dampening=dampening,
                       nesterov=nesterov, weight_decay=weight_decay, first=first)
        return
    t = p.dtype.type
    flat_buf = (p if buf is None else buf).reshape(-1)
    kernel(p.reshape(-1), g.reshape(-1), flat_buf, bool(weight_decay), t(weight_decay),
           bool(momentum), t(momentum), t(1 - dampening), bool(first), bool(nesterov), _scalar(t, -lr),
           _tiny(t))


def _sgd_kernels(numba: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def make(parallel: bool) -> Callable[..., Any]:
        loop = numba.prange if parallel else range

        def kernel(p, g, b, decays, wd, moves, mu, c, first, nesterov, neg_lr, tiny):  # pragma: no cover
            for i in loop(p.size):
                pi, di = p[i], g[i]
                if decays:
                    di = pi * wd + di
                if moves:
                    bi = di if first else b[i] * mu + di * c
                    bi = bi * (abs(bi) >= tiny)  # flush_subnormal: x * 1, or a subnormal x * 0
                    b[i] = bi
                    di = bi * mu + di if nesterov else bi
                p[i] = pi + di * neg_lr

        return numba.njit(parallel=parallel, cache=True, nogil=True, error_model="numpy")(kernel)

    return make(False), make(True)


# -- a dense layer's bias with ReLU: forward, and backward with the bias gradient --------------------
def bias_relu_numpy(z: np.ndarray, b: np.ndarray, zeros: np.ndarray | None = None) -> np.ndarray:
    r"""``z <- \max(z + b, 0)`` in place (the reference), ``b`` broadcast over the rows;
    ``zeros``: a row of zeros of b's shape (made when None)."""
    with np.errstate(over="ignore", invalid="ignore"):  # inf / NaN without a warning, as in BLAS
        np.add(z, b, out=z)
    return np.maximum(z, np.zeros_like(b) if zeros is None else zeros, out=z)


def bias_relu(z: np.ndarray, b: np.ndarray, zeros: np.ndarray | None = None) -> np.ndarray:
    r"""A dense layer's bias and ReLU in one pass, in place: ``z <- \max(z + b, 0)`` for
    ``z = x W`` of ``shape (n_samples, n_units)`` and ``b`` of ``shape (n_units,)``. Returns ``z``.
    As :func:`numpy.maximum`: a NaN stays (its sign too), ``-0`` becomes ``+0``."""
    kernel = _pick("bias_relu", z.size)
    if kernel is None or z.ndim != 2 or not _fits_rows(z, b):
        return bias_relu_numpy(z, b, zeros)
    kernel(z, b, z.dtype.type(0))
    return z


def _bias_relu_kernels(numba: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def make(parallel: bool) -> Callable[..., Any]:
        loop = numba.prange if parallel else range

        def kernel(z, b, zero):  # pragma: no cover - compiled
            for i in loop(z.shape[0]):
                row = z[i]
                for j in range(row.size):
                    v = row[j] + b[j]
                    row[j] = v if (v > zero or v != v) else zero

        return numba.njit(parallel=parallel, cache=True, nogil=True, error_model="numpy")(kernel)

    return make(False), make(True)


def relu_backward_bias_numpy(g: np.ndarray, a: np.ndarray, db: np.ndarray, b: np.ndarray | None = None,
                             neg_lr: float = 0.0, mask: np.ndarray | None = None) -> np.ndarray:
    r"""``g <- g \odot [a > 0]``, ``db <- \sum_n g_n``, and with ``b``: ``b <- b + \text{neg\_lr}\, db``
    (the reference); ``mask``: bool scratch of g's shape."""
    relu_backward_numpy(g, a, mask)
    np.add.reduce(g, axis=0, out=db)
    if b is not None:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging step: inf / NaN, as in BLAS
            b += db * b.dtype.type(neg_lr)
    return g


def relu_backward_bias(g: np.ndarray, a: np.ndarray, db: np.ndarray, b: np.ndarray | None = None,
                       neg_lr: float = 0.0, mask: np.ndarray | None = None) -> np.ndarray:
    r"""ReLU's backward and the bias gradient of the dense layer below it, in one pass:

    .. math::
        g \leftarrow g \odot [a > 0], \qquad db = \sum_n g_n
        \quad (\text{then, given } b:\ b \leftarrow b - \eta\, db)

    ``g``, ``a`` of ``shape (n_samples, n_units)`` (``a`` the ReLU output), ``db`` and ``b``
    of ``shape (n_units,)``; ``neg_lr`` is :math:`-\eta` (the fused plain SGD step of the
    bias). The sum starts from 0 and runs over the rows in order, as NumPy's
    ``add.reduce(g, axis=0)`` does for two columns or more, so the results are NumPy's bit
    for bit. Returns ``g``."""
    kernel = _pick("relu_backward_bias", g.size)
    bs = () if b is None else (b,)
    # NOTE: one column is summed pairwise by NumPy (a contiguous reduction): not this order
    if (kernel is None or g.ndim != 2 or g.shape[1] < 2 or g.shape != a.shape or not _fits(g, a)
            or not _fits_rows(g, db, *bs, writes=(db, *bs))):
        return relu_backward_bias_numpy(g, a, db, b, neg_lr, mask)
    t = g.dtype.type
    kernel(g, a, db, db if b is None else b, b is not None, _scalar(t, neg_lr), t(1), t(0))
    return g


def _scalar(t: Any, x: float) -> Any:
    """``x`` as the scalar type ``t``, rounded as NumPy's cast rounds it: from half a unit in
    the last place above ``t``'s largest value on, an infinity, without the warning NumPy's
    cast gives there (a BLAS library's conversion gives it quietly too)."""
    if abs(x) <= float(np.finfo(t).max) or x != x:
        return t(x)
    if abs(x) < _rounds_to_inf(t):
        with np.errstate(over="ignore"):  # rounds down to the largest value; NumPy warns all the same
            return t(x)
    return t(math.copysign(math.inf, x))


def _rounds_to_inf(t: Any) -> float:
    """The smallest magnitude that rounds to infinity in ``t`` (inf for float64)."""
    bound = _STATE.get(("inf", t))
    if bound is None:
        big = np.finfo(t).max
        with np.errstate(over="ignore"):
            bound = _STATE[("inf", t)] = float(big) + float(np.spacing(big)) / 2
    return bound


#: columns per block of the parallel bias-gradient kernel (each thread sums whole columns)
_COLUMN_BLOCK = 64


def _relu_backward_bias_kernels(numba: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def serial(g, a, db, b, step, neg_lr, one, zero):  # pragma: no cover - compiled
        n, k = g.shape
        for j in range(k):
            db[j] = zero  # NumPy's add.reduce starts from its identity: a column of -0 sums to +0
        for i in range(n):
            gi, ai = g[i], a[i]
            for j in range(k):
                gi[j] = gi[j] * (one if ai[j] > zero else zero)
            for j in range(k):
                db[j] += gi[j]
        if step:
            for j in range(k):
                b[j] = b[j] + db[j] * neg_lr

    def parallel(g, a, db, b, step, neg_lr, one, zero):  # pragma: no cover - compiled
        # the mask over blocks of rows, then each block of columns summed down its rows in
        # order; a mask and a sum in one loop (over a block of columns) ran 3.5x slower than
        # the serial kernel: writing g and db in one loop kept it from vectorizing
        n, k = g.shape
        for i in numba.prange(n):
            gi, ai = g[i], a[i]
            for j in range(k):
                gi[j] = gi[j] * (one if ai[j] > zero else zero)
        for c in numba.prange((k + _COLUMN_BLOCK - 1) // _COLUMN_BLOCK):
            lo = c * _COLUMN_BLOCK
            hi = min(k, lo + _COLUMN_BLOCK)
            acc = db[lo:hi]
            for j in range(hi - lo):
                acc[j] = zero
            for i in range(n):
                gi = g[i, lo:hi]
                for j in range(hi - lo):
                    acc[j] += gi[j]
            if step:
                for j in range(lo, hi):
                    b[j] = b[j] + db[j] * neg_lr

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    return jit(serial), numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")(parallel)


# -- softmax + cross-entropy ------------------------------------------------------------------------
def softmax_cross_entropy_numpy(z: np.ndarray, Y: np.ndarray, out: np.ndarray, col: np.ndarray,
                                tmp: np.ndarray) -> float:
    r"""Softmax + cross-entropy on the logits ``z`` and the (one-hot or soft) targets ``Y``,
    both ``shape (N, K)`` (the reference): returns the loss, writes the delta into ``out``.

    .. math::
        s = z - \max_k z, \quad
        L = \frac1N \sum_n \Big(\big(\textstyle\sum_k Y_{nk}\big) \log \sum_k e^{s_{nk}}
            - \sum_k Y_{nk} s_{nk}\Big), \quad
        \delta = \frac{\mathrm{softmax}(z) - Y}{N}

    Args:
        z, Y: logits and targets, ``shape (N, K)``, ``N >= 1``.
        out: the delta, z's shape (may be ``z`` itself); col: scratch ``shape (N, 1)``;
            tmp: scratch of z's shape.
    """
    n = len(Y)
    # NOTE: sums by ufuncs, not np.dot/vdot: those call NumPy's BLAS, whose thread pool
    # must stay asleep while the layers run on SciPy's (see relunet.core.blas).
    # (ufunc.reduce is np.max / np.sum without their Python wrappers: same result)
    np.maximum.reduce(z, axis=1, keepdims=True, out=col)
    s = np.subtract(z, col, out=out)
    ys = float(np.add.reduce(np.multiply(Y, s, out=tmp), axis=None))  # sum_nk Y s
    e = np.exp(s, out=out)
    np.add.reduce(e, axis=1, keepdims=True, out=col)
    np.divide(e, col, out=out)  # softmax
    np.log(col, out=col)
    y_rows = np.add.reduce(Y, axis=1, keepdims=True)
    value = (float(np.add.reduce(np.multiply(y_rows, col, out=col), axis=None)) - ys) / n
    out -= Y
    out /= n
    return value


def softmax_cross_entropy(z: np.ndarray, Y: np.ndarray, out: np.ndarray, col: np.ndarray,
                          tmp: np.ndarray) -> float:
    """:func:`softmax_cross_entropy_numpy` in three compiled passes (same arguments, the
    same delta and loss bit for bit): the row maxima, ``s = z - max`` and
    :math:`\\sum Y s`; then NumPy's ``exp`` in place; the row sums of ``e``, the delta and
    :math:`\\sum_k Y_{nk}` (into ``tmp``); NumPy's ``log`` of the row sums; the loss's sum.

    The exponential and the logarithm stay NumPy's (its SIMD ``exp``/``log`` and the C
    library's, which Numba calls, may differ in the last bit), and every sum is taken in
    NumPy's order (its pairwise summation: rows of fewer than 8 values in a row, up to 128
    in 8 interleaved partial sums, longer ones halved at a multiple of 8)."""
    kernel = _pick("softmax_cross_entropy", z.size, LOSS_COMPILED_MIN, parallel_ok=False)
    if kernel is None or not _fits_loss(z, Y, out, col, tmp):
        return softmax_cross_entropy_numpy(z, Y, out, col, tmp)
    shift, normalize, total = kernel
    ys = shift(z, Y, out, col)
    np.exp(out, out=out)
    normalize(out, Y, col, tmp)
    np.log(col, out=col)
    return (float(total(tmp, col)) - float(ys)) / len(z)


def _fits_loss(z: np.ndarray, Y: np.ndarray, out: np.ndarray, col: np.ndarray, tmp: np.ndarray) -> bool:
    """2-D arrays of one shape (``col``: one column), C-contiguous, of one float dtype;
    ``out``, ``col`` and ``tmp`` writeable (see :func:`_fits`)."""
    d = z.dtype
    return (d in _FLOATS and Y.dtype == d and out.dtype == d and col.dtype == d and tmp.dtype == d
            and z.ndim == 2 and Y.shape == z.shape and out.shape == z.shape and tmp.shape == z.shape
            and col.shape == (z.shape[0], 1)
            and z.flags.c_contiguous and Y.flags.c_contiguous and out.flags.c_contiguous
            and col.flags.c_contiguous and tmp.flags.c_contiguous
            and out.flags.writeable and col.flags.writeable and tmp.flags.writeable)


def _term(a: np.ndarray, b: np.ndarray | None, i: int) -> Any:  # pragma: no cover - compiled
    """``a[i] * b[i]``, or ``a[i]`` when ``b`` is None."""
    if b is None:
        return a[i]
    return a[i] * b[i]


def _pairwise_leaf(a: np.ndarray, b: np.ndarray | None, start: int, n: int,
                   zero: Any) -> Any:  # pragma: no cover - compiled
    """NumPy's sum of ``a[i] * b[i]`` (``b`` None: of ``a[i]``) for ``start <= i < start + n``,
    ``n <= 128``: fewer than 8 terms in a row from ``-0``, else 8 interleaved partial sums
    added as a tree, then the last ``n % 8`` terms (compiled into the loss kernels)."""
    if n < 8:
        res = -zero
        for i in range(start, start + n):
            res += _term(a, b, i)
        return res
    r0, r1, r2, r3 = (_term(a, b, start), _term(a, b, start + 1), _term(a, b, start + 2),
                      _term(a, b, start + 3))
    r4, r5, r6, r7 = (_term(a, b, start + 4), _term(a, b, start + 5), _term(a, b, start + 6),
                      _term(a, b, start + 7))
    stop = start + n - n % 8
    i = start + 8
    while i < stop:
        r0 += _term(a, b, i)
        r1 += _term(a, b, i + 1)
        r2 += _term(a, b, i + 2)
        r3 += _term(a, b, i + 3)
        r4 += _term(a, b, i + 4)
        r5 += _term(a, b, i + 5)
        r6 += _term(a, b, i + 6)
        r7 += _term(a, b, i + 7)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(stop, start + n):
        res += _term(a, b, i)
    return res


def _pairwise_sum(a: np.ndarray, b: np.ndarray | None, start: int, n: int,
                  zero: Any) -> Any:  # pragma: no cover - compiled
    """:func:`_pairwise_leaf` for any ``n``, as NumPy's ``pairwise_sum``: more than 128
    terms are split at ``n2 = n // 2`` rounded down to a multiple of 8, the two halves summed
    the same way and added (:func:`_pairwise_tree`)."""
    if n <= 128:
        return _pairwise_leaf(a, b, start, n, zero)
    return _pairwise_tree(a, b, start, n, zero)


def _pairwise_tree(a: np.ndarray, b: np.ndarray | None, start: int, n: int,
                   zero: Any) -> Any:  # pragma: no cover - compiled
    """NumPy's recursive halving of :func:`_pairwise_sum`, on an explicit stack (compiled
    code is not recursive here; a function of its own keeps the stack's allocation out of
    the short sums)."""
    frames = np.empty((128, 3), dtype=np.int64)  # start, length, halves begun
    sums = np.empty(128, dtype=a.dtype)
    frames[0, 0], frames[0, 1], frames[0, 2] = start, n, 0
    depth, done = 1, 0
    while depth:
        s, m, halves = frames[depth - 1, 0], frames[depth - 1, 1], frames[depth - 1, 2]
        if m <= 128:
            sums[done] = _pairwise_leaf(a, b, s, m, zero)
            done += 1
            depth -= 1
        elif halves == 2:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
            depth -= 1
        else:
            n2 = m // 2
            n2 -= n2 % 8
            frames[depth - 1, 2] = halves + 1
            frames[depth, 0] = s if halves == 0 else s + n2
            frames[depth, 1] = n2 if halves == 0 else m - n2
            frames[depth, 2] = 0
            depth += 1
    return sums[0]


def _softmax_cross_entropy_kernels(numba: Any) -> tuple[Any, None]:
    # NOTE: the sums are module-level functions made callable from compiled code, not
    # kernels of their own: a kernel that calls another from its closure is never cached
    if not _STATE.get("pairwise"):
        numba.extending.register_jitable(_term)
        numba.extending.register_jitable(_pairwise_leaf)
        numba.extending.register_jitable(_pairwise_tree)
        numba.extending.register_jitable(_pairwise_sum)
        _STATE["pairwise"] = True
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    def shift(z, Y, out, col):  # pragma: no cover - compiled
        zero = z.dtype.type(0)
        n, k = z.shape
        for r in range(n):
            m = z[r, 0]
            for j in range(1, k):
                x = z[r, j]
                m = m if (m > x or m != m) else x  # np.maximum: NaN wins
            col[r, 0] = m
            for j in range(k):
                out[r, j] = z[r, j] - m
        return zero + _pairwise_sum(Y.reshape(Y.size), out.reshape(out.size), 0, out.size, zero)

    def normalize(out, Y, col, tmp):  # pragma: no cover - compiled
        zero = out.dtype.type(0)
        n, k = out.shape
        n_t = out.dtype.type(n)
        flat = out.reshape(out.size)
        y_flat = Y.reshape(Y.size)
        rows = tmp.reshape(tmp.size)
        if k <= 128:  # the row sums, each row one leaf (a loop without the tree's calls)
            for r in range(n):
                col[r, 0] = zero + _pairwise_leaf(flat, None, r * k, k, zero)
                rows[r] = zero + _pairwise_leaf(y_flat, None, r * k, k, zero)
        else:
            for r in range(n):
                col[r, 0] = zero + _pairwise_tree(flat, None, r * k, k, zero)
                rows[r] = zero + _pairwise_tree(y_flat, None, r * k, k, zero)
        for r in range(n):
            c = col[r, 0]
            for j in range(k):
                out[r, j] = ((out[r, j] / c) - Y[r, j]) / n_t

    def total(tmp, col):  # pragma: no cover - compiled
        zero = col.dtype.type(0)
        n = col.shape[0]
        return zero + _pairwise_sum(tmp.reshape(tmp.size), col.reshape(n), 0, n, zero)

    return (jit(shift), jit(normalize), jit(total)), None


_KERNELS: dict[str, Callable[[Any], tuple[Any, Any]]] = {
    "relu_backward": _relu_backward_kernels,
    "adam": _adam_kernels,
    "sgd": _sgd_kernels,
    "bias_relu": _bias_relu_kernels,
    "relu_backward_bias": _relu_backward_bias_kernels,
    "softmax_cross_entropy": _softmax_cross_entropy_kernels,
}


def _fits_rows(first: np.ndarray, *rows: np.ndarray, writes: tuple[np.ndarray, ...] = ()) -> bool:
    """``first`` and ``writes`` as :func:`_fits` takes them; each of ``rows`` a C-contiguous
    vector of its dtype and of its row length."""
    return _fits(first, writes=writes) and all(
        r.dtype == first.dtype and r.ndim == 1 and r.flags.c_contiguous and r.size == first.shape[-1]
        for r in rows
    )


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fits(first: np.ndarray, *others: np.ndarray, writes: tuple[np.ndarray, ...] = ()) -> bool:
    """All C-contiguous, of one float dtype (float32 / float64) and one size; ``first`` and
    ``writes`` (the arrays the kernel writes) writeable: Numba will not compile a write to a
    read-only array, the reference then raises NumPy's ``ValueError``."""
    dtype = first.dtype
    return (
        dtype in _FLOATS
        and first.flags.c_contiguous
        and first.flags.writeable
        and all(w.flags.writeable for w in writes)
        and all(o.dtype == dtype and o.flags.c_contiguous and o.size == first.size for o in others)
    )
