"""`relunet diagnose` on the command line."""

from relunet.cli import main
from cli_helpers import run_cli as _run


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_saturation_threshold_must_be_finite(capsys, xor_model):
    rc, _, err = _run(capsys, ["diagnose", str(xor_model), "--data", "xor", "--saturation-threshold", "inf"])
    _one_line_error(rc, err)


def test_diagnose_option_adds_the_saturation_arguments_once():
    import argparse

    from relunet.cli import diagnose

    p = argparse.ArgumentParser()
    diagnose.add_saturation_args(p)
    diagnose.add_option(p)  # would raise argparse.ArgumentError on a second --saturation-threshold
    q = argparse.ArgumentParser()
    diagnose.add_option(q)
    assert q.parse_args([]).saturation_threshold == p.parse_args([]).saturation_threshold is not None
