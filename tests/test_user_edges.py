"""Hostile and edge-case input, as a demanding user gives it.

The rule these tests hold the code to: bad input raises a specific relunet error naming the
problem (on the command line: exit status 2 and ONE line on stderr), never a traceback
from deep inside numpy; JSON output is strict JSON; files are never lost or half-written;
expensive work does not start when its output cannot be written.
"""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.cli import main
from relunet.training.engine import History

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _usage_error(capsys, argv, *needles):
    """Run the CLI and assert: status 2, exactly one line on stderr naming the problem."""
    rc, out, err = _run(capsys, argv)
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relunet: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return out, lines[0]


def _strict_json(text: str):
    def reject(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


# -- command line: arguments ---------------------------------------------------------
@pytest.mark.parametrize("cmd", [["train", "--epochs", "1"], ["trace"], ["doctor", "--no-train"]])
def test_negative_seed_is_a_usage_error(capsys, cmd):
    _usage_error(capsys, [*cmd, "--data", "digits", "--seed", "-1"], "--seed")


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


def test_compare_outputs_checked_before_training(capsys, tmp_path):
    for flag in ("--out-json", "--out-csv", "--out-figure"):
        target = tmp_path / "missing" / ("r.png" if flag == "--out-figure" else "r.json")
        out, _ = _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1",
                                       "--jobs", "1", flag, str(target)], str(tmp_path / "missing"))
        assert out == ""


def test_compare_bad_scheduler_address(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1", "--epochs", "1",
                          "--scheduler", "bogus"], "bogus")


