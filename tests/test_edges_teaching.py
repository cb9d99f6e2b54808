"""Edge cases of the teaching tools: what explain / activations / the perceptron tell the
user must be true (and consistent with the code), and misuse fails with one clear line."""

import json

import numpy as np
import pytest

from relunet.core import activations
from relunet.insight import explain
from relunet.cli import main
from relunet.errors import ConfigError
from relunet.insight.perceptron import Perceptron, linearly_separable

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
AND = np.array([0, 0, 0, 1])
XOR = np.array([0, 1, 1, 0])


# -- explain ------------------------------------------------------------------------------

def test_explain_does_not_call_a_smooth_activation_non_differentiable():
    # ELU with its default alpha = 1 is continuously differentiable (f'(0-) = f'(0+) = 1);
    # the explanation said "smooth yes" and then "f is not differentiable there"
    text = explain.explain("elu")
    assert "smooth          yes" in text
    assert "not differentiable there" not in text
    # a real kink keeps the paragraph
    assert "not differentiable there" in explain.explain("relu")


def test_explain_kink_paragraph_does_not_promise_bit_for_bit():
    # hardsigmoid's f' is the exact 1/6; torch's float64 kernel uses the float32 constant
    # (differs by 5e-9): "agree with torch autograd bit for bit" was not true
    assert "bit for bit" not in explain.explain("hardsigmoid")


def test_output_guide_deltas_match_the_losses():
    # MSE averages over all N K elements (losses.MeanSquaredError.gradient: 2 / Y.size);
    # the guide said "2 (y_hat - y) / N" for "1 or K" units, explain mse "/ (N K)"
    guide = explain.output_guide()
    assert "2 (y_hat - y) / N\n" not in guide and "2 (y_hat - y) / (N K)" in guide
    assert "2 (y_hat - y) / (N K)" in explain.explain("mse")
    Y = np.zeros((3, 2))
    y_hat = np.ones((3, 2))
    from relunet.core import losses
    np.testing.assert_allclose(losses.get("mse").gradient(y_hat, Y), 2 * (y_hat - Y) / Y.size)


def test_explain_step_does_not_claim_an_initialisation_it_never_uses():
    text = explain.explain("step")
    assert "xavier" not in text and "zero weights" in text


def test_explain_plot_empty_name_is_refused(capsys):
    assert main(["explain", "relu", "--plot", ""]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--plot" in captured.err


def test_explain_plot_failure_names_the_option_and_prints_no_half_output(capsys, monkeypatch, tmp_path):
    # a folder that passes the access checks but where creating the file fails (as /proc
    # for root): one error line naming --plot and the user's path, not a temporary file name
    # after the whole explanation
    import relunet.insight.plots as plots

    def failing(name, path, **kw):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / ".relunet-tmp123.png"))

    monkeypatch.setattr(plots, "plot_explained", failing)
    target = str(tmp_path / "f.png")
    assert main(["explain", "relu", "--plot", target]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--plot" in captured.err and target in captured.err and ".relunet-tmp" not in captured.err


def test_activations_json_is_valid_and_complete(capsys):
    assert main(["activations", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data) == sorted(activations.names())


def test_activations_table_points_to_explain_for_cut_cells(capsys):
    assert main(["activations"]) == 0
    out = capsys.readouterr().out
    assert "~" in out and "relunet explain" in out


# -- the perceptron -----------------------------------------------------------------------

def test_perceptron_refit_with_another_width():
    p = Perceptron()
    assert p.fit(X, AND).converged
    X3 = np.hstack([X, X[:, :1]])
    assert p.fit(X3, AND).converged  # was FeatureCountError: X has 3 features but ... takes 2
    assert p.W.shape == (3, 1) and np.array_equal(p.predict(X3), AND)


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), 0.0, -1.0])
def test_perceptron_lr_must_be_finite_and_positive(lr):
    with pytest.raises(ConfigError):
        Perceptron(lr=lr)  # inf was accepted: NaN weights, RuntimeWarning in matmul


@pytest.mark.parametrize("scale,offset", [(1e-12, 0.0), (1e-3, 1e6), (1e-6, 1e6), (1e6, 0.0)])
def test_linear_separability_does_not_depend_on_units(scale, offset):
    # AND in other units is still linearly separable; the LP (margin >= 1) said "NOT
    # separable (proved)" for AND * 1e-12 and AND * 1e-3 + 1e6
    assert linearly_separable(X * scale + offset, AND)
    assert not linearly_separable(X * scale + offset, XOR)


def test_perceptron_does_not_claim_a_false_proof_on_shifted_data():
    Xs = X * 1e-3 + 1e6
    result = Perceptron().fit(Xs, AND, epochs=5)
    assert "NOT linearly separable" not in result.message


def test_perceptron_advice_does_not_switch_the_data_set():
    # on moons, the advice was "relunet train --data xor ...": that trains another problem
    rng = np.random.default_rng(0)
    Xn = rng.normal(size=(40, 2))
    yn = (Xn[:, 0] * Xn[:, 1] > 0).astype(int)  # XOR-like quadrants: not separable
    result = Perceptron().fit(Xn, yn, epochs=3)
    assert "NOT linearly separable" in result.message and "hidden layer" in result.message
    assert "--data xor" not in result.message
