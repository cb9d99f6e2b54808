"""`relunet data` on the command line."""

from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error


def test_data_fetch_timeout_must_be_positive(capsys, tmp_path):
    for t in ("0", "-1", "nan"):
        _usage_error(capsys, ["data", "fetch", "mnist", "--data-dir", str(tmp_path), "--timeout", t], "--timeout")