def test_compare_empty_activation_list(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", " , ", "--seeds", "1"], "--activations")


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


def test_explain_bad_plot_path_fails_before_printing(capsys, tmp_path):
    out, _ = _usage_error(capsys, ["explain", "relu", "--plot", str(tmp_path / "x.bmp")], ".png")
    assert out == ""
    out, _ = _usage_error(capsys, ["explain", "relu", "--plot", str(tmp_path / "missing" / "x.png")],
                          str(tmp_path / "missing"))
    assert out == ""


@pytest.mark.parametrize("name", ["cross_entropy", "bce", "mse", "softmax", "log_softmax"])
def test_explain_plot_of_losses_and_softmax(capsys, tmp_path, name):
    # issue 8: --plot for every activation *and loss*; what has no element-wise f' is drawn
    # over one logit, from the library's own value/gradient code
    rc, out, err = _run(capsys, ["explain", name, "--plot", str(tmp_path / "f.svg")])
    assert rc == 0, err
    assert (tmp_path / "f.svg").read_text().startswith("<?xml")
    from relunet.insight import plots

    fig = plots.plot_explained(name)
    f_line, df_line = fig.axes[0].lines[2:4]  # after the two zero axes
    x, f, df = f_line.get_xdata(), f_line.get_ydata(), df_line.get_ydata()
    sig = 1 / (1 + np.exp(-x))
    expected = {  # target class 0 / target 1, other logit 0
        "cross_entropy": (np.logaddexp(0, -x), sig - 1), "bce": (np.logaddexp(0, -x), sig - 1),
        "mse": ((x - 1) ** 2, 2 * (x - 1)), "softmax": (sig, sig * (1 - sig)),
        "log_softmax": (-np.logaddexp(0, -x), 1 - sig),
    }[name]
    np.testing.assert_allclose(f, expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(df, expected[1], rtol=1e-10, atol=1e-12)


def test_unknown_loss_lists_known_losses(capsys):
    _usage_error(capsys, ["train", "--data", "xor", "--loss", "msee"], "known losses:", "mse")


def test_mse_on_class_labels_says_what_to_do(capsys):
    _, line = _usage_error(capsys, ["train", "--data", "digits", "--loss", "mse", "--epochs", "1"], "one-hot")


# -- files -----------------------------------------------------------------------------
def test_history_save_is_atomic_and_strict_json(tmp_path, monkeypatch):
    path = tmp_path / "h.json"
    path.write_text("previous")
    h = History(records=[{"epoch": 1, "loss": 0.5, "val_loss": float("nan")}], info={"x": float("inf")})

    def crash(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", crash)
    monkeypatch.setattr(json, "dumps", crash)
    with pytest.raises(OSError):
        h.save(path)
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["h.json"]  # no temporary file left behind
    monkeypatch.undo()
    h.save(path)
    d = _strict_json(path.read_text())
    assert d["records"][0]["loss"] == 0.5 and d["records"][0]["val_loss"] is None and d["info"]["x"] is None


def test_history_save_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    History(records=[{"epoch": 1, "loss": 1.0}]).save(link)
    assert link.is_symlink() and History.load(real)["loss"] == [1.0]


def test_model_save_errors_name_the_users_path(tmp_path):
    net = _xor_net()
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        net.save(tmp_path)
    missing = tmp_path / "missing" / "m.rln"
    with pytest.raises(FileNotFoundError) as info:
        net.save(missing)
    assert str(tmp_path / "missing") in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_model_save_writes_through_a_symlink(tmp_path):
    net = _xor_net()
    real = tmp_path / "real.rln"
    net.save(real)
    link = tmp_path / "link.rln"
    link.symlink_to(real)
    net.fit(XOR_X, XOR_Y, epochs=3, lr=0.5)
    net.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(relunet.load(real).predict_output(XOR_X), net.predict_output(XOR_X))


# -- Python API --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 1.5, "a", [1, -2]])
def test_mlp_bad_seed(seed):
    with pytest.raises(errors.ConfigError, match="seed"):
        relunet.MLP([2, 3, 1], seed=seed)


@pytest.mark.parametrize("sizes", [None, 5, [2, "a", 1], [2, 2.5, 1], [2, float("nan"), 1], [True, 3, 1], [2, np.True_, 2]])
def test_mlp_bad_sizes(sizes):
    with pytest.raises(errors.ConfigError, match="sizes"):
        relunet.MLP(sizes)


def test_mlp_bad_dtype():
    with pytest.raises(errors.ConfigError, match="dtype"):
        relunet.MLP([2, 3, 1], dtype="foo")


def test_mlp_tuple_of_per_layer_activations():
    with pytest.raises(errors.ConfigError, match="list"):
        relunet.MLP([2, 3, 3, 1], activation=("relu", "tanh"))


def test_fit_batch_size_string():
    with pytest.raises(errors.ConfigError, match="batch_size"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=1, batch_size="full")


def test_fit_complex_X():
    with pytest.raises(errors.DataError, match="complex"):
        _xor_net().fit(XOR_X.astype(complex), XOR_Y, epochs=1)


def test_fit_X_beyond_float32_range():
    X = XOR_X.copy()
    X[1, 0] = 1e300
    with pytest.raises(errors.DataError, match="float32") as info:
        _xor_net().fit(X, XOR_Y, epochs=1)
    assert "row 1, column 0" in str(info.value)
    _xor_net(dtype="float64").fit(X, XOR_Y, epochs=1)  # fits in float64: no error


def test_fit_y_none_and_mixed_labels():
    with pytest.raises(errors.DataError, match="y"):
        _xor_net().fit(XOR_X, None, epochs=1)
    with pytest.raises(errors.TargetTypeError, match="labels"):
        _xor_net().fit(XOR_X, np.array([0, "a", 1, 0], dtype=object), epochs=1)


def test_score_with_mismatched_lengths():
    net = _xor_net()
    net.fit(XOR_X, XOR_Y, epochs=1)
    with pytest.raises(errors.DataError, match="4 samples but y has 3"):
        net.score(XOR_X, XOR_Y[:3])
    reg = relunet.MLP([2, 3, 1], output="identity", seed=0)
    reg.fit(XOR_X, XOR_Y.astype(float), epochs=1)
    with pytest.raises(errors.DataError, match="4 samples but y has 3"):
        reg.score(XOR_X, np.ones(3))


def test_score_of_a_multi_label_network_given_class_labels():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30) % 3
    net = relunet.MLP([3, 8, 3], output="sigmoid", loss="bce", seed=0)  # three independent sigmoids
    net.fit(X, y, epochs=3, lr=0.1)
    onehot = np.eye(3, dtype=int)[y]
    expected = float(np.mean(np.all(net.predict(X) == onehot, axis=1)))
    assert net.score(X, y) == expected == net.score(X, onehot)


def test_cli_train_bce_over_softmax_outputs_reports(capsys):
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--output", "softmax", "--loss", "bce", "--epochs", "2",
                                 "--json"])
    assert rc == 0, err
    assert 0.0 <= _strict_json(out)["test_accuracy"] <= 1.0


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


