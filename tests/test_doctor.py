"""The network doctor: every rule with a case that triggers it and one that does not."""

from __future__ import annotations

import json

import numpy as np
import pytest

import relunet
from relunet import MLP, errors
from relunet.data import datasets
from relunet.cli import main
from relunet.insight.doctor import RULES, Finding, examine, examine_trained, has_problems, target_kind

XOR_X64 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def rules(findings, severity=None):
    return {f.rule for f in findings if severity is None or f.severity == severity}


@pytest.fixture(scope="module")
def digits():
    d = datasets.load("digits", seed=0)
    return d.X_train[:300], d.y_train[:300]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = np.argmax(X[:, :3], axis=1)  # 3 classes
    return X, y


# -- the headline case -----------------------------------------------------------------


def test_xor_with_mse_and_relu_output_is_flagged_with_the_fix():
    net = MLP([2, 8, 1], activation="relu", output="relu", loss="mse")
    found = examine(net, XOR_X, XOR_Y, lr=0.5, batch_size=4)
    assert {"classification-target-as-regression", "relu-output-classifier"} <= rules(found, "warning")
    assert has_problems(found)
    for f in found:
        if f.rule in ("classification-target-as-regression", "relu-output-classifier"):
            assert "output='sigmoid'" in f.fix and "loss='binary_cross_entropy'" in f.fix
            assert "softmax" in f.fix and "cross_entropy" in f.fix
            assert len(f.explanation) > 100


def test_recommended_xor_setup_is_silent_before_and_after_training():
    net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid")
    assert examine(net, XOR_X, XOR_Y, lr=0.5, batch_size=4) == []
    net.fit(XOR_X, XOR_Y, epochs=1000, batch_size=4, lr=0.5)
    assert net.score(XOR_X, XOR_Y) == 1.0
    assert examine_trained(net, XOR_X, XOR_Y) == []


def test_findings_are_plain_data():
    net = MLP([2, 8, 1], activation="relu", output="relu", loss="mse")
    found = examine(net, XOR_X, XOR_Y, lr=0.5, batch_size=4)
    d = json.loads(json.dumps([f.to_dict() for f in found]))
    assert set(d[0]) == {"rule", "severity", "title", "explanation", "fix", "layer", "details"}
    assert all(f.rule in RULES and f.severity in ("error", "warning", "info") for f in found)
    assert found[0].format().startswith(f"[{found[0].severity}] {found[0].rule}")
    assert not has_problems([Finding("dead-units", "info", "t", "e", "f")])


# -- rule by rule: triggered and not triggered -------------------------------------------


def test_target_kind():
    assert target_kind(XOR_Y)["kind"] == "classification"
    assert target_kind(np.array([0.0, 1.0, 2.0]))["n_classes"] == 3
    assert target_kind(np.array([0.5, 1.2, 3.0]))["kind"] == "regression"
    assert target_kind(np.arange(100))["kind"] == "regression"  # too many distinct values
    assert target_kind(np.eye(3)[[0, 1, 2, 1]])["form"] == "one_hot"
    assert target_kind(np.array([[1, 1], [0, 1]]))["form"] == "multi_label"
    assert target_kind(np.array(["a", "b"]))["kind"] == "classification"


def test_classification_target_as_regression():
    net = MLP([2, 8, 1], activation="leaky_relu", output="identity", loss="mse")
    assert "classification-target-as-regression" in rules(examine(net, XOR_X, XOR_Y, lr=0.1, probe=False))
    y = XOR_X.sum(axis=1) * 0.37 + 0.1  # continuous
    assert "classification-target-as-regression" not in rules(examine(net, XOR_X, y, lr=0.1, probe=False))


def test_regression_target_with_classifier():
    net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid")
    y = XOR_X.sum(axis=1) * 0.37 + 0.1
    found = examine(net, XOR_X, y, lr=0.1)
    assert "regression-target-with-classifier" in rules(found, "error")
    assert "output='identity'" in next(f for f in found if f.rule == "regression-target-with-classifier").fix
    assert "regression-target-with-classifier" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1))


def test_softmax_single_unit():
    net = MLP([2, 8, 1], activation="leaky_relu", output="softmax")
    assert "softmax-single-unit" in rules(examine(net, XOR_X, XOR_Y, lr=0.1), "error")
    net = MLP([2, 8, 2], activation="leaky_relu", output="softmax")
    assert "softmax-single-unit" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1))


