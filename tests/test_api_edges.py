"""Edge cases of the Python API found by probing it as a user would (misuse, odd data)."""

import warnings

import numpy as np
import pytest

import relunet
from relunet.core import activations
from relunet.data import preprocessing
from relunet.errors import ConfigError, DataError, DivergenceError, TargetTypeError

X6 = np.random.default_rng(0).random((6, 2))
Y6 = np.array([0, 1, 0, 1, 1, 0])


def _bin():
    return relunet.MLP([2, 3, 1], output="sigmoid", seed=0)


def test_ragged_X_and_y_are_data_errors():
    net = _bin()
    with pytest.raises(DataError, match="2-D array of numbers"):
        net.fit([[1.0, 2.0], [3.0]], [0, 1])
    net.fit(X6, Y6, epochs=1)
    with pytest.raises(DataError, match="2-D array of numbers"):
        net.predict([[1.0, 2.0], [3.0]])
    with pytest.raises(DataError, match="one per sample"):
        _bin().fit(X6, [[0], [1, 2], 0, 0, 0, 0], epochs=1)


def test_complex_targets_are_refused():
    with pytest.raises(TargetTypeError, match="complex"):
        relunet.MLP([2, 3, 1], output="identity").fit(X6, Y6 + 1j, epochs=1)
    with pytest.raises(TargetTypeError, match="complex"):
        _bin().fit(X6, Y6 + 0j, epochs=1)


def test_regression_target_beyond_float32_is_named_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="too large for float32"):
            relunet.MLP([2, 3, 1], output="identity").fit(X6, np.full(6, 1e300), epochs=1)


@pytest.mark.parametrize("label", ["a", 5])
def test_one_sigmoid_unit_with_a_single_label_other_than_0_1(label):
    # was accepted, then predict raised IndexError (classes_ had one entry for two outputs)
    with pytest.raises(TargetTypeError, match="1 class"):
        _bin().fit(X6, np.array([label] * 6), epochs=1)
    net = _bin()  # all-zero labels still name the classes 0/1
    net.fit(X6, np.zeros(6, dtype=int), epochs=1)
    assert net.predict(X6).shape == (6,)


def test_score_validates_y():
    reg = relunet.MLP([2, 3, 1], output="identity", seed=0)
    reg.fit(X6, Y6, epochs=1)
    with pytest.raises(DataError, match="NaN"):
        reg.score(X6, [np.nan] * 6)
    with pytest.raises(TargetTypeError, match="numeric"):
        reg.score(X6, list("abcdef"))
    with pytest.raises(DataError, match="shape"):
        reg.score(X6, np.ones((6, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r2 = reg.score(X6, np.arange(6) * 1e200)  # squares overflow float64 unless rescaled
    assert np.isfinite(r2) and r2 < 1
    clf = relunet.MLP([2, 3, 3], seed=0)
    clf.fit(X6, [0, 1, 2, 0, 1, 2], epochs=1)
    with pytest.raises(DataError, match="NaN"):
        clf.score(X6, [np.nan] * 6)
    with pytest.raises(DataError, match="columns"):
        clf.score(X6, np.ones((6, 2)))
    net = _bin()
    net.fit(X6, Y6, epochs=1)
    assert net.score(X6, np.eye(2)[Y6]) == net.score(X6, Y6)  # one-hot of 2 classes, 1 unit


def test_float_class_labels_round_trip_through_a_model_file(tmp_path):
    net = relunet.MLP([2, 3, 3], seed=0)
    net.fit(X6, np.array([1.0, 2.0, 3.0] * 2), epochs=1)
    net.save(tmp_path / "m.relunet")
    back = relunet.load(tmp_path / "m.relunet")
    assert back.classes_.dtype == np.float64
    np.testing.assert_array_equal(back.predict(X6), net.predict(X6))


def test_prelu_keeps_float32_outside_a_network():
    a = activations.get("prelu")
    x = np.array([[-1.0, 0.5]], dtype=np.float32)
    assert a.forward(x).dtype == np.float32
    assert a.backward(np.ones_like(x)).dtype == np.float32
    assert a.derivative(x).dtype == np.float32


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
        clf.set_params(activation="relu").fit(X, y)  # unchanged: continues
        assert clf.n_iter_ == 4


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


def test_scalers_reject_bad_inputs_and_keep_float32():
    S, M = preprocessing.Standardizer, preprocessing.MinMaxScaler
    for cls in (S, M):
        with pytest.raises(DataError, match="NaN"):
            cls().fit(np.array([[np.nan, 1.0], [2.0, 3.0]]))
        with pytest.raises(DataError, match="NaN"):
            cls().fit(np.array([[np.inf, 1.0], [2.0, 3.0]]))
        with pytest.raises(DataError, match="numeric"):
            cls().fit(np.array([["a", "b"]]))
        with pytest.raises(DataError, match="complex"):
            cls().fit(X6 + 1j)
        s = cls().fit(X6.astype(np.float32))
        with pytest.raises(DataError, match="features"):
            s.inverse_transform(np.zeros((2, 3)))
        assert s.inverse_transform(s.transform(X6.astype(np.float32))).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z = S().fit_transform(np.array([[1e200, 1.0], [-1e200, 3.0]]))
        np.testing.assert_allclose(Z, [[1, -1], [-1, 1]])
        with pytest.raises(DataError, match="range"):
            M().fit(np.array([[1e308], [-1e308]]))
    assert preprocessing.one_hot([]).shape == (0, 0)
