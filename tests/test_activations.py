"""Tests of the activation catalog: derivatives by finite differences (float64) first,
PyTorch's ``torch.nn.functional`` second, then numerics, RReLU/PReLU and the registry.

Every test that walks the catalog is parametrized over ``activations.names()`` (or over
``CASES``, which must cover every name), so a new activation cannot skip them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import relunet
from relunet import errors
from relunet.core import activations as A
from relunet.errors import ConfigError, NonDifferentiableError, UnknownNameError

REQUIRED = [
    "identity", "step", "sign", "sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu",
    "rrelu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign",
    "hardtanh", "hardsigmoid", "hardswish", "logsigmoid", "softmax", "log_softmax",
]


def _torch_hierarchical_softmax(x):
    """The balanced tree's class probabilities in torch: prod over each path of sigmoid(+-x_j)."""
    from relunet.core.tree import Tree

    tree = Tree.balanced(x.shape[-1])
    signs = torch.as_tensor(tree.signs, dtype=x.dtype)
    margins = x[..., torch.as_tensor(tree.nodes)] * signs
    return torch.exp((F.logsigmoid(margins) * (signs != 0)).sum(-1))


def _heaviside(x):
    return torch.heaviside(x, torch.zeros((), dtype=x.dtype))


# (name, relunet params, the same function in torch); defaults and non-default settings.
CASES = [
    ("identity", {}, lambda x: x),
    ("step", {}, _heaviside),
    ("sign", {}, torch.sign),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("relu", {}, F.relu),
    ("relu6", {}, F.relu6),
    ("leaky_relu", {}, F.leaky_relu),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: F.leaky_relu(x, 0.2)),
    ("leaky_relu", {"negative_slope": -0.5}, lambda x: F.leaky_relu(x, -0.5)),
    ("leaky_relu", {"negative_slope": 1.5}, lambda x: F.leaky_relu(x, 1.5)),
    ("prelu", {}, lambda x: F.prelu(x, torch.tensor([0.25], dtype=x.dtype))),
    ("prelu", {"init": -0.7}, lambda x: F.prelu(x, torch.tensor([-0.7], dtype=x.dtype))),
    ("rrelu", {}, lambda x: F.rrelu(x, training=False)),
    ("rrelu", {"lower": 0.05, "upper": 0.6}, lambda x: F.rrelu(x, 0.05, 0.6, training=False)),
    ("elu", {}, F.elu),
    ("elu", {"alpha": 0.5}, lambda x: F.elu(x, 0.5)),
    ("selu", {}, F.selu),
    ("celu", {}, F.celu),
    ("celu", {"alpha": 2.0}, lambda x: F.celu(x, 2.0)),
    ("gelu", {}, F.gelu),
    ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
    ("silu", {}, F.silu),
    ("mish", {}, F.mish),
    ("softplus", {}, F.softplus),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, lambda x: F.softplus(x, 2.0, 5.0)),
    ("softsign", {}, F.softsign),
    ("hardtanh", {}, F.hardtanh),
    ("hardtanh", {"min_val": -2.0, "max_val": 3.0}, lambda x: F.hardtanh(x, -2.0, 3.0)),
    ("hardsigmoid", {}, F.hardsigmoid),
    ("hardswish", {}, F.hardswish),
    ("logsigmoid", {}, F.logsigmoid),
    ("softmax", {}, lambda x: F.softmax(x, dim=-1)),
    ("log_softmax", {}, lambda x: F.log_softmax(x, dim=-1)),
    ("hierarchical_softmax", {}, _torch_hierarchical_softmax),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'default'}" for n, p, _ in CASES]
ELEMENTWISE = [c for c in CASES if A.ACTIVATIONS[c[0]].elementwise]
ELEMENTWISE_IDS = [i for c, i in zip(CASES, CASE_IDS) if A.ACTIVATIONS[c[0]].elementwise]


def make(name: str, params: dict) -> A.Activation:
    act = A.get(name, **params)
    if name == "rrelu":
        act.eval()  # deterministic: the training mode has its own tests below
    return act


def test_cases_cover_the_whole_registry():
    assert {n for n, _, _ in CASES} == set(A.names())


# ---------------------------------------------------------------------------
# 1. Finite differences (float64)
# ---------------------------------------------------------------------------

FD_POINTS = np.array([0.0, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0, 7.0, -7.0, 50.0, -50.0])


