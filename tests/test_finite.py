"""relunet.core.finite: inference never returns NaN or inf silently."""

import warnings

import numpy as np
import pytest

import relunet
from relunet.core.finite import check_finite_output
from relunet.errors import DataError, DivergenceError

HUGE = np.array([[3e38, -3e38], [1.0, 2.0]], dtype=np.float32)


def _net():
    net = relunet.MLP([2, 8, 3], seed=0)
    net.classes_ = np.arange(3)
    return net


def test_finite_output_passes_through_unchanged():
    out = np.array([[0.2, 0.8]], dtype=np.float32)
    assert check_finite_output(out, np.ones((1, 3)), [np.ones(2)]) is out


def test_overflow_from_large_inputs_names_the_sample_and_the_remedy():
    net = _net()
    with np.errstate(all="ignore"):
        out = net.forward(HUGE)
    assert np.isnan(out[0]).all()  # the silent answer: label 0 with NaN probabilities
    with pytest.raises(DataError, match=r"1 of 2 samples \(first: row 0, whose largest \|feature\| is 3e\+38\)"
                                        r".*overflow float32.*rescale"):
        check_finite_output(out, HUGE, net.parameters())


def test_non_finite_parameters_are_named_as_divergence():
    net = _net()
    net.parameters()[0][0, 0] = np.inf
    with np.errstate(all="ignore"):
        out = net.forward(np.ones((2, 2), np.float32))
    with pytest.raises(DivergenceError, match="parameter array 0 .*training diverged"):
        check_finite_output(out, np.ones((2, 2)), net.parameters())


def test_predict_refuses_to_answer_nan():
    with pytest.raises(DataError, match="overflow float32"):
        _net().predict(HUGE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_weights_are_blamed_not_modest_inputs(dtype):
    """Finite weights beyond sqrt(max) (a loaded model whose training diverged) overflow
    on inputs of 1: the error blamed the inputs ('whose largest |feature| is 1 ... rescale
    them') and told a float64 model to use float64."""
    net = relunet.MLP([2, 8, 3], dtype=dtype, seed=0)
    net.classes_ = np.arange(3)
    net.dense_layers[0].W[...] = 0.5 * np.finfo(dtype).max
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DivergenceError, match=r"own weights overflow .*largest \|weight\| is .*retrain") as info:
            net.predict(np.ones((2, 2), dtype))
    assert "rescale" not in str(info.value)


def test_a_float64_model_is_not_told_to_use_float64():
    net = relunet.MLP([2, 8, 3], dtype=np.float64, seed=0)
    net.classes_ = np.arange(3)
    X = np.array([[1.5e308, -1.5e308], [1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DataError, match=r"overflow float64 .*rescale them") as info:
            net.predict(X)
    assert "use dtype float64" not in str(info.value)


def test_predict_reports_an_overflow_without_numpy_warnings():
    """The softmax of +inf logits warned ('invalid value encountered in subtract': inf -
    inf) before the error that names the cause."""
    net = relunet.MLP([2, 3, 2], dtype=np.float64, seed=0)
    net.classes_ = np.arange(2)
    net.dense_layers[0].W[...], net.dense_layers[0].b[...] = 1.0, 0.0
    net.dense_layers[1].W[...] = 1e308  # both logits 6e308 = inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DivergenceError, match="own weights overflow float64"):
            net.predict(np.ones((1, 2)))
