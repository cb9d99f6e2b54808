"""Row-major BLAS calls that write into a given array: the matrix products of the hot path.

``gemm(alpha, a, b, beta, c)`` computes, in place in ``c``,

.. math:: c \\leftarrow \\alpha\\, \\mathrm{op}(a)\\, \\mathrm{op}(b) + \\beta\\, c

for C-contiguous (row-major) arrays, where ``op(a)`` is ``a`` or ``a.T``. With
``beta=1`` and ``alpha=-lr`` this is the SGD step ``W -= lr * x.T @ g`` done inside
one BLAS call, without ever forming ``dW``.

How: BLAS is column-major, and a C-contiguous ``(m, n)`` array is, unchanged in memory,
the Fortran-ordered ``(n, m)`` array ``c.T``. So ``c.T = op(b).T op(a).T`` is one
Fortran GEMM with the operands swapped and their transpose flags exchanged: no copies.
A single-row product (online learning, batch size 1) goes to GEMV instead: with some
OpenBLAS kernels GEMM is several times slower than GEMV for one row (the batch-1 rows of
``python -m benchmarks`` measure it).

NOTE: every product here goes through ``scipy.linalg.blas``, never ``numpy.matmul``.
NumPy and SciPy wheels each bundle their own OpenBLAS with its own thread pool, and
the pool of one keeps spinning for a while after a call. Alternating the two makes
each pool wait for the other's spinning threads, many times slower per GEMM on a small
machine, so a hot loop must stay on one library.

Arrays of any other dtype than float32/float64, or not C-contiguous, take a plain NumPy
fallback (correct, slower).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas as _scipy_blas

_ROUTINES = {
    np.dtype(np.float32): (_scipy_blas.sgemm, _scipy_blas.sgemv, _scipy_blas.saxpy),
    np.dtype(np.float64): (_scipy_blas.dgemm, _scipy_blas.dgemv, _scipy_blas.daxpy),
}


def _fits(c: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> bool:
    """True when every array is C-contiguous and of c's BLAS dtype (float32 / float64)."""
    dtype = c.dtype
    return (
        dtype in _ROUTINES
        and a.dtype == dtype
        and c.flags.c_contiguous
        and a.flags.c_contiguous
        and (b is None or (b.dtype == dtype and b.flags.c_contiguous))
    )


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
    """
    if not _fits(c, a, b):
        prod = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
        if beta == 0:
            np.multiply(prod, alpha, out=c)
        else:
            c *= beta
            prod *= alpha
            c += prod
        return c
    gemm_, gemv_, _ = _ROUTINES[c.dtype]
    if c.shape[0] == 1 and c.shape[1] > 1:
        # One row: c[0] = alpha * op(b).T @ op(a)[0] + beta * c[0]  (GEMV on b.T).
        x = a.reshape(-1)  # a (1, k), or (k, 1) transposed: contiguous either way
        r = gemv_(alpha, b.T, x, beta=beta, y=c[0], trans=trans_b, overwrite_y=True)
        if r.base is not c and r is not c:  # pragma: no cover - f2py copied (never for fitting arrays)
            c[0] = r
        return c
    ct = c.T
    r = gemm_(alpha, b.T, a.T, beta=beta, c=ct, trans_a=trans_b, trans_b=trans_a, overwrite_c=True)
    if r is not ct:  # pragma: no cover - f2py copied (never for fitting arrays)
        c[...] = r.T
    return c


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y += alpha * x`` in place, without a temporary; returns ``y``."""
    if not _fits(y, x):
        y += alpha * x
        return y
    _, _, axpy_ = _ROUTINES[y.dtype]
    axpy_(x.reshape(-1), y.reshape(-1), a=alpha)
    return y
