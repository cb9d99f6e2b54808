"""`relunet explain` and `relunet trace` from the command line."""

import json

import numpy as np
import pytest

from relunet.core import activations
from relunet.core import losses
from relunet.cli import main
from relunet.insight.explain import explain


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
