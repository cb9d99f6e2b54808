"""ONNX export: onnx.checker accepts the graph and onnxruntime reproduces relunet's outputs."""

import json

import numpy as np
import pytest

import relunet
import relunet.interop.onnx
from relunet.core import activations
from relunet.core.activations import Activation
from relunet.errors import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5
# inputs spread over every regime: kinks, both saturations, softplus' threshold
X = (np.random.default_rng(0).normal(size=(256, 6)) * 3).astype(np.float32)


def _run(model, X):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": X})[0]


def _net(hidden, output="identity", sizes=(6, 16, 12, 10, 4), seed=3, **kw):
    net = relunet.MLP(list(sizes), activation=hidden, output=output, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    for layer in net.dense_layers:  # non-zero biases, so every bias path is exercised
        layer.b[...] = rng.normal(scale=0.5, size=layer.b.shape)
    for p in (p for l in net.layers[1::2] for p in l.parameters()):  # e.g. PReLU slopes
        p[...] = rng.uniform(-0.5, 0.8, size=p.shape)
    return net


def _spec(name):
    return ("prelu", {"num_parameters": "per_unit"}) if name == "prelu" else name


@pytest.mark.parametrize("name", activations.names())
def test_parity_three_hidden_layers_per_activation(name, tmp_path):
    net = _net(_spec(name))
    path = tmp_path / "m.onnx"
    net.to_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    expected = net.predict_output(X)
    got = _run(model, X)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < TOL


@pytest.mark.parametrize("output", ["softmax", "log_softmax", "sigmoid", "identity", "tanh"])
def test_parity_outputs(output):
    net = _net("relu", output=output)
    assert np.max(np.abs(_run(net_model := relunet.interop.onnx.to_model(net), X)
                         - net.predict_output(X))) < TOL
    assert net_model.graph.output[0].name == "output"


@pytest.mark.parametrize("spec", [
    ("leaky_relu", {"negative_slope": 0.3}),
    ("elu", {"alpha": 0.7}),
    ("celu", {"alpha": 2.5}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("rrelu", {"lower": 0.05, "upper": 0.4}),
    ("gelu", {"approximate": "tanh"}),
    ("softplus", {"beta": 2.0, "threshold": 1.0}),  # a low threshold: the Where matters
    ("softplus", {"beta": 0.5, "threshold": 20.0}),
    ("prelu", {"num_parameters": 1}),
])
def test_parity_with_settings(spec):
    net = _net(spec)
    assert np.max(np.abs(_run(relunet.interop.onnx.to_model(net), X) - net.predict_output(X))) < TOL


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_decomposed_below_opset_20(approximate):
    net = _net(("gelu", {"approximate": approximate}))
    model = relunet.interop.onnx.to_model(net, opset=18)
    assert "Gelu" not in {n.op_type for n in model.graph.node}
    assert np.max(np.abs(_run(model, X) - net.predict_output(X))) < TOL


def test_rrelu_in_training_mode_exports_its_evaluation_mode():
    net = _net("rrelu")
    net.train()
    model = relunet.interop.onnx.to_model(net)
    assert np.max(np.abs(_run(model, X) - net.predict_output(X))) < TOL  # eval slopes


def test_trained_classifier_and_float64(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    Xd = (d.data / 16).astype(np.float32)
    net = relunet.MLP([64, 32, 32, 32, 10], activation="selu", seed=0)
    net.fit(Xd, d.target, epochs=3, lr=0.05)
    model = relunet.interop.onnx.to_model(net)
    proba = _run(model, Xd)
    assert np.max(np.abs(proba - net.predict_proba(Xd))) < TOL
    assert np.array_equal(np.argmax(proba, axis=1), net.predict(Xd))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["classes"] == ",".join(map(str, range(10)))
    net64 = _net("tanh", dtype=np.float64)
    got = _run(relunet.interop.onnx.to_model(net64), X)
    assert np.max(np.abs(got - net64.predict_output(X))) < TOL  # float32 rounding only


def test_loaded_model_exports_identically(tmp_path):
    net = _net(_spec("prelu"), output="softmax")
    net.save(tmp_path / "m.relunet")
    a = relunet.interop.onnx.to_model(net)
    b = relunet.interop.onnx.to_model(relunet.load(tmp_path / "m.relunet"))
    assert np.array_equal(_run(a, X), _run(b, X))


class Cube(Activation):
    """x^3: not in the catalog, so the exporter has no ONNX form for it."""

    name = "cube"

    def fn(self, x):
        return x**3

    def derivative(self, x):
        return 3 * x**2


def test_unknown_activation_is_named(tmp_path):
    net = relunet.MLP([3, 4, 2], activation=Cube(), seed=0)
    with pytest.raises(ExportError, match="'cube'"):
        net.to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_opset():
    with pytest.raises(ExportError, match="opset"):
        relunet.interop.onnx.to_model(_net("relu"), opset=11)


def test_cli_export(tmp_path, capsys):
    from relunet.cli import main

    net = _net(_spec("prelu"), output="softmax")
    net.save(tmp_path / "m.relunet")
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(tmp_path / "m.relunet"), "--onnx", str(out), "--verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_abs_diff"] < TOL and report["opset"] == 20
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert np.max(np.abs(_run(model, X) - net.predict_output(X))) < TOL
    assert main(["export", "--model", str(tmp_path / "m.relunet"), "--onnx", str(out), "--opset", "11"]) == 2
    assert "opset" in capsys.readouterr().err


def _run_all(model, X):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": X})


@pytest.mark.parametrize("kind", ["multiclass", "strings", "floats", "binary", "multilabel"])
def test_label_output_equals_predict(kind):
    rng = np.random.default_rng(5)
    Xs = X[:64]
    if kind == "multilabel":
        net = relunet.MLP([6, 8, 3], activation="tanh", output="sigmoid", seed=0)
        y = (Xs[:, :3] > 0).astype(int)
    elif kind == "binary":
        net = relunet.MLP([6, 8, 1], activation="tanh", output="sigmoid", seed=0)
        y = np.where(Xs[:, 0] > 0, 7, 3)
    else:
        net = relunet.MLP([6, 8, 4], activation="tanh", seed=0)
        y = rng.integers(0, 4, len(Xs))
        if kind == "strings":
            y = np.array(["ant", "bee", "cat", "dog"])[y]
        elif kind == "floats":  # float labels come back as floats, like predict's
            y = np.array([-1.0, 10.0, 20.0, 1e10])[y]
    net.fit(Xs, y, epochs=3, lr=0.1)
    proba, label = _run_all(relunet.interop.onnx.to_model(net), Xs)
    assert np.max(np.abs(proba - net.predict_output(Xs))) < TOL
    expected = net.predict(Xs)
    if kind == "strings":
        label = label.astype(str)
    assert label.shape == expected.shape and np.array_equal(label, expected)
    assert label.dtype.kind == expected.dtype.kind or kind == "strings"
    assert len(_run_all(relunet.interop.onnx.to_model(net, labels=False), Xs)) == 1


# the extremes of float32 each activation must reproduce: signed zeros, tiny, saturating, huge
EXTREMES = np.array([0.0, -0.0, 1e-30, -1e-30, 20, -20, 88, -88, 100, -100, 1e4, -1e4, 1e30, -1e30, 3e38, -3e38],
                    dtype=np.float32)


@pytest.mark.parametrize("name", activations.names())
def test_parity_at_extreme_inputs_per_activation(name):
    net = relunet.MLP([3, 3, 3], activation=_spec(name), output="identity", seed=0)
    for layer in net.dense_layers:  # identity weights: the extremes reach the activation unchanged
        layer.W[...] = np.eye(3)
        layer.b[...] = 0
    Xe = np.stack([EXTREMES, EXTREMES[::-1], np.roll(EXTREMES, 5)], axis=1)
    expected = net.predict_output(Xe)
    got = _run(relunet.interop.onnx.to_model(net), Xe)
    assert np.allclose(got, expected, rtol=TOL, atol=TOL)


def test_a_float64_value_beyond_float32_is_refused():
    # exported as inf: onnxruntime then gave inf/NaN where relunet's float64 gives finite outputs
    net = _net("tanh", dtype=np.float64)
    net.dense_layers[1].b[2] = 1e39
    with pytest.raises(ExportError, match="1e\\+39 does not fit in float32"):
        relunet.interop.onnx.to_model(net)


def _contract_net(**fields):
    from relunet.core.contract import DataContract

    net = relunet.MLP([4, 6, 3], activation="tanh", output="softmax", seed=0, dtype=fields.pop("dtype", np.float32))
    net.contract = DataContract(dtype=np.dtype(net.dtype).name, **fields)
    return net


def test_a_scaling_divisor_that_rounds_to_zero_in_float32_is_refused():
    net = _contract_net(scale="standard", offset=np.zeros(4), divisor=np.array([1e-50, 1, 1, 1]), dtype=np.float64)
    with pytest.raises(ExportError, match="rounds to 0 in float32"):
        relunet.interop.onnx.to_model(net)


def test_pixels_are_scaled_before_missing_values_are_filled():
    # the graph filled first: a fill value > 1 made a scaled row look raw (and the fill was divided too)
    net = _contract_net(pixels=16.0, impute="mean", fill=np.array([1.0, 2.0, 3.0, 4.0]))
    Xp = np.array([[np.nan, 1, 2, np.nan], [np.nan, 0.5, 0.25, 0], [16, np.nan, 3, 0], [0.5, 1, 0, 0]], np.float32)
    assert np.allclose(_run(relunet.interop.onnx.to_model(net), Xp), net.predict_output(Xp), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("output,units", [("softmax", 2), ("sigmoid", 1)])
def test_boolean_labels_stay_booleans(output, units):
    # the label output was int64 0/1 where predict returns False/True
    net = relunet.MLP([6, 8, units], activation="tanh", output=output, seed=0)
    net.fit(X[:40], X[:40, 0] > 0, epochs=2, verbose=0)
    label = _run_all(relunet.interop.onnx.to_model(net), X[:40])[1]
    expected = net.predict(X[:40])
    assert label.dtype == np.bool_ and np.array_equal(label, expected)
