"""relunet.sklearn: scikit-learn's own estimator checks, model selection, every target type."""

import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import relunet
from relunet.errors import ConfigError, ConfigWarning, DataError, DivergenceError, UnknownNameError
from relunet.interop.sklearn import EXPECTED_FAILED_CHECKS, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0)[:600]
    return train_test_split(X, y[:600], test_size=0.25, random_state=0, stratify=y[:600])


_PARTIAL_FIT = "partial_fit refuses early_stopping=True (as scikit-learn's MLP: ValueError)"
_TOO_SMALL = ("the check's data set leaves fewer than 2 validation samples, which early_stopping refuses "
              "(as scikit-learn's MLP: 'The validation set is too small')")
#: the generic checks that cannot apply to early_stopping=True (scikit-learn's own MLP fails them too)
EARLY_STOPPING_CHECKS = {
    "check_estimators_partial_fit_n_features": _PARTIAL_FIT,
    "check_fit_score_takes_y": _PARTIAL_FIT,
    "check_n_features_in_after_fitting": _PARTIAL_FIT,
    "check_estimators_nan_inf": _TOO_SMALL,
    "check_fit2d_1feature": _TOO_SMALL,
    "check_regressors_no_decision_function": _TOO_SMALL,
    "check_sample_weight_equivalence_on_dense_data": "the validation split of repeated rows is not that of "
                                                     "weighted rows (scikit-learn's split ignores weights too)",
    "check_sample_weight_equivalence_on_sparse_data": "as on dense data: the validation split ignores weights",
}


def _expected_failed_checks(est):
    return {**EXPECTED_FAILED_CHECKS, **(EARLY_STOPPING_CHECKS if est.early_stopping else {})}


@parametrize_with_checks(
    [
        MLPClassifier(),  # the defaults: (100,) relu, adam, 200 epochs
        MLPRegressor(),
        MLPClassifier((16,), learning_rate_init=0.01, max_iter=50, random_state=0),
        MLPRegressor((16,), learning_rate_init=0.01, max_iter=50, random_state=0),
        # another solver, a per-layer activation list with learned PReLU slopes
        MLPClassifier((8, 8), activation=["gelu", "prelu"], solver="lbfgs", max_iter=15, random_state=0),
        # float32 networks, early stopping, SGD with momentum and gradient clipping
        MLPRegressor((16,), activation="elu", dtype="float32", early_stopping=True, solver="sgd",
                     optimizer_params={"momentum": 0.9, "max_grad_norm": 10.0}, learning_rate_init=0.01, max_iter=50,
                     random_state=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_module_name_does_not_shadow_scikit_learn():
    # relunet.sklearn and relunet.interop.sklearn must not be what ``import sklearn`` finds:
    # scikit-learn's own package is imported, from outside relunet's package folder (a path
    # test, not a name test: the clone's folder may itself be called "relunet").
    from pathlib import Path

    import relunet
    import relunet.interop.sklearn as impl

    assert impl.BaseEstimator.__module__ == "sklearn.base"
    package = Path(relunet.__file__).resolve().parent
    sklearn_file = Path(sys.modules["sklearn"].__file__).resolve()
    assert package not in sklearn_file.parents


def test_grid_search_over_activation_and_hidden_sizes(digits):
    X_tr, X_te, y_tr, y_te = digits
    grid = GridSearchCV(
        MLPClassifier(learning_rate_init=0.01, max_iter=25, random_state=0),
        {"activation": ["relu", "tanh", "gelu"], "hidden_layer_sizes": [(16,), (32, 16)]},
        cv=3,
    )
    grid.fit(X_tr, y_tr)
    assert len(grid.cv_results_["params"]) == 6
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ > 0.85
    assert grid.best_estimator_.net_.sizes[1:-1] == list(grid.best_params_["hidden_layer_sizes"])
    assert grid.score(X_te, y_te) > 0.85


def test_pipeline_and_cross_val_score(digits):
    X_tr, _, y_tr, _ = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((32,), activation="silu", learning_rate_init=0.01,
                                                         max_iter=20, random_state=0))
    scores = cross_val_score(pipe, X_tr, y_tr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_binary_string_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] - 2 * X[:, 1] > 0, "yes", "no")
    clf = MLPClassifier((16,), learning_rate_init=0.02, max_iter=80, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert clf.net_.sizes[-1] == 1 and clf.out_activation_ == "logistic"  # scikit-learn's name
    assert clf.net_.loss.name == "binary_cross_entropy"
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    assert np.allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert clf.score(X, y) > 0.95
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 2
    assert clf.n_iter_ == len(clf.loss_curve_) and clf.n_features_in_ == 3


def test_multiclass_softmax(digits):
    X_tr, X_te, y_tr, y_te = digits
    clf = MLPClassifier((32,), activation="leaky_relu", learning_rate_init=0.01, max_iter=30,
                        random_state=0).fit(X_tr, y_tr)
    assert clf.out_activation_ == "softmax" and clf.net_.sizes == [64, 32, 10]
    assert np.allclose(clf.predict_proba(X_te).sum(axis=1), 1)
    assert clf.score(X_te, y_te) > 0.9


def test_multilabel():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5], axis=1).astype(int)
    clf = MLPClassifier((32,), learning_rate_init=0.02, max_iter=100, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.net_.loss.name == "binary_cross_entropy"
    assert clf.classes_.tolist() == [0, 1, 2]
    pred = clf.predict(X)
    assert pred.shape == (300, 3) and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.array_equal(pred, (proba > 0.5).astype(int))
    assert (pred == Y).mean() > 0.95  # per-label accuracy
    with pytest.raises(ValueError, match="indicator"):
        MLPClassifier().fit(X, rng.integers(0, 3, size=(300, 2)))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regression_single_and_multi_output(n_outputs):
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(300, 2))
    Y = np.stack([np.sin(X[:, 0]) + X[:, 1] ** 2 * k for k in range(1, n_outputs + 1)], axis=1)
    y = Y[:, 0] if n_outputs == 1 else Y
    reg = MLPRegressor((32, 32), activation="tanh", learning_rate_init=0.01, max_iter=150,
                       random_state=0).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == y.shape and pred.dtype == np.float64
    assert reg.out_activation_ == "identity" and reg.net_.loss.name == "mse"
    assert reg.score(X, y) > 0.95


