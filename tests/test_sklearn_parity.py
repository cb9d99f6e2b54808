"""relunet.sklearn as a drop-in for sklearn.neural_network: the same parameters, objective,
initialisation, attributes, warnings and refusals; sparse input; sample weights; the
Poisson loss (log link) of the regressor."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import neural_network as sk
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from relunet.core import losses
from relunet.core.network import MLP
from relunet.errors import DataError
from relunet.interop.sklearn import MLPClassifier, MLPRegressor, l2_penalty

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    return X, y / y.std()


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


# -- the Poisson loss (log link) ------------------------------------------------------------
def test_poisson_loss_matches_torch_and_its_delta_is_exp_z_minus_y():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 3))
    Y = rng.poisson(2.0, size=(7, 3)).astype(float)
    loss = losses.get("poisson")
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.PoissonNLLLoss(log_input=True, full=False)(zt, torch.tensor(Y))
    ref.backward()
    assert loss.value_from_logits(z, Y) == pytest.approx(ref.detach().item(), rel=1e-12)
    np.testing.assert_allclose(loss.delta_from_logits(z, Y), zt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(loss.delta_from_logits(z, Y), (np.exp(z) - Y) / Y.size, rtol=1e-12)


def test_poisson_delta_is_the_finite_difference_gradient():
    rng = np.random.default_rng(1)
    z, Y = rng.normal(size=(4, 2)), rng.poisson(1.5, size=(4, 2)).astype(float)
    loss, eps = losses.get("poisson"), 1e-6
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[idx] = eps
        numeric[idx] = (loss.value(z + step, Y) - loss.value(z - step, Y)) / (2 * eps)
    np.testing.assert_allclose(loss.gradient(z, Y), numeric, rtol=1e-6, atol=1e-10)
    net = MLP([3, 4, 2], output="identity", loss="poisson", seed=0)
    assert net.fused and net.task == "regression" and losses.canonical_name("poisson_nll") == "poisson"


def test_poisson_regressor_predicts_exp_of_the_log_rate_and_refuses_negative_targets():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(80, 1))
    y = rng.poisson(np.exp(X[:, 0] + 1))
    reg = MLPRegressor(hidden_layer_sizes=(1,), activation="identity", loss="poisson", alpha=0, solver="lbfgs",
                       tol=1e-7, random_state=0).fit(X, y)
    assert reg.out_activation_ == "exp" and reg.net_.loss.name == "poisson"
    z = reg.net_.predict_output(X)[:, 0]
    np.testing.assert_allclose(reg.predict(X), np.exp(z))
    with pytest.raises(DataError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -np.ones(80))


# -- the objective, the initialisation, the solvers: as scikit-learn -----------------------------
def test_l2_penalty_is_scikit_learns_on_weights_only():
    net = MLP([3, 4, 2], output="identity", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    net.train()
    net.loss_and_gradients(X, Y)
    before = [g.copy() for g in net.gradients()]
    value = l2_penalty(net, 0.3, 5)
    assert value == pytest.approx(0.3 / 10 * sum(float(np.sum(d.W ** 2)) for d in net.dense_layers))
    for layer, (dW, db) in zip(net.dense_layers, zip(before[0::2], before[1::2])):
        np.testing.assert_allclose(layer.dW, dW + 0.3 / 5 * layer.W)
        np.testing.assert_array_equal(layer.db, db)  # biases are not penalised


@pytest.mark.parametrize("max_iter", [1, 5, 30])
def test_lbfgs_follows_scikit_learns_path_from_the_same_random_state(regression, max_iter):
    X, y = regression
    params = dict(hidden_layer_sizes=(8,), activation="tanh", solver="lbfgs", max_iter=max_iter, random_state=0)
    ours, theirs = MLPRegressor(**params).fit(X, y), sk.MLPRegressor(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9) and ours.n_iter_ == theirs.n_iter_


def test_sgd_with_momentum_and_nesterov_follows_scikit_learn(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=3, random_state=0, shuffle=False)
    ours, theirs = MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_invscaling_and_adaptive_learning_rates(iris):
    X, y = iris
    clf = MLPClassifier((4,), solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=3,
                        random_state=0).fit(X, y)
    assert clf.t_ == 3 * len(X)
    assert clf._optimizer.learning_rate == pytest.approx(0.001 / (clf.t_ + 1) ** 0.25)
    adaptive = MLPClassifier((4,), solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1,
                             max_iter=40, random_state=0).fit(X, y)
    assert adaptive._optimizer.learning_rate < 0.001  # divided by 5 at each stall


def test_lbfgs_warns_at_max_iter_and_at_max_fun(regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning, match="ITERATIONS"):
        MLPRegressor((8,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="EVALUATIONS"):
        reg = MLPRegressor((8,), solver="lbfgs", max_fun=3, tol=0.0, random_state=0).fit(X, y)
    assert reg.n_iter_ <= 3


# -- attributes -------------------------------------------------------------------------------------
def test_fitted_attributes_and_settable_coefs(iris):
    X, y = iris
    clf = MLPClassifier((5, 4), max_iter=5, random_state=0).fit(X, y)
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.validation_scores_ is None
    clf.coefs_[1][...] = 0.0  # in place: the network's own array
    assert not clf.net_.dense_layers[1].W.any()
    clf.coefs_[2] = np.zeros_like(clf.coefs_[2])  # a new array: copied into the network when used
    proba = clf.predict_proba(X)
    assert clf.coefs_[2] is clf.net_.dense_layers[2].W and not clf.net_.dense_layers[2].W.any()
    np.testing.assert_allclose(proba, np.broadcast_to(proba[0], proba.shape))  # the intercepts alone
    es = MLPClassifier((5,), early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert es.best_loss_ is None and len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_)


def test_a_warm_start_may_change_the_solver(iris):
    X, y = iris
    clf = MLPClassifier((4,), solver="lbfgs", warm_start=True, max_iter=5, random_state=0).fit(X, y)
    clf.set_params(solver="sgd").fit(X, y)
    assert clf.n_iter_ == 5 and clf._optimizer.opt.name == "sgd" and len(clf.loss_curve_) == 10


def test_n_iter_counts_each_fit_and_n_iter_no_change_may_be_infinite(iris):
    X, y = iris
    clf = MLPClassifier((4,), solver="sgd", max_iter=4, warm_start=True, tol=1e9, n_iter_no_change=np.inf,
                        random_state=0)
    clf.fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 8 and clf.t_ == 8 * len(X)
    assert clf._no_improvement_count == 7


# -- input: sparse matrices, sample weights -----------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_is_never_densified_and_trains_as_dense(iris, fmt, solver, monkeypatch):
    X, y = iris
    X = X * (X > 2)  # a few zeros
    Xs = sparse.csr_matrix(X).asformat(fmt)
    params = dict(hidden_layer_sizes=(6,), batch_size=32, solver=solver, max_iter=5, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    for cls in (sparse.csr_matrix, sparse.csc_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    sp = MLPClassifier(**params).fit(Xs, y)
    np.testing.assert_allclose(sp.predict_proba(Xs), dense.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sp.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)
    assert sp.score(Xs, y) == dense.score(X, y)


def test_the_sparse_first_layer_fuses_plain_sgd_as_dense(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="sgd", alpha=0.0, momentum=0.0, max_iter=3, random_state=0)
    y2 = (y > 0).astype(int)  # one sigmoid unit: scikit-learn's loss is relunet's, the fused step applies
    dense = MLPClassifier(**params).fit(X, y2)
    sp = MLPClassifier(**params).fit(sparse.csr_matrix(X), y2)
    np.testing.assert_allclose(sp.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)


def test_sparse_input_with_lbfgs_matches_dense(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=20, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    sp = MLPClassifier(**params).fit(sparse.csr_matrix(X), y)
    np.testing.assert_allclose(sp.coefs_[0], dense.coefs_[0], rtol=1e-7, atol=1e-10)


def test_integer_sample_weights_equal_repeated_rows_under_lbfgs(regression):
    X, y = regression
    w = np.arange(len(X)) % 3
    params = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0)
    weighted = MLPRegressor(**params).fit(X, y, sample_weight=w)
    repeated = MLPRegressor(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss, Y", [("cross_entropy", np.eye(3)[[0, 2, 1, 1]]),
                                     ("binary_cross_entropy", np.array([[0, 1], [1, 1], [0, 0], [1, 0]])),
                                     ("mse", np.arange(8.0).reshape(4, 2)), ("poisson", np.arange(8.0).reshape(4, 2))])
def test_per_sample_losses_average_to_the_batch_loss(loss, Y):
    from relunet.interop.sklearn import _row_losses

    net = MLP([3, 4, Y.shape[1]], output=losses.get(loss).output, loss=loss, seed=0)
    z = np.random.default_rng(0).normal(size=Y.shape)
    rows = _row_losses(net, z, Y.astype(float))
    assert rows.shape == (4,) and rows.mean() == pytest.approx(net.loss_and_delta(z, Y.astype(float))[0])
    for i in range(4):
        assert rows[i] == pytest.approx(net.loss_and_delta(z[i:i + 1], Y[i:i + 1].astype(float))[0])


def test_unit_sample_weights_change_nothing(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    a = MLPClassifier(**params).fit(X, y, sample_weight=np.ones(len(X)))
    b = MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)


# -- refusals, as scikit-learn (ValueError family) -------------------------------------------------------
def test_misuse_is_refused_with_value_errors(iris):
    X, y = iris
    clf = MLPClassifier((3,), solver="lbfgs", warm_start=True, max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
        clf.fit(X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(X[:5], y[:5] * 1.0)
    with pytest.raises(ValueError, match="least populated class"):
        MLPClassifier(early_stopping=True).fit(X[:4], [0, 0, 0, 1])
    for bad in (dict(learning_rate="cosine"), dict(alpha=-1.0), dict(momentum=1.5), dict(beta_1=1.0),
                dict(epsilon=0.0), dict(max_fun=0), dict(n_iter_no_change=0), dict(power_t="x")):
        with pytest.raises(ValueError):
            MLPClassifier(**bad).fit(X, y)


def test_grid_search_over_scikit_learns_parameters(iris):
    X, y = iris
    grid = GridSearchCV(MLPClassifier(max_iter=20, random_state=0),
                        {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(4,), (8,)]},
                        cv=2).fit(X, y)
    assert set(grid.best_params_) == {"alpha", "learning_rate_init", "hidden_layer_sizes"}
    assert grid.best_estimator_.n_layers_ == 3
