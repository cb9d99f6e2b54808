"""``relunet bench``: finds the source checkout and runs ``python -m benchmarks`` there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relunet.cli import bench, main
from cli_helpers import run_cli as _run

REPO = Path(__file__).resolve().parents[1]


def test_finds_the_checkout_from_a_subfolder_and_from_repo():
    assert bench.find_checkout(start=REPO / "src" / "relunet") == REPO
    assert bench.find_checkout(repo=REPO) == REPO


def test_outside_a_checkout_says_where_to_run_it(tmp_path, monkeypatch):
    # an installed (non-editable) package: no checkout beside it either
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "site" / "relunet" / "cli" / "bench.py"))
    with pytest.raises(bench.CLIError, match="not installed with the package.*--repo"):
        bench.find_checkout(start=tmp_path)


def test_bad_repo_and_bad_threads_exit_2_with_one_line(tmp_path, capsys):
    assert main(["bench", "--repo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a relunet source checkout" in err and str(tmp_path) in err and "Traceback" not in err
    assert main(["bench", "--threads", "0"]) == 2
    assert "expected an integer >= 1" in capsys.readouterr().err


def test_runs_the_suite_in_the_checkout_with_the_options_given(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_call(cmd, cwd=None):
        calls.append((cmd, cwd))
        return 3  # the suite's exit status is passed on

    monkeypatch.setattr(subprocess, "call", fake_call)
    rc = main(["bench", "--quick", "--threads", "1", "--no-memory", "--out", str(tmp_path / "r.json")])
    assert rc == 3
    (cmd, cwd), = calls
    assert cwd == REPO
    assert cmd == [sys.executable, "-m", "benchmarks", "--quick", "--no-memory", "--threads", "1",
                   "--out", str(tmp_path / "r.json")]


def test_missing_torch_is_named(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "torch not installed" in err and "torch==2.13.0" in err


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_positive_int_message_is_consistent(capsys):
    for bad in ("0", "-1"):
        rc, _, err = _run(capsys, ["bench", "--threads", bad])
        _one_line_error(rc, err)
        assert ">= 1" in err


def test_bench_threads_above_the_usable_cores_is_a_usage_error(capsys, monkeypatch):
    from relunet.core import kernels

    monkeypatch.setattr(kernels, "default_threads", lambda: 3)
    rc, _, err = _run(capsys, ["bench", "--threads", "4"])
    _one_line_error(rc, err)
    assert "--threads: expected at most 3, the cores this process may use, got 4" in err


def test_bench_out_checked_before_the_run(tmp_path, capsys):
    rc, _, err = _run(capsys, ["bench", "--quick", "--out", str(tmp_path / "missing" / "r.json")])
    _one_line_error(rc, err)
    assert "--out" in err and "does not exist" in err
