"""`relunet plot` on the command line."""

import os

import pytest

from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error


def test_plot_bad_cols_and_resolution(capsys, tmp_path):
    png = str(tmp_path / "a.png")
    _usage_error(capsys, ["plot", "activations", "relu", "--cols", "-3", "--out", png], "--cols")
    _usage_error(capsys, ["plot", "activations", "relu", "--cols", "0", "--out", png], "--cols")
    _usage_error(capsys, ["plot", "boundary", "--data", "xor", "--epochs", "0", "--resolution", "100000",
                          "--out", png], "resolution")
    assert not os.path.exists(png)


def test_plot_range_accepts_negative_low_as_documented(capsys, tmp_path):
    png = tmp_path / "a.png"
    rc, out, err = _run(capsys, ["plot", "activations", "relu", "--range", "-2,3", "--out", str(png)])
    assert rc == 0, err
    assert png.stat().st_size > 0


@pytest.mark.parametrize("content", ['{"records": [{"epoch": 1, "loss": "x"}]}', '{"records": [{"epoch": 1, "loss": {}}]}'])
def test_plot_history_with_non_numeric_values(capsys, tmp_path, content):
    path = tmp_path / "h.json"
    path.write_text(content)
    _usage_error(capsys, ["plot", "history", str(path), "--out", str(tmp_path / "h.png")], "loss")


def test_plot_dead_units_with_non_numeric_values(capsys, tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"hidden 1": [0.1, "x"]}')
    _usage_error(capsys, ["plot", "dead-units", str(path), "--out", str(tmp_path / "d.png")], "hidden 1")


def test_plot_boundary_checks_before_training(capsys, tmp_path):
    csv = tmp_path / "reg.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i * 0.37:.2f}\n" for i in range(12)))
    out, _ = _usage_error(capsys, ["plot", "boundary", "--data", str(csv), "--out", str(tmp_path / "b.png")],
                          "regression")
    out, _ = _usage_error(capsys, ["plot", "boundary", "--data", "xor", "--epochs", "100000",
                                   "--out", str(tmp_path / "missing" / "b.png")], str(tmp_path / "missing"))


def test_cli_plot_history_bad_epoch_is_one_line(tmp_path, capsys):
    from relunet.cli import main

    f = tmp_path / "h.json"
    f.write_text('{"records": [{"epoch": "a", "loss": 1}]}')
    assert main(["plot", "history", str(f), "--out", str(tmp_path / "h.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "epoch" in err


def test_plot_history_of_records_with_validation_accuracy_but_no_training_accuracy(capsys, tmp_path):
    # a hierarchical softmax's records (fit counts no per-batch training accuracy for it)
    path, png = tmp_path / "h.json", tmp_path / "h.png"
    path.write_text('{"records": [{"epoch": 1, "loss": 2.0, "val_loss": 2.1, "val_accuracy": 0.2}, '
                    '{"epoch": 2, "loss": 1.5, "val_loss": 1.7, "val_accuracy": 0.3}]}')
    rc, out, err = _run(capsys, ["plot", "history", str(path), "--out", str(png)])
    assert rc == 0, err
    assert png.stat().st_size > 0
