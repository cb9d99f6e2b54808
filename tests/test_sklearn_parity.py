"""relunet.sklearn as a drop-in for sklearn.neural_network: the same parameters, objective,
initialisation, attributes, warnings and refusals; sparse input; sample weights; the
Poisson loss (log link) of the regressor."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import neural_network as sk
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from relunet.core import losses
from relunet.core.network import MLP
from relunet.errors import ConfigError, DataError
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


def _same_path(ours, theirs, rtol=1e-9):
    """The same epochs, losses, validation scores and parameters, to rounding."""
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    if theirs.validation_scores_ is not None:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


@pytest.mark.parametrize("params", [dict(), dict(alpha=1.0), dict(batch_size=32, alpha=0.0)])
def test_adam_follows_scikit_learns_path(digits, params):
    """scikit-learn's Adam adds epsilon to sqrt(v) before the bias correction: a unit that
    only the L2 penalty moves (gradient ~ alpha W / n, as small as epsilon) steps ~30 times
    more slowly in the first steps than in PyTorch's form."""
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=15, random_state=0, **params)
    _same_path(MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y))


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("schedule", [dict(learning_rate="invscaling", learning_rate_init=0.5, power_t=0.7),
                                      dict(learning_rate="adaptive", learning_rate_init=0.2, tol=0.05,
                                           n_iter_no_change=2)])
def test_sgd_momentum_under_a_changing_rate_follows_scikit_learn(iris, schedule, nesterov):
    """scikit-learn's velocity holds each past step's rate (v = mu v - lr g); after the rate
    changes, its steps are relunet's only with the momentum buffer rescaled."""
    X, y = iris
    X = (X - X.mean(0)) / X.std(0)
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=40, random_state=0, shuffle=False,
                  nesterovs_momentum=nesterov, **schedule)
    ours, theirs = MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y)
    _same_path(ours, theirs)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)


@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "regression"])
def test_early_stopping_holds_out_scikit_learns_split(digits, target):
    """The same validation rows, in scikit-learn's order, from the RandomState after the
    initial weights (stratified for binary labels only, as scikit-learn): the same
    validation scores, the same stopping epoch, the same restored weights."""
    X, y = digits
    cls, ref = (MLPRegressor, sk.MLPRegressor) if target == "regression" else (MLPClassifier, sk.MLPClassifier)
    y = {"binary": y % 2, "multiclass": y, "multilabel": np.c_[y % 2, y > 4, y == 3],
         "regression": y / 9.0}[target]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.1, early_stopping=True,
                  validation_fraction=0.2, max_iter=60, random_state=3)
    ours, theirs = cls(**params).fit(X, y), ref(**params).fit(X, y)
    _same_path(ours, theirs)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-12)


def test_early_stopping_trains_with_a_class_too_small_to_stratify(iris):
    """scikit-learn holds out a plain random split for multi-class labels, so a class with
    one sample trains (relunet's stratified split used to refuse it)."""
    X, y = iris
    y = y.copy()
    y[0] = 3
    params = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=20, random_state=0)
    _same_path(MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y))


@pytest.mark.parametrize("case", ["dense", "sparse", "weighted"])
def test_shuffled_minibatches_follow_scikit_learn(digits, case):
    """Each epoch's order is scikit-learn's shuffle of the previous one, drawn from the fit's
    RandomState."""
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), batch_size=50, max_iter=10, random_state=1)
    kwargs = {"sample_weight": np.linspace(0.2, 2.0, len(X))} if case == "weighted" else {}
    X = sparse.csr_matrix(X) if case == "sparse" else X
    _same_path(MLPClassifier(**params).fit(X, y, **kwargs), sk.MLPClassifier(**params).fit(X, y, **kwargs))


def test_partial_fit_and_warm_start_follow_scikit_learn(digits, regression):
    X, y = digits
    ours, theirs = (cls((16,), batch_size=40, random_state=0) for cls in (MLPClassifier, sk.MLPClassifier))
    for est in (ours, theirs):
        est.partial_fit(X, y, classes=np.arange(10))
        est.partial_fit(X[:200], y[:200])
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    X, y = regression
    ours, theirs = (cls(hidden_layer_sizes=(8,), batch_size=20, max_iter=15, warm_start=True, random_state=0)
                    for cls in (MLPRegressor, sk.MLPRegressor))
    for est in (ours, theirs):
        est.fit(X, y)
        est.fit(X, y)
    _same_path(ours, theirs)