def _central_difference(f, x: np.ndarray) -> np.ndarray:
    h = 1e-6 * np.maximum(np.abs(x), 1e-2)
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name,params,_", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_derivative_and_backward_match_finite_differences(name, params, _):
    act = make(name, params)
    x = np.array([p for p in FD_POINTS if p not in act.kinks()])
    numeric = _central_difference(act.fn, x)
    analytic = act.derivative(x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-10)
    if act.differentiable:
        g = np.linspace(-2.0, 2.0, x.size)
        act.forward(x)
        np.testing.assert_allclose(act.backward(g), g * analytic, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_vjp_matches_finite_differences(name):
    rng = np.random.default_rng(1)
    act = A.get(name)
    x = np.array([[0.0, 1e-3, -1e-3, 3.0, -3.0], [50.0, -50.0, 0.0, 2.0, 49.0], [0.3, -1.2, 0.7, 0.0, 1.1]])
    g = rng.standard_normal(x.shape)
    act.forward(x)
    analytic = act.backward(g)
    numeric = np.zeros_like(x)
    h = 1e-6
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        numeric[idx] = (np.sum(g * act.fn(x + e)) - np.sum(g * act.fn(x - e))) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# 2. PyTorch (float64), defaults and non-default parameters, kinks included
# ---------------------------------------------------------------------------

def _grid(act: A.Activation) -> np.ndarray:
    special = [0.0, 1e-3, -1e-3, 3.0, -3.0, 6.0, -6.0, 20.0, -20.0, 50.0, -50.0, 2.5, 5.0]
    pts = np.concatenate([np.linspace(-10.0, 10.0, 2001), special, act.kinks()])
    return pts.reshape(-1, 1) * np.ones((1, 3))  # (n_samples, 3 units)


def _torch_forward_backward(tfn, x: np.ndarray, g: np.ndarray, differentiable=True):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=differentiable)
    yt = tfn(xt)
    if not differentiable:
        return yt.detach().numpy(), None
    yt.backward(torch.tensor(g, dtype=torch.float64))
    return yt.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name,params,tfn", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_elementwise_forward_and_backward_equal_torch(name, params, tfn):
    act = make(name, params)
    x = _grid(act)
    g = np.random.default_rng(0).standard_normal(x.shape)
    # torch has no autograd for heaviside; sign's autograd gives 0 everywhere
    y_ref, gx_ref = _torch_forward_backward(tfn, x, g, differentiable=name != "step")
    y = act.forward(x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-12)
    if act.differentiable:
        np.testing.assert_allclose(act.backward(g), gx_ref, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(g * act.derivative(x), gx_ref, rtol=1e-6, atol=1e-12)
    elif gx_ref is not None:
        np.testing.assert_array_equal(act.derivative(x) * g, gx_ref)


@pytest.mark.parametrize("name,params,tfn", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_derivative_at_the_kinks_is_torchs_choice(name, params, tfn):
    act = make(name, params)
    kinks = np.array(act.kinks(), dtype=np.float64)
    if kinks.size == 0 or name == "step":
        assert name != "step" or np.all(act.derivative(np.array([0.0])) == 0)
        return
    xt = torch.tensor(kinks, requires_grad=True)
    tfn(xt).sum().backward()
    np.testing.assert_allclose(act.derivative(kinks), xt.grad.numpy(), rtol=1e-12, atol=0)


def test_documented_kink_values():
    """The values that surprise: one line each, read off torch 2.13's autograd."""
    d = lambda name, x, **p: float(make(name, p).derivative(np.array([x]))[0])  # noqa: E731
    assert d("relu", 0.0) == 0.0
    assert d("leaky_relu", 0.0) == 0.01  # the slope, not 1
    assert d("relu6", 0.0) == 0.0 and d("relu6", 6.0) == 0.0
    assert d("hardtanh", -1.0) == 0.0 and d("hardtanh", 1.0) == 0.0
    assert d("hardsigmoid", -3.0) == 0.0 and d("hardsigmoid", 3.0) == 0.0
    assert d("hardswish", -3.0) == 0.0 and d("hardswish", 3.0) == 1.0
    assert d("elu", 0.0, alpha=0.5) == 0.5  # the left derivative alpha e^0
    assert d("celu", 0.0, alpha=2.0) == 1.0
    assert d("selu", 0.0) == pytest.approx(1.0507009873554805 * 1.6732632423543772)
    assert d("rrelu", 0.0) == pytest.approx((1 / 8 + 1 / 3) / 2)


@pytest.mark.parametrize("name", ["step", "sign"])
def test_step_and_sign_derivative_text_says_what_derivative_returns_at_0(name):
    """The catalog's f' text and kink text agree with each other and with derivative(0)."""
    props = A.ACTIVATIONS[name].properties
    assert "relunet uses 0" in props.derivative and "f' = 0 everywhere, at 0 too" in props.kink
    assert np.all(A.get(name).derivative(np.array([-2.0, 0.0, 3.0])) == 0)


def test_gelu_catalog_states_the_tanh_form_and_its_distance_from_the_exact_one():
    props = A.ACTIVATIONS["gelu"].properties
    assert "0.044715" in props.formula and "0.134145" in props.derivative  # 3 * 0.044715
    assert 3 * 0.044715 == pytest.approx(0.134145)
    x = np.linspace(-10.0, 10.0, 200_001)
    exact, approx = A.get("gelu"), A.get("gelu", approximate="tanh")
    f_gap = np.abs(exact.fn(x) - approx.fn(x)).max()
    d_gap = np.abs(exact.derivative(x) - approx.derivative(x)).max()
    assert 4.7e-4 < f_gap <= 4.8e-4 and 8.6e-4 < d_gap <= 8.7e-4  # "within 4.8e-4 (8.7e-4 of f')"
    assert "within 4.8e-4 of the exact f (8.7e-4 of f')" in props.problems
    # the stated tanh derivative is the one computed (and torch's: see the parametrized checks)
    u = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    stated = (1 + np.tanh(u)) / 2 + x / 2 * (1 - np.tanh(u) ** 2) * np.sqrt(2 / np.pi) * (1 + 0.134145 * x**2)
    np.testing.assert_allclose(approx.derivative(x), stated, rtol=1e-12, atol=1e-13)


def test_relu_problems_name_the_activations_that_cannot_die():
    problems = A.ACTIVATIONS["relu"].properties.problems
    for name in ("leaky_relu", "prelu", "rrelu"):
        assert name in problems
        act = A.get(name)  # a real catalog name, whose slope below 0 is > 0: no dead unit
        assert act.derivative(np.array([-5.0, 0.0]))[0] > 0
    assert "negative_slope" in problems and "relunet diagnose" in problems
    assert "per_unit" in A.ACTIVATIONS["prelu"].properties.formula
    import relunet
    net = relunet.MLP([2, 4, 1], activation=("prelu", {"num_parameters": "per_unit"}), seed=0)
    assert net.layers[1].activation.weight.shape == (4,)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_forward_and_vjp_equal_torch(name):
    tfn = dict((n, f) for n, _, f in CASES)[name]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 7)) * 10
    x[0] = [0, 0, 0, 0, 0, 0, 0]
    x[1] = [1e4, -1e4, 0, 3, -3, 50, -50]
    g = rng.standard_normal(x.shape)
    y_ref, gx_ref = _torch_forward_backward(tfn, x, g)
    act = A.get(name)
    np.testing.assert_allclose(act.forward(x), y_ref, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(act.backward(g), gx_ref, rtol=1e-6, atol=1e-12)
    with pytest.raises(TypeError, match="not element-wise"):
        act.derivative(x)


# ---------------------------------------------------------------------------
# 3. Extremes and dtypes
# ---------------------------------------------------------------------------

EXTREMES = np.array([-1e30, -1e10, -1e4, -800.0, -100.0, -50.0, -1e-30, 0.0, 1e-30, 50.0, 100.0, 800.0, 1e4, 1e10, 1e30])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params,_", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_extremes_are_finite_silent_and_keep_the_dtype(name, params, _, dtype):
    act = make(name, params).astype(dtype)
    x = EXTREMES.astype(dtype).reshape(-1, 1)
    g = np.ones_like(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act.forward(x)
        d = act.derivative(x)
        gx = act.backward(g) if act.differentiable else d
    for arr in (y, d, gx):
        assert arr.dtype == dtype
        assert np.all(np.isfinite(arr))


@pytest.mark.parametrize("name,params,_", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_float32_agrees_with_float64(name, params, _):
    act = make(name, params)
    x = _grid(act)[:, :1]
    y64, d64 = act.fn(x), act.derivative(x)
    act32 = make(name, params).astype(np.float32)
    x32 = x.astype(np.float32)
    # compare where float32 rounding of x does not move it across a kink
    ok = (x32.astype(np.float64) == x)[:, 0]
    np.testing.assert_allclose(act32.fn(x32)[ok], y64[ok], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(act32.derivative(x32)[ok], d64[ok], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_huge_logits(name, dtype):
    x = np.array([[1e30, -1e30, 0.0], [1e4, -1e4, 1e4], [-1e30, -1e30, -1e30],
                  [-1e4, -1e4, 1e4], [1e30, 1e30, -1e30]], dtype=dtype)
    act = A.get(name)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act.forward(x)
        gx = act.backward(np.ones_like(x))
    assert y.dtype == dtype and gx.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(gx))
    p = y if name == "softmax" else np.exp(y)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p[:, 0], [1.0, 0.5, 1 / 3, 0.0, 0.5], atol=1e-7)
    ref = getattr(F, name)(torch.tensor(x.astype(np.float64)), dim=-1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-6)


@pytest.mark.parametrize("name", [n for n in A.names() if n != "identity" and A.ACTIVATIONS[n].differentiable])
def test_backward_before_forward_is_a_clear_error(name):
    with pytest.raises(RuntimeError, match="before forward"):
        A.get(name).backward(np.ones((2, 3)))


def test_integer_input_becomes_float64():
    y = A.get("relu").forward(np.array([-2, 0, 3]))
    assert y.dtype == np.float64 and y.tolist() == [0.0, 0.0, 3.0]


# ---------------------------------------------------------------------------
# 4. RReLU and PReLU
# ---------------------------------------------------------------------------

def test_rrelu_training_slopes_are_uniform_per_element_and_used_by_backward():
    act = A.get("rrelu", lower=0.1, upper=0.3, rng=np.random.default_rng(0))
    x = -np.linspace(0.5, 2.0, 4000).reshape(200, 20)
    x[0, :5] = [1.0, 2.0, 3.0, 0.5, 7.0]
    y = act.forward(x)
    neg = x < 0
    slopes = y[neg] / x[neg]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert len(np.unique(slopes)) == slopes.size  # one draw per element
    assert abs(slopes.mean() - 0.2) < 0.005 and abs(slopes.std() - 0.2 / np.sqrt(12)) < 0.005
    np.testing.assert_array_equal(y[~neg], x[~neg])
    gx = act.backward(np.full_like(x, 2.0))
    np.testing.assert_allclose(gx[neg], 2.0 * slopes, rtol=1e-15)
    np.testing.assert_array_equal(gx[~neg], 2.0)
    assert not np.array_equal(act.forward(x), y)  # a new draw at each forward


def test_rrelu_slope_at_zero_in_training_is_the_drawn_slope():
    act = A.get("rrelu", rng=np.random.default_rng(3))
    act.forward(np.zeros((4, 4)))
    d = act.backward(np.ones((4, 4)))
    assert np.all((d >= 1 / 8) & (d <= 1 / 3))


def test_rrelu_is_reproducible_with_a_seeded_rng():
    x = np.random.default_rng(5).standard_normal((30, 10))
    runs = [A.get("rrelu", rng=np.random.default_rng(seed)).forward(x) for seed in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    act = A.get("rrelu")
    act.rng = np.random.default_rng(7)  # what MLP does
    np.testing.assert_array_equal(act.forward(x), runs[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_training_keeps_the_dtype_at_extremes(dtype):
    act = A.get("rrelu", rng=np.random.default_rng(1))
    x = EXTREMES.astype(dtype)
    with np.errstate(over="raise", invalid="raise"):
        y, gx = act.forward(x), act.backward(np.ones_like(x))
    assert y.dtype == dtype and gx.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all((gx == 1) | ((gx >= 1 / 8) & (gx <= 1 / 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_eval_equals_torch_eval_exactly(dtype):
    x = np.random.default_rng(4).standard_normal((100, 8)).astype(dtype) * 5
    x[0, 0] = 0.0
    for lower, upper in [(1 / 8, 1 / 3), (0.05, 0.6)]:
        act = A.get("rrelu", lower=lower, upper=upper).eval()
        ref = F.rrelu(torch.from_numpy(x), lower, upper, training=False).numpy()
        y = act.forward(x)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, ref)
        np.testing.assert_array_equal(act.forward(x), y)  # deterministic


def _torch_prelu(x, weight, g):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    yt = F.prelu(xt, wt)
    yt.backward(torch.tensor(g))
    return yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@pytest.mark.parametrize("shape,num_parameters", [((40, 6), 1), ((40, 6), 6), ((10, 4, 5), 4)])
def test_prelu_forward_input_and_slope_gradients_equal_torch(shape, num_parameters):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape) * 3
    x.flat[:3] = 0.0
    g = rng.standard_normal(shape)
    act = A.get("prelu", num_parameters=num_parameters)
    np.testing.assert_array_equal(act.weight, np.full(num_parameters, 0.25))
    act.weight[...] = rng.uniform(-0.5, 0.8, num_parameters)  # as an optimizer would
    grad_ref = act.gradients()[0]
    y_ref, gx_ref, gw_ref = _torch_prelu(x, act.weight.copy(), g)
    np.testing.assert_allclose(act.forward(x), y_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.backward(g), gx_ref, rtol=1e-12, atol=1e-15)
    assert act.gradients()[0] is grad_ref and act.parameters()[0] is act.weight
    assert act.gradients()[0].shape == (num_parameters,)
    np.testing.assert_allclose(act.gradients()[0], gw_ref, rtol=1e-10, atol=1e-12)


def test_prelu_slope_gradient_matches_finite_differences():
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    act = A.get("prelu", num_parameters=3)
    act.forward(x)
    act.backward(g)
    analytic = act.gradients()[0].copy()
    numeric = np.zeros(3)
    for c in range(3):
        for sign in (1, -1):
            act.weight[c] += sign * 1e-6
            numeric[c] += sign * np.sum(g * act.fn(x)) / 2e-6
            act.weight[c] -= sign * 1e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_prelu_dtype_and_shape_errors():
    act = A.get("prelu", num_parameters=4).astype(np.float32)
    assert act.weight.dtype == np.float32 and act.gradients()[0].dtype == np.float32
    x = np.ones((2, 4), dtype=np.float32)
    assert act.forward(-x).dtype == np.float32
    assert act.backward(x).dtype == np.float32
    with pytest.raises(ConfigError, match="4 slopes"):
        act.forward(np.ones((2, 5), dtype=np.float32))


# ---------------------------------------------------------------------------
# 5. Step and sign: no gradient, a clear error
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["step", "sign"])
def test_step_and_sign_refuse_backpropagation(name):
    act = A.get(name)
    assert act.differentiable is False
    y = act.forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0] if name == "step" else [-1.0, 0.0, 1.0])
    with pytest.raises(NonDifferentiableError) as info:
        act.backward(np.ones(3))
    message = str(info.value)
    assert "perceptron" in message and "sigmoid" in message and name in message


# ---------------------------------------------------------------------------
# 6. Registry and properties
# ---------------------------------------------------------------------------

def test_names_contains_every_required_activation():
    assert set(REQUIRED) <= set(A.names())
    assert A.names() == sorted(A.names())


@pytest.mark.parametrize("name", A.names())
def test_get_returns_a_fresh_instance_that_config_rebuilds(name):
    a, b = A.get(name), A.get(name)
    assert a is not b and type(a) is type(b) and a.name == name
    assert A.get(a) is a
    for _, params, _ in [c for c in CASES if c[0] == name]:
        act = A.get(name, **params)
        rebuilt = A.get(name, **act.config())
        assert rebuilt.config() == act.config()
        assert set(params) <= set(act.config())
    if name == "prelu":
        a.weight[0] = 9.0
        assert b.weight[0] == 0.25


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as info:
        A.get("rectifier")
    message = str(info.value)
    assert "rectifier" in message
    for name in REQUIRED:
        assert name in message
    with pytest.raises(ConfigError):
        A.get(3.5)
    with pytest.raises(ConfigError):
        A.get(A.get("relu"), alpha=1.0)


@pytest.mark.parametrize("alias,cls", [
    ("linear", A.Identity), ("heaviside", A.Step), ("logistic", A.Sigmoid), ("swish", A.SiLU),
    ("lrelu", A.LeakyReLU), ("Leaky-ReLU", A.LeakyReLU), ("LogSoftmax", A.LogSoftmax),
    ("hard_swish", A.Hardswish), ("RELU", A.ReLU),
])
def test_aliases(alias, cls):
    assert type(A.get(alias)) is cls
    assert A.canonical_name(alias) == cls.name


@pytest.mark.parametrize("name,params", [
    ("rrelu", {"lower": 0.5, "upper": 0.1}),
    ("rrelu", {"rng": 42}),
    ("celu", {"alpha": 0.0}),
    ("celu", {"alpha": -1.0}),
    ("softplus", {"beta": 0.0}),
    ("softplus", {"beta": -1.0}),
    ("softplus", {"threshold": float("nan")}),
    ("hardtanh", {"min_val": 2.0, "max_val": 1.0}),
    ("gelu", {"approximate": "fast"}),
    ("prelu", {"num_parameters": 0}),
    ("prelu", {"num_parameters": 2.5}),
    ("prelu", {"num_parameters": True}),
    ("leaky_relu", {"negative_slope": "0.1"}),
    ("elu", {"alpha": float("inf")}),
    ("relu", {"alpha": 1.0}),
    ("softmax", {"dim": 0}),
])
def test_bad_hyper_parameters_raise_config_error(name, params):
    with pytest.raises(ConfigError, match=name):
        A.get(name, **params)


def _default_instance(name):
    return make(name, {})


@pytest.mark.parametrize("name", A.names())
def test_properties_are_complete(name):
    cls = A.ACTIVATIONS[name]
    props = cls.properties
    for field in dataclasses.fields(props):
        value = getattr(props, field.name)
        if field.type in ("bool", bool):
            assert isinstance(value, bool), field.name
        elif field.name != "kink":
            assert isinstance(value, str) and value.strip(), field.name
    assert len(props.reference) > 10 and any(ch.isdigit() for ch in props.reference)
    assert cls.init in ("he", "xavier", "lecun")
    assert cls.__doc__ and "math::" in cls.__doc__ and "Shape:" in cls.__doc__
    if not props.smooth:
        assert props.kink
    elif name != "elu":  # ELU is smooth only for its default alpha = 1
        assert not props.kink  # `relunet explain` reads a kink text as "f has a kink"


@pytest.mark.parametrize("name", [n for n in A.names() if A.ACTIVATIONS[n].elementwise])
def test_properties_agree_with_the_function(name):
    """The properties are data, so they are checked against the function itself."""
    act = _default_instance(name)
    props = act.properties
    x = np.linspace(-12.0, 12.0, 4801)
    y = act.fn(x)
    assert props.monotonic == bool(np.all(np.diff(y) >= 0))
    assert props.zero_centred == bool(np.allclose(act.fn(-x), -y))
    far = act.derivative(np.array([-1e6, 1e6]))
    assert props.saturating == bool(np.all(np.abs(far) < 1e-6))
    if name == "softplus":  # smooth, but torch's threshold switch is a (2e-9) jump
        assert props.smooth and act.kinks() == (20.0,)
    else:
        assert props.smooth == (len(act.kinks()) == 0)


def test_init_follows_the_family():
    for name in ["relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "celu", "gelu", "silu", "mish"]:
        assert A.ACTIVATIONS[name].init == "he", name
    assert A.ACTIVATIONS["selu"].init == "lecun"
    for name in ["tanh", "sigmoid", "softsign", "hardtanh", "identity", "softmax"]:
        assert A.ACTIVATIONS[name].init == "xavier", name


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "leaky_relu", "elu"])
def test_activation_forward_backward_on_python_lists(name):
    act = relunet.activations.get(name)
    out = act.forward([-2.0, 0.5, 7.0])
    grad = act.backward([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(grad, act.derivative(np.array([-2.0, 0.5, 7.0])))
    assert out.shape == (3,)


def test_activation_misuse_raises_relunet_errors():
    with pytest.raises(errors.CallOrderError):
        relunet.activations.get("relu").backward(np.ones(3))
    for name in ("softmax", "log_softmax"):
        with pytest.raises(errors.NotElementwiseError, match="backward"):
            relunet.activations.get(name).derivative(np.ones(3))
    assert issubclass(errors.CallOrderError, RuntimeError) and issubclass(errors.NotElementwiseError, TypeError)


def test_prelu_keeps_float32_outside_a_network():
    a = A.get("prelu")
    x = np.array([[-1.0, 0.5]], dtype=np.float32)
    assert a.forward(x).dtype == np.float32
    assert a.backward(np.ones_like(x)).dtype == np.float32
    assert a.derivative(x).dtype == np.float32


@pytest.mark.parametrize("spec", [("elu", {"alpha": 1e308}), ("leaky_relu", {"negative_slope": 1e308}),
                                  ("prelu", {"init": -1e308}), ("softplus", {"beta": 1e-308}),
                                  ("rrelu", {"lower": -1e308, "upper": 0.5}), ("celu", {"alpha": 10**400})])
def test_settings_beyond_the_finite_range_are_refused_by_name(spec):
    """1e308 used to predict NaN (ELU) or raise OverflowError from the initialiser (leaky)."""
    name, config = spec
    with pytest.raises(ConfigError, match=f"{next(iter(config))} must be (within|finite)"):
        relunet.MLP([2, 3, 2], activation=(name, config), seed=0)
