"""Losses: values and gradients vs PyTorch, fused forms vs unfused, extremes."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import relunet
from relunet import errors
from relunet.core import activations, losses
from relunet.errors import UnknownNameError

RNG = np.random.default_rng(0)


def _onehot(labels, k):
    Y = np.zeros((len(labels), k))
    Y[np.arange(len(labels)), labels] = 1
    return Y


def test_cross_entropy_from_logits_matches_torch():
    z = RNG.normal(size=(7, 5)) * 3
    labels = RNG.integers(0, 5, size=7)
    Y = _onehot(labels, 5)
    loss = losses.get("cross_entropy")
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(labels))
    ref.backward()
    assert loss.value_from_logits(z, Y) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.delta_from_logits(z, Y), zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_bce_from_logits_matches_torch_multilabel():
    z = RNG.normal(size=(6, 3)) * 4
    Y = (RNG.random((6, 3)) > 0.5).astype(float)
    loss = losses.get("bce")
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(Y))
    ref.backward()
    assert loss.value_from_logits(z, Y) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.delta_from_logits(z, Y), zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_mse_matches_torch():
    yhat = RNG.normal(size=(5, 2))
    Y = RNG.normal(size=(5, 2))
    loss = losses.get("mse")
    t = torch.tensor(yhat, requires_grad=True)
    ref = torch.nn.functional.mse_loss(t, torch.tensor(Y))
    ref.backward()
    assert loss.value(yhat, Y) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(yhat, Y), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
def test_unfused_value_and_gradient_match_torch_on_outputs(name):
    loss = losses.get(name)
    z = RNG.normal(size=(4, 3))
    if name == "cross_entropy":
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        Y = _onehot(RNG.integers(0, 3, 4), 3)
        t = torch.tensor(p, requires_grad=True)
        ref = -(torch.tensor(Y) * torch.log(t)).sum() / 4
    else:
        p = 1 / (1 + np.exp(-z))
        Y = (RNG.random((4, 3)) > 0.5).astype(float)
        t = torch.tensor(p, requires_grad=True)
        ref = torch.nn.functional.binary_cross_entropy(t, torch.tensor(Y))
    ref.backward()
    assert loss.value(p, Y) == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(loss.gradient(p, Y), t.grad.numpy(), rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_huge_logits_stay_finite(dtype, scale):
    z = np.array([[scale, -scale, 0.0], [-scale, -scale, scale]], dtype=dtype)
    Y = np.array([[1, 0, 0], [0, 1, 0]], dtype=dtype)
    ce = losses.get("cross_entropy")
    v = ce.value_from_logits(z, Y)
    d = ce.delta_from_logits(z, Y)
    assert np.isfinite(v) and np.all(np.isfinite(d))
    # second row is confidently wrong: loss ~ 2*scale / 2 samples
    assert v == pytest.approx(scale, rel=1e-6)
    assert d.dtype == dtype
    bce = losses.get("bce")
    Yb = np.array([[1, 0, 1], [0, 0, 1]], dtype=dtype)
    assert np.isfinite(bce.value_from_logits(z, Yb))
    assert np.all(np.isfinite(bce.delta_from_logits(z, Yb)))


def test_confident_correct_prediction_has_zero_loss_not_nan():
    z = np.array([[1e4, -1e4]])
    Y = np.array([[1.0, 0.0]])
    assert losses.get("cross_entropy").value_from_logits(z, Y) == 0.0
    # on probabilities with exact zeros: log(0) must not appear
    p = np.array([[1.0, 0.0]])
    assert losses.get("cross_entropy").value(p, Y) == 0.0
    assert np.isfinite(losses.get("cross_entropy").value(p, np.array([[0.0, 1.0]])))
    assert losses.get("bce").value(np.array([[1.0]]), np.array([[1.0]])) == 0.0
    assert losses.get("bce").value(np.array([[1.0]]), np.array([[0.0]])) == pytest.approx(100.0)


def test_registry_unknown_name_lists_known():
    with pytest.raises(UnknownNameError) as exc:
        losses.get("hinge")
    assert "cross_entropy" in str(exc.value) and "mse" in str(exc.value)
    assert losses.get("CE").name == "cross_entropy"


def test_unknown_name_error_survives_pickling():
    # errors raised in joblib / Dask workers are pickled back to the caller
    import pickle

    err = pickle.loads(pickle.dumps(UnknownNameError("loss", "hinge", ["mse", "cross_entropy"])))
    assert isinstance(err, UnknownNameError) and err.known == ["cross_entropy", "mse"]
    assert "hinge" in str(err)


# -- the one fused form: value_and_delta_from_logits ---------------------------------------


@pytest.mark.parametrize("name, output", [("cross_entropy", "softmax"),
                                          ("binary_cross_entropy", "sigmoid"), ("mse", "identity")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_delta_equals_the_chain_rule_through_the_output(name, output, dtype):
    """(L, dL/dz) from the logits equals the generic path: the loss on f(z) and its
    gradient passed back through the output activation's own backward."""
    from relunet.core import activations

    rng = np.random.default_rng(3)
    z = (rng.standard_normal((7, 4)) * 3).astype(dtype)
    if name == "cross_entropy":
        Y = np.eye(4, dtype=dtype)[rng.integers(0, 4, 7)]
    elif name == "binary_cross_entropy":
        Y = (rng.random((7, 4)) < 0.5).astype(dtype)
    else:
        Y = rng.standard_normal((7, 4)).astype(dtype)
    loss, act = losses.get(name), activations.get(output)
    value, delta = loss.value_and_delta_from_logits(z, Y)
    y_pred = act.forward(z)
    chain = act.backward(loss.gradient(y_pred, Y))
    tol = dict(rtol=1e-10, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(delta, chain, **tol)
    assert value == pytest.approx(loss.value(y_pred, Y), rel=tol["rtol"])
    np.testing.assert_allclose(delta, loss.delta_from_logits(z, Y), rtol=1e-15)
    assert value == pytest.approx(loss.value_from_logits(z, Y), rel=tol["rtol"])
    assert delta.dtype == dtype


def test_fused_cross_entropy_writes_into_the_given_work_arrays():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 3))
    Y = np.eye(3)[rng.integers(0, 3, 5)]
    out, col, tmp = np.empty((5, 3)), np.empty((5, 1)), np.empty((5, 3))
    loss = losses.get("cross_entropy")
    value, delta = loss.value_and_delta_from_logits(z, Y, out=out, col=col, tmp=tmp)
    assert delta is out
    v2, d2 = loss.value_and_delta_from_logits(z, Y)
    assert value == v2
    np.testing.assert_array_equal(delta, d2)


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_loss_with_targets_of_another_shape(name):
    loss = relunet.losses.get(name)
    out = np.array([[0.2], [0.7], [0.9]])
    with pytest.raises(errors.DataError, match=r"\(3, 1\).*\(3,\)"):
        loss.value(out, np.array([0.0, 1.0, 1.0]))  # would broadcast to (3, 3)
    with pytest.raises(errors.DataError):
        loss.gradient(out, np.array([0.0, 1.0, 1.0]))
    assert np.isfinite(loss.value(out, np.array([[0.0], [1.0], [1.0]])))


