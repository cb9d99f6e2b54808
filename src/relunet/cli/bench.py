"""``relunet bench``: the speed suite of a relunet source checkout (``python -m benchmarks``).

The suite lives in the repository's ``benchmarks/`` folder, next to ``src/``; it is not
installed with the package (it needs PyTorch and writes its results into the checkout).
This command finds the checkout (``--repo``, else the current folder or one above it,
else the checkout an editable install points to) and runs the suite there with the
options given, in a fresh interpreter: exactly ``python -m benchmarks OPTIONS``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from relunet.cli import CLIError, common

NAME = "bench"
HELP = "run the speed suite against PyTorch and scikit-learn (python -m benchmarks, from a source checkout)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run (fewer, shorter repeats; no torch.compile); writes results-quick.json")
    p.add_argument("--both", action="store_true",
                   help="run twice: the default OpenBLAS kernel, then with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as set")
    p.add_argument("--threads", type=common.threads_arg, default=None, metavar="N",
                   help="threads for every library (default: all cores)")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--out", default=None, metavar="JSON",
                   help="results file (default: benchmarks/results.json in the checkout)")
    p.add_argument("--repo", default=None, metavar="DIR",
                   help="the relunet source checkout holding benchmarks/ (default: found from here)")


def _is_checkout(folder: Path) -> bool:
    return (folder / "benchmarks" / "suite.py").is_file() and (folder / "src" / "relunet").is_dir()


def find_checkout(repo: str | os.PathLike | None = None, start: str | os.PathLike | None = None) -> Path:
    """The source checkout whose ``benchmarks/`` to run.

    Raises:
        CLIError: ``repo`` is not a checkout, or none is found from ``start`` (default: the
            current folder) upwards nor where this package was installed from.
    """
    if repo is not None:
        folder = Path(repo).expanduser().resolve()
        if not _is_checkout(folder):
            raise CLIError(f"--repo {repo}: not a relunet source checkout (no benchmarks/suite.py and src/relunet there)")
        return folder
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    installed = Path(__file__).resolve().parents[3]  # <checkout>/src/relunet/cli/bench.py
    if _is_checkout(installed):
        return installed
    raise CLIError(
        "the benchmarks are not installed with the package: run `relunet bench` inside a relunet source "
        "checkout (git clone ...; pip install -e '.[test]'), or give --repo DIR"
    )


def suite_argv(args: argparse.Namespace) -> list[str]:
    """The ``python -m benchmarks`` options for these arguments."""
    argv = [flag for flag, on in (("--quick", args.quick), ("--both", args.both),
                                  ("--no-compile", args.no_compile), ("--no-memory", args.no_memory)) if on]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.out is not None:
        argv += ["--out", str(Path(args.out).expanduser().resolve())]
    return argv


def run(args: argparse.Namespace) -> int:
    common.check_outputs(args, "--out")  # a missing folder fails now, not after minutes of benchmarks
    repo = find_checkout(args.repo)
    missing = [m for m in ("torch", "sklearn") if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(f"the speed suite compares against PyTorch and scikit-learn; {' and '.join(missing)} "
                       f"not installed here: pip install -e '{repo}[test]' (torch==2.13.0)")
    cmd = [sys.executable, "-m", "benchmarks", *suite_argv(args)]
    print(f"relunet bench: {' '.join(cmd[1:])}  (in {repo})", file=sys.stderr, flush=True)
    return subprocess.call(cmd, cwd=repo)
