"""Full-batch CG and L-BFGS: XOR, softmax regression against scikit-learn, the digits MLP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from relunet import MLP
from relunet.training import optimizers
from relunet.errors import ConfigError, DataError, DivergenceError
from relunet.training.minimizers import FullBatchResult, minimize

METHODS = ["cg", "lbfgs"]
X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y_XOR = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_reaches_full_accuracy(method, seed):
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=seed)
    Y = net.encode_targets(Y_XOR)
    res = minimize(net, X_XOR, Y, method=method, max_iter=200)
    assert net.score(X_XOR, Y_XOR) == 1.0
    assert res.loss < 1e-3
    # the result describes the network's final state
    np.testing.assert_array_equal(res.x, net.flat_parameters())
    assert res.loss == pytest.approx(net.loss_value(X_XOR, Y), rel=1e-12)
    assert res.nfev >= res.nit >= 1
    assert len(res.history) == res.nit + 1 and res.history[-1] == res.loss


def _iris_two_classes():
    # versicolor vs virginica overlap, so the unregularised optimum is finite and unique
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]
    return (X - X.mean(0)) / X.std(0), y


def _iris_sepal_width():
    # all three classes on one overlapping feature: a multinomial problem with a finite optimum
    X, y = load_iris(return_X_y=True)
    X = X[:, [1]]
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data", [_iris_two_classes, _iris_sepal_width], ids=["2-class", "3-class"])
def test_softmax_regression_decreases_monotonically_to_sklearns_optimum(method, data):
    X, y = data()
    n_classes = len(np.unique(y))
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    p_ref = ref.predict_proba(X)
    loss_ref = log_loss(y, p_ref)

    net = MLP([X.shape[1], n_classes], output="softmax", dtype=np.float64, seed=0)
    Y = net.encode_targets(y)
    res = minimize(net, X, Y, method=method, max_iter=1000, tol=1e-12)

    hist = np.array(res.history)
    assert len(hist) > 5
    assert np.all(np.diff(hist) <= 0), "the loss went up in some iteration"
    assert hist[-1] < hist[0]
    assert res.loss == pytest.approx(loss_ref, rel=1e-9)
    np.testing.assert_allclose(net.predict_proba(X), p_ref, atol=1e-4)
    np.testing.assert_array_equal(net.predict(X), ref.predict(X))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@pytest.mark.parametrize("method", METHODS)
def test_digits_mlp_test_accuracy(method, digits):
    X_train, X_test, y_train, y_test = digits
    net = MLP([64, 32, 10], activation="tanh", output="softmax", dtype=np.float64, seed=0)
    opt = optimizers.get(method)
    res = opt.minimize(net, net.check_X(X_train), net.encode_targets(y_train), max_iter=200)
    assert isinstance(res, FullBatchResult) and res.method == method
    assert net.score(X_test, y_test) >= 0.95
    assert opt.n_steps == res.nit


# -- the training-loop contract ------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_callback_sees_every_iteration_and_can_stop(method):
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    Y = net.encode_targets(Y_XOR)
    seen = []
    res = minimize(net, X_XOR, Y, method=method, max_iter=200,
                   callback=lambda it, loss: seen.append((it, loss)) or it >= 3)
    assert [it for it, _ in seen] == [1, 2, 3]
    assert res.nit == 3 and not res.success
    assert [loss for _, loss in seen] == res.history[1:]
    assert res.loss == res.history[-1]


@pytest.mark.parametrize("method", METHODS)
def test_an_interrupt_leaves_the_last_completed_iteration(method):
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    Y = net.encode_targets(Y_XOR)
    kept = {}

    def cb(it, loss):
        if it == 4:
            kept["loss"] = loss
            kept["theta"] = net.flat_parameters()  # may be a line-search trial point
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        minimize(net, X_XOR, Y, method=method, callback=cb)
    assert net.loss_value(X_XOR, Y) == pytest.approx(kept["loss"], rel=1e-12)


class _Quadratic:
    """The minimal network protocol minimize() uses: f(theta) = 1/2 theta' A theta - b' theta."""

    dtype = np.dtype(np.float64)
    n_features = 1
    n_outputs = 1

    def __init__(self, nan_after: int | None = None):
        rng = np.random.default_rng(0)
        M = rng.standard_normal((6, 6))
        self.A = M @ M.T + 6 * np.eye(6)
        self.b = rng.standard_normal(6)
        self.theta = np.zeros(6)
        self.calls = 0
        self.nan_after = nan_after

    def flat_parameters(self):
        return self.theta.copy()

    def set_flat_parameters(self, theta):
        self.theta[...] = theta

    def loss_and_gradients(self, X, Y):
        self.calls += 1
        if self.nan_after is not None and self.calls > self.nan_after:
            return float("nan")
        self.g = self.A @ self.theta - self.b
        return float(0.5 * self.theta @ self.A @ self.theta - self.b @ self.theta)

    def flat_gradients(self):
        return self.g.copy()


@pytest.mark.parametrize("method", METHODS)
def test_reaches_the_exact_minimum_of_a_quadratic(method):
    q = _Quadratic()
    res = minimize(q, np.zeros((1, 1)), np.zeros((1, 1)), method=method, tol=1e-12, max_iter=100)
    np.testing.assert_allclose(res.x, np.linalg.solve(q.A, q.b), atol=1e-8)
    assert res.success


@pytest.mark.parametrize("method", METHODS)
def test_nan_loss_raises_divergence_and_keeps_the_last_good_parameters(method):
    q = _Quadratic(nan_after=6)
    accepted = [0.0]  # the loss at theta = 0, then after each completed iteration
    with pytest.raises(DivergenceError, match="nan"):
        minimize(q, np.zeros((1, 1)), np.zeros((1, 1)), method=method,
                 callback=lambda it, loss: accepted.append(loss))
    assert len(accepted) >= 2  # it failed inside a later iteration
    good = _Quadratic()
    good.set_flat_parameters(q.theta)
    assert good.loss_and_gradients(None, None) == pytest.approx(accepted[-1], rel=1e-12)


def test_lbfgs_history_size_and_default_max_iter_reach_scipy():
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    Y = net.encode_targets(Y_XOR)
    res = optimizers.get("lbfgs", max_iter=2, history_size=1).minimize(net, X_XOR, Y)
    assert res.nit == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "newton"}, ConfigError, "newton"),
    ({"max_iter": 0}, ConfigError, "max_iter"),
    ({"tol": -1.0}, ConfigError, "tol"),
    ({"history_size": 0}, ConfigError, "history_size"),
])
def test_bad_arguments(kwargs, error, match):
    net = MLP([2, 1], output="sigmoid", dtype=np.float64)
    with pytest.raises(error, match=match):
        minimize(net, X_XOR, net.encode_targets(Y_XOR), **kwargs)


def test_bad_data():
    net = MLP([2, 3], output="softmax", dtype=np.float64)
    with pytest.raises(DataError, match="Y must be the encoded targets"):
        minimize(net, X_XOR, Y_XOR)
    with pytest.raises(DataError, match="X must have shape"):
        minimize(net, X_XOR[:, :1], np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(DataError, match="NaN"):
        minimize(net, np.full((4, 2), np.nan), np.eye(3)[[0, 1, 2, 0]])


@pytest.mark.parametrize("method", METHODS)
def test_float32_network_keeps_its_dtype(method):
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float32, seed=0)
    res = minimize(net, X_XOR, net.encode_targets(Y_XOR), method=method, max_iter=100)
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert res.x.dtype == np.float64
    assert net.score(X_XOR, Y_XOR) == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_small_training_set_evaluates_a_large_validation_set_in_whole_blocks(method):
    """The per-iteration validation pass runs through the work arrays in blocks of at least
    EVAL_MIN_ROWS rows, not of the training set's size (XOR's 4 rows: 1000 blocks here)."""
    from relunet.training.engine import EVAL_MIN_ROWS, evaluate, fit

    rng = np.random.default_rng(0)
    net = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    Y = net.encode_targets(Y_XOR)
    Xv = rng.random((4000, 2))
    Yv = net.encode_targets(rng.integers(0, 2, len(Xv)), fit=False)
    blocks = []
    first = net.dense_layers[0]
    forward = first.forward
    first.forward = lambda X, *args: (blocks.append(np.shares_memory(X, Xv)), forward(X, *args))[1]
    h = fit(net, X_XOR, Y, epochs=3, optimizer=method, validation_data=(Xv, Yv))
    del first.forward
    assert 0 < sum(blocks) <= len(h) * -(-len(Xv) // EVAL_MIN_ROWS)
    assert h["val_loss"][-1] == pytest.approx(evaluate(net, Xv, Yv)["loss"], rel=1e-12)


def test_full_batch_checkpoints_every_iteration_and_records_the_network(tmp_path, monkeypatch):
    from relunet.training import checkpoint as ckpt
    from relunet.errors import ModelFileError

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    path = tmp_path / "run.ckpt"
    written = []
    real_save = ckpt.save
    monkeypatch.setattr(ckpt, "save", lambda p, c: (written.append(c.epoch), real_save(p, c)))
    net = MLP([2, 4, 2], activation="tanh", dtype=np.float64, seed=0)
    h = net.fit(X, y, epochs=5, optimizer="lbfgs", checkpoint=path)
    assert written[:len(h.records)] == list(range(1, len(h.records) + 1))  # one per iteration
    saved = ckpt.load(path)
    assert saved.extra["network"] == repr(net)
    other = MLP([2, 4, 2], activation="relu", dtype=np.float64, seed=0)
    with pytest.raises(ModelFileError, match="do not fit"):
        other.fit(X, y, epochs=8, optimizer="lbfgs", resume=path)


class _BadGradient(_Quadratic):
    """A finite loss whose gradient is NaN from evaluation ``nan_grad_after`` on."""

    def __init__(self, nan_grad_after: int):
        super().__init__()
        self.nan_grad_after = nan_grad_after

    def flat_gradients(self):
        g = super().flat_gradients()
        if self.calls > self.nan_grad_after:
            g[0] = np.nan
        return g


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("after", [0, 3])
def test_a_nan_gradient_with_a_finite_loss_is_divergence(method, after):
    """CG ended such a run as 'success: False' with NumPy's and scipy's warnings and no
    error; L-BFGS reported it as a NaN loss."""
    q = _BadGradient(after)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DivergenceError, match=r"the gradient became NaN or infinite \(the loss, .*, is finite\)"):
            minimize(q, np.zeros((1, 1)), np.zeros((1, 1)), method=method)
    assert np.isfinite(q.theta).all()


@pytest.mark.parametrize("method", METHODS)
def test_a_loss_non_finite_at_the_start_blames_the_data(method):
    """float32 targets whose squared errors overflow float32: no step was taken, so the
    message says so (it said 'during iteration 1')."""
    net = MLP([2, 3, 1], output="identity", dtype=np.float32, seed=0)
    before = net.flat_parameters().copy()
    X = np.ones((4, 2))
    Y = np.full((4, 1), 3e19)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DivergenceError, match=r"at the starting parameters, before any step.*overflow float32"
                                                  r".*use dtype float64"):
            minimize(net, X, Y, method=method)
    np.testing.assert_array_equal(net.flat_parameters(), before)


@pytest.mark.parametrize("method", METHODS)
def test_a_trial_step_that_overflows_names_the_line_search(method):
    q = _Quadratic(nan_after=4)
    with pytest.raises(DivergenceError, match=r"the loss became nan at a trial step of the line search in "
                                              r"iteration \d+ \(the last accepted loss was .*\).*last completed"):
        minimize(q, np.zeros((1, 1)), np.zeros((1, 1)), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_a_flat_loss_stops_at_once_with_the_network_unchanged(method):
    """Zero gradient from the start (all weights 0, ReLU): nothing to do, no NaN, no warning."""
    net = MLP([2, 4, 1], output="identity", dtype=np.float64, seed=0)
    for p in net.parameters():
        p[...] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = minimize(net, np.zeros((4, 2)), np.zeros((4, 1)), method=method)
    assert res.nit == 0 and res.success and res.loss == 0.0 and res.history == [0.0]
    assert all((p == 0).all() for p in net.parameters())



@pytest.mark.parametrize("method", ["lbfgs", "cg"])
def test_max_norm_and_training_mode_dropout_are_refused_not_ignored(method):
    """A line search over the raw weights neither projects onto the max-norm ball nor
    sees a fixed objective with training-mode dropout: both are refused, before any step.
    ``fit`` runs the minimizer in evaluation mode (the plain network's loss)."""
    net = MLP([2, 8, 2], dtype=np.float64, seed=0, max_norm=0.5)
    before = net.flat_parameters()
    with pytest.raises(ConfigError, match="max_norm=0.5"):
        net.fit(X_XOR, Y_XOR, optimizer=method, epochs=5)
    np.testing.assert_array_equal(net.flat_parameters(), before)
    for kw in ({"dropout": 0.3}, {"input_dropout": 0.2}):
        net = MLP([2, 8, 2], dtype=np.float64, seed=0, **kw)
        Y = net.encode_targets(Y_XOR)
        with pytest.raises(ConfigError, match="dropout"):
            minimize(net, X_XOR, Y, method=method, max_iter=5)
        net.eval()
        assert minimize(net, X_XOR, Y, method=method, max_iter=5).nit >= 1
