"""Diagnostics: dead units, saturation, activation statistics, gradient flow, per-epoch tracking.

Expected values are computed independently with NumPy from hand-set weights (and, for
gradient norms, by central differences in float64), never by the code under test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from relunet import MLP
from relunet.core import activations
from relunet.data import datasets
from relunet.insight.diagnostics import (
    DiagnosticsTracker,
    can_die,
    diagnose,
    is_saturating,
    layer_stats,
)
from relunet.errors import ConfigError, FeatureCountError


@pytest.fixture(scope="module")
def digits():
    d = datasets.load("digits", seed=0)
    return d.X_train[:400], d.y_train[:400]


def _grid(n=50, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 2))


@pytest.mark.parametrize("name,dies", [
    ("relu", True), ("relu6", True), ("leaky_relu", False), ("prelu", False), ("rrelu", False),
    ("elu", False), ("gelu", False), ("selu", False), ("silu", False), ("tanh", False),
    ("sigmoid", False), ("softmax", False), ("step", False),
])
def test_which_activations_can_die(name, dies):
    assert can_die(activations.get(name)) is dies


def test_saturating_flags_follow_properties():
    assert is_saturating(activations.get("sigmoid")) and is_saturating(activations.get("tanh"))
    assert not is_saturating(activations.get("relu"))
    assert not is_saturating(activations.get("softmax"))  # not element-wise
    assert not is_saturating(activations.get("step"))  # no gradient at all: another rule


def test_dead_units_found_exactly():
    X = _grid()
    net = MLP([2, 4, 1], activation="relu", output="sigmoid", dtype=np.float64, seed=0)
    d = net.dense_layers[0]
    d.W[...] = [[1.0, 1.0, -1.0, 0.5], [1.0, -1.0, -1.0, 0.5]]
    d.b[...] = [-5.0, 0.2, -0.1, -0.9]  # unit 0 and 2 never positive on [0,1]^2
    z = X @ d.W + d.b
    expected = np.flatnonzero((z <= 0).all(axis=0)).tolist()
    assert expected == [0, 2]  # the construction: unit 1 and 3 are alive on some samples
    diag = diagnose(net, X)
    hidden = diag.layers[0]
    assert hidden.dead_units == expected and hidden.dead_fraction == 0.5
    assert diag.dead_fraction() == 0.5
    # one sample with a positive input keeps a unit alive
    X2 = np.vstack([X, [[10.0, 10.0]]])
    assert diagnose(net, X2).layers[0].dead_units == [2]


def test_leaky_units_never_counted_dead():
    X = _grid()
    net = MLP([2, 4, 1], activation="leaky_relu", output="sigmoid", seed=0)
    net.dense_layers[0].b[...] = -50.0  # every pre-activation negative
    diag = diagnose(net, X)
    assert diag.layers[0].dead_fraction is None and diag.layers[0].dead_units == []
    assert diag.dead_fraction() is None


def test_saturation_threshold_and_min_fraction():
    X = np.linspace(-1, 1, 100)[:, None]
    net = MLP([1, 3, 1], activation="sigmoid", output="identity", dtype=np.float64, seed=0)
    d = net.dense_layers[0]
    # unit 0: z in [-100, 100] flat except near 0; unit 1: z = 0.1x never flat;
    # unit 2: z = 30 + 10x, flat everywhere (sigma'(20) ~ 2e-9)
    d.W[...] = [[100.0, 0.1, 10.0]]
    d.b[...] = [0.0, 0.0, 30.0]
    z = X @ d.W + d.b
    s = 1 / (1 + np.exp(-z))
    flat = s * (1 - s) < 1e-3
    frac = flat.mean(axis=0)
    assert frac[0] > 0.9 and frac[0] < 0.99 and frac[1] == 0 and frac[2] == 1
    diag = diagnose(net, X)
    assert diag.layers[0].saturated_units == [2]
    assert diag.layers[0].saturated_entries == pytest.approx(flat.mean())
    assert diagnose(net, X, saturation_min_fraction=0.9).layers[0].saturated_units == [0, 2]
    assert diagnose(net, X, saturation_threshold=1e-12).layers[0].saturated_units == []
    assert diag.layers[0].dead_fraction is None  # sigmoid cannot die
    with pytest.raises(ConfigError):
        diagnose(net, X, saturation_min_fraction=0)


def test_activation_statistics_match_numpy():
    X = _grid(30, seed=1)
    net = MLP([2, 5, 3, 2], activation=["relu", "tanh"], output="softmax", dtype=np.float64, seed=3)
    diag = diagnose(net, X)
    d1, d2 = net.dense_layers[:2]
    a1 = np.maximum(X @ d1.W + d1.b, 0)
    a2 = np.tanh(a1 @ d2.W + d2.b)
    for stats, a in ((diag.layers[0], a1), (diag.layers[1], a2)):
        assert stats.mean == pytest.approx(a.mean())
        assert stats.std == pytest.approx(a.std())
        assert stats.zero_fraction == pytest.approx(np.mean(a == 0))
    assert [l.name for l in diag.layers] == ["hidden 1", "hidden 2", "output"]
    assert diag.layers[-1].output and diag.layers[-1].mean == pytest.approx(0.5)  # softmax rows sum to 1


def test_gradient_norms_match_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = rng.integers(0, 2, 20)
    net = MLP([3, 4, 2], activation="tanh", output="softmax", dtype=np.float64, seed=1)
    before = [p.copy() for p in net.parameters()]
    diag = diagnose(net, X, y)
    Y = np.eye(2)[y]
    for k, d in enumerate(net.dense_layers):
        fd = np.zeros_like(d.W)
        for idx in np.ndindex(d.W.shape):
            old = d.W[idx]
            d.W[idx] = old + 1e-6
            up = net.loss_value(X, Y)
            d.W[idx] = old - 1e-6
            down = net.loss_value(X, Y)
            d.W[idx] = old
            fd[idx] = (up - down) / 2e-6
        assert diag.dense[k].grad_norm == pytest.approx(np.linalg.norm(fd), rel=1e-6)
        assert diag.dense[k].weight_norm == pytest.approx(np.linalg.norm(d.W))
    assert diag.loss == pytest.approx(net.loss_value(X, Y))
    for p, b in zip(net.parameters(), before):  # diagnosing never changes parameters
        np.testing.assert_array_equal(p, b)


def test_dead_layer_passes_no_gradient():
    X = _grid()
    net = MLP([2, 6, 6, 1], activation="relu", output="sigmoid", dtype=np.float64, seed=0)
    net.dense_layers[1].b[...] = -100.0
    diag = diagnose(net, X, (X[:, 0] > X[:, 1]).astype(int))
    assert diag.layers[1].dead_fraction == 1.0
    assert diag.dense[0].grad_norm == 0.0 and diag.dense[1].grad_norm == 0.0


def test_report_and_to_dict(digits):
    X, y = digits
    net = MLP([64, 16, 8, 10], activation=["relu", "sigmoid"], seed=0)
    diag = diagnose(net, X, y)
    d = json.loads(json.dumps(diag.to_dict()))
    assert d["n_samples"] == len(X)
    assert [l["activation"] for l in d["layers"]] == ["relu", "sigmoid", "softmax"]
    assert d["layers"][0]["dead_fraction"] == diag.layers[0].dead_fraction
    text = diag.report()
    lines = text.splitlines()
    assert any(line.startswith("hidden 1  relu") for line in lines)
    header = next(line for line in lines if line.startswith("layer") and "dead" in line)
    row = next(line for line in lines if line.startswith("hidden 2"))
    assert len(header) == len(row)  # aligned columns
    assert "dense 3" in text


def test_step_network_has_loss_but_no_gradient_norms():
    X = _grid(20)
    y = (X[:, 0] > X[:, 1]).astype(int)
    net = MLP([2, 4, 1], activation="step", output="sigmoid", dtype=np.float64)
    diag = diagnose(net, X, y)
    assert all(d.grad_norm is None for d in diag.dense)
    assert diag.loss == pytest.approx(net.loss_value(X, y[:, None].astype(float)))
    assert diag.layers[0].dead_fraction is None  # no gradient at all: not "dead", another problem


def test_bad_inputs_raise_specific_errors():
    net = MLP([2, 4, 1], output="sigmoid")
    with pytest.raises(FeatureCountError):
        diagnose(net, np.zeros((3, 5)))


# -- the headline check of the issue ------------------------------------------------


def _dead_run(activation, X, y, lr=0.1, bias=None, epochs=3):
    net = MLP([64, 32, 32, 10], activation=activation, seed=0)
    if bias is not None:
        for d in net.dense_layers[:-1]:
            d.b[...] = bias
    tracker = DiagnosticsTracker(X, y)
    history = net.fit(X, y, epochs=epochs, lr=lr, batch_size=32, callbacks=[tracker])
    return net, tracker, history


@pytest.mark.parametrize("setting", [{"bias": -5.0}, {"lr": 2.0}], ids=["negative-bias", "huge-lr"])
def test_relu_dies_and_leaky_relu_does_not(digits, setting):
    X, y = digits
    net, tracker, history = _dead_run("relu", X, y, **setting)
    diag = diagnose(net, X, y)
    assert diag.dead_fraction() > 0.5
    assert "dead hidden units:" in diag.report()
    assert history.records[-1]["dead_fraction"] > 0.5  # shown per epoch while training
    assert tracker.data.series("dead_fraction")[-1, :2].mean() > 0.5

    net, tracker, history = _dead_run("leaky_relu", X, y, **setting)
    diag = diagnose(net, X, y)
    assert all(not l.dead_units for l in diag.layers)
    assert diag.dead_fraction() is None
    assert "dead hidden units" not in diag.report()
    assert np.isnan(tracker.data.series("dead_fraction")).all()


# -- per-epoch tracking ------------------------------------------------------------


def test_tracker_records_every_epoch_and_changes_nothing(digits):
    X, y = digits
    plain = MLP([64, 16, 10], activation="relu", seed=4)
    plain.fit(X, y, epochs=3, lr=0.3, batch_size=64)
    net = MLP([64, 16, 10], activation="relu", seed=4)
    w0 = net.dense_layers[0].W.copy()
    tracker = DiagnosticsTracker(X, y)
    net.fit(X, y, epochs=3, lr=0.3, batch_size=64, callbacks=[tracker])
    for a, b in zip(net.parameters(), plain.parameters()):  # same run with or without it
        np.testing.assert_array_equal(a, b)
    data = tracker.data
    assert data.epochs == [0, 1, 2, 3]
    assert data.series("dead_fraction").shape == (4, 2)
    assert data.series("grad_norm").shape == (4, 2)
    ratio = data.series("update_ratio")
    assert np.isnan(ratio[0]).all()
    # epoch 1's update ratio, recomputed from the weights before training and after epoch 1
    again = MLP([64, 16, 10], activation="relu", seed=4)
    again.fit(X, y, epochs=1, lr=0.3, batch_size=64)
    W1 = again.dense_layers[0].W.astype(np.float64)
    assert ratio[1, 0] == pytest.approx(np.linalg.norm(W1 - w0) / np.linalg.norm(w0), rel=1e-5)
    # epoch 0 is the untrained network: its loss is the initial loss
    assert data.loss[0] > data.loss[-1]
    d = json.loads(json.dumps(tracker.to_dict()))
    assert d["epochs"] == [0, 1, 2, 3] and len(d["dead_fraction"]) == 4
    assert [l["name"] for l in d["layers"]] == ["hidden 1", "output"]
    text = tracker.report()
    assert text.splitlines()[0].split()[:2] == ["epoch", "loss"] and len(text.splitlines()) == 6


def test_tracker_hooks_called_by_hand_and_every():
    X = _grid(40)
    y = (X[:, 0] > X[:, 1]).astype(int)
    net = MLP([2, 8, 1], activation="relu", output="sigmoid", seed=0)
    tracker = DiagnosticsTracker(X, y, every=2, max_samples=10)
    tracker.on_train_begin(net)
    for epoch in range(1, 6):
        record = {"epoch": epoch}
        tracker.on_epoch_end(epoch, record, net)
        assert ("dead_fraction" in record) == (epoch % 2 == 0)
    assert tracker.data.epochs == [0, 2, 4]
    assert tracker.diagnosis(net).n_samples == 10
    with pytest.raises(ConfigError):
        DiagnosticsTracker(X, every=0)


def test_first_death_epoch():
    X = _grid(40)
    net = MLP([2, 4, 1], activation="relu", output="sigmoid", dtype=np.float64, seed=0)
    d = net.dense_layers[0]
    d.W[...] = [[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]
    d.b[...] = [0.5, 0.5, 0.5, 2.5]  # alive on every sample of [0,1]^2
    tracker = DiagnosticsTracker(X)
    tracker.on_train_begin(net)
    tracker.on_epoch_end(1, {}, net)
    d.b[0] = -100.0  # kill unit 0 "during epoch 2"
    tracker.on_epoch_end(2, {}, net)
    assert tracker.data.dead_units == [[[], []], [[], []], [[0], []]]
    assert tracker.data.first_death() == {"hidden 1": 2}
    assert tracker.data.series("dead_fraction")[:, 0].tolist() == [0.0, 0.0, 0.25]


def test_layer_statistics_come_from_the_networks_own_forward():
    """The pre-activations the statistics are taken from are the network's recorded
    evaluation forward: mean and zero fraction of each activation equal those of the pass."""
    rng = np.random.default_rng(0)
    net = MLP([5, 7, 6, 3], activation="relu", seed=0)
    Xd = rng.standard_normal((40, 5)).astype(np.float32)
    stats = layer_stats(net, Xd)
    outs = []
    net.eval().forward(Xd, record=outs)
    acts = outs[1::2]
    assert len(stats) == len(acts)
    for s, a in zip(stats, acts):
        a64 = a.astype(np.float64)
        assert s.mean == pytest.approx(a64.mean(), rel=1e-9, abs=1e-12)
        assert s.zero_fraction == pytest.approx(np.mean(a64 == 0))