def test_partial_fit_equals_fit_epoch_by_epoch(digits):
    X_tr, _, y_tr, _ = digits
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, shuffle=False, random_state=3,
                  batch_size=64, n_iter_no_change=1000)
    full = MLPClassifier(max_iter=4, **params).fit(X_tr, y_tr)
    inc = MLPClassifier(**params)
    for _ in range(4):
        inc.partial_fit(X_tr, y_tr, classes=np.arange(10))
    assert inc.n_iter_ == 4 and inc.t_ == 4 * len(X_tr)
    assert np.allclose(inc.loss_curve_, full.loss_curve_)
    for a, b in zip(full.coefs_, inc.coefs_):
        assert np.array_equal(a, b)


def test_partial_fit_errors(digits):
    X_tr, _, y_tr, _ = digits
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X_tr, y_tr)
    clf = MLPClassifier((8,), random_state=0).partial_fit(X_tr[y_tr < 5], y_tr[y_tr < 5], classes=np.arange(5))
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X_tr[:, :10], y_tr)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")  # full-batch: no partial_fit
    reg = MLPRegressor((8,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X_tr, X_tr[:, 20])
    assert reg.n_iter_ == 3 and reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_early_stopping_keeps_validation_record(digits):
    X_tr, _, y_tr, _ = digits
    clf = MLPClassifier((32,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                        learning_rate_init=0.01, max_iter=200, random_state=0).fit(X_tr, y_tr)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.8


def test_tol_stops_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # converging must not warn
        clf = MLPClassifier((8,), tol=0.5, n_iter_no_change=2, max_iter=100, random_state=0).fit(X, y)
    # as sklearn's MLP: stop once more than n_iter_no_change epochs in a row fail to
    # improve the best loss by tol; no epoch after the first improves it by 0.5: 1 + 3
    assert clf.n_iter_ == 4
    with pytest.warns(ConvergenceWarning):
        MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)


def test_random_state_reproducible():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    a = MLPClassifier((8,), max_iter=5, random_state=7).fit(X, y)
    b = clone(a).fit(X, y)
    c = MLPClassifier((8,), max_iter=5, random_state=8).fit(X, y)
    assert all(np.array_equal(p, q) for p, q in zip(a.coefs_, b.coefs_))
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    assert a.net_.seed == 7  # random_state=k is relunet's seed=k


@pytest.mark.parametrize("name", ["selu", "mish", "hardswish", "softplus", "rrelu", "celu"])
def test_catalog_activations_train(name, digits):
    X_tr, X_te, y_tr, y_te = digits
    clf = MLPClassifier((32,), activation=name, learning_rate_init=0.01, max_iter=15, random_state=0)
    assert clf.fit(X_tr, y_tr).score(X_te, y_te) > 0.8


def test_bad_parameters_are_named():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(UnknownNameError, match="frobnicate.*relu"):
        MLPClassifier(activation="frobnicate").fit(X, y)
    with pytest.raises(ConfigError, match="2 activations for 1 hidden"):
        MLPClassifier((4,), activation=["relu", "tanh"]).fit(X, y)
    with pytest.raises(ConfigError, match="hidden_layer_sizes"):
        MLPClassifier((4, 0)).fit(X, y)
    with pytest.raises(UnknownNameError, match="optimizer"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ConfigError, match="dtype"):
        MLPRegressor(dtype="int8").fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(X, np.zeros(10))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_bad_optimizer_params_are_named(solver):
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ConfigError, match="unexpected keyword argument 'frobnicate'; its parameters: lr"):
        MLPClassifier(solver=solver, optimizer_params={"frobnicate": 1}).fit(X, y)
    with pytest.raises(ConfigError, match="learning_rate_init"):
        MLPClassifier(solver=solver, optimizer_params={"lr": 0.1}).fit(X, y)


