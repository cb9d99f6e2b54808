"""``relunet train`` end to end: options, JSON report, checkpoints, history, errors, Ctrl-C."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.training import checkpoint as ckpt
from relunet.cli import main
from relunet.training.engine import History
from cli_helpers import run_cli as _run, usage_error as _usage_error

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])

DIGITS = ["train", "--data", "digits", "--hidden", "16", "--batch-size", "64", "--lr", "0.1"]


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


@pytest.mark.parametrize("mode", [["--batch-size", "1", "--lr", "0.5"], ["--batch-size", "2", "--lr", "0.5"],
                                  ["--batch-size", "full", "--lr", "0.5"], ["--optimizer", "cg"],
                                  ["--optimizer", "lbfgs"]])
def test_every_training_mode_of_docs_training_md_solves_xor(capsys, mode):
    """docs/training.md's 'Batches': the five modes as it runs them, each to 100% on XOR."""
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--json"] + mode)
    assert rc == 0, err
    res = json.loads(out)
    assert res["train_accuracy"] == 1.0 and res["test_accuracy"] == 1.0
    assert ("iterations" in res and "nfev" in res) == (mode[0] == "--optimizer")


@pytest.mark.parametrize("method", ["cg", "lbfgs"])
def test_full_batch_header_shows_the_settings_that_act(capsys, method):
    """The header said CG(lr=1.0, max_iter=200, ...) while lr is ignored and --epochs (here
    7) is the iteration limit; it shows what acts."""
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", method, "--epochs", "7", "-v"])
    assert rc == 0, err
    head = " ".join(out.split("epoch 1/")[0].split())
    assert "at most 7 iterations" in head and "line search (no learning rate)" in head
    assert "lr=" not in head and "max_iter" not in head
    assert len([line for line in out.splitlines() if line.startswith("epoch ")]) <= 7
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", method, "--epochs", "7", "--json"])
    res = json.loads(out)  # the JSON report has no ignored lr nor a max_iter that did not act
    assert rc == 0 and res["optimizer"] == method and res["iterations"] <= 7
    assert "lr" not in res["optimizer_config"] and "max_iter" not in res["optimizer_config"]


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


def _strict_json(text: str):
    def reject(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def _rewrite_meta(src, dst, change):
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "meta.json":
                header = json.loads(data)
                change(header["meta"])
                data = json.dumps(header).encode()
            zout.writestr(item, data)


def test_epochs_zero_json_report_is_strict_json(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--epochs", "0", "--json"])
    assert rc == 0, err
    res = _strict_json(out)
    assert res["epochs"] == 0 and res["final_loss"] is None


@pytest.mark.parametrize("flag", ["--history", "--checkpoint"])
def test_train_output_in_missing_folder_fails_before_training(capsys, tmp_path, flag):
    target = tmp_path / "no" / "such" / "out.json"
    out, line = _usage_error(capsys, ["train", "--data", "xor", flag, str(target)], str(tmp_path / "no"))
    assert out == "", "training ran although its output could not be written"
    assert ".tmp" not in line  # the user's path, not a temporary file's


@pytest.mark.parametrize("flag", ["--history", "--checkpoint"])
def test_train_output_that_is_a_directory(capsys, tmp_path, flag):
    out, _ = _usage_error(capsys, ["train", "--data", "xor", "--quiet", flag, str(tmp_path)], "directory")
    assert out == ""


def test_os_errors_while_writing_are_one_line(capsys, tmp_path, monkeypatch):
    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))

    monkeypatch.setattr(History, "save", full)
    hist = tmp_path / "h.json"
    _, line = _usage_error(capsys, ["train", "--data", "xor", "--epochs", "1", "--quiet", "--history", str(hist)],
                           "No space left on device", str(hist))