def test_cross_entropy_on_class_indices_equals_one_hot():
    ce = losses.get("cross_entropy")
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 5)) * 30
    y = rng.integers(0, 5, 6)
    onehot = np.eye(5)[y]
    idx = y[:, None].astype(np.float64)
    v1, d1 = ce.value_and_delta_from_logits(z, onehot)
    v2, d2 = ce.value_and_delta_from_logits(z, idx)
    assert v1 == pytest.approx(v2, rel=1e-14) and np.allclose(d1, d2, rtol=0, atol=1e-16)
    assert ce.value_from_logits(z, idx) == pytest.approx(v1, rel=1e-13)
    p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    assert ce.value(p, idx) == pytest.approx(ce.value(p, onehot))
    np.testing.assert_allclose(ce.gradient(p, idx), ce.gradient(p, onehot))


@pytest.mark.parametrize("output,loss,cannot", [
    ("identity", "binary_cross_entropy", True), ("tanh", "binary_cross_entropy", True),
    ("relu", "cross_entropy", True), ("sigmoid", "binary_cross_entropy", False),
    ("softmax", "cross_entropy", False), ("identity", "mse", False), ("hardsigmoid", "binary_cross_entropy", False),
])
def test_log_of_non_probabilities_is_the_output_and_loss_that_cannot_train(output, loss, cannot):
    pairing = losses.log_of_non_probabilities(activations.get(output), losses.get(loss))
    assert (pairing is not None) == cannot
    if cannot:
        assert pairing.rule == "output-loss-mismatch" and f"output='{losses.get(loss).output}'" in pairing.fix
        assert output in pairing.why