def test_dtype_follows_input_unless_set():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    assert MLPRegressor((4,), max_iter=2).fit(X, y).net_.dtype == np.float64
    assert MLPRegressor((4,), max_iter=2).fit(X.astype(np.float32), y).net_.dtype == np.float32
    assert MLPRegressor((4,), max_iter=2, dtype="float32").fit(X, y).net_.dtype == np.float32


def test_pickle_and_model_file(tmp_path, digits):
    X_tr, X_te, y_tr, _ = digits
    clf = MLPClassifier((16,), activation="prelu", max_iter=5, random_state=0).fit(X_tr, y_tr)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X_te), clf.predict_proba(X_te))
    clf.save(tmp_path / "clf.relunet")
    net = relunet.load(tmp_path / "clf.relunet")
    assert np.array_equal(net.predict(X_te), clf.predict(X_te))
    assert np.allclose(net.predict_proba(X_te), clf.predict_proba(X_te), atol=1e-12)


def test_solver_as_optimizer_instance_is_copied():
    from relunet.training.optimizers import SGD

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    opt = SGD(lr=0.05, momentum=0.9)
    a = MLPClassifier((8,), solver=opt, max_iter=3, random_state=0).fit(X, y)
    assert opt.state == {} and opt.n_steps == 0  # the given instance is left untouched
    b = MLPClassifier((8,), solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.05,
                      max_iter=3, random_state=0).fit(X, y)
    assert all(np.array_equal(p, q) for p, q in zip(a.coefs_, b.coefs_))


def test_from_net_and_load_wrap_relunet_models(tmp_path, digits):
    X_tr, X_te, y_tr, y_te = digits
    net = relunet.MLP([64, 16, 10], activation=("leaky_relu", {"negative_slope": 0.2}), seed=0)
    net.fit(X_tr, y_tr, epochs=5, lr=0.1)
    net.save(tmp_path / "m.relunet")
    clf = MLPClassifier.load(tmp_path / "m.relunet", solver="sgd", learning_rate_init=0.01)
    assert clf.hidden_layer_sizes == (16,) and clf.activation == ("leaky_relu", {"negative_slope": 0.2})
    assert np.array_equal(clf.predict(X_te), net.predict(X_te))
    assert clf.score(X_te, y_te) == net.score(X_te, y_te)
    assert np.allclose(clf.predict_proba(X_te), net.predict_proba(X_te), atol=1e-6)
    clf.partial_fit(X_tr, y_tr)  # training continues on the wrapped network
    assert clf.n_iter_ == 1
    refit = clone(clf).fit(X_tr, y_tr)  # its parameters rebuild the same architecture
    assert refit.net_.sizes == net.sizes and refit.net_.layers[1].activation.negative_slope == 0.2
    reg_net = relunet.MLP([3, 4, 2], output="identity", seed=0)
    reg = MLPRegressor.from_net(reg_net)
    assert reg.predict(np.ones((5, 3))).shape == (5, 2)
    with pytest.raises(ConfigError, match="regression"):
        MLPClassifier.from_net(reg_net)