def test_softmax_with_mse(blobs):
    X, y = blobs
    Y = np.eye(3)[y]
    net = MLP([4, 8, 3], activation="relu", output="softmax", loss="mse")
    found = examine(net, X, Y, lr=0.1)
    assert {"softmax-with-mse", "classification-target-as-regression"} <= rules(found)
    net = MLP([4, 8, 3], activation="relu", output="softmax")
    assert examine(net, X, y, lr=0.1) == []


def test_softmax_with_bce(blobs):
    X, y = blobs
    net = MLP([4, 8, 3], activation="relu", output="softmax", loss="binary_cross_entropy")
    found = [f for f in examine(net, X, y, lr=0.1) if f.rule == "softmax-with-bce"]
    assert len(found) == 1 and found[0].severity == "warning" and "cross_entropy" in found[0].fix
    net = MLP([4, 8, 3], activation="relu", output="sigmoid", loss="binary_cross_entropy")
    assert "softmax-with-bce" not in rules(examine(net, X, y, lr=0.1))


def test_relu_and_leaky_relu_output_of_a_classifier(blobs):
    X, y = blobs
    for out in ("relu", "leaky_relu"):
        net = MLP([4, 8, 3], activation="relu", output=out, loss="cross_entropy")
        found = examine(net, X, y, lr=0.1)
        assert "relu-output-classifier" in rules(found)
        assert "output-loss-mismatch" in rules(found, "error")  # log of a non-probability
    net = MLP([4, 8, 3], activation="relu", output="softmax", loss="cross_entropy")
    assert not {"relu-output-classifier", "output-loss-mismatch"} & rules(examine(net, X, y, lr=0.1))


def test_output_loss_mismatch():
    net = MLP([2, 8, 1], activation="leaky_relu", output="tanh", loss="binary_cross_entropy")
    assert "output-loss-mismatch" in rules(examine(net, XOR_X, XOR_Y, lr=0.1), "error")
    net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", loss="binary_cross_entropy")
    assert "output-loss-mismatch" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1))


def test_sigmoid_multiclass(blobs):
    X, y = blobs
    net = MLP([4, 8, 3], activation="relu", output="sigmoid")
    found = examine(net, X, y, lr=0.1)
    assert "sigmoid-multiclass" in rules(found)
    assert "output='softmax'" in next(f for f in found if f.rule == "sigmoid-multiclass").fix
    multi = (X[:, :3] > 0).astype(int)  # genuinely multi-label: sigmoids are right
    assert (multi.sum(axis=1) > 1).any()
    assert "sigmoid-multiclass" not in rules(examine(net, X, multi, lr=0.1))


def test_single_unit_relu_layer():
    net = MLP([2, 1, 8, 1], activation="relu", output="sigmoid")
    found = examine(net, XOR_X, XOR_Y, lr=0.1, probe=False)
    assert any(f.rule == "single-unit-relu-layer" and f.layer == "hidden 1" for f in found)
    net = MLP([2, 1, 8, 1], activation=["leaky_relu", "relu"], output="sigmoid")
    assert "single-unit-relu-layer" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1, probe=False))


@pytest.mark.parametrize("act", ["step", "sign"])
def test_step_and_sign_with_gradient_training(act):
    net = MLP([2, 8, 1], activation=act, output="sigmoid")
    found = examine(net, XOR_X, XOR_Y, lr=0.1)
    assert "non-differentiable-activation" in rules(found, "error")
    assert "perceptron" in next(f for f in found if f.rule == "non-differentiable-activation").fix
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid")
    assert "non-differentiable-activation" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1))


def test_unscaled_inputs(digits):
    X, y = digits  # pixels in [0, 1]
    net = MLP([64, 32, 10], activation="relu")
    assert "unscaled-inputs" not in rules(examine(net, X, y, lr=0.1, probe=False))
    found = examine(net, X * 255, y, lr=0.1, probe=False)  # raw 0..255 pixels
    f = next(f for f in found if f.rule == "unscaled-inputs")
    assert f.details["max_std"] > 5 and "255" in f.fix
    assert "unscaled-inputs" in rules(examine(net, X * 1e-4, y, lr=0.1, probe=False))