def test_is_probability_range():
    assert losses.is_probability_range("(0, 1)") and losses.is_probability_range("[0, 1]")
    assert not losses.is_probability_range("(-inf, inf)") and not losses.is_probability_range("(-1, 1)")


@pytest.mark.parametrize("name", ["mse", "poisson"])
def test_float32_mean_whose_sum_overflows_is_finite(name):
    """64 float32 terms of ~1e37 summed to inf in float32 (torch gives inf too) although
    their mean is a float32 number: the loss was inf and training stopped as diverged."""
    loss = losses.get(name)
    if name == "mse":
        out, Y, expected = np.full((64, 1), 3e18, np.float32), np.zeros((64, 1), np.float32), 9e36
    else:
        out, Y = np.full((64, 1), 85.0, np.float32), np.zeros((64, 1), np.float32)
        expected = float(np.exp(np.float32(85.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert loss.value(out, Y) == pytest.approx(expected, rel=1e-6)
        assert loss.value_from_logits(out, Y) == pytest.approx(expected, rel=1e-6)


LOGITS = [1e4, -1e4, 100.0, -100.0, 40.0, -40.0, 0.0, 1e-30]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_at_extreme_logits_equal_torch(dtype):
    """Value and delta from logits against torch in the same dtype: one-hot, soft and 0/1
    targets, logits up to +-1e4 (cross-entropy, binary cross-entropy, MSE, Poisson)."""
    tol = 1e-5 if dtype == np.float32 else 1e-12
    rng = np.random.default_rng(0)
    z = np.array([rng.permutation(LOGITS)[:3] for _ in range(6)], dtype=dtype)
    one_hot = np.eye(3, dtype=dtype)[[0, 1, 2, 0, 1, 2]]
    soft = rng.dirichlet(np.ones(3), 6).astype(dtype)
    cases = [("cross_entropy", one_hot, lambda t, y: F.cross_entropy(t, y)),
             ("cross_entropy", soft, lambda t, y: F.cross_entropy(t, y)),
             ("binary_cross_entropy", one_hot, F.binary_cross_entropy_with_logits),
             ("binary_cross_entropy", soft, F.binary_cross_entropy_with_logits),
             ("mse", soft, F.mse_loss),
             ("poisson", soft * 5, lambda t, y: F.poisson_nll_loss(t, y, log_input=True))]
    for name, Y, tfn in cases:
        zz = np.clip(z, -80, 80) if name == "poisson" else z
        t = torch.tensor(zz, requires_grad=True)
        ref = tfn(t, torch.tensor(Y))
        ref.backward()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            value, delta = losses.get(name).value_and_delta_from_logits(zz, Y)
        assert value == pytest.approx(ref.item(), rel=tol, abs=tol), name
        np.testing.assert_allclose(delta, t.grad.numpy(), rtol=tol, atol=tol * 1e-3, err_msg=name)
        assert delta.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_on_saturated_probabilities_is_finite_and_clamped_as_torch(dtype):
    """p = 0 or 1 (a saturated output): the value is torch's BCELoss (log clamped at -100);
    the gradient, where torch clamps p (1 - p) at 1e-12, clips p to [eps, 1 - eps] of
    the dtype: finite, and (p - y) / (p (1 - p)) there (the exact 1 for p = y = 0)."""
    bce = losses.get("binary_cross_entropy")
    p = np.array([[0.0, 1.0, 0.0, 1.0]], dtype=dtype)
    Y = np.array([[0.0, 1.0, 1.0, 0.0]], dtype=dtype)
    ref = F.binary_cross_entropy(torch.tensor(p), torch.tensor(Y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert bce.value(p, Y) == pytest.approx(ref.item(), rel=1e-6)
        g = bce.gradient(p, Y)
    eps = np.finfo(dtype).eps
    assert np.all(np.isfinite(g)) and g.dtype == dtype
    np.testing.assert_allclose(g[0, 2:] * 4, [-1 / eps, 1 / eps], rtol=1e-6)
