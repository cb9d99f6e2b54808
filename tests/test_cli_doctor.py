"""`relunet doctor` on the command line."""

from __future__ import annotations

import pytest

from relunet.cli import main
from relunet.core.network import MLP


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
    import json

    d = json.loads(out)
    assert not d["trained"]
    assert "log-softmax-single-unit" in {f["rule"] for f in d["before_training"] if f["severity"] == "error"}