def test_init_that_does_not_fit_the_activation(digits):
    X, y = digits
    net = MLP([64, 64, 64, 64, 10], activation="relu", init="xavier")
    found = examine(net, X, y, lr=0.1, probe=False)
    f = next(f for f in found if f.rule == "init-activation-mismatch")
    assert "init='he'" in f.fix and "too small" in f.title
    net = MLP([64, 64, 64, 10], activation="tanh", init="he")
    f = next(f for f in examine(net, X, y, lr=0.1, probe=False) if f.rule == "init-activation-mismatch")
    assert "init='xavier'" in f.fix and "too large" in f.title
    for act in ("relu", "tanh", "selu", "leaky_relu"):  # each with its own initialisation
        net = MLP([64, 64, 64, 64, 10], activation=act)
        assert "init-activation-mismatch" not in rules(examine(net, X, y, lr=0.1, probe=False))


def test_learning_rate_probe_diverges(digits):
    X, y = digits
    net = MLP([64, 32, 10], activation="tanh")
    before = [p.copy() for p in net.parameters()]
    found = examine(net, X, y, lr=50.0)
    f = next(f for f in found if f.rule == "lr-diverges")
    assert "5" in f.fix and f.details["lr"] == 50.0
    for p, b in zip(net.parameters(), before):  # the probe trains a copy
        np.testing.assert_array_equal(p, b)
    assert "lr-diverges" not in rules(examine(net, X, y, lr=0.1))


def test_learning_rate_probe_kills_units(digits):
    X, y = digits
    net = MLP([64, 32, 10], activation="relu")
    f = next(f for f in examine(net, X, y, lr=5.0) if f.rule == "lr-kills-units")
    assert f.details["dead_after"] - f.details["dead_before"] >= 0.25
    assert not {"lr-kills-units", "lr-diverges"} & rules(examine(net, X, y, lr=0.1))