def test_unknown_loss_lists_known_losses(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--loss", "msee"], "known losses:", "mse")


def test_mse_on_class_labels_says_what_to_do(capsys):
    _, line = _usage_error(capsys, ["train", "--data", "digits", "--loss", "mse", "--epochs", "1"], "one-hot")


def test_cli_train_bce_over_softmax_outputs_reports(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--output", "softmax", "--loss", "bce", "--epochs", "2",
                                 "--json"])
    assert rc == 0, err
    assert 0.0 <= _strict_json(out)["test_accuracy"] <= 1.0
    # and says it trains poorly: one line (fit's ConfigWarning), with the doctor's rule and the fix
    lines = [line for line in err.splitlines() if "softmax-with-bce" in line]
    assert len(lines) == 1 and lines[0].startswith("relunet: warning: --output softmax with --loss bi"), err
    assert "use --loss cross_entropy with the softmax" in lines[0] and "='" not in lines[0]


def test_plateau_schedule_with_a_missing_monitor(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--epochs", "2", "--schedule", "plateau", "--monitor", "bogus"],
                 "'bogus'", "reduce_on_plateau")
    _usage_error(capsys, ["train", "--data", "xor", "--epochs", "2", "--schedule", "warmup:1:plateau",
                          "--monitor", "val_loss"], "'val_loss'")