def test_figures_and_comparison_files_write_through_symlinks(tmp_path):
    from relunet.insight import plots

    real, link = tmp_path / "real.png", tmp_path / "link.png"
    real.write_bytes(b"old")
    link.symlink_to(real)
    plots.plot_activations(["relu"], link)
    assert link.is_symlink() and real.read_bytes()[:4] == b"\x89PNG"
    res = relunet.insight.compare.compare_activations("xor", ["relu"], 1, hidden=[4], epochs=2, jobs=1)
    real_json, link_json = tmp_path / "real.json", tmp_path / "link.json"
    real_json.write_text("old")
    link_json.symlink_to(real_json)
    res.save_json(link_json)
    assert link_json.is_symlink() and _strict_json(real_json.read_text())["rows"][0]["activation"] == "relu"


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


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "leaky_relu", "elu"])
def test_activation_forward_backward_on_python_lists(name):
    act = relunet.activations.get(name)
    out = act.forward([-2.0, 0.5, 7.0])
    grad = act.backward([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(grad, act.derivative(np.array([-2.0, 0.5, 7.0])))
    assert out.shape == (3,)


def test_compare_without_hidden_layer_or_with_softmax(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1", "--hidden", ""],
                 "no hidden layer")
    _, line = _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu,softmax", "--seeds", "1"],
                           "element-wise")
    assert "gradient descent" not in line  # softmax is differentiable; the reason is another


def test_divergence_from_weight_decay_names_the_weight_decay(capsys):
    _, line = _usage_error(capsys, ["train", "--data", "digits", "--epochs", "2", "--weight-decay", "1e10"],
                           "weight decay", "diverged")
    assert "learning rate is probably too large" not in line
    with pytest.raises(errors.DivergenceError, match="lr x weight_decay = 1e\\+09"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=20, lr=0.1, optimizer="sgd", weight_decay=1e10)


def test_plot_boundary_checks_before_training(capsys, tmp_path):
    csv = tmp_path / "reg.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i * 0.37:.2f}\n" for i in range(12)))
    out, _ = _usage_error(capsys, ["plot", "boundary", "--data", str(csv), "--out", str(tmp_path / "b.png")],
                          "regression")
    out, _ = _usage_error(capsys, ["plot", "boundary", "--data", "xor", "--epochs", "100000",
                                   "--out", str(tmp_path / "missing" / "b.png")], str(tmp_path / "missing"))


def test_fit_argument_types(tmp_path):
    with pytest.raises(errors.ConfigError, match="patience"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, early_stopping="x", monitor="loss")
    with pytest.raises(errors.ConfigError, match="monitor"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, monitor=5)
    with pytest.raises(errors.ConfigError, match="callbacks"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, callbacks=5)
    seen = []
    _xor_net().fit(XOR_X, XOR_Y, epochs=2, callbacks=lambda epoch, record, net: seen.append(epoch))
    assert seen == [1, 2]  # one callback given on its own is one callback
    calls = []

    class Spy:
        def on_epoch_end(self, epoch, record, net):
            calls.append(epoch)

    net = _xor_net()
    net.fit(XOR_X, XOR_Y, epochs=2, callbacks=Spy())
    assert calls == [1, 2]
    with pytest.raises(FileNotFoundError, match="missing"):
        net.fit(XOR_X, XOR_Y, epochs=1, checkpoint=tmp_path / "missing" / "c.ckpt", callbacks=Spy())
    assert calls == [1, 2]  # refused before the first epoch


def test_activation_misuse_raises_relunet_errors():
    with pytest.raises(errors.CallOrderError):
        relunet.activations.get("relu").backward(np.ones(3))
    for name in ("softmax", "log_softmax"):
        with pytest.raises(errors.NotElementwiseError, match="backward"):
            relunet.activations.get(name).derivative(np.ones(3))
    assert issubclass(errors.CallOrderError, RuntimeError) and issubclass(errors.NotElementwiseError, TypeError)


