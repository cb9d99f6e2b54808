"""relunet.data.preprocessing: scalers, one-hot encoding, splits."""

import warnings

import numpy as np
import pytest

from relunet.core.contract import DataContract
from relunet.data import preprocessing
from relunet.errors import DataError


X6 = np.random.default_rng(0).random((6, 2))


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


@pytest.mark.parametrize("scale, column", [
    ("standard", [0.0] * 29 + [1e-45]),  # std 1.8e-46: 0 in float32, a division by zero
    ("minmax", [-3e38, 3e38] * 15),  # range 6e38: inf in float32
])
def test_float32_inputs_whose_statistics_do_not_fit_float32(scale, column):
    X = np.c_[np.arange(30.0), column].astype(np.float32)
    scaler = preprocessing.get_scaler(scale).fit(X)
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        out = scaler.transform(X)
        back = scaler.inverse_transform(out)
    assert out.dtype == np.float32 and np.isfinite(out).all()  # were NaN and inf
    np.testing.assert_allclose(back[:, 1], X[:, 1], rtol=1e-6, atol=1e-45)
    contract = DataContract.from_scaler(scaler, dtype="float32")
    np.testing.assert_array_equal(contract.transform(X), out)  # predict scales as training did

