"""`relunet export` on the command line."""

from relunet.cli import main
from cli_helpers import run_cli as _run


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_export_never_overwrites_the_model(capsys, xor_model):
    before = xor_model.read_bytes()
    rc, _, err = _run(capsys, ["export", "--model", str(xor_model), "--onnx", str(xor_model)])
    _one_line_error(rc, err)
    assert "--model" in err and xor_model.read_bytes() == before


def test_verify_scales_its_tolerance_with_the_outputs(capsys, tmp_path):
    # a correct export of a regression with outputs ~1e4 differs by float32 rounding (~1e-3):
    # --verify failed it against an absolute 1e-5
    import json

    import numpy as np
    import relunet

    net = relunet.MLP([8, 64, 64, 2], activation="tanh", output="identity", loss="mse", seed=0)
    net.dense_layers[-1].W[...] *= 1e4
    net.dense_layers[-1].b[...] = 1e4
    net.save(tmp_path / "r.relunet")
    rc, out, err = _run(capsys, ["export", "--model", str(tmp_path / "r.relunet"), "--onnx",
                                 str(tmp_path / "r.onnx"), "--verify", "--json"])
    assert rc == 0, err
    report = json.loads(out)
    assert report["max_abs_diff"] > 1e-5 > report["max_rel_diff"]
    assert np.isfinite(report["max_rel_diff"])


def test_verify_still_fails_a_wrong_graph(capsys, tmp_path, monkeypatch):
    import relunet
    from relunet.interop import onnx as onnx_export

    net = relunet.MLP([3, 5, 2], activation="tanh", output="identity", loss="mse", seed=0)
    net.save(tmp_path / "r.relunet")
    monkeypatch.setitem(onnx_export.EMITTERS, "tanh", onnx_export.EMITTERS["sigmoid"])
    rc, _, err = _run(capsys, ["export", "--model", str(tmp_path / "r.relunet"), "--onnx",
                               str(tmp_path / "r.onnx"), "--verify"])
    assert rc == 1 and "relative to the outputs' scale" in err


def _tampered_initializer(model, stem, change):
    from onnx import numpy_helper

    for i, init in enumerate(model.graph.initializer):
        if init.name.startswith(stem):
            arr = change(numpy_helper.to_array(init))
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, init.name))
            return model
    raise AssertionError(f"no initializer {stem}")


def test_verify_compares_the_label_and_prediction_outputs():
    # --verify compared only `output`: a wrong `label` or `prediction` (what predict returns) passed
    import numpy as np
    import relunet
    from relunet.cli import export as export_cli
    from relunet.core.contract import DataContract
    from relunet.interop import onnx as onnx_export

    rng = np.random.default_rng(0)
    clf = relunet.MLP([3, 6, 3], activation="tanh", seed=0)
    clf.fit(rng.normal(size=(30, 3)), np.array(["ant", "bee", "cat"])[np.arange(30) % 3], epochs=2, verbose=0)
    model = onnx_export.to_model(clf)
    assert export_cli.differences(clf, model)["label_mismatches"] == 0
    bad = _tampered_initializer(model, "classes", lambda a: a[::-1].copy())
    assert export_cli.differences(clf, bad)["label_mismatches"] > 0
    reg = relunet.MLP([3, 6, 1], activation="tanh", output="identity", loss="mse", seed=0)
    reg.contract = DataContract(target_offset=1000.0, target_divisor=500.0)
    model = onnx_export.to_model(reg)
    assert export_cli.differences(reg, model)["max_rel_diff"] < export_cli.VERIFY_TOLERANCE
    bad = _tampered_initializer(model, "target_offset", lambda a: a + 1)
    assert export_cli.differences(reg, bad)["max_rel_diff"] > export_cli.VERIFY_TOLERANCE


def test_verify_runs_inputs_in_the_units_the_model_was_trained_on():
    # verify drew N(0, 4) raw inputs whatever the scaling: for features around 1e4 every
    # compared row was thousands of standard deviations out, the activations saturated
    import numpy as np
    import relunet
    from relunet.cli import export as export_cli
    from relunet.core.contract import DataContract

    for scale in ("standard", "minmax"):
        net = relunet.MLP([3, 4, 2], activation="tanh", seed=0)
        net.contract = DataContract(scale=scale, offset=np.full(3, 1e4), divisor=np.full(3, 10.0))
        z = net.contract.transform(export_cli.verify_inputs(net))
        assert z.shape == (256, 3) and np.all(np.abs(z) < 6)
