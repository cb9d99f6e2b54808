"""`relunet explain` and `relunet trace` from the command line."""

import json
import os

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.core import activations
from relunet.core import losses
from relunet.cli import main
from relunet.insight.explain import explain
from relunet.insight import explain as explain_module

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("name", activations.names())
def test_every_activation_is_explained_from_its_catalog_entry(name):
    text = explain(name)
    props = activations.ACTIVATIONS[name].properties
    for needle in (props.formula, props.derivative, props.output_range, props.reference):
        assert needle in text
    assert ("saturating      yes" in text) == props.saturating
    assert ("zero-centred    yes" in text) == props.zero_centred


def test_relu_kink_and_dying_units_are_explained():
    text = explain("relu")
    assert "f'(0) = 0" in text and "PyTorch" in text and "dying" in text.lower()


@pytest.mark.parametrize("name", losses.names())
def test_every_loss_is_explained(name):
    text = explain(name)
    assert losses.get(name).output in text and "dL/dz" in text


def test_no_name_gives_the_output_layer_table(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert "binary" in rows and "real" in rows
    assert "sigmoid" in out and "softmax" in out and "binary_cross_entropy" in out
    assert "XOR is a classification problem" in out


def test_explain_unknown_name_exits_2_listing_names(capsys):
    assert main(["explain", "relux"]) == 2
    err = capsys.readouterr().err
    assert "relux" in err and "leaky_relu" in err and "cross_entropy" in err


def test_explain_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "elu.png"
    assert main(["explain", "elu", "--plot", str(out)]) == 0
    import matplotlib.image

    img = matplotlib.image.imread(out)
    assert img.ndim == 3 and img.std() > 0


def test_trace_cli_json_matches_real_numbers(capsys):
    assert main(["trace", "--data", "xor", "--hidden", "3", "--samples", "4", "--steps", "2",
                 "--lr", "0.5", "--format", "json", "--dtype", "float64"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["steps"]) == 2 and data["lr"] == 0.5
    s0, s1 = data["steps"]
    # step 2 starts from the weights step 1 left
    for l0, l1 in zip(s0["layers"], s1["layers"]):
        np.testing.assert_allclose(np.add(l0["W_before"], l0["update_W"]), l1["W_before"], rtol=1e-12)
    assert np.asarray(s0["layers"][0]["input"]).shape == (4, 2)


def test_trace_cli_text_and_bad_arguments(capsys):
    assert main(["trace", "--precision", "3", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "z1 = a0 W1 + b1" in out and "delta1 = (delta2 W2^T) * f'(z1)" in out
    assert main(["trace", "--steps", "0"]) == 2
    assert main(["trace", "--format", "yaml"]) == 2


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def test_teaching_and_plot_api_argument_types(tmp_path):
    from relunet.insight import explain
    from relunet.insight import plots
    from relunet.insight import trace

    with pytest.raises(errors.UnknownNameError):
        explain.explain(123)
    tr = trace.trace_steps(_xor_net(), XOR_X, XOR_Y, lr=0.5)
    with pytest.raises(errors.ConfigError, match="precision"):
        trace.render(tr, "text", -1)
    for ncols in (0, -1):
        with pytest.raises(errors.ConfigError, match="ncols"):
            plots.plot_activations(["relu"], tmp_path / "a.png", ncols=ncols)
    assert os.listdir(tmp_path) == []


def test_explain_does_not_call_a_smooth_activation_non_differentiable():
    # ELU with its default alpha = 1 is continuously differentiable (f'(0-) = f'(0+) = 1);
    # the explanation said "smooth yes" and then "f is not differentiable there"
    text = explain_module.explain("elu")
    assert "smooth          yes" in text
    assert "not differentiable there" not in text
    # a real kink keeps the paragraph
    assert "not differentiable there" in explain_module.explain("relu")


def test_explain_kink_paragraph_does_not_promise_bit_for_bit():
    # hardsigmoid's f' is the exact 1/6; torch's float64 kernel uses the float32 constant
    # (differs by 5e-9): "agree with torch autograd bit for bit" was not true
    assert "bit for bit" not in explain_module.explain("hardsigmoid")


def test_output_guide_deltas_match_the_losses():
    # MSE averages over all N K elements (losses.MeanSquaredError.gradient: 2 / Y.size);
    # the guide said "2 (y_hat - y) / N" for "1 or K" units, explain mse "/ (N K)"
    guide = explain_module.output_guide()
    assert "2 (y_hat - y) / N\n" not in guide and "2 (y_hat - y) / (N K)" in guide
    assert "2 (y_hat - y) / (N K)" in explain_module.explain("mse")
    Y = np.zeros((3, 2))
    y_hat = np.ones((3, 2))
    from relunet.core import losses
    np.testing.assert_allclose(losses.get("mse").gradient(y_hat, Y), 2 * (y_hat - Y) / Y.size)


def test_explain_step_does_not_claim_an_initialisation_it_never_uses():
    text = explain_module.explain("step")
    assert "xavier" not in text and "zero weights" in text


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_numerics_line_holds_at_logits_of_1e30(name, dtype):
    """`relunet explain cross_entropy` says logits up to 1e30 give a finite loss and delta:
    the fused pass the network trains with, against PyTorch's from-logits losses."""
    import torch
    import torch.nn.functional as F

    assert "1e30" in explain(name)
    z = np.array([[1e30, 0.0, -1e30], [-1e30, 1e30, 3.0]], dtype=dtype)
    Y = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (exp underflows to 0: fine)
        value, delta = losses.get(name).value_and_delta_from_logits(z, Y)
    assert np.isfinite(value) and np.isfinite(delta).all()
    zt = torch.tensor(z.astype(np.float64), requires_grad=True)
    ref = (F.cross_entropy(zt, torch.tensor(Y.argmax(1))) if name == "cross_entropy"
           else F.binary_cross_entropy_with_logits(zt, torch.tensor(Y.astype(np.float64))))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-6)
    np.testing.assert_allclose(delta, zt.grad.numpy(), rtol=1e-6, atol=1e-12)
