"""Regularization: dropout (a layer on the one path), the L2 penalty, max-norm; their
gradients, files, export, trace, doctor, compare and command-line options."""

import json

import numpy as np
import pytest

import relunet
from relunet.cli import main
from relunet.core.layers import Dense, Dropout
from relunet.core.network import MLP
from relunet.data import datasets
from relunet.errors import CallOrderError, ConfigError, ModelFileError
from relunet.insight import doctor
from relunet.training import optimizers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 5))
Y_LABELS = RNG.integers(0, 3, size=12)


def _net(**kw):
    net = MLP([5, 7, 6, 3], dtype=np.float64, seed=2, **kw)
    for d in net.dense_layers:  # non-zero biases
        d.b[...] = np.random.default_rng(1).normal(scale=0.3, size=d.b.shape)
    return net


def _numeric_gradient(net, X, Y, state, eps=1e-6):
    """Central differences of the training loss, every evaluation with the same masks."""
    grads = []
    for p in net.parameters():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            vals = []
            for v in (old + eps, old - eps):
                p[i] = v
                net.rng.bit_generator.state = state
                vals.append(net.loss_value(X, Y))
            p[i] = old
            g[i] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


# -- dropout ---------------------------------------------------------------------
def test_mlp_places_dropout_after_each_hidden_activation_and_on_the_input():
    net = MLP([4, 8, 8, 2], dropout=[0.5, 0.0], input_dropout=0.2)
    kinds = [type(l).__name__ for l in net.layers]
    assert kinds == ["Dropout", "Dense", "ActivationLayer", "Dropout", "Dense", "ActivationLayer",
                     "Dense", "ActivationLayer"]
    assert [l.p for l in net.layers if isinstance(l, Dropout)] == [0.2, 0.5]
    assert all(l.rng is net.rng for l in net.layers if isinstance(l, Dropout))
    assert net.regularization() == {"dropout": [0.5, 0.0], "input_dropout": 0.2, "l2": 0.0,
                                    "max_norm": None}


@pytest.mark.parametrize("bad", [1.0, -0.1, [0.2], "x", True, False, None, float("nan")])
def test_bad_dropout_rates_are_config_errors(bad):
    with pytest.raises(ConfigError):
        MLP([4, 8, 8, 2], dropout=bad)


@pytest.mark.parametrize("bad", [1.0, -0.1, "x", None, True, float("nan"), [0.2]])
def test_the_dropout_layer_refuses_a_bad_rate_with_a_config_error(bad):
    with pytest.raises(ConfigError, match="dropout rate"):
        Dropout(bad)


def test_inverted_dropout_masks_are_zero_or_scaled_and_keep_the_mean():
    layer = Dropout(0.25, np.random.default_rng(0))
    x = np.ones((400, 300), dtype=np.float32)
    y = layer.forward(x)
    assert set(np.unique(layer.mask)) == {0.0, np.float32(1 / 0.75)}
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert abs(float((layer.mask == 0).mean()) - 0.25) < 0.01
    layer.train(False)
    assert layer.forward(x) is x  # evaluation: the identity


def test_dropout_backward_before_forward_is_a_call_order_error():
    with pytest.raises(CallOrderError):
        Dropout(0.5).backward(np.ones((2, 3)))


def test_dropout_gradient_with_a_fixed_mask_matches_finite_differences():
    net = _net(dropout=0.4, input_dropout=0.3)
    Y = net.encode_targets(Y_LABELS, len(X))
    state = net.rng.bit_generator.state
    net.loss_and_gradients(X, Y)
    analytic = [g.copy() for g in net.gradients()]
    masks = [l.mask.copy() for l in net.layers if isinstance(l, Dropout)]
    assert any((m == 0).any() for m in masks)  # the masks really drop units
    numeric = _numeric_gradient(net, X, Y, state)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7)


