"""``relunet train`` end to end: options, JSON report, checkpoints, history, errors, Ctrl-C."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import relunet
from relunet.training import checkpoint as ckpt
from relunet.cli import main
from relunet.training.engine import History

DIGITS = ["train", "--data", "digits", "--hidden", "16", "--batch-size", "64", "--lr", "0.1"]


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_xor_json_report(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--json"])
    assert rc == 0, err
    res = json.loads(out)
    assert res["test_accuracy"] == 1.0 and res["epochs"] == 2000
    assert res["final_loss"] < 0.05 and res["optimizer"] == "sgd"
    assert res["optimizer_config"]["lr"] == 1.0 and res["optimizer_config"]["momentum"] == 0.0


def test_optimizer_options_reach_the_optimizer(capsys):
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "3", "--optimizer", "sgd", "--momentum", "0.9",
                                          "--nesterov", "--weight-decay", "1e-4", "--json"])
    assert rc == 0, err
    cfg = json.loads(out)["optimizer_config"]
    assert cfg["momentum"] == 0.9 and cfg["nesterov"] is True and cfg["weight_decay"] == 1e-4


def test_full_batch_lbfgs_reports_iterations_and_evaluations(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--activation", "tanh", "--optimizer", "lbfgs",
                                 "--epochs", "100", "--json"])
    assert rc == 0, err
    res = json.loads(out)
    assert res["optimizer"] == "lbfgs" and res["test_accuracy"] == 1.0
    assert res["iterations"] == res["epochs"] >= 1 and res["nfev"] >= res["iterations"]


def test_schedule_early_stopping_validation_and_history(capsys, tmp_path):
    hist = tmp_path / "h.json"
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "6", "--schedule", "step:2:0.5", "--early-stopping", "50",
                                          "--validation-split", "0.2", "--history", str(hist), "--json"])
    assert rc == 0, err
    res = json.loads(out)
    h = History.load(hist)
    assert len(h) == res["epochs"] == 6
    assert h["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert all(v is not None for v in h["val_loss"]) and "val_accuracy" in res
    assert res["best_epoch"] == int(np.argmin(h["val_loss"])) + 1


def test_checkpoint_then_resume_equals_a_straight_run(capsys, tmp_path):
    args = DIGITS + ["--optimizer", "adam", "--lr", "0.01", "-q"]
    straight, part = tmp_path / "straight.ckpt", tmp_path / "part.ckpt"
    assert main(args + ["--epochs", "5", "--checkpoint", str(straight)]) == 0
    assert main(args + ["--epochs", "3", "--checkpoint", str(part)]) == 0
    assert ckpt.load(part).epoch == 3
    assert main(args + ["--epochs", "5", "--resume", str(part)]) == 0  # keeps checkpointing to part
    a, b = ckpt.load(straight), ckpt.load(part)
    assert b.epoch == 5
    assert all(np.array_equal(x, y) for x, y in zip(a.params, b.params))
    capsys.readouterr()


@pytest.mark.parametrize("argv, known", [
    (["--optimizer", "sgdd"], "adam"),
    (["--schedule", "zigzag"], "cosine"),
])
def test_unknown_names_exit_2_listing_the_known_ones(capsys, argv, known):
    rc, out, err = _run(capsys, ["train", "--data", "xor"] + argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and known in err and "known" in err


@pytest.mark.parametrize("argv, match", [
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum does not apply"),
    (["--schedule", "step:1:2:3"], "at most"),
    (["--validation-split", "1.5"], "fraction"),
    (["--early-stopping", "0"], "patience"),
    (["--resume", "/nonexistent/c.ckpt"], "c.ckpt"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, match):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--epochs", "2"] + argv)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and match in err


def test_divergence_exits_2_with_advice(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--lr", "1e6", "--batch-size", "1", "-q"])
    assert rc == 2
    assert "diverged" in err and "epoch" in err and "smaller" in err


def test_progress_is_one_plain_line_per_epoch_when_piped(capsys):
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "3"])
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert "\r" not in out and "test_accuracy" in out
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "3", "-q"])
    assert not any(ln.startswith("epoch ") for ln in out.splitlines())


def test_ctrl_c_saves_a_checkpoint_and_exits_130(capsys, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = relunet.MLP.train_step

    def interrupted(self, X, Y, opt):
        calls["n"] += 1
        if calls["n"] == 50:  # in epoch 3 (21 batches per epoch)
            raise KeyboardInterrupt
        return real(self, X, Y, opt)

    monkeypatch.setattr(relunet.MLP, "train_step", interrupted)
    path = tmp_path / "c.ckpt"
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "10", "--checkpoint", str(path), "-q"])
    assert rc == 130
    assert "interrupted after epoch 2" in err and str(path) in err and "--resume" in err
    assert ckpt.load(path).epoch == 2


def test_real_subprocess_python_m_relunet_train():
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "relunet", "train", "--data", "xor", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["test_accuracy"] == 1.0 and res["data"] == "xor"


def test_save_to_stdout_writes_only_the_model_there(tmp_path):
    import subprocess
    import sys

    import relunet

    out = tmp_path / "model.relunet"
    with open(out, "wb") as f:
        proc = subprocess.run([sys.executable, "-m", "relunet", "train", "--data", "xor", "--epochs", "2",
                               "--save", "/dev/stdout"], stdout=f, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "test_accuracy" in proc.stderr  # the summary went to stderr ...
    assert out.read_bytes()[:4] == b"PK\x03\x04"  # ... and stdout holds the model file alone
    assert relunet.load(out).n_features == 2


@pytest.mark.xfail(strict=True, reason="wired at merge: cli/train.py's summary line belongs to the engine refactoring")
def test_zero_epochs_reports_no_loss_instead_of_nan(capsys):
    assert main(["train", "--data", "xor", "--epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "final_loss: nan" not in out and "final_loss: none (0 epochs)" in out
