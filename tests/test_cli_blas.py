"""``relunet blas``: the library that runs the products, why, and a new calibration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relunet.core import blas

HAS_MKL = "mkl" in blas.available()
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _relunet_blas(tmp_path, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("RELUNET_BLAS", "RELUNET_CACHE_DIR")}
    env.update(RELUNET_CACHE_DIR=str(tmp_path), PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "relunet", "blas", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _fields(stdout: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in stdout.splitlines())}


def test_a_named_library_is_shown_with_its_reason(tmp_path):
    r = _relunet_blas(tmp_path, RELUNET_BLAS="openblas")
    assert r.returncode == 0, r.stderr
    f = _fields(r.stdout)
    assert f["installed"].startswith("openblas")
    assert f["in use"].startswith("openblas ") and f["why"] == "RELUNET_BLAS=openblas"
    assert f["cache"] == str(tmp_path / "blas.json")
    # --calibrate does not override a library the environment names
    r = _relunet_blas(tmp_path, "--calibrate", RELUNET_BLAS="openblas")
    assert _fields(r.stdout)["why"] == "RELUNET_BLAS=openblas" and not (tmp_path / "blas.json").exists()


def test_a_bad_relunet_blas_is_one_line_of_error(tmp_path):
    r = _relunet_blas(tmp_path, RELUNET_BLAS="gpu")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["relunet: error: RELUNET_BLAS must be one of auto, openblas, mkl, "
                                             "got 'gpu'"]


@pytest.mark.skipif(not HAS_MKL, reason="MKL is not installed (pip install mkl)")
def test_calibrate_replaces_the_cached_verdict(tmp_path):
    key = blas.cache_key()
    (tmp_path / "blas.json").write_text(json.dumps({key: 0.01}))
    r = _relunet_blas(tmp_path)
    assert _fields(r.stdout)["in use"].startswith("openblas ")
    assert _fields(r.stdout)["why"].startswith("cached calibration: MKL ran one training step's products at 0.01x")
    r = _relunet_blas(tmp_path, "--calibrate")
    assert r.returncode == 0, r.stderr
    why = _fields(r.stdout)["why"]
    assert why.startswith("calibrated")
    speedup = float(why.split(" products at ")[1].split("x ")[0])
    assert _fields(r.stdout)["in use"].split()[0] == ("mkl" if speedup >= blas.MIN_SPEEDUP else "openblas")
    if "not cached" not in why:  # a busy machine's verdict is not kept
        assert json.loads((tmp_path / "blas.json").read_text())[key] == pytest.approx(speedup, abs=0.006)
    else:
        assert json.loads((tmp_path / "blas.json").read_text())[key] == 0.01