def test_dead_output_units_get_the_output_fix_not_another_rectifier():
    """A dead ReLU *output* (XOR, relu + mse) was told to use leaky_relu, elu or gelu there;
    its fix is the task's output and loss. Dead hidden units keep the units that cannot die."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = MLP([2, 8, 1], activation="relu", output="relu", loss="mse", seed=0)
    net.dense_layers[0].b[...] = -10.0  # hidden units dead
    net.dense_layers[1].b[...] = -10.0  # and the output unit
    found = {f.layer: f for f in examine(net, X, y, lr=0.1, probe=False) if f.rule == "dead-units"}
    assert "sigmoid + binary_cross_entropy" in found["output"].fix and "leaky_relu" not in found["output"].fix
    hidden = found["hidden 1"].fix
    for name in ("leaky_relu", "prelu", "rrelu"):
        assert name in hidden


def test_dead_units_before_and_after_training(digits):
    X, y = digits
    net = MLP([64, 32, 10], activation="relu")
    net.dense_layers[0].b[...] = -10.0
    found = examine(net, X, y, lr=0.1, probe=False)
    f = next(f for f in found if f.rule == "dead-units")
    assert f.severity == "warning" and f.layer == "hidden 1" and f.details["dead_fraction"] == 1.0
    assert any(f.rule == "dead-units" and f.severity == "warning" for f in examine_trained(net, X, y))
    net = MLP([64, 32, 10], activation="leaky_relu")
    net.dense_layers[0].b[...] = -10.0
    assert "dead-units" not in rules(examine(net, X, y, lr=0.1, probe=False))
    assert "dead-units" not in rules(examine_trained(net, X, y))


def test_saturated_units_after_training(digits):
    X, y = digits
    net = MLP([64, 32, 10], activation="sigmoid")
    assert "saturated-units" not in rules(examine_trained(net, X, y))
    d = net.dense_layers[0]
    d.W[...] = np.abs(d.W) * 10
    d.b[:24] = 10.0  # z >= 10 on pixels >= 0: sigmoid'(z) < 5e-5 for 24 of 32 units
    f = next(f for f in examine_trained(net, X, y) if f.rule == "saturated-units")
    assert f.severity == "warning" and f.details["saturated_fraction"] >= 0.75
    assert set(range(24)) <= set(f.details["saturated_units"])


def test_saturated_fused_output_is_not_a_problem():
    net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid")
    net.dense_layers[1].W *= 1000.0  # sigmoid output pinned at 0/1: fine with fused BCE
    assert "saturated-units" not in rules(examine_trained(net, XOR_X, XOR_Y))


def test_vanishing_gradients(digits):
    X, y = digits
    net = MLP([64] + [32] * 8 + [10], activation="sigmoid")
    assert "vanishing-gradients" in rules(examine(net, X, y, lr=0.1, probe=False))
    net = MLP([64] + [32] * 8 + [10], activation="relu")
    assert "vanishing-gradients" not in rules(examine(net, X, y, lr=0.1, probe=False))


def test_target_mismatch():
    net = MLP([2, 8, 2], activation="leaky_relu", output="identity", loss="mse")
    assert "target-mismatch" in rules(examine(net, XOR_X, XOR_Y, lr=0.1), "error")
    assert "target-mismatch" not in rules(examine(net, XOR_X, np.eye(2)[XOR_Y], lr=0.1))


# -- relunet doctor ---------------------------------------------------------------------


def test_cli_doctor_exit_codes(capsys):
    assert main(["doctor", "--data", "xor", "--output", "sigmoid", "--epochs", "300"]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and "before training" in out and "after training" in out
    assert out.count("no problems found") == 1 and out.count("(no findings)") == 2  # the verdict once
    assert main(["doctor", "--data", "xor", "--output", "relu", "--loss", "mse", "--no-train", "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["problems"] is True and not d["trained"]
    assert "classification-target-as-regression" in {f["rule"] for f in d["before_training"]}
    assert main(["doctor", "--data", "xor", "--activation", "nope"]) == 2
    assert "unknown activation" in capsys.readouterr().err
    assert main(["doctor", "--list-rules"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(RULES)


def test_cli_doctor_reports_dead_units_after_training(capsys):
    code = main(["doctor", "--data", "digits", "--train-samples", "300", "--hidden", "32",
                 "--epochs", "2", "--lr", "5", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 1 and d["trained"]
    assert "lr-kills-units" in {f["rule"] for f in d["before_training"]}
    dead = [f for f in d["after_training"] if f["rule"] == "dead-units"]
    assert dead and dead[0]["details"]["dead_fraction"] > 0.5


def test_cli_diagnose_saved_model(tmp_path, capsys):
    d = datasets.load("digits", seed=0)
    net = MLP([64, 16, 10], activation="relu", seed=0)
    net.fit(d.X_train, d.y_train, epochs=1, lr=0.1)
    net.dense_layers[0].b[:4] = -50.0  # four dead units
    path = tmp_path / "m.relunet"
    net.save(path)
    assert main(["diagnose", str(path), "--data", "digits", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    from relunet.insight.diagnostics import diagnose

    expected = diagnose(net, d.X_train)
    assert out["layers"][0]["dead_units"] == expected.layers[0].dead_units
    assert set(range(4)) <= set(out["layers"][0]["dead_units"])
    assert out["dense"][0]["grad_norm"] is not None
    assert main(["diagnose", str(path), "--data", "digits", "--split", "test"]) == 0
    assert "hidden 1" in capsys.readouterr().out
    assert main(["diagnose", str(path), "--data", "xor"]) == 2  # 2 features, model takes 64
    assert main(["diagnose", str(tmp_path / "missing"), "--data", "digits"]) == 2


@pytest.mark.parametrize("bad", [dict(batch_size=0), dict(batch_size=2.5), dict(probe_steps=0),
                                 dict(probe_samples=-1), dict(probe_rise=float("nan")),
                                 dict(probe_rise="2"), dict(dead_threshold=1.5)])
def test_examine_refuses_bad_settings_instead_of_finding_nothing(bad):
    from relunet.errors import ConfigError

    net = MLP([2, 4, 2], seed=0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    with pytest.raises(ConfigError, match=next(iter(bad))):
        examine(net, X, [0, 1, 1, 0], **bad)


def test_diagnose_names_a_non_numeric_threshold():
    from relunet.insight.diagnostics import diagnose
    from relunet.errors import ConfigError

    net = MLP([2, 4, 2], seed=0)
    with pytest.raises(ConfigError, match="saturation_threshold must be a number"):
        diagnose(net, np.zeros((3, 2)), saturation_threshold="x")


def test_learning_rate_probe_trains_through_the_engine_and_shares_its_divergence_policy(digits):
    """An overflow inside a step is divergence for the probe as for fit (the engine's
    policy), even while the loss is still finite."""
    from relunet.training import optimizers

    class OverflowsAtStep3(optimizers.SGD):
        name = "sgd"

        def __init__(self):
            super().__init__(lr=0.01)
            self.calls = 0

        def _update(self, params, grads):
            self.calls += 1
            super()._update(params, grads)
            if self.calls == 3:
                np.exp(np.array([1000.0]))  # overflows: numpy warns

    X, y = digits
    net = MLP([64, 32, 10], activation="tanh")
    f = next(f for f in examine(net, X, y, optimizer=OverflowsAtStep3()) if f.rule == "lr-diverges")
    assert "at step 3" in f.title and f.details["losses"][-1] is None and len(f.details["losses"]) == 3
    with pytest.raises(Exception, match="floating-point overflow at epoch 1, batch 3"):
        net.fit(X, y, epochs=1, batch_size=32, optimizer=OverflowsAtStep3())


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def test_doctor_with_mixed_labels():
    from relunet.insight import doctor

    with pytest.raises(errors.TargetTypeError, match="mixes"):
        doctor.examine(_xor_net(), XOR_X64, np.array([0, "a", 1, 0], dtype=object), probe=False)


def test_doctor_examine_bad_learning_rate():
    from relunet.insight import doctor

    with pytest.raises(errors.ConfigError, match="lr"):
        doctor.examine(_xor_net(), XOR_X64, XOR_Y, lr=-1)


def test_examine_lets_ctrl_c_out_of_the_probe(monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    net = MLP([2, 4, 1], activation="relu", output="sigmoid", seed=0)
    monkeypatch.setattr(MLP, "train_step", interrupted)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    with pytest.raises(KeyboardInterrupt):
        examine(net, X, np.array([0, 1, 1, 0]), lr=0.1)


def test_log_softmax_single_unit():
    net = MLP([2, 8, 1], activation="leaky_relu", output="log_softmax")
    found = examine(net, XOR_X, XOR_Y, lr=0.1)
    assert "log-softmax-single-unit" in rules(found, "error")
    assert "output='sigmoid'" in next(f for f in found if f.rule == "log-softmax-single-unit").fix
    y = XOR_X.sum(axis=1) * 0.37 + 0.1
    fix = next(f for f in examine(net, XOR_X, y, lr=0.1) if f.rule == "log-softmax-single-unit").fix
    assert "identity" in fix
    net = MLP([2, 8, 2], activation="leaky_relu", output="log_softmax")
    assert "log-softmax-single-unit" not in rules(examine(net, XOR_X, XOR_Y, lr=0.1))


def test_a_vocabulary_of_integer_labels_is_classes_not_a_continuous_target():
    rng = np.random.default_rng(0)
    net = MLP([2, 8, 500], output="hierarchical_softmax", seed=0)
    X = rng.standard_normal((300, 2))
    y = rng.integers(0, 500, 300)  # 300 draws over 500 words: many distinct integer labels
    assert "regression-target-with-classifier" not in rules(examine(net, X, y, lr=0.1))
    assert "regression-target-with-classifier" in rules(examine(net, X, y + 0.5, lr=0.1), "error")


def test_findings_put_an_before_a_name_read_with_a_vowel(blobs):
    X, y = blobs
    net = MLP([2, 8, 1], activation="relu", output="identity", loss="binary_cross_entropy")
    titles = [f.title for f in examine(net, XOR_X, XOR_Y, lr=0.1) if f.rule == "output-loss-mismatch"]
    assert titles and "on an identity output" in titles[0]
    net = MLP([4, 8, 3], activation="relu", output="elu", loss="cross_entropy")
    titles = [f.title for f in examine(net, X, y, lr=0.1) if f.rule == "relu-output-classifier"]
    assert titles == ["an elu output activation in a classifier"]
    net = MLP([4, 8, 3], activation="relu", output="relu", loss="cross_entropy")
    assert "a relu output activation in a classifier" in [f.title for f in examine(net, X, y, lr=0.1)]