def test_errors_are_relunet_types_and_still_value_errors():
    from relunet.errors import ConfigError, DataError, TargetTypeError
    from relunet.interop.sklearn import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.random((20, 3)), np.arange(20) % 2
    cases = [
        (lambda: MLPClassifier((4,), random_state=-1).fit(X, y), ConfigError, "random_state"),
        (lambda: MLPClassifier((4,), early_stopping=True, validation_fraction=0.99).fit(X, y),
         DataError, "cannot hold out validation_fraction=0.99"),
        (lambda: MLPRegressor((4,), early_stopping=True, validation_fraction=0.99).fit(X, y * 1.0),
         DataError, "cannot hold out validation_fraction=0.99"),
        (lambda: MLPClassifier((4,)).fit(X, np.zeros(20)), TargetTypeError, "at least 2 classes"),
        (lambda: MLPClassifier((4,)).partial_fit(X, y), ConfigError, "classes must be passed"),
        (lambda: MLPClassifier((4,), max_iter=1).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y + 5),
         DataError, "not seen in the first fit"),
        (lambda: MLPRegressor((4,), max_iter=1).fit(X, y * 1.0).partial_fit(X, np.ones((20, 2))),
         DataError, "2 outputs"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text) as info:
            call()
        assert isinstance(info.value, ValueError)  # scikit-learn's convention holds too


# -- training through the engine (relunet.training.Run) --------------------------------------
def _diverging_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    return X, X @ rng.standard_normal(5) * 10


@pytest.mark.parametrize("lr", [1.0, 1e3])
def test_a_diverging_run_with_early_stopping_keeps_the_best_validated_weights(lr):
    X, y = _diverging_regression()
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=lr, early_stopping=True, random_state=0,
                       max_iter=30)
    # as scikit-learn: the diverged epoch's validation score is NaN, the
    # best validated weights are kept; no "Input contains NaN" from inside the score
    with pytest.warns(ConvergenceWarning, match=r"training diverged: .* at .*epoch \d+.*smaller one"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1]) and isinstance(reg.validation_scores_[-1], float)
    assert len(reg.validation_scores_) == len(reg.loss_curve_) == reg.n_iter_
    assert all(np.isfinite(p).all() for p in reg.net_.parameters())
    assert np.isfinite(reg.predict(X)).all()


def test_a_diverging_run_without_early_stopping_raises_a_divergence_that_is_a_value_error():
    from relunet.errors import NonFiniteWeightsError

    X, y = _diverging_regression()
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=1e3, random_state=0, max_iter=30)
    with pytest.raises(NonFiniteWeightsError, match=r"non-finite parameter weights.*training diverged") as info:
        reg.fit(X, y)
    assert isinstance(info.value, DivergenceError) and isinstance(info.value, ValueError)
    assert all(np.isfinite(p).all() for p in reg.net_.parameters())  # the last good epoch


def test_partial_fit_is_one_engine_epoch(digits):
    from relunet.interop.sklearn import _Trainee
    from relunet.training import optimizers
    from relunet.training.engine import Run

    X_train, _, y_train, _ = digits
    clf = MLPClassifier((16,), solver="sgd", learning_rate_init=0.1, batch_size=32, random_state=0,
                        alpha=0.0, momentum=0.0)  # plain SGD: the engine's own step, nothing added
    clf.partial_fit(X_train, y_train, classes=np.arange(10))
    clf.partial_fit(X_train, y_train)

    # each call draws from a new RandomState(random_state), as scikit-learn's: the first one
    # the initial parameters, then the epoch's shuffle; the second one the shuffle only
    ref = MLPClassifier((16,), solver="sgd", batch_size=32, random_state=0)
    ref._random_state = np.random.RandomState(0)
    net = ref._build(64, 10, "softmax", np.float64)
    net.classes_ = np.arange(10)
    opt = optimizers.get("sgd", lr=0.1)
    Y = net.encode_targets(y_train, len(y_train), fit=False)
    for random_state in (ref._random_state, np.random.RandomState(0)):
        trainee = _Trainee(net, 0.0, random_state=random_state)
        run = Run(trainee, np.ascontiguousarray(X_train), Y, opt, batch_size=32)
        run.start()
        loss = run.epoch()["loss"]
        run.finish()
    assert all(np.array_equal(a, b) for a, b in zip(clf.net_.parameters(), net.parameters()))
    assert clf.loss_curve_[-1] == loss and clf.n_iter_ == 2


