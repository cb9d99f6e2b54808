"""The backprop trace: its numbers are the numbers training uses."""

import copy
import json

import numpy as np
import pytest

import relunet
from relunet.insight.trace import render, trace_steps

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize(
    "activation,output,loss",
    [("relu", "softmax", None), ("tanh", "sigmoid", None), ("elu", "identity", None),
     ("leaky_relu", "softmax", "mse"), ("rrelu", "sigmoid", None), ("prelu", "softmax", None)],
)
@pytest.mark.filterwarnings("ignore::relunet.errors.ConfigWarning")  # softmax + mse on purpose: fit warns
def test_traced_update_equals_one_fit_step(activation, output, loss):
    k = 2 if output == "softmax" else 1
    net = relunet.MLP([2, 5, 4, k], activation=activation, output=output, loss=loss,
                      dtype=np.float64, seed=3)
    twin = copy.deepcopy(net)
    if output == "identity":
        y = Y.astype(float)
    elif loss == "mse":
        y = np.eye(2)[Y]  # MSE on a softmax output takes one-hot targets (a poor pairing, still traced)
    else:
        y = Y
    expected_loss = copy.deepcopy(net).loss_value(X, net.encode_targets(y, fit=False) if loss else twin.encode_targets(y))
    before = [layer.W.copy() for layer in net.dense_layers]
    tr = trace_steps(net, X, y, lr=0.3, steps=1)
    twin.fit(X, y, epochs=1, batch_size=4, lr=0.3, shuffle=False)
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a, b)
    # the recorded update is exactly the parameter change
    dense = [l for l in net.layers if isinstance(l, relunet.Dense)]
    for rec, layer, W0 in zip(tr.steps[0].layers, dense, before):
        np.testing.assert_array_equal(np.asarray(rec.update_W), layer.W - W0)
        np.testing.assert_allclose(np.asarray(rec.update_W), -0.3 * np.asarray(rec.grad_W), rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(np.asarray(rec.W_before), W0)
    # the recorded loss is the network's loss on the batch before the update
    assert tr.steps[0].loss == pytest.approx(expected_loss, rel=1e-12)


def test_relu_derivative_shows_zeros_where_units_are_off_and_deltas_chain():
    net = relunet.MLP([2, 6, 2], activation="relu", output="softmax", dtype=np.float64, seed=0)
    tr = trace_steps(net, X, Y, lr=0.1)
    hidden, out = tr.steps[0].layers
    z = np.asarray(hidden.z)
    fprime = np.asarray(hidden.derivative)
    np.testing.assert_array_equal(fprime, (z > 0).astype(float))
    # delta1 = (delta2 W2^T) * f'(z1)
    W2 = np.asarray(out.W_before)
    np.testing.assert_allclose(np.asarray(hidden.delta), np.asarray(out.delta) @ W2.T * fprime, rtol=1e-12)
    # output delta = (p - y) / N
    p = np.asarray(out.a)
    onehot = np.eye(2)[Y]
    np.testing.assert_allclose(np.asarray(out.delta), (p - onehot) / 4, rtol=1e-12)
    # weight gradient = sum of outer products input^T delta
    np.testing.assert_allclose(np.asarray(out.grad_W), np.asarray(out.input).T @ np.asarray(out.delta), rtol=1e-12)
    assert "p - y" in tr.steps[0].delta_rule


def test_update_is_the_textbook_rule_it_prints():
    """The rule printed under each update: one pattern, a sigmoid output with mse, the
    textbook w += lr * delta * f'(e) * input with delta = target - output, doubled by mse's
    mean of (y_hat - y)^2 (no 1/2), is exactly the traced change of the output weights."""
    net = relunet.MLP([2, 3, 1], activation="tanh", output="sigmoid", loss="mse", dtype=np.float64, seed=1)
    tr = trace_steps(net, X[1:2], Y[1:2], lr=0.5)
    hidden, out = tr.steps[0].layers
    t, y = 1.0, np.asarray(out.a)[0, 0]
    f_prime = y * (1 - y)  # sigmoid'(e)
    textbook = 0.5 * 2 * (t - y) * f_prime * np.asarray(hidden.a)[0]  # lr * 2 delta * f'(e) * input
    np.testing.assert_allclose(np.asarray(out.update_W)[:, 0], textbook, rtol=1e-12)
    # relunet's delta = dL/dz holds f'(e) and the minus sign
    np.testing.assert_allclose(np.asarray(out.delta)[0, 0], -2 * (t - y) * f_prime, rtol=1e-12)
    text = " ".join(render(tr).split())  # the rule is wrapped over lines
    assert "w_ij += lr * (-delta_j) * a_i" in text and "w += lr * delta * f'(e) * input" in text
    assert "gives 2(t-y)/(NK)" in text


def test_several_steps_reduce_loss_and_render_all_formats():
    net = relunet.MLP([2, 8, 1], activation="tanh", output="sigmoid", seed=0)
    tr = trace_steps(net, X, Y, lr=1.0, steps=5)
    losses = [s.loss for s in tr.steps]
    assert len(losses) == 5 and losses[-1] < losses[0]
    text = render(tr, "text", precision=2)
    assert "delta1 = (delta2 W2^T) * f'(z1)" in text and "step 5: update" in text
    md = render(tr, "markdown")
    assert md.count("```") % 2 == 0 and "## step 1: forward" in md
    data = json.loads(render(tr, "json"))
    assert data["steps"][0]["layers"][0]["shape"] == [2, 8]
    assert np.isclose(data["steps"][4]["loss"], losses[-1])


def test_a_step_that_blows_up_the_weights_is_an_error_not_a_table_of_nan():
    from relunet.errors import DivergenceError

    net = relunet.MLP([2, 3, 1], activation="tanh", output="sigmoid", seed=0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    with pytest.raises(DivergenceError, match="step 1 made the weights infinite or NaN.*1e\\+300"):
        trace_steps(net, X, [0, 1, 1, 0], lr=1e300, steps=3)


def test_cli_trace_bounds_steps_and_reports_divergence_in_one_line(capsys):
    from relunet.cli import main

    assert main(["trace", "--steps", "100000000"]) == 2
    assert "from 1 to 1000" in capsys.readouterr().err
    assert main(["trace", "--lr", "1e300", "--samples", "2", "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too large" in err


@pytest.mark.parametrize("activation,output", [("relu", "softmax"), ("tanh", "sigmoid"), ("elu", "identity")])
def test_trace_numbers_are_the_networks_path(activation, output):
    """Every recorded z, a, delta and gradient is what the network's own pass gives."""
    k = 2 if output == "softmax" else 1
    net = relunet.MLP([2, 5, k], activation=activation, output=output, dtype=np.float64, seed=4)
    twin = copy.deepcopy(net)
    y = Y.astype(float) if output == "identity" else Y
    Yenc = twin.encode_targets(y)
    tr = trace_steps(net, X, y, lr=0.1)
    outs = []
    z = twin.logits(X, record=outs)
    value, delta = twin.loss_and_delta(z, Yenc)
    grads = []
    twin.backward(delta, record=grads)
    hidden, last = tr.steps[0].layers
    np.testing.assert_array_equal(hidden.z, outs[0])
    np.testing.assert_array_equal(hidden.a, outs[1])
    np.testing.assert_array_equal(last.z, outs[2])
    np.testing.assert_array_equal(last.delta, grads[0])
    np.testing.assert_array_equal(hidden.delta, grads[2])
    for rec, layer in zip((hidden, last), twin.dense_layers):
        np.testing.assert_array_equal(rec.grad_W, layer.dW)
        np.testing.assert_array_equal(rec.grad_b, layer.db)
    assert tr.steps[0].loss == value


def test_cli_trace_takes_the_classes_of_the_whole_dataset(capsys, tmp_path):
    """One traced sample of a CSV with three text labels is still a three-class problem."""
    from sklearn.datasets import load_wine

    from relunet.cli import main

    d = load_wine()
    names = np.array(["barbera", "barolo", "grignolino"])
    path = tmp_path / "wine.csv"
    rows = [",".join(["target", *d.feature_names])]
    rows += [",".join([names[t], *map(str, x)]) for x, t in zip(d.data, d.target)]
    path.write_text("\n".join(rows) + "\n")
    assert main(["trace", "--data", str(path), "--target", "target", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["steps"][0]["layers"][-1]["b_before"]) == 3


def test_trace_of_a_hierarchical_softmax_shows_the_path_sigmoids_and_deltas():
    net = relunet.MLP([3, 4, 6], output="hierarchical_softmax", dtype=np.float64, seed=0)
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
    y = np.array([4, 1])
    tr = trace_steps(net, X, y, lr=0.1)
    step = tr.steps[0]
    tree = net.tree
    assert [p["class"] for p in step.paths] == [4, 1]
    z = np.asarray(step.layers[-1].z)
    for n, path in enumerate(step.paths):
        d = int(tree.depth[y[n]])
        assert [row[0] for row in path["decisions"]] == tree.nodes[y[n], :d].tolist()
        for j, t, zj, sig, delta in path["decisions"]:
            assert zj == z[n, j] and sig == pytest.approx(1 / (1 + np.exp(-t * zj)))
            assert delta == pytest.approx(-t * (1 - sig) / len(X))
    # the loss is the mean over samples of -sum log sigma along each path
    assert step.loss == pytest.approx(np.mean([-sum(np.log(r[3]) for r in p["decisions"]) for p in step.paths]))
    text = render(tr)
    assert "tree path" in text and "sigma" in text and "p(class 4)" in text


def test_cli_trace_of_a_saved_model_uses_its_weights_split_and_scaling(capsys, tmp_path):
    """``--model``: the model's own weights, on the first row of its training part, scaled by
    its contract (the file's order of rows, columns by name); the file stays unchanged."""
    from sklearn.datasets import load_wine

    from relunet.cli import main
    from relunet.data import datasets

    d = load_wine()
    path = tmp_path / "wine.csv"
    rows = [",".join(["target", *(n.replace("/", "_") for n in d.feature_names)])]
    rows += [",".join([str(t), *map(str, x)]) for x, t in zip(d.data, d.target)]
    path.write_text("\n".join(rows) + "\n")
    model = tmp_path / "m.relunet"
    assert main(["train", "--data", str(path), "--target", "target", "--seed", "3", "--epochs", "5",
                 "--save", str(model)]) == 0
    capsys.readouterr()
    before = model.read_bytes()
    assert main(["trace", "--model", str(model), "--lr", "0.05", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert model.read_bytes() == before
    net = relunet.load(str(model))
    first = out["steps"][0]["layers"][0]
    np.testing.assert_array_equal(np.asarray(first["W_before"], np.float32), net.dense_layers[0].W)
    raw = datasets.load(str(path), target="target", seed=3, scale="none")
    expected = net.contract.transform(raw.X_train[:1])
    np.testing.assert_allclose(np.asarray(first["input"], np.float32), expected, rtol=1e-6)
    assert raw.X_train[:1].max() > 100 and np.abs(expected).max() < 10  # standardised, not raw
    assert out["lr"] == 0.05 and len(out["steps"][0]["layers"][-1]["b_before"]) == 3


@pytest.mark.parametrize("argv, words", [
    (["--hidden", "4"], "--hidden: the model file fixes the network"),
    (["--activation", "tanh"], "--activation: the model file fixes the network"),
    (["--data", "xor"], "features"),
])
def test_cli_trace_of_a_saved_model_refuses_what_does_not_fit_it(capsys, tmp_path, argv, words):
    from relunet.cli import main

    model = str(tmp_path / "d.relunet")
    assert main(["train", "--data", "digits", "--epochs", "1", "--save", model]) == 0
    capsys.readouterr()
    assert main(["trace", "--model", model, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


@pytest.mark.parametrize("tree, path_length", [("balanced", 2), ("huffman", 1)])
def test_cli_trace_with_a_huffman_tree_traces_the_tree_of_the_training_labels(capsys, tmp_path, tree, path_length):
    """Class 3 is 90% of the labels: its Huffman path is one decision, its balanced path two."""
    from relunet.cli import main

    rng = np.random.default_rng(0)
    labels = np.where(np.arange(80) % 10 == 0, np.arange(80) // 10 % 3, 3)
    path = tmp_path / "skewed.csv"
    path.write_text("a,b,label\n" + "".join(f"{a:.3f},{b:.3f},{t}\n" for (a, b), t in zip(rng.random((80, 2)), labels)))
    assert main(["trace", "--data", str(path), "--target", "label", "--output", "hierarchical_softmax",
                 "--tree", tree, "--hidden", "2", "--test-size", "0.1", "--samples", "8"]) == 0
    out = capsys.readouterr().out
    assert "class 3's tree path" in out
    sample = out.split("class 3's tree path")[1].split("p(class 3)")[0]
    assert sample.count("node ") == path_length, out


def test_cli_trace_of_a_model_trained_on_shakespeare_uses_its_split(tmp_path, capsys, shakespeare_corpus):
    """The model records the corpus's own test fraction (0.1), and reloading the corpus takes it
    (predict, diagnose and trace share that reload)."""
    from relunet.cli import main

    model = str(tmp_path / "words.relunet")
    assert main(["train", "--data", "shakespeare", "--output", "hierarchical_softmax", "--hidden", "4",
                 "--train-samples", "50", "--epochs", "1", "--quiet", "--save", model]) == 0
    assert relunet.load(model).contract.test_size == 0.1
    assert main(["trace", "--model", model]) == 0, capsys.readouterr().err