def test_low_level_forward_checks_the_input_shape():
    net = relunet.MLP([2, 3, 2], seed=0)
    for mode in (net.train, net.eval):
        mode()
        with pytest.raises(errors.FeatureCountError, match=r"\(n_samples, 2\)"):
            net.forward(np.ones((4, 3), dtype=np.float32))
        with pytest.raises(errors.FeatureCountError):
            net.logits(np.ones(2, dtype=np.float32))
    assert net.forward(np.ones((4, 2), dtype=np.float32)).shape == (4, 2)


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_loss_with_targets_of_another_shape(name):
    loss = relunet.losses.get(name)
    out = np.array([[0.2], [0.7], [0.9]])
    with pytest.raises(errors.DataError, match=r"\(3, 1\).*\(3,\)"):
        loss.value(out, np.array([0.0, 1.0, 1.0]))  # would broadcast to (3, 3)
    with pytest.raises(errors.DataError):
        loss.gradient(out, np.array([0.0, 1.0, 1.0]))
    assert np.isfinite(loss.value(out, np.array([[0.0], [1.0], [1.0]])))


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


def test_closed_pipe_exits_quietly(capsys, monkeypatch):
    import relunet.cli.activations as cmd

    def write_to_closed_pipe(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cmd, "run", write_to_closed_pipe)
    rc, out, err = _run(capsys, ["activations"])
    assert rc == 141 and err == ""  # `relunet activations | head -1`: no "error: Broken pipe"


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


def test_compare_api_argument_types():
    from relunet.insight import compare

    with pytest.raises(errors.ConfigError, match="seeds"):
        compare.compare_activations("xor", ["relu"], 1.5, epochs=1, jobs=1)
    res = compare.compare_activations("xor", "relu,tanh", 1, hidden=[4], epochs=1, jobs=1)
    assert [r["activation"] for r in res.rows] == ["relu", "tanh"]


def test_teaching_and_plot_api_argument_types(tmp_path):
    from relunet.insight import explain
    from relunet.insight import plots
    from relunet.insight import trace

    with pytest.raises(errors.UnknownNameError):
        explain.explain(123)
    tr = trace.trace_steps(_xor_net(), XOR_X, XOR_Y, lr=0.5)
    with pytest.raises(errors.ConfigError, match="precision"):
        trace.render(tr, "text", -1)
    for ncols in (0, -1):
        with pytest.raises(errors.ConfigError, match="ncols"):
            plots.plot_activations(["relu"], tmp_path / "a.png", ncols=ncols)
    assert os.listdir(tmp_path) == []


def test_one_optimizer_instance_for_two_networks():
    opt = relunet.optimizers.get("adam", lr=0.01)
    relunet.MLP([2, 4, 1], output="sigmoid", seed=0).fit(XOR_X, XOR_Y, epochs=2, optimizer=opt)
    with pytest.raises(errors.ConfigError, match="another network"):
        relunet.MLP([2, 6, 1], output="sigmoid", seed=0).fit(XOR_X, XOR_Y, epochs=2, optimizer=opt)


@pytest.mark.parametrize("kwargs", [{"patience": "a"}, {"patience": 2.5}, {"monitor": None}, {"min_delta": "x"}])
def test_early_stopping_argument_types(kwargs):
    with pytest.raises(errors.ConfigError):
        relunet.callbacks.EarlyStopping(**kwargs)


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


def test_optimizer_instance_with_extra_hyper_parameters():
    opt = relunet.optimizers.get("sgd", lr=0.1)
    with pytest.raises(errors.ConfigError, match="momentum would be ignored"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=1, optimizer=opt, momentum=0.9)


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


def test_compare_negative_seed_in_a_list(capsys):
    _usage_error(capsys, ["compare", "--data", "digits", "--activations", "relu", "--seeds=1,-2", "--epochs", "1",
                          "--jobs", "1"], ">= 0")