def test_train_samples_zero_is_rejected(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--train-samples", "0"], "--train-samples")


def test_perceptron_zero_epochs_and_bad_targets(capsys):
    rc, out, err = _run(capsys, ["train", "--model", "perceptron", "--data", "and", "--epochs", "0", "--json"])
    assert rc == 0, err
    res = _strict_json(out)
    assert res["epochs"] == 0 and res["converged"] is False and "0 epochs" in res["message"]
    _usage_error(capsys, ["train", "--model", "perceptron", "--data", "diabetes"], "regression")
    from relunet.insight.perceptron import Perceptron

    with pytest.raises(errors.TargetTypeError):
        Perceptron().fit(XOR_X, np.array([0.5, 1.5, 0.2, 0.1]))
    with pytest.raises(errors.ConfigError, match="epochs"):
        Perceptron().fit(XOR_X, XOR_Y, epochs=-1)


@pytest.mark.parametrize("extra", [["--history", "h.json"], ["--hidden", "8"], ["--optimizer", "adam"],
                                   ["--checkpoint", "c.ckpt"]])
def test_perceptron_rejects_backprop_options(capsys, tmp_path, extra):
    extra = [str(tmp_path / e) if e.endswith((".json", ".ckpt")) else e for e in extra]
    _usage_error(capsys, ["train", "--model", "perceptron", "--data", "and", *extra], extra[0], "perceptron")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("change, needle", [(["--activation", "relu"], "network"),
                                            (["--momentum", "0.5"], "optimizer settings"),
                                            (["--loss", "mse", "--output", "sigmoid"], "network"),
                                            (["--epochs", "2"], "already holds 3 epochs"),
                                            (["--batch-size", "1"], "batch size 4")])
def test_resume_with_other_options_is_refused(capsys, tmp_path, change, needle):
    ckpt = str(tmp_path / "c.ckpt")
    assert main(["train", "--data", "xor", "--epochs", "3", "--quiet", "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    before = open(ckpt, "rb").read()
    argv = ["train", "--data", "xor", "--epochs", "5", "--quiet", "--resume", ckpt]
    if change[0] == "--epochs":
        argv = argv[:3] + change + argv[5:]
    else:
        argv += change
    _usage_error(capsys, argv, needle)
    assert open(ckpt, "rb").read() == before  # the checkpoint is left as it was


def test_divergence_from_weight_decay_names_the_weight_decay(capsys):
    _, line = _usage_error(capsys, ["train", "--data", "digits", "--epochs", "2", "--weight-decay", "1e10"],
                           "weight decay", "diverged")
    assert "learning rate is probably too large" not in line
    with pytest.raises(errors.DivergenceError, match="lr x weight_decay = 1e\\+09"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=20, lr=0.1, optimizer="sgd", weight_decay=1e10)


def test_outputs_never_overwrite_the_data_or_each_other(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    text = "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(12))
    csv.write_text(text)
    _usage_error(capsys, ["train", "--data", str(csv), "--epochs", "1", "--history", str(csv)], "--data")
    _usage_error(capsys, ["train", "--data", str(csv), "--epochs", "1", "--checkpoint", str(csv)], "--data")
    same = str(tmp_path / "out")
    _usage_error(capsys, ["train", "--data", "xor", "--epochs", "1", "--history", same, "--checkpoint", same],
                 "--history")
    _usage_error(capsys, ["compare", "--data", str(csv), "--activations", "relu", "--seeds", "1",
                          "--out-csv", str(csv)], "--data")
    assert csv.read_text() == text and not os.path.exists(same)


def test_history_is_written_when_training_diverges(capsys, tmp_path):
    hist = tmp_path / "h.json"
    _usage_error(capsys, ["train", "--data", "xor", "--lr", "1e6", "--quiet", "--history", str(hist)], "diverged")
    h = History.load(hist)
    assert len(h) >= 1 and all(np.isfinite(h["loss"]))  # the good epochs before the divergence


def test_resume_keeps_the_validation_split(capsys, tmp_path):
    ckpt = str(tmp_path / "c.ckpt")
    base = ["train", "--data", "digits", "--hidden", "8", "--train-samples", "200", "--quiet"]
    assert main(base + ["--epochs", "2", "--validation-split", "0.2", "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    _usage_error(capsys, base + ["--epochs", "3", "--resume", ckpt], "validation split")
    assert main(base + ["--epochs", "3", "--validation-split", "0.2", "--resume", ckpt]) == 0
    ckpt2 = str(tmp_path / "c2.ckpt")
    assert main(base + ["--epochs", "2", "--checkpoint", ckpt2]) == 0
    capsys.readouterr()
    _usage_error(capsys, base + ["--epochs", "3", "--early-stopping", "--resume", ckpt2], "without a validation split")


@pytest.mark.parametrize("spec", ["step:2:0.5:gamma=0.1", "step:gamma=0.1:2:0.5", "step:2:step_size=3"])
def test_schedule_parameter_given_twice(capsys, spec):
    _usage_error(capsys, ["train", "--data", "xor", "--epochs", "1", "--schedule", spec], "given twice")


def test_absurd_layer_size(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--hidden", "99999999999999999999"], "units")


def test_history_to_stdout_pipe():
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "src")}
    proc = subprocess.run([sys.executable, "-m", "relunet", "train", "--data", "xor", "--epochs", "2", "--quiet",
                           "--history", "/dev/stdout"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first_json = proc.stdout[: proc.stdout.index("test_accuracy")]
    assert [r["epoch"] for r in _strict_json(first_json)["records"]] == [1, 2]


def test_batch_size_with_a_full_batch_optimizer(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--batch-size", "2"], "--batch-size")
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--batch-size", "full",
                                 "--epochs", "3", "--quiet"])
    assert rc == 0, err


def test_batch_size_full_means_full_batch(capsys):
    argv = ["train", "--data", "digits", "--hidden", "8", "--epochs", "1", "--train-samples", "100", "--json"]
    results = {}
    for bs in ("full", "100", "32"):
        rc, out, err = _run(capsys, argv + ["--batch-size", bs])
        assert rc == 0, err
        results[bs] = _strict_json(out)["final_loss"]
    assert results["full"] == results["100"] != results["32"]  # one update per epoch, not the default 32


def test_train_save_as_the_docs_say(capsys, tmp_path):
    model = tmp_path / "m.relunet"
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--epochs", "300", "--json", "--save", str(model)])
    assert rc == 0, err
    res = _strict_json(out)
    net = relunet.load(model)
    assert res["model"] == str(model) and net.score(XOR_X, XOR_Y) == res["test_accuracy"]
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", "xor", "--format", "json"])
    assert rc == 0, err
    assert _strict_json(out)["predictions"] == net.predict(XOR_X).tolist()
    _usage_error(capsys, ["train", "--data", "xor", "--save", str(tmp_path / "missing" / "m.relunet")], "missing")


def test_save_or_history_cannot_replace_the_checkpoint_being_resumed(capsys, tmp_path):
    ckpt = str(tmp_path / "c.ckpt")
    assert main(["train", "--data", "xor", "--epochs", "2", "--quiet", "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    for flag in ("--save", "--history"):
        _usage_error(capsys, ["train", "--data", "xor", "--epochs", "3", "--resume", ckpt, flag, ckpt], "--resume")
    assert relunet.training.checkpoint.load(ckpt).epoch == 2


def test_dataset_default_schedule_does_not_break_full_batch_optimizers(monkeypatch, capsys):
    from relunet.cli import common

    # a per-dataset default schedule (as fashion-mnist's cosine) is SGD's; lbfgs/cg take none
    monkeypatch.setitem(common.DATASET_DEFAULTS, "xor", {**common.DATASET_DEFAULTS["xor"], "schedule": "cosine"})
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--epochs", "5", "--json"])
    assert rc == 0, err
    assert _strict_json(out)["optimizer"] == "lbfgs"
    _usage_error(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--schedule", "cosine"], "schedule")


def test_dataset_default_input_dropout_is_not_given_to_full_batch_optimizers(monkeypatch, capsys, tmp_path):
    from relunet.cli import common

    # mnist's default input dropout is SGD's: fit runs cg / lbfgs on the plain network
    monkeypatch.setitem(common.DATASET_DEFAULTS, "xor", {**common.DATASET_DEFAULTS["xor"], "input_dropout": 0.2})
    path = str(tmp_path / "m.relunet")
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--epochs", "5", "--quiet",
                                 "--save", path])
    assert rc == 0, err
    assert relunet.load(path).regularization()["input_dropout"] == 0.0
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--epochs", "2", "--quiet", "--save", path])
    assert rc == 0, err
    assert relunet.load(path).regularization()["input_dropout"] == 0.2


@pytest.mark.parametrize("change", [
    lambda m: m.__setitem__("epoch", -1),
    lambda m: m.__setitem__("rng_state", "x"),
    lambda m: m.__setitem__("rng_state", {"bit_generator": "Bogus"}),
    lambda m: m["optimizer"].__setitem__("step", "y"),
])
def test_resume_from_a_tampered_checkpoint(capsys, tmp_path, change):
    good, bad = tmp_path / "good.ckpt", tmp_path / "bad.ckpt"
    base = ["train", "--data", "xor", "--optimizer", "adam", "--quiet"]
    assert main(base + ["--epochs", "2", "--checkpoint", str(good)]) == 0
    capsys.readouterr()
    _rewrite_meta(good, bad, change)
    _usage_error(capsys, base + ["--epochs", "4", "--resume", str(bad)], str(bad))


def test_train_diagnose_shows_dying_relu_and_not_leaky_relu(capsys):
    # `relunet train --diagnose`: a too-large learning rate kills ReLU units, not leaky ones
    argv = ["train", "--data", "digits", "--hidden", "32", "--epochs", "2", "--lr", "3", "--momentum", "0",
            "--train-samples", "300", "--diagnose", "--json"]
    rc, out, err = _run(capsys, argv + ["--activation", "relu"])
    assert rc == 0, err
    diag = _strict_json(out)["diagnostics"]
    assert diag["final"]["dead_fraction"] > 0.5
    assert [row[0] for row in diag["epochs"]["dead_fraction"]][-1] > 0.5  # per epoch, hidden layer 1
    rc, out, err = _run(capsys, argv + ["--activation", "leaky_relu"])
    assert rc == 0, err
    assert _strict_json(out)["diagnostics"]["final"]["dead_fraction"] in (None, 0.0)
    rc, out, err = _run(capsys, argv[:-1] + ["--activation", "relu", "--quiet"])
    assert rc == 0 and "dead hidden units" in out and "per-epoch diagnostics" in out
    _usage_error(capsys, ["train", "--model", "perceptron", "--data", "and", "--diagnose"], "--diagnose")


def test_csv_value_beyond_float32(capsys, tmp_path):
    csv = tmp_path / "big.csv"
    csv.write_text("a,b,y\n1e300,5,0\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(8)))
    _usage_error(capsys, ["train", "--data", str(csv), "--epochs", "1"], "'a'", "line 2", "float32")


def test_train_on_two_rows_runs(tmp_path, capsys):
    p = tmp_path / "two.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,1\n")
    assert main(["train", "--data", str(p), "--epochs", "1", "-q"]) == 0


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_target_with_an_npz_is_refused(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 2)), y=np.arange(10) % 2)
    np.save(tmp_path / "y.npy", np.arange(10) % 2)
    rc, _, err = _run(capsys, ["train", "--data", str(tmp_path / "d.npz"), "--target", str(tmp_path / "y.npy"),
                               "--epochs", "1", "-q"])
    _one_line_error(rc, err)
    assert "--target" in err


def test_zero_epochs_reports_no_loss_instead_of_nan(capsys):
    assert main(["train", "--data", "xor", "--epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "final_loss: nan" not in out and "final_loss: none (0 epochs)" in out


@pytest.mark.parametrize("data, output, words", [
    ("xor", "log_softmax", ["two classes get one output unit", "always 0", "--output sigmoid",
                            "--output softmax (two units"]),
    ("sine", "softmax", ["one target column", "always 1", "--output identity"]),
    ("sine", "log_softmax", ["always 0", "--output identity"]),
])
def test_train_refuses_a_constant_single_unit_output(capsys, tmp_path, data, output, words):
    save = tmp_path / "m.relunet"
    rc = main(["train", "--data", data, "--output", output, "--epochs", "2", "-q",
                           "--save", str(save)])
    _, err = capsys.readouterr()
    assert rc == 2, err
    line = err.strip()
    assert line.startswith("relunet: error: --output " + output) and "\n" not in line
    for w in words:
        assert w in line, (w, line)
    assert not save.exists()


def test_train_keeps_log_softmax_over_several_units(capsys):
    from relunet.cli import common

    common.check_output_units("log_softmax", 2, "classification")
    common.check_output_units("softmax", 2, "classification")
    common.check_output_units("sigmoid", 1, "classification")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failing_history_never_costs_the_trained_model(capsys, tmp_path):
    model = tmp_path / "m.relunet"
    rc, out, err = _run(capsys, DIGITS + ["--epochs", "2", "--quiet", "--history", "/dev/full", "--save", str(model)])
    assert rc == 2, (rc, out, err)
    assert relunet.load(str(model)).sizes[0] == 64  # the model was written, and first
    line = err.strip().splitlines()[-1]
    assert line.startswith("relunet: error: --history /dev/full: ") and "No space left on device" in line
    assert f"the trained model was saved to {model}" in line
    assert f"model saved to {model}" in out and "test_accuracy" in out  # the report still comes


def test_a_failing_model_file_still_writes_the_history(capsys, tmp_path, monkeypatch):
    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))

    monkeypatch.setattr(relunet.MLP, "save", full)
    model, hist = tmp_path / "m.relunet", tmp_path / "h.json"
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--epochs", "3", "--quiet", "--json",
                                 "--save", str(model), "--history", str(hist)])
    assert rc == 2, (rc, out, err)
    assert len(History.load(hist)) == 3 and not model.exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"relunet: error: --save {model}: No space left on device")
    assert f"the history was saved to {hist}" in lines[0]
    res = json.loads(out)
    assert "model" not in res and res["output_errors"] == [lines[0][len("relunet: error: "):]]


def test_a_failing_history_without_save_says_no_model_was_kept(capsys, tmp_path, monkeypatch):
    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))

    monkeypatch.setattr(History, "save", full)
    _, line = _usage_error(capsys, ["train", "--data", "xor", "--epochs", "1", "--quiet",
                                    "--history", str(tmp_path / "h.json")], "the trained model was not kept (no --save given)")