def test_a_random_state_instance_draws_scikit_learns_initial_weights(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=5, shuffle=False, early_stopping=True)
    ours = MLPClassifier(random_state=np.random.RandomState(5), **params).fit(X, y)
    theirs = sk.MLPClassifier(random_state=np.random.RandomState(5), **params).fit(X, y)
    _same_path(ours, theirs)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_several_regression_outputs_report_scikit_learns_loss(regression, solver):
    """scikit-learn's squared error is averaged over the outputs while its gradient is the
    summed one: loss_, the tol stopping rule on it and L-BFGS's line search see the
    average, so the number of epochs is scikit-learn's too."""
    X, y = regression
    Y = np.c_[y, -0.5 * y, 0.1 * y]
    # (L-BFGS's long runs part at rounding level: 40 iterations)
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=40 if solver == "lbfgs" else 300, random_state=0)
    ours, theirs = MLPRegressor(**params).fit(X, Y), sk.MLPRegressor(**params).fit(X, Y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_loss_is_scikit_learns_half_deviance(solver):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 1))
    params = dict(loss="poisson", hidden_layer_sizes=(6,), solver=solver, max_iter=20, random_state=0)
    ours, theirs = MLPRegressor(**params).fit(X, y), sk.MLPRegressor(**params).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9) and ours.loss_ > 0
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


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


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("predict_dtype", [np.float32, np.float64])
def test_predictions_come_in_scikit_learns_dtype(iris, fit_dtype, predict_dtype):
    """float32 only when both X and the parameters are float32 (numpy's result type)."""
    X, y = iris
    Xf, Xp = X.astype(fit_dtype), X[:5].astype(predict_dtype)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    for ours, theirs in ((MLPClassifier(**params).fit(Xf, y), sk.MLPClassifier(**params).fit(Xf, y)),
                         (MLPRegressor(**params).fit(Xf, y * 1.0), sk.MLPRegressor(**params).fit(Xf, y * 1.0))):
        for method in ("predict", "predict_proba", "predict_log_proba"):
            if hasattr(theirs, method):
                assert getattr(ours, method)(Xp).dtype == getattr(theirs, method)(Xp).dtype, method


def test_a_column_vector_target_warns_as_scikit_learn(regression, iris):
    from sklearn.exceptions import DataConversionWarning

    X, y = regression
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        reg = MLPRegressor((4,), max_iter=2, random_state=0).fit(X, y[:, None])
    assert reg.predict(X).shape == (len(X),) and reg.n_outputs_ == 1
    X, y = iris
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y[:, None])


@pytest.mark.parametrize("solver", ["lbfgs", "cg"])
def test_full_batch_solvers_report_their_best_loss_and_no_validation(iris, solver):
    """scikit-learn's L-BFGS ignores early_stopping; best_loss_ is the best of this fit's
    losses (it used to stay at its initial inf)."""
    X, y = iris
    clf = MLPClassifier((4,), solver=solver, early_stopping=True, max_iter=10, random_state=0).fit(X, y)
    assert np.isfinite(clf.best_loss_) and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


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


@pytest.mark.parametrize("bad", [dict(power_t=-0.5), dict(random_state=2**32), dict(random_state=-1),
                                 dict(random_state=np.random.default_rng(0))])
def test_what_scikit_learn_refuses_is_a_config_error_naming_the_parameter(iris, bad):
    X, y = iris
    (name, value), = bad.items()
    with pytest.raises(ValueError):  # scikit-learn refuses it too
        sk.MLPClassifier(**bad).fit(X, y)
    with pytest.raises(ConfigError, match=name):
        MLPClassifier(**bad).fit(X, y)


def test_grid_search_over_scikit_learns_parameters(iris):
    X, y = iris
    grid = GridSearchCV(MLPClassifier(max_iter=20, random_state=0),
                        {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(4,), (8,)]},
                        cv=2).fit(X, y)
    assert set(grid.best_params_) == {"alpha", "learning_rate_init", "hidden_layer_sizes"}
    assert grid.best_estimator_.n_layers_ == 3
