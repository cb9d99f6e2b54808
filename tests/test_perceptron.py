"""The perceptron rule: learns AND and OR, fails on XOR and says why."""

import numpy as np
import pytest

from relunet.errors import ConfigError, DataError, NotFittedError
from relunet.insight.perceptron import Perceptron, linearly_separable

X_FLOAT = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
XOR = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("units", ["step", "sign"])
@pytest.mark.parametrize("y", [AND, OR], ids=["and", "or"])
def test_learns_linearly_separable_truth_tables(units, y):
    p = Perceptron(units, seed=0)
    result = p.fit(X, y, epochs=100)
    assert result.converged and result.mistakes[-1] == 0
    assert result.epochs < 100
    assert np.array_equal(p.predict(X), y)


def test_sign_units_with_minus_one_plus_one_labels():
    y = np.where(AND == 1, 1, -1)
    p = Perceptron("sign")
    assert p.fit(X, y).converged
    assert set(p.predict(X)) == {-1, 1} and p.score(X, y) == 1.0


def test_xor_stops_at_epoch_limit_and_says_not_linearly_separable():
    p = Perceptron("step", seed=0)
    result = p.fit(X, XOR, epochs=30)
    assert not result.converged
    assert result.epochs == 30
    assert all(m > 0 for m in result.mistakes)
    assert "NOT linearly separable" in result.message
    assert "hidden layer" in result.message
    assert p.score(X, XOR) < 1.0


def test_rule_is_the_textbook_update():
    # one sample, zero weights: step(0) = 0, target 1 -> w += lr * (1 - 0) * x, b += lr
    p = Perceptron("step", lr=0.5, shuffle=False)
    p.fit(np.array([[2.0, -1.0], [0.0, 0.0]]), np.array([1, 0]), epochs=1)
    # sample 1: w = [1, -0.5], b = 0.5; sample 2 (x = 0, target 0): z = b = 0.5 > 0 -> y = 1,
    # so w -= 0.5 * 0 (unchanged) and b -= 0.5
    np.testing.assert_allclose(p.W[:, 0], [1.0, -0.5])
    assert p.b[0] == pytest.approx(0.0)


def test_linear_separability_is_exact():
    assert linearly_separable(X, AND) and linearly_separable(X, OR)
    assert not linearly_separable(X, XOR)


def test_multiclass_perceptron_separates_separable_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [6, 0], [0, 6]])
    Xb = np.vstack([c + rng.normal(scale=0.5, size=(20, 2)) for c in centres])
    yb = np.repeat([0, 1, 2], 20)
    p = Perceptron()
    assert p.fit(Xb, yb, epochs=200).converged
    assert p.score(Xb, yb) == 1.0


def test_bad_input():
    with pytest.raises(ConfigError):
        Perceptron("relu")
    with pytest.raises(NotFittedError):
        Perceptron().predict(X)
    with pytest.raises(DataError):
        Perceptron().fit(X, AND[:3])
    with pytest.raises(DataError):
        Perceptron().fit(X, np.zeros(4))


@pytest.mark.parametrize("data,converges", [("and", True), ("or", True), ("xor", False)])
def test_cli_train_model_perceptron(data, converges, capsys):
    import json

    from relunet.cli import main

    assert main(["train", "--model", "perceptron", "--data", data, "--epochs", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] is converges
    assert (out["test_accuracy"] == 1.0) is converges
    if not converges:
        assert out["epochs"] == 40 and "not linearly separable" in out["message"].lower()


def test_cli_perceptron_refuses_differentiable_units(capsys):
    from relunet.cli import main

    assert main(["train", "--model", "perceptron", "--activation", "relu"]) == 2
    assert "step or sign" in capsys.readouterr().err


def test_perceptron_refit_with_another_width():
    p = Perceptron()
    assert p.fit(X_FLOAT, AND).converged
    X3 = np.hstack([X_FLOAT, X_FLOAT[:, :1]])
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
    assert linearly_separable(X_FLOAT * scale + offset, AND)
    assert not linearly_separable(X_FLOAT * scale + offset, XOR)


def test_perceptron_does_not_claim_a_false_proof_on_shifted_data():
    Xs = X_FLOAT * 1e-3 + 1e6
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


@pytest.mark.parametrize("y", [AND, XOR, np.array([0, 1, 2, 0])], ids=["and", "xor", "3-class"])
def test_a_learning_rate_that_overflows_the_weights_is_an_error_about_the_learning_rate(y):
    """lr = 1e308 drove the weights to inf and then advised training for more epochs."""
    import warnings
    from relunet.errors import DivergenceError
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way either
        with pytest.raises(DivergenceError, match=r"lr=1e\+308 is too large.*lr=1"):
            Perceptron("step", lr=1e308).fit(X * 10.0, y, epochs=50)


def test_cli_perceptron_huge_learning_rate_is_a_one_line_error(capsys):
    from relunet.cli import main
    assert main(["train", "--model", "perceptron", "--data", "and", "--lr", "1e308"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "learning rate" in err and "more epochs" not in out + err


def test_score_checks_y_as_the_network_does():
    """Labels the perceptron never saw (or of another type) and a y of another length are
    errors naming them, as MLP.score's, not a silently wrong (or broadcast) accuracy."""
    from relunet.errors import TargetTypeError

    p = Perceptron("step", seed=0)
    p.fit(X, AND)
    assert p.score(X, AND) == 1.0
    with pytest.raises(TargetTypeError, match=r"label\(s\) \[7\] were never seen"):
        p.score(X, [0, 0, 0, 7])
    with pytest.raises(TargetTypeError, match="text"):
        p.score(X, AND.astype(str))
    with pytest.raises(DataError, match="4 samples but y has 1"):
        p.score(X, [1])