def test_partial_fit_divergence_names_the_estimators_epoch():
    from relunet.errors import DivergenceError

    X, y = _diverging_regression()
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=1e-4, batch_size=20, random_state=0)
    reg.partial_fit(X, y)
    reg.partial_fit(X, y)
    reg._optimizer.lr = 1e6  # the next epoch overflows
    with pytest.raises(DivergenceError, match="epoch 3, batch") as info:
        reg.partial_fit(X, y)
    assert info.value.epoch == 3 and all(np.isfinite(p).all() for p in reg.net_.parameters())


def test_the_estimators_encode_targets_with_the_network():
    X, y = _diverging_regression()
    labels = np.array(["lo", "mid", "hi"])[np.digitize(y, [-5, 5])]
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["hi", "lo", "mid"] and list(clf.net_.classes_) == list(clf.classes_)
    with pytest.raises(ConfigError, match="one output per class"):
        MLPClassifier((4,), loss="cross_entropy", output="sigmoid", max_iter=2).fit(X, y > 0)


def test_sklearn_regressor_with_string_targets_says_use_the_classifier():
    import numpy as np

    from relunet.errors import TargetTypeError
    from relunet.interop.sklearn import MLPRegressor

    with pytest.raises(TargetTypeError, match="MLPClassifier"):
        MLPRegressor(max_iter=1).fit(np.ones((4, 2)), np.array(["a", "b", "a", "b"]))


def test_sklearn_warm_start_refuses_a_changed_architecture():
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    from relunet.interop.sklearn import MLPClassifier

    X = np.random.default_rng(1).random((20, 3))
    y = np.array([0, 1] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
        with pytest.raises(ConfigError, match="hidden_layer_sizes"):
            clf.set_params(hidden_layer_sizes=(4,)).fit(X, y)
        with pytest.raises(ConfigError, match="activation"):
            clf.set_params(hidden_layer_sizes=(5,), activation="tanh").fit(X, y)
        before = clf.coefs_[0].copy()
        clf.set_params(activation="relu").fit(X, y)  # unchanged: continues
        # from the fitted weights, n_iter_ counting this fit's epochs (as scikit-learn)
        assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 4 and not np.array_equal(before, clf.coefs_[0])


def test_sklearn_regressor_dtypes_and_errors():
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    from relunet.interop.sklearn import MLPRegressor

    X = np.random.default_rng(1).random((20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X32 = X.astype(np.float32)
        reg = MLPRegressor((4,), max_iter=2, random_state=0).fit(X32, X[:, 0])
        assert reg.net_.dtype == np.float32 and reg.predict(X32).dtype == np.float32
        assert reg.predict(X).dtype == np.float64
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DataError, match="too large for float32"):
            MLPRegressor((4,), max_iter=2, dtype="float32").fit(X, np.arange(20) * 1e300)
        with pytest.raises(DivergenceError) as err:
            MLPRegressor((4,), max_iter=2, random_state=0).fit(X, np.arange(20) * 1e300)
    assert "diverged in iteration 1 (loss" not in str(err.value)  # not wrapped twice


def test_predictions_never_switch_the_networks_mode(monkeypatch):
    """The estimator's predictions run the network's evaluation pass by argument: they never
    switch the shared network's mode (threads predicting with one estimator would race)."""
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier((8,), activation="rrelu", max_iter=3, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.train()
    calls = []
    monkeypatch.setattr(relunet.MLP, "train", lambda self, mode=True: calls.append(mode))
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.predict(X), clf.score(X, y), clf.predict_log_proba(X)
    assert calls == [] and clf.net_.training


def test_a_poor_output_and_loss_pair_warns_once_per_start_as_mlp_fit():
    """A softmax output with binary cross-entropy: the estimator says what MLP.fit says (a
    ConfigWarning at the caller's line; it said nothing), on fit and on a first partial_fit
    only, not on every later partial_fit; the natural pair says nothing."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)

    def config_warnings(call):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        return [w for w in caught if issubclass(w.category, ConfigWarning)]

    clf = MLPClassifier((4,), output="softmax", loss="binary_cross_entropy", max_iter=2, random_state=0)
    found = config_warnings(lambda: clf.fit(X, y))
    assert len(found) == 1 and "softmax-with-bce" in str(found[0].message) and found[0].filename == __file__
    clf = MLPClassifier((4,), output="softmax", loss="binary_cross_entropy", random_state=0)
    assert len(config_warnings(lambda: clf.partial_fit(X, y, classes=[0, 1]))) == 1
    assert not config_warnings(lambda: [clf.partial_fit(X, y) for _ in range(3)])
    assert not config_warnings(lambda: MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y))
