"""`relunet diagnose` on the command line."""

from relunet.cli import main
from cli_helpers import run_cli as _run


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_saturation_threshold_must_be_finite(capsys, xor_model):
    rc, _, err = _run(capsys, ["diagnose", str(xor_model), "--data", "xor", "--saturation-threshold", "inf"])
    _one_line_error(rc, err)


def test_diagnose_option_adds_the_saturation_arguments_once():
    import argparse

    from relunet.cli import diagnose

    p = argparse.ArgumentParser()
    diagnose.add_saturation_args(p)
    diagnose.add_option(p)  # would raise argparse.ArgumentError on a second --saturation-threshold
    q = argparse.ArgumentParser()
    diagnose.add_option(q)
    assert q.parse_args([]).saturation_threshold == p.parse_args([]).saturation_threshold is not None


def test_a_model_trained_on_an_npy_pair_finds_its_targets_again(capsys, tmp_path):
    """train --data X.npy --target y.npy --save: the model records the targets' file, so that
    diagnose (its default data) and predict --split find them (both asked for --target)."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(40, 2))
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", (x[:, 0] > 0).astype(int))
    model = str(tmp_path / "m.relunet")
    rc, _, err = _run(capsys, ["train", "--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy"),
                               "--hidden", "4", "--epochs", "2", "--save", model, "-q"])
    assert rc == 0, err
    rc, out, err = _run(capsys, ["diagnose", model])
    assert rc == 0, err
    assert "dense 1" in out
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", str(tmp_path / "X.npy"), "--split", "test"])
    assert rc == 0, err
    assert len(out.splitlines()) == 11 and "accuracy" in err


def test_a_model_that_records_no_data_and_does_not_fit_the_default_asks_for_data(capsys, tmp_path):
    """No data contract (net.save of a plain MLP): the default digits only when it fits; else
    one line asking for --data, not 'X has 64 features but the network takes 3'."""
    import numpy as np

    import relunet

    net = relunet.MLP([3, 4, 2], seed=0)
    net.fit(np.eye(3)[[0, 1, 2, 0]], np.array([0, 1, 1, 0]), epochs=1)
    net.save(tmp_path / "m.relunet")
    rc, _, err = _run(capsys, ["diagnose", str(tmp_path / "m.relunet")])
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "does not record the data it was trained on" in lines[0], err
    assert "give --data" in lines[0] and "digits" in lines[0]
    rc, _, err = _run(capsys, ["diagnose", str(tmp_path / "m.relunet"), "--data", "digits"])
    assert rc == 2 and "64 features" in err  # named data: the plain mismatch