def _header(out):
    return out[: out.index("epoch 1/")].splitlines()


def test_header_fits_an_80_column_terminal_and_keeps_every_word(capsys, monkeypatch):
    argv = DIGITS + ["--epochs", "1", "-v", "--hidden", "64,32,32,32", "--optimizer", "adam",
                     "--schedule", "warmup:1:cosine"]
    monkeypatch.setenv("COLUMNS", "400")
    rc, wide, err = _run(capsys, argv)
    assert rc == 0, err
    (line,) = _header(wide)  # room enough: one line, as before
    assert len(line) > 200 and "decoupled_weight_decay=False" in line and "schedule warmup:1:cosine" in line
    monkeypatch.setenv("COLUMNS", "80")
    rc, narrow, err = _run(capsys, argv)
    assert rc == 0, err
    lines = _header(narrow)
    assert len(lines) > 1 and all(len(l) <= 80 for l in lines), lines
    assert " ".join(" ".join(lines).split()) == " ".join(line.replace("  ", " ").split())  # nothing cut


def test_train_augment_hflip_reports_it_and_trains_on_twice_the_images(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "digits", "--augment", "hflip", "--epochs", "1", "--json"])
    assert rc == 0, err
    report = json.loads(out)
    assert report["augment"] == "hflip"
    rc, out, err = _run(capsys, ["train", "--data", "digits", "--augment", "hflip", "--epochs", "1", "--verbose"])
    assert rc == 0 and "2694 train (with hflip copies) / 450 test samples" in " ".join(out.split()), out


