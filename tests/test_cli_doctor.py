"""`relunet doctor` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relunet.cli import main
from relunet.core.network import MLP
from cli_helpers import run_cli, usage_error


def _interrupt_after(monkeypatch, steps: int) -> list[int]:
    """Make the ``steps``-th call of ``MLP.train_step`` raise KeyboardInterrupt (Ctrl-C)."""
    calls = [0]
    real = MLP.train_step

    def train_step(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == steps:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MLP, "train_step", train_step)
    return calls


@pytest.mark.parametrize("argv", [["--no-probe"], ["--no-probe", "--json"]])
def test_ctrl_c_during_the_doctors_training_exits_130(capsys, monkeypatch, argv):
    calls = _interrupt_after(monkeypatch, 3)
    rc = main(["doctor", "--data", "xor", "--epochs", "20", *argv])
    out, err = capsys.readouterr()
    assert calls[0] == 3
    assert rc == 130, (out, err)
    assert err.strip() == "relunet: interrupted"
    assert "no problems" not in out and '"problems"' not in out


def test_ctrl_c_during_the_doctors_probe_exits_130(capsys, monkeypatch):
    _interrupt_after(monkeypatch, 2)
    rc = main(["doctor", "--data", "xor", "--epochs", "20", "--no-train"])
    out, err = capsys.readouterr()
    assert rc == 130 and err.strip() == "relunet: interrupted", (out, err)
    assert "no problems" not in out


def test_doctor_reports_a_log_softmax_output_on_two_classes(capsys):
    rc = main(["doctor", "--data", "xor", "--output", "log_softmax", "--epochs", "3", "--json"])
    out, err = capsys.readouterr()
    assert rc == 1, err
    d = json.loads(out)
    assert not d["trained"]
    assert "log-softmax-single-unit" in {f["rule"] for f in d["before_training"] if f["severity"] == "error"}


# -- overfitting: the doctor holds out a validation part -----------------------------------

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason=f"MNIST not found in {MNIST_DIR}"
)

#: 1,000 MNIST images (800 trained on, 200 held out) and the 784-500-500-500-10 network with no
#: regularization: the training loss falls towards 0 while the validation loss, lowest near
#: epoch 11, ends about 18% above it (seed 0)
OVERFITS = ["doctor", "--data", "mnist", "--data-dir", str(MNIST_DIR), "--train-samples", "1000",
            "--hidden", "500,500,500", "--epochs", "30", "--lr", "0.01", "--momentum", "0.9",
            "--batch-size", "32", "--schedule", "constant", "--input-dropout", "0", "--no-probe"]


def _after(capsys, argv: list[str]) -> tuple[int, dict]:
    rc, out, err = run_cli(capsys, [*argv, "--json"])
    assert rc in (0, 1), err
    return rc, json.loads(out)


@needs_mnist
def test_doctor_finds_overfitting_on_a_small_subset_and_names_the_fix(capsys):
    rc, out, err = run_cli(capsys, OVERFITS)
    assert rc == 1, err  # a warning is a problem
    assert "20% of them held out for validation" in out
    assert "[warning] overfitting" in out
    for fix in ("--dropout", "--l2", "--early-stopping", "more data"):
        assert fix in out, fix
    _, report = _after(capsys, OVERFITS)
    assert report["validation_split"] == 0.2
    (f,) = [f for f in report["after_training"] if f["rule"] == "overfitting"]
    assert f["severity"] == "warning"
    assert f["details"]["final_val_loss"] >= 1.1 * f["details"]["best_val_loss"]
    assert f["details"]["final_train_loss"] < f["details"]["train_loss_at_best"]


@needs_mnist
def test_doctor_finds_no_overfitting_once_the_l2_penalty_fixes_it(capsys):
    # the fix the finding names: the validation loss now still falls at the last epoch
    _, report = _after(capsys, [*OVERFITS, "--l2", "0.1"])
    assert report["trained"] and report["validation_split"] == 0.2
    assert "overfitting" not in {f["rule"] for f in report["after_training"]}


@needs_mnist
def test_doctor_without_a_validation_part_cannot_see_overfitting(capsys):
    rc, out, err = run_cli(capsys, [*OVERFITS, "--validation-split", "0"])
    assert "no validation part: overfitting not checked" in out, err
    assert "overfitting:" not in out


def test_doctor_holds_out_a_validation_part_by_default(capsys, monkeypatch):
    seen = []
    real = MLP.fit

    def fit(self, X, y, **kwargs):
        seen.append((len(X), kwargs.get("validation_split")))
        return real(self, X, y, **kwargs)

    monkeypatch.setattr(MLP, "fit", fit)
    _, report = _after(capsys, ["doctor", "--data", "digits", "--epochs", "2", "--no-probe"])
    assert report["validation_split"] == 0.2 and seen[-1][1] == 0.2
    _, report = _after(capsys, ["doctor", "--data", "digits", "--epochs", "2", "--no-probe",
                                "--validation-split", "0.3"])
    assert report["validation_split"] == 0.3 and seen[-1][1] == 0.3


def test_doctor_holds_nothing_out_of_a_tiny_dataset(capsys):
    rc, out, err = run_cli(capsys, ["doctor", "--data", "xor", "--epochs", "20", "--no-probe"])
    assert "4 training samples (no validation part: overfitting not checked" in out, err
    _, report = _after(capsys, ["doctor", "--data", "xor", "--epochs", "20", "--no-probe"])
    assert report["validation_split"] == 0.0 and report["trained"]


@pytest.mark.parametrize("bad", ["1", "-0.1", "nan", "x"])
def test_doctor_refuses_a_bad_validation_split(capsys, bad):
    usage_error(capsys, ["doctor", "--data", "digits", "--validation-split", bad], "--validation-split")


def test_a_validation_split_that_leaves_no_training_samples_is_a_usage_error(capsys):
    usage_error(capsys, ["doctor", "--data", "digits", "--train-samples", "60", "--validation-split", "0.99",
                         "--epochs", "1", "--no-probe"], "leaves no training samples")


def test_doctor_reports_softmax_with_bce_as_a_finding_not_also_as_fits_warning(capsys):
    rc, out, err = run_cli(capsys, ["doctor", "--data", "gaussians", "--output", "softmax", "--loss", "bce",
                                    "--epochs", "2", "--no-probe"])
    assert "softmax-with-bce" in out
    assert "warning:" not in err, err