def test_dataset_default_schedule_does_not_break_full_batch_optimizers(monkeypatch, capsys):
    from relunet.cli import common

    # a per-dataset default schedule (as fashion-mnist's cosine) is SGD's; lbfgs/cg take none
    monkeypatch.setitem(common.DATASET_DEFAULTS, "xor", {**common.DATASET_DEFAULTS["xor"], "schedule": "cosine"})
    rc, out, err = _run(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--epochs", "5", "--json"])
    assert rc == 0, err
    assert _strict_json(out)["optimizer"] == "lbfgs"
    _usage_error(capsys, ["train", "--data", "xor", "--optimizer", "lbfgs", "--schedule", "cosine"], "schedule")


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
    # issue 5: `relunet train --diagnose`; a too-large learning rate kills ReLU units, not leaky ones
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


# -- modules of other developers, fixed after their freeze (12:45) ---------------------
def test_dataset_seed_and_name_types(capsys, tmp_path):
    for seed in (-1, 1.5):
        with pytest.raises(errors.ConfigError, match="seed"):
            relunet.datasets.load("digits", seed=seed)
    with pytest.raises(errors.ConfigError):
        relunet.datasets.load(None)
    model = tmp_path / "m.relunet"
    relunet.MLP([64, 8, 10], seed=0).save(model)
    _usage_error(capsys, ["predict", "--model", str(model), "--data", "digits", "--seed", "-1"], "--seed")
    _usage_error(capsys, ["diagnose", str(model), "--data", "digits", "--seed", "-1"], "--seed")


def test_predict_and_export_output_errors_name_the_users_path(capsys, tmp_path):
    model = tmp_path / "m.relunet"
    net = _xor_net()
    net.fit(XOR_X, XOR_Y, epochs=2)
    net.save(model)
    _, line = _usage_error(capsys, ["predict", "--model", str(model), "--data", "xor",
                                    "--out", str(tmp_path / "missing" / "p.csv")], str(tmp_path / "missing"))
    assert ".tmp" not in line
    _, line = _usage_error(capsys, ["export", "--model", str(model), "--onnx", str(tmp_path)], str(tmp_path))
    assert ".tmp" not in line
    real, link = tmp_path / "real.onnx", tmp_path / "link.onnx"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert main(["export", "--model", str(model), "--onnx", str(link)]) == 0
    assert link.is_symlink() and real.stat().st_size > 3


@pytest.mark.parametrize("kwargs", [{"n_samples": 0}, {"n_samples": -5}, {"noise": -1.0}])
@pytest.mark.parametrize("name", ["spirals", "moons"])
def test_generated_dataset_arguments(name, kwargs):
    with pytest.raises(errors.ConfigError):
        relunet.datasets.load(name, **kwargs)


def test_csv_value_beyond_float32(capsys, tmp_path):
    csv = tmp_path / "big.csv"
    csv.write_text("a,b,y\n1e300,5,0\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(8)))
    _usage_error(capsys, ["train", "--data", str(csv), "--epochs", "1"], "'a'", "line 2", "float32")


def test_doctor_with_mixed_labels():
    from relunet.insight import doctor

    with pytest.raises(errors.TargetTypeError, match="mixes"):
        doctor.examine(_xor_net(), XOR_X, np.array([0, "a", 1, 0], dtype=object), probe=False)


def test_data_fetch_timeout_must_be_positive(capsys, tmp_path):
    for t in ("0", "-1", "nan"):
        _usage_error(capsys, ["data", "fetch", "mnist", "--data-dir", str(tmp_path), "--timeout", t], "--timeout")


def test_doctor_examine_bad_learning_rate():
    from relunet.insight import doctor

    with pytest.raises(errors.ConfigError, match="lr"):
        doctor.examine(_xor_net(), XOR_X, XOR_Y, lr=-1)


def test_network_backward_before_forward_is_a_call_order_error():
    import numpy as np

    import relunet
    from relunet.errors import CallOrderError

    net = relunet.MLP([2, 3, 1], seed=0)
    with pytest.raises(CallOrderError, match="before forward"):
        net.backward(np.ones((1, 1), np.float32))


def test_sklearn_regressor_with_string_targets_says_use_the_classifier():
    import numpy as np

    from relunet.errors import TargetTypeError
    from relunet.interop.sklearn import MLPRegressor

    with pytest.raises(TargetTypeError, match="MLPClassifier"):
        MLPRegressor(max_iter=1).fit(np.ones((4, 2)), np.array(["a", "b", "a", "b"]))
