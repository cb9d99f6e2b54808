"""The worked examples in examples/: each runs and shows what its docstring promises."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _expected_rows(name):
    """The rows of the "Expected output" table in an example's docstring: {first cell: numbers}."""
    doc = _load(name).__doc__.split("Expected output")[1]
    rows = {}
    for line in doc.splitlines():
        cells = line.split()
        if len(cells) >= 3 and line.startswith("    ") and cells[-1].replace(".", "").isdigit():
            numbers = [c for c in cells if c.rstrip("%").replace(".", "").isdigit()]
            rows[" ".join(cells[: len(cells) - len(numbers)])] = [float(c.rstrip("%")) for c in numbers]
    return rows


def test_xor_four_ways(capsys):
    results = _load("xor_four_ways").main(seeds=6)
    out = capsys.readouterr().out
    wins = {k.split(" (")[0]: v["wins"] for k, v in results.items()}
    assert wins["sigmoid + BCE"] == 6 and wins["softmax + CE"] == 6 and wins["linear + MSE"] == 6
    relu = results["relu + MSE (2-30-1, relu, plain GD)"]
    assert relu["wins"] < 6  # the ReLU-output MSE net fails on some seeds ...
    assert relu["stuck"] == 6 - relu["wins"]  # ... because it gets stuck (flat loss)
    assert relu["dead_output_runs"] >= 1
    assert "XOR is classification" in out


def test_dying_relu_made_visible_and_fixed(capsys):
    r = _load("dying_relu").main(epochs=30)
    assert r["relu"]["dead_before"] > 0.5 and r["relu"]["dead_after"] > 0.5
    assert r["relu"]["test_accuracy"] < 0.3
    for name in ("leaky_relu", "leaky_relu(0.1)", "prelu", "rrelu"):
        assert r[name]["dead_after"] == 0.0
        assert r[name]["inactive_after"] < r[name]["inactive_before"]  # units came back to life
    for name in ("leaky_relu(0.1)", "prelu", "rrelu"):  # the README: each slope fixes it
        assert r[name]["test_accuracy"] >= 0.9, name
    assert "dead" in capsys.readouterr().out
    # the docstring's table is this run's (dead before / after, z <= 0 after in %, test accuracy)
    expected = _expected_rows("dying_relu")
    assert set(expected) == set(r)
    for name, (before, after, inactive, acc) in expected.items():
        got = r[name]
        assert (round(100 * got["dead_before"]), round(100 * got["dead_after"])) == (before, after), name
        assert abs(100 * got["inactive_after"] - inactive) <= 2 and abs(got["test_accuracy"] - acc) <= 0.011, name


def test_sigmoid_vs_softmax_same_decision():
    r = _load("sigmoid_vs_softmax").main()
    assert r["gap"] < 1e-6 and r["same_decisions"]
    assert r["acc_sigmoid"] >= 0.95 and r["acc_softmax"] >= 0.95
    assert abs(r["acc_sigmoid"] - r["acc_softmax"]) <= 0.02


def test_training_modes():
    r = _load("training_modes").main()
    for name, row in r.items():
        assert row["epochs_to_target"] is not None, name
    assert r["online (batch 1)"]["epochs_to_target"] < r["full batch"]["epochs_to_target"]
    assert r["conjugate gradient"]["epochs_to_target"] < r["full batch"]["epochs_to_target"]
    assert r["L-BFGS"]["epochs_to_target"] < r["full batch"]["epochs_to_target"]
    # the docstring's table is this run's: epochs to the target and test accuracy
    expected = _expected_rows("training_modes")
    assert set(expected) == set(r)
    for name, (epochs, _updates, _gradients, acc) in expected.items():
        assert abs(r[name]["epochs_to_target"] - epochs) <= max(1, 0.1 * epochs), name
        assert abs(r[name]["test_accuracy"] - acc) <= 0.011, name


@pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST not found beside the repository")
def test_mnist_example_small_run():
    r = _load("mnist_relu").main(data_dir=str(MNIST), train_samples=3000, epochs=2, verbose=0)
    assert r["test_accuracy"] >= 0.88 and r["epochs"] == 2


@pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST not found beside the repository")
def test_overfitting_example_small_run(tmp_path):
    fig = tmp_path / "overfitting.png"
    r = _load("overfitting").main(data_dir=str(MNIST), train_samples=300, test_samples=1000, epochs=12,
                                  hidden=(128, 128), figure=str(fig), verbose=False)
    assert set(r) == set(_load("overfitting").VARIANTS)
    plain = r["plain"]
    assert plain["train_accuracy"] >= 0.99 and plain["gap"] > 0.1  # (almost) memorised 300 images
    for row in r.values():
        assert len(row["train_loss"]) == len(row["test_loss"]) == 12
    assert fig.stat().st_size > 10_000


def test_word_prediction_trains_both_outputs_for_the_same_time():
    from relunet.data import datasets, text

    tokens = text.generated_tokens(6000, n_words=60, seed=0)
    data = datasets.next_word("gen", tokens, vocab_size=50, context=1, dim=16)
    r = _load("word_prediction").main(seconds=0.5, data=data, hidden=32, lr=0.5, log=lambda *a, **k: None,
                                      max_epochs=3)
    for name in ("hierarchical_softmax", "softmax"):
        assert r[name]["perplexity"] < 50  # better than a uniform guess over the 50 words
        assert r[name]["seconds"] > 0 and r[name]["curve"]
    assert r["perplexity_ratio"] == pytest.approx(r["hierarchical_softmax"]["perplexity"] / r["softmax"]["perplexity"])