@pytest.mark.parametrize("argv, needles", [
    (["--data", "moons"], ["mirrors images"]),
    (["--data", "digits", "--validation-split", "0.1"], ["mirrored copies of training images"]),
    (["--data", "digits", "--early-stopping"], ["mirrored copies of training images"]),
    (["--data", "digits", "--augment", "vflip"], ["flip[:P] and/or shift[:PIXELS]"]),
    (["--data", "moons", "--augment", "shift:1"], ["transforms the images of", "not moons"]),
    (["--data", "digits", "--augment", "shift:1", "--scale", "standard"], ["background of 0", "--scale standard"]),
    (["--data", "digits", "--augment", "flip", "--scale", "minmax"], ["between a pixel and its mirror", "--scale minmax"]),
    (["--data", "digits", "--augment", "shift:8"], ["from 0 to 7"]),
    (["--data", "digits", "--augment", "shift:1", "--optimizer", "lbfgs"], ["per-batch optimizer"]),
    (["--data", "digits", "--augment", ""], ["augmentation is empty"]),
    (["--data", "digits", "--augment", "flip,shift:1,flip:0.2"], ["flip is given twice"]),
    (["--data", "digits", "--augment", "hflip,shift:1"], ["hflip (fixed mirrored copies) is a spec of its own"]),
    (["--data", "digits", "--augment", "flip", "--model", "perceptron"], ["not --model perceptron"]),
])
def test_train_augment_refusals(capsys, argv, needles):
    extra = [] if "--augment" in argv else ["--augment", "hflip"]
    out, _ = _usage_error(capsys, ["train", *argv, *extra, "--epochs", "1"], *needles)
    assert out == ""  # refused before the header and any training