def test_dropout_gradients_match_pytorch_with_the_same_masks():
    torch = pytest.importorskip("torch")
    net = _net(dropout=[0.5, 0.2], input_dropout=0.1)
    Y = net.encode_targets(Y_LABELS, len(X))
    loss = net.loss_and_gradients(X, Y)
    m_in, m1, m2 = [torch.tensor(l.mask) for l in net.layers if isinstance(l, Dropout)]
    W = [torch.tensor(d.W, requires_grad=True) for d in net.dense_layers]
    b = [torch.tensor(d.b, requires_grad=True) for d in net.dense_layers]
    # torch.nn.functional.dropout with a given mask: x * keep / (1 - p), the masks' values
    h = torch.tensor(X) * m_in
    h = torch.relu(h @ W[0] + b[0]) * m1
    h = torch.relu(h @ W[1] + b[1]) * m2
    out = torch.nn.functional.cross_entropy(h @ W[2] + b[2], torch.tensor(Y.argmax(1)))
    out.backward()
    assert float(out.detach()) == pytest.approx(loss, rel=1e-12)
    for d, w, bb in zip(net.dense_layers, W, b):
        np.testing.assert_allclose(d.dW, w.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(d.db, bb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_is_off_in_predict_and_evaluate():
    net = MLP([5, 16, 3], dropout=0.5, input_dropout=0.3, seed=4)
    plain = MLP([5, 16, 3], seed=4)
    for a, b in zip(net.dense_layers, plain.dense_layers):
        b.W[...], b.b[...] = a.W, a.b
    net.classes_ = plain.classes_ = np.arange(3)
    Xf = X.astype(np.float32)
    np.testing.assert_array_equal(net.predict_proba(Xf), plain.predict_proba(Xf))
    np.testing.assert_array_equal(net.predict_proba(Xf), net.predict_proba(Xf))
    Y = net.encode_targets(Y_LABELS, len(X), fit=False)
    assert net.evaluate(Xf, Y) == plain.evaluate(Xf, Y)
    assert net.evaluate(Xf, Y, work_rows=5) == pytest.approx(plain.evaluate(Xf, Y, work_rows=5))


def test_dropout_training_is_reproducible_and_seeded():
    d = datasets.load("digits", seed=0)
    runs = []
    for seed in (0, 0, 1):
        net = MLP([64, 32, 10], dropout=0.3, seed=seed)
        net.fit(d.X_train[:300], d.y_train[:300], epochs=2, batch_size=32, lr=0.05)
        runs.append(net.dense_layers[0].W.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_dropout_network_reaches_its_accuracy_on_digits():
    d = datasets.load("digits", seed=0)
    net = MLP([64, 128, 128, 10], dropout=0.2, seed=0)
    net.fit(d.X_train, d.y_train, epochs=30, batch_size=32, lr=0.01, momentum=0.9)
    assert net.score(d.X_test, d.y_test) >= 0.95


def test_saved_model_keeps_its_dropout_and_predicts_identically(tmp_path):
    d = datasets.load("digits", seed=0)
    net = MLP([64, 32, 16, 10], dropout=[0.3, 0.1], input_dropout=0.1, l2=1e-3, max_norm=2.5, seed=0)
    net.fit(d.X_train[:200], d.y_train[:200], epochs=2, batch_size=32, lr=0.05)
    net.save(tmp_path / "m.relunet")
    loaded = relunet.load(tmp_path / "m.relunet")
    assert loaded.regularization() == net.regularization()
    assert [type(l) for l in loaded.layers] == [type(l) for l in net.layers]
    np.testing.assert_array_equal(loaded.predict_proba(d.X_test), net.predict_proba(d.X_test))


def test_model_file_with_a_bad_regularization_entry_is_refused(tmp_path):
    from relunet.io import archive, modelfile

    net = MLP([4, 3, 2], dropout=0.2)
    meta, arrays = modelfile.describe(net)
    meta["regularization"]["dropout"] = 1.5
    archive.write_archive(tmp_path / "bad.relunet", modelfile.KIND, meta, arrays)
    with pytest.raises(ModelFileError, match="dropout"):
        relunet.load(tmp_path / "bad.relunet")


def test_onnx_export_skips_dropout(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = MLP([5, 9, 7, 3], dropout=0.5, input_dropout=0.2, seed=1)
    net.to_onnx(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    Xf = X.astype(np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: Xf})[0]
    np.testing.assert_allclose(out, net.predict_output(Xf), rtol=1e-5, atol=1e-6)


def test_trace_shows_the_masks_and_replays_them_in_the_step():
    from relunet.insight.trace import render, trace_steps

    net = MLP([2, 4, 2], dropout=0.5, input_dropout=0.5, seed=3)
    tr = trace_steps(net, np.array([[0.0, 1.0], [1.0, 0.5]]), [0, 1], lr=0.1)
    rec = tr.steps[0].layers[0]
    assert rec.mask is not None and rec.input_mask is not None
    assert set(np.unique(rec.mask)) <= {0.0, 2.0}
    np.testing.assert_allclose(np.array(rec.dropped), np.array(rec.a) * np.array(rec.mask))
    text = render(tr)
    assert "dropout mask m1" in text and "input dropout mask m0" in text and "* m1" in text


# -- L2 ----------------------------------------------------------------------------
def test_l2_loss_is_scikit_learns_alpha_over_2n():
    net = _net(l2=0.3)
    Y = net.encode_targets(Y_LABELS, len(X))
    plain = _net()
    squares = sum(float((d.W ** 2).sum()) for d in net.dense_layers)
    expected = plain.loss_value(X, Y) + 0.3 / (2 * len(X)) * squares
    assert net.loss_value(X, Y) == pytest.approx(expected, rel=1e-12)
    assert net.loss_and_gradients(X, Y) == pytest.approx(expected, rel=1e-12)
    assert net.evaluate(X, Y)["loss"] == pytest.approx(expected, rel=1e-12)


def test_l2_gradient_matches_finite_differences_and_leaves_biases_alone():
    net = _net(l2=0.5)
    Y = net.encode_targets(Y_LABELS, len(X))
    net.loss_and_gradients(X, Y)
    analytic = [g.copy() for g in net.gradients()]
    numeric = _numeric_gradient(net, X, Y, net.rng.bit_generator.state)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7)
    plain = _net()
    plain.loss_and_gradients(X, Y)
    for d, p in zip(net.dense_layers, plain.dense_layers):
        np.testing.assert_allclose(d.db, p.db, rtol=1e-12)
        np.testing.assert_allclose(d.dW, p.dW + 0.5 / len(X) * d.W, rtol=1e-10)


def test_l2_fused_sgd_step_equals_the_unfused_step():
    a, b = _net(l2=0.2), _net(l2=0.2)
    Y = a.encode_targets(Y_LABELS, len(X))
    a.train_step(X, Y, optimizers.SGD(lr=0.1))  # fused into the backward GEMM
    b.loss_and_gradients(X, Y)  # the gradient, then the plain step by hand
    for p, g in zip(b.parameters(), b.gradients()):
        p -= 0.1 * g
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


def test_l2_shrinks_the_weights_and_fit_sets_it():
    d = datasets.load("digits", seed=0)
    norms = []
    for l2 in (0.0, 5.0):
        net = MLP([64, 32, 10], seed=0)
        net.fit(d.X_train, d.y_train, epochs=5, batch_size=32, lr=0.05, l2=l2)
        assert net.l2 == l2
        norms.append(sum(float((w.W ** 2).sum()) for w in net.dense_layers))
    assert norms[1] < 0.8 * norms[0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x", True])
def test_bad_l2_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        MLP([3, 2, 2], l2=bad)


# -- max-norm ----------------------------------------------------------------------------
def test_max_norm_caps_every_units_incoming_weights_after_each_step():
    d = datasets.load("digits", seed=0)
    net = MLP([64, 32, 10], max_norm=0.5, seed=0)
    net.fit(d.X_train[:300], d.y_train[:300], epochs=3, batch_size=32, lr=0.2, momentum=0.9)
    for dense in net.dense_layers:
        norms = np.linalg.norm(dense.W, axis=0)
        assert norms.max() <= 0.5 * (1 + 1e-5)
        assert norms.max() >= 0.49  # the cap was reached: it is binding


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan"), "x", True])
def test_bad_max_norm_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        MLP([3, 2, 2], max_norm=bad)


# -- doctor ----------------------------------------------------------------------------
def _records(train, val):
    return [{"epoch": i + 1, "loss": t, "val_loss": v} for i, (t, v) in enumerate(zip(train, val))]


def test_doctor_finds_a_growing_train_validation_gap():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02]
    val = [1.0, 0.7, 0.55, 0.5, 0.52, 0.58, 0.66, 0.75]
    (f,) = doctor.check_overfitting(_records(train, val))
    assert f.rule == "overfitting" and f.severity == "warning" and f.rule in doctor.RULES
    assert f.details["best_epoch"] == 4
    assert "dropout" in f.fix and "--l2" in f.fix and "early-stopping" in f.fix and "more data" in f.fix


@pytest.mark.parametrize("train, val", [
    ([1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [1.0, 0.7, 0.55, 0.5, 0.48, 0.47]),  # still improving
    ([1.0, 0.6, 0.4], [1.0, 0.9, 1.5]),  # too short to say
])
def test_doctor_is_quiet_without_overfitting(train, val):
    assert doctor.check_overfitting(_records(train, val)) == []


def test_examine_trained_reads_the_networks_history():
    d = datasets.load("digits", seed=0)
    y = d.y_train[:200].copy()  # 30% of the labels noise: a network that memorises them overfits
    rng = np.random.default_rng(0)
    noisy = rng.random(200) < 0.3
    y[noisy] = rng.integers(0, 10, noisy.sum())
    net = MLP([64, 128, 10], seed=0)
    net.fit(d.X_train[:200], y, epochs=40, batch_size=20, lr=0.1, momentum=0.9,
            validation_data=(d.X_test[:300], d.y_test[:300]), verbose=0)
    rules = [f.rule for f in doctor.examine_trained(net, d.X_train[:200], y)]
    assert "overfitting" in rules


# -- compare and the command line ------------------------------------------------------------
def test_compare_regularization_labels_rows_by_value():
    from relunet.insight.compare import compare_regularization

    r = compare_regularization("digits", "dropout", [0.0, 0.5], seeds=2, epochs=2, jobs=1)
    assert r.activations == ["dropout=0.0", "dropout=0.5"]
    assert all(0 <= run["train_accuracy"] <= 1 for run in r.runs)
    with pytest.raises(ConfigError, match="cannot compare"):
        compare_regularization("digits", "momentum", [0.0, 0.5], seeds=1)


def test_cli_train_takes_the_regularization_options(capsys, tmp_path):
    rc = main(["train", "--data", "digits", "--hidden", "32,16", "--epochs", "3", "--dropout", "0.3,0.1",
               "--input-dropout", "0.1", "--l2", "1e-3", "--max-norm", "3", "--json",
               "--save", str(tmp_path / "m.relunet")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["test_accuracy"] > 0.5
    assert relunet.load(tmp_path / "m.relunet").regularization() == {
        "dropout": [0.3, 0.1], "input_dropout": 0.1, "l2": 1e-3, "max_norm": 3.0}


@pytest.mark.parametrize("argv, match", [
    (["--dropout", "0.2,0.2,0.2"], "3 rates for 2 hidden layers"),
    (["--dropout", "1.0"], "rate in"),
    (["--l2", "-1"], ">= 0"),
    (["--max-norm", "0"], "positive"),
])
def test_cli_train_refuses_bad_regularization(capsys, argv, match):
    rc = main(["train", "--data", "digits", "--hidden", "8,8", "--epochs", "1", *argv])
    assert rc == 2 and match in capsys.readouterr().err


def test_cli_compare_varies_dropout_with_a_figure(capsys, tmp_path):
    fig = tmp_path / "cmp.png"
    rc = main(["compare", "--data", "digits", "--dropout", "0,0.5", "--l2", "1e-4", "--seeds", "2",
               "--epochs", "2", "-j", "1", "--out-figure", str(fig), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["activation"] for r in out["rows"]] == ["dropout=0.0", "dropout=0.5"]
    assert out["config"]["l2"] == 1e-4 and fig.stat().st_size > 1000


def test_cli_compare_varies_one_setting_at_a_time(capsys):
    rc = main(["compare", "--data", "digits", "--dropout", "0,0.5", "--l2", "0,1e-3", "--seeds", "1"])
    assert rc == 2 and "one setting at a time" in capsys.readouterr().err


def test_evaluation_mode_gradient_passes_dropout_as_the_identity():
    net = _net(dropout=0.5)
    plain = _net()
    Y = net.encode_targets(Y_LABELS, len(X))
    net.eval()
    plain.eval()
    assert net.loss_and_gradients(X, Y) == pytest.approx(plain.loss_and_gradients(X, Y), rel=1e-12)
    for a, b in zip(net.gradients(), plain.gradients()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_doctor_and_diagnostics_run_on_a_dropout_network():
    d = datasets.load("digits", seed=0)
    net = MLP([64, 32, 32, 10], dropout=0.3, seed=0)
    net.fit(d.X_train, d.y_train, epochs=1, verbose=0)
    assert isinstance(doctor.examine_trained(net, d.X_train, d.y_train), list)
    assert isinstance(doctor.examine(net, d.X_train, d.y_train, lr=0.01), list)


def test_resume_replays_the_dropout_masks_and_refuses_other_regularization(tmp_path):
    d = datasets.load("digits", seed=0)
    opts = dict(dropout=0.3, input_dropout=0.1, l2=0.01, max_norm=2.0, seed=0)
    straight = MLP([64, 32, 10], **opts)
    straight.fit(d.X_train, d.y_train, epochs=4, verbose=0)
    MLP([64, 32, 10], **opts).fit(d.X_train, d.y_train, epochs=2, verbose=0, checkpoint=tmp_path / "c.ckpt")
    resumed = MLP([64, 32, 10], **opts)
    resumed.fit(d.X_train, d.y_train, epochs=4, verbose=0, resume=tmp_path / "c.ckpt")
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p, q)
    with pytest.raises(ModelFileError, match="do not fit"):
        MLP([64, 32, 10], seed=0).fit(d.X_train, d.y_train, epochs=4, verbose=0, resume=tmp_path / "c.ckpt")
