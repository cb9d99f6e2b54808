"""Layers: one forward and one backward each, whose options (work arrays, in place,
evaluation without caches, the fused SGD step) give the same numbers as the plain call,
and the plain call's gradients agree with finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from relunet.core.layers import ActivationLayer, Dense
from relunet.errors import CallOrderError


def _dense(seed=0, n_in=5, n_out=4):
    rng = np.random.default_rng(seed)
    return Dense(rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)), rng


def _numeric(f, x, h=1e-6):
    """Central differences of the scalar f at x (float64), one entry at a time."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f()
        x[idx] = old - h
        down = f()
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


def test_dense_gradients_match_finite_differences():
    layer, rng = _dense()
    x = rng.standard_normal((7, 5))
    w = rng.standard_normal((7, 4))  # L = sum(w * z)

    def loss():
        return float(np.sum(w * layer.forward(x, None, False)))

    layer.forward(x)
    dx = layer.backward(w)
    np.testing.assert_allclose(layer.dW, _numeric(loss, layer.W), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(layer.db, _numeric(loss, layer.b), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-7, atol=1e-9)


def test_dense_work_arrays_give_the_plain_results_in_the_given_arrays():
    layer, rng = _dense(1)
    twin, _ = _dense(1)
    x = rng.standard_normal((6, 5))
    g = rng.standard_normal((6, 4))
    z_plain = twin.forward(x)
    dx_plain = twin.backward(g)
    z_buf, dx_buf = np.empty((6, 4)), np.empty((6, 5))
    z = layer.forward(x, z_buf)
    dx = layer.backward(g, dx_buf)
    assert z is z_buf and dx is dx_buf
    np.testing.assert_array_equal(z, z_plain)
    np.testing.assert_array_equal(dx, dx_plain)
    np.testing.assert_array_equal(layer.dW, twin.dW)
    np.testing.assert_array_equal(layer.db, twin.db)


@pytest.mark.parametrize("needs_input_grad", [True, False])
def test_dense_fused_sgd_backward_equals_backward_then_the_step(needs_input_grad):
    lr = 0.05
    layer, rng = _dense(2)
    twin, _ = _dense(2)
    layer.needs_input_grad = twin.needs_input_grad = needs_input_grad
    x = rng.standard_normal((9, 5))
    g = rng.standard_normal((9, 4))
    layer.forward(x)
    twin.forward(x)
    dx = layer.backward(g, None, lr)
    dx_plain = twin.backward(g)
    twin.W -= lr * twin.dW
    twin.b -= lr * twin.db
    if needs_input_grad:
        np.testing.assert_allclose(dx, dx_plain, rtol=1e-13)  # taken with the old W
    else:
        assert dx is None and dx_plain is None
    np.testing.assert_allclose(layer.W, twin.W, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.b, twin.b, rtol=1e-13, atol=1e-15)
    assert layer._dW is None  # never formed


def test_dense_evaluation_forward_keeps_no_reference():
    layer, rng = _dense(3)
    x = rng.standard_normal((3, 5))
    layer.forward(x, None, False)
    with pytest.raises(CallOrderError):
        layer.backward(np.ones((3, 4)))


@pytest.mark.parametrize("name", ["relu", "tanh", "leaky_relu", "prelu", "elu"])
def test_activation_layer_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(4)
    layer = ActivationLayer(name)
    x = rng.standard_normal((6, 3))
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink
    w = rng.standard_normal((6, 3))

    def loss():
        return float(np.sum(w * layer.forward(x, None, False)))

    layer.forward(x)
    np.testing.assert_allclose(layer.backward(w), _numeric(loss, x), rtol=1e-7, atol=1e-9)


def test_relu_into_out_runs_in_place_and_masks_the_gradient_in_place():
    rng = np.random.default_rng(5)
    plain, fast = ActivationLayer("relu"), ActivationLayer("relu")
    x = rng.standard_normal((8, 4))
    x[0, 0] = 0.0  # relu'(0) = 0 on both paths
    g = rng.standard_normal((8, 4))
    a_plain, dx_plain = plain.forward(x), None
    dx_plain = plain.backward(g)
    work_x, work_g, mask = x.copy(), g.copy(), np.empty((8, 4), dtype=bool)
    a = fast.forward(work_x, work_x)
    assert a is work_x  # in place
    dx = fast.backward(work_g, mask)
    assert dx is work_g  # in place
    np.testing.assert_array_equal(a, a_plain)
    np.testing.assert_array_equal(dx, dx_plain)
    # a plain forward afterwards takes the plain backward again (no stale mask)
    fast.forward(x)
    np.testing.assert_array_equal(fast.backward(g), dx_plain)


def test_activation_out_for_a_non_inplace_activation_is_written_too():
    rng = np.random.default_rng(6)
    layer = ActivationLayer("tanh")
    x = rng.standard_normal((4, 3))
    out = np.empty_like(x)
    assert layer.forward(x, out) is out
    np.testing.assert_array_equal(out, np.tanh(x))


def test_prelu_fused_sgd_backward_steps_its_slope():
    rng = np.random.default_rng(7)
    layer, twin = ActivationLayer("prelu"), ActivationLayer("prelu")
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    layer.forward(x)
    twin.forward(x)
    dx = layer.backward(g, None, 0.1)
    np.testing.assert_array_equal(dx, twin.backward(g))
    for p, q, gq in zip(layer.parameters(), twin.parameters(), twin.gradients()):
        np.testing.assert_allclose(p, q - 0.1 * gq, rtol=1e-15)


def test_rrelu_evaluation_forward_is_its_mean_slope_and_draws_nothing():
    layer = ActivationLayer("rrelu")
    layer.train(False)
    state = layer.activation.rng.bit_generator.state
    x = np.array([[-2.0, 3.0]])
    slope = layer.activation.eval_slope
    np.testing.assert_allclose(layer.forward(x, None, False), [[-2.0 * slope, 3.0]])
    assert layer.activation.rng.bit_generator.state == state


@pytest.mark.parametrize("in_place", [True, False])
@pytest.mark.parametrize("lr", [None, 0.1])
def test_relu_backward_fills_the_bias_gradient_of_the_dense_layer_below(in_place, lr):
    """``backward(dense=)`` fills that layer's db (and with lr steps its bias) whether the
    forward ran in place (the fused pass) or not."""
    rng = np.random.default_rng(0)
    dense = Dense(rng.standard_normal((5, 6)), rng.standard_normal(6))
    relu = ActivationLayer("relu")
    x = rng.standard_normal((7, 5))
    z = dense.forward(x, np.empty((7, 6)), bias=False) if in_place else dense.forward(x)
    relu.forward(z, z if in_place else None, bias=dense.b if in_place else None)
    assert relu.ran_in_place == in_place
    g = rng.standard_normal((7, 6))
    want_g = g * ((x @ dense.W + dense.b) > 0)
    b0 = dense.b.copy()
    out = relu.backward(g.copy(), lr=lr, dense=dense)
    np.testing.assert_allclose(out, want_g)
    np.testing.assert_allclose(dense.db, want_g.sum(axis=0))
    np.testing.assert_allclose(dense.b, b0 if lr is None else b0 - lr * want_g.sum(axis=0))
