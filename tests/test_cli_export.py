"""`relunet export` on the command line."""

from relunet.cli import main
from cli_helpers import run_cli as _run


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_export_never_overwrites_the_model(capsys, xor_model):
    before = xor_model.read_bytes()
    rc, _, err = _run(capsys, ["export", "--model", str(xor_model), "--onnx", str(xor_model)])
    _one_line_error(rc, err)
    assert "--model" in err and xor_model.read_bytes() == before
