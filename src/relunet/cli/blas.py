"""``relunet blas``: which BLAS library runs relunet's matrix products here, and why.

Prints the libraries installed (OpenBLAS always; Intel MKL with the ``mkl`` wheel), the
one this process uses and the reason (``RELUNET_BLAS``, or the calibration and whether it
was cached), and the cache file. ``--calibrate`` times both libraries again and replaces
the cached verdict (see :mod:`relunet.core.blas`).
"""

from __future__ import annotations

import argparse

from relunet.core import blas

NAME = "blas"
HELP = "show which BLAS library (OpenBLAS or MKL) runs the matrix products here, and why"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calibrate", action="store_true",
                   help="time OpenBLAS against MKL again (about 1.5 s) and cache the new verdict "
                        "(ignored when RELUNET_BLAS names a library)")


def run(args: argparse.Namespace) -> int:
    info = blas.backend()  # a bad RELUNET_BLAS is the only output, as one error line
    if args.calibrate and info.reason.startswith(("calibrated", "cached calibration")):
        info = blas.recalibrate()
    libraries = blas.available()
    print(f"installed: {', '.join(libraries)}"
          + ("" if "mkl" in libraries else "  (Intel MKL: pip install mkl, on Linux x86-64)"))
    print(f"in use:    {info.name} {info.version}")
    print(f"why:       {info.reason}")
    print(f"cache:     {blas.cache_path()}")
    return 0
