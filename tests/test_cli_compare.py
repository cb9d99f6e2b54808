"""`relunet compare` on the command line."""

import json

import numpy as np

from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error


def test_compare_outputs_checked_before_training(capsys, tmp_path):
    for flag in ("--out-json", "--out-csv", "--out-figure"):
        target = tmp_path / "missing" / ("r.png" if flag == "--out-figure" else "r.json")
        out, _ = _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1",
                                       "--jobs", "1", flag, str(target)], str(tmp_path / "missing"))
        assert out == ""


def test_compare_bad_scheduler_address(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1", "--epochs", "1",
                          "--scheduler", "bogus"], "bogus")


def test_compare_empty_activation_list(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", " , ", "--seeds", "1"], "--activations")


def test_compare_without_hidden_layer_or_with_softmax(capsys):
    _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1", "--hidden", ""],
                 "no hidden layer")
    _, line = _usage_error(capsys, ["compare", "--data", "xor", "--activations", "relu,softmax", "--seeds", "1"],
                           "element-wise")
    assert "gradient descent" not in line  # softmax is differentiable; the reason is another


def test_compare_negative_seed_in_a_list(capsys):
    _usage_error(capsys, ["compare", "--data", "digits", "--activations", "relu", "--seeds=1,-2", "--epochs", "1",
                          "--jobs", "1"], ">= 0")


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_compare_rejects_schedule_it_cannot_apply(capsys):
    rc, _, err = _run(capsys, ["compare", "--data", "xor", "--activations", "relu", "--seeds", "1",
                               "--epochs", "1", "-j", "1", "--schedule", "step:1:0.5"])
    _one_line_error(rc, err)
    assert "--schedule" in err


def test_compare_applies_the_data_options(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.random.default_rng(0).random((40, 3)))
    np.save(tmp_path / "y.npy", np.arange(40) % 2)
    rc, out, err = _run(capsys, ["compare", "--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy"),
                                 "--activations", "relu", "--seeds", "2", "--epochs", "1", "-j", "1", "--json"])
    assert rc == 0, err
    assert json.loads(out)["rows"]
    base = ["compare", "--data", "digits", "--activations", "relu", "--seeds", "1", "--epochs", "1", "-j", "1",
            "--hidden", "4", "--json"]
    rc, plain, err = _run(capsys, base)
    assert rc == 0, err
    rc, few, err = _run(capsys, base + ["--train-samples", "10"])
    assert rc == 0, err
    acc = lambda text: json.loads(text)["rows"][0]["test_accuracy_mean"]  # noqa: E731
    assert acc(plain) != acc(few)


def test_compare_splits_a_builtin_dataset_anew_for_each_seed(capsys, monkeypatch):
    """No data option given: each seed splits the dataset itself (the name goes through),
    and the header does not claim a --scale the user never gave."""
    from relunet.insight import compare

    seen = []
    real = compare.compare_activations
    monkeypatch.setattr(compare, "compare_activations", lambda data, *a, **k: seen.append(data) or real(data, *a, **k))
    rc, out, err = _run(capsys, ["compare", "--data", "digits", "--activations", "relu", "--seeds", "2",
                                 "--epochs", "1", "--hidden", "4", "-j", "1"])
    assert rc == 0, err
    assert seen == ["digits"]
    assert "one split" not in out.splitlines()[0] and "--scale" not in out


def test_compare_scales_a_csv_table_as_train_does(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{1000 * b:.1f},{int(a + b > 1)}" for a, b in rng.random((40, 2)))
    (tmp_path / "t.csv").write_text("a,b,y\n" + rows + "\n")
    rc, out, err = _run(capsys, ["compare", "--data", str(tmp_path / "t.csv"), "--target", "y", "--activations",
                                 "relu", "--seeds", "1", "--epochs", "1", "-j", "1"])
    assert rc == 0, err
    assert "--scale standard (a table's default)" in out.splitlines()[0]