def test_train_random_augmentation_is_reported_and_goes_with_a_validation_split(capsys):
    argv = ["train", "--data", "digits", "--augment", "flip:0.25,shift:1", "--epochs", "2", "--seed", "1"]
    rc, out, err = _run(capsys, [*argv, "--validation-split", "0.1", "--json"])
    assert rc == 0, err
    report = json.loads(out)
    assert report["augment"] == "flip:0.25,shift:1" and "val_loss" in out
    rc, out, err = _run(capsys, [*argv, "--verbose"])
    assert rc == 0, err
    text = " ".join(out.split())
    # the training part keeps its size: the transforms act on each batch
    assert "1347 train / 450 test samples" in text and "random augmentation flip:0.25,shift:1 per batch" in text


def test_threads_option(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--threads", "1", "--json"])
    assert rc == 0, err
    assert json.loads(out)["test_accuracy"] == 1.0
    _usage_error(capsys, ["train", "--data", "xor", "--threads", "0"], "--threads")
    cores = relunet.core.kernels.default_threads()
    for many in (str(cores + 1), "99999"):
        _usage_error(capsys, ["train", "--data", "xor", "--threads", many], "--threads",
                     f"expected at most {cores}, the cores this process may use, got {many}")


@pytest.mark.parametrize("command", ["train", "trace", "doctor"])
def test_tree_without_a_hierarchical_output_is_a_usage_error(capsys, command):
    _usage_error(capsys, [command, "--data", "xor", "--tree", "huffman"],
                 "--tree needs --output hierarchical_softmax")


def test_hierarchical_nll_without_a_hierarchical_output_is_a_usage_error(capsys):
    _usage_error(capsys, ["train", "--data", "digits", "--output", "softmax", "--loss", "hierarchical_nll"],
                 "--loss hierarchical_nll is the loss of --output hierarchical_softmax", "not of --output softmax")


def test_a_hierarchical_softmax_on_a_regression_target_is_a_usage_error(capsys):
    _usage_error(capsys, ["train", "--data", "sine", "--output", "hierarchical_softmax"],
                 "hierarchical_softmax", "regression", "--output identity")


def test_a_hierarchical_softmax_run_without_training_accuracy_reports_it(capsys, tmp_path):
    hist = tmp_path / "h.json"
    argv = DIGITS + ["--output", "hierarchical_softmax", "--epochs", "2", "--history", str(hist)]
    rc, out, err = _run(capsys, [*argv, "--verbose"])
    assert rc == 0, err
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and all(" loss " in ln and " acc " not in ln for ln in epoch_lines)
    assert all("accuracy" not in r for r in History.load(hist).records)
    rc, out, err = _run(capsys, [*argv, "--validation-split", "0.2", "--json"])
    assert rc == 0, err
    res = json.loads(out)
    assert 0 <= res["train_accuracy"] <= 1 and "val_accuracy" in res


def test_augment_on_a_data_file_names_the_file_before_reading_it(capsys, tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b,label\n1,2,0\n3,,1\n5,6,0\n7,8,1\n")
    _usage_error(capsys, ["train", "--data", str(path), "--augment", "hflip"], "--augment hflip",
                 "not a data file", "table.csv")


def test_train_divergence_of_a_set_up_that_cannot_train_names_the_cause(capsys):
    """Binary cross-entropy on an identity output is undefined at any learning rate: the
    error names the doctor's cause and fix, not "the learning rate is probably too large"."""
    out, line = _usage_error(capsys, ["train", "--data", "xor", "--output", "identity", "--loss", "bce",
                                      "--epochs", "5", "-q"], "training diverged at epoch 1",
                             "output-loss-mismatch", "use --output sigmoid with --loss binary_cross_entropy")
    assert "learning rate" not in line and "output='" not in line  # the command line's terms


def test_early_stopping_on_too_few_samples_says_the_split_was_its_own(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--quiet", "--early-stopping", "3"],
                 "--early-stopping holds out --validation-split 0.1", "of 4 samples leaves no validation samples",
                 "--monitor loss")
    _, line = _usage_error(capsys, ["train", "--data", "xor", "--quiet", "--early-stopping", "3",
                                    "--validation-split", "0.1"], "validation_split=0.1 of 4 samples")
    assert "--early-stopping holds out" not in line  # the user's own split: no word about an implied one


def test_bytes_labels_of_a_npy_file_train_and_save(capsys, tmp_path):
    # the run trained, then --save failed on dtype |S3 and the trained network was lost
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.normal(size=(40, 3)))
    np.save(tmp_path / "y.npy", np.array([b"cat", b"dog"] * 20))
    rc = main(["train", "--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy"), "--epochs", "1",
               "--save", str(tmp_path / "m.relunet")])
    assert rc == 0, capsys.readouterr().err
    assert relunet.load(tmp_path / "m.relunet").classes_.tolist() == ["cat", "dog"]
