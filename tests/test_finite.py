"""relunet.core.finite: inference never returns NaN or inf silently."""

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
