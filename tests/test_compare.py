"""Activation comparison: dead units, per-run metrics, the summary and ``relunet compare``."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from relunet import errors
from relunet import MLP
from relunet.core import activations
from relunet.insight import compare
from relunet.data import datasets
from relunet.cli import main
from relunet.errors import ConfigError, DivergenceError, UnknownNameError

KW = dict(hidden=[16], epochs=3, batch_size=64, lr=0.2, jobs=1)


@pytest.fixture(scope="module")
def result():
    return compare.compare_activations("digits", ["relu", "sigmoid"], 3, target_accuracy=0.5, **KW)


def test_dead_fraction_counts_units_never_positive():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    net = MLP([4, 6, 5, 2], activation="relu", seed=1, dtype="float64")
    h1, h2 = net.dense_layers[:2]
    h1.b[[0, 3]] = -100.0  # units 0 and 3 of layer 1 never fire
    h2.b[4] = -100.0
    total, per_layer = compare.dead_fraction(net, X)
    z1 = X @ h1.W + h1.b
    z2 = np.maximum(z1, 0) @ h2.W + h2.b
    dead1, dead2 = np.all(z1 <= 0, axis=0), np.all(z2 <= 0, axis=0)
    assert dead1[[0, 3]].all() and dead2[4]
    assert per_layer == [dead1.mean(), dead2.mean()]  # the output layer is not hidden
    assert total == (dead1.sum() + dead2.sum()) / 11


@pytest.mark.parametrize("act", ["sigmoid", "leaky_relu"])
def test_activations_that_cannot_die_have_no_dead_units(act):
    if act not in activations.names():
        pytest.skip(f"{act} not in the catalog")
    X = np.random.default_rng(0).normal(size=(30, 3))
    net = MLP([3, 5, 2], activation=act, seed=0)
    net.dense_layers[0].b[:] = -8.0  # every z < 0, yet f' != 0: still gets a gradient
    assert compare.dead_fraction(net, X) == (0.0, [0.0])
    relu = MLP([3, 5, 2], activation="relu", seed=0)
    relu.dense_layers[0].b[:] = -8.0  # the same with ReLU: all dead
    assert compare.dead_fraction(relu, X) == (1.0, [1.0])


def test_rows_are_mean_and_sample_std_of_the_runs(result):
    assert result.activations == ["relu", "sigmoid"]
    assert len(result.runs) == 6
    for row in result.rows:
        runs = [r for r in result.runs if r["activation"] == row["activation"]]
        assert sorted(r["seed"] for r in runs) == [0, 1, 2] and row["n_seeds"] == 3
        for m in ("test_accuracy", "final_loss", "dead_fraction", "seconds"):
            v = np.array([r[m] for r in runs])
            assert row[m + "_mean"] == pytest.approx(v.mean(), rel=1e-12)
            assert row[m + "_std"] == pytest.approx(v.std(ddof=1), rel=1e-12, abs=1e-15)
        reached = [r["epochs_to_target"] for r in runs if r["epochs_to_target"] is not None]
        assert row["reached_target"] == len(reached)
    assert result.row("relu")["test_accuracy_std"] > 0  # the seeds really differ


def test_run_metrics_agree_with_their_curves(result):
    for r in result.runs:
        assert len(r["loss"]) == len(r["accuracy"]) == 3
        assert r["final_loss"] == r["loss"][-1]
        first = next((i + 1 for i, a in enumerate(r["accuracy"]) if a >= 0.5), None)
        assert r["epochs_to_target"] == first
        assert 0 <= r["dead_fraction"] <= 1 and r["dead_per_layer"] == [r["dead_fraction"]]


def test_seed_s_is_relunet_train_seed_s(result, capsys):
    run = next(r for r in result.runs if r["activation"] == "relu" and r["seed"] == 2)
    assert main(["train", "--data", "digits", "--activation", "relu", "--hidden", "16", "--epochs", "3",
                 "--batch-size", "64", "--lr", "0.2", "--momentum", "0", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] == run["test_accuracy"]
    assert out["final_loss"] == run["final_loss"]


def test_a_fixed_dataset_is_used_as_given():
    d = datasets.load("xor")
    res = compare.compare_activations(d, ["relu"], [0, 7], hidden=[8], epochs=400, batch_size=4, lr=0.5,
                                      target_accuracy=1.0, jobs=1)
    assert [r["seed"] for r in res.runs] == [0, 7]
    assert res.config["data"] == "xor"
    json.dumps(res.to_dict())  # the Dataset object is not in the JSON


def test_nan_free_json_and_csv(result, tmp_path):
    never = compare.ComparisonResult.from_runs(
        [{**r, "epochs_to_target": None} for r in result.runs], result.config)
    assert math.isnan(never.rows[0]["epochs_to_target_mean"])
    never.save_json(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text
    back = compare.ComparisonResult.from_dict(json.loads(text))
    assert math.isnan(back.rows[0]["epochs_to_target_mean"])
    assert back.rows[0]["test_accuracy_mean"] == never.rows[0]["test_accuracy_mean"]
    never.save_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert rows[0]["epochs_to_target_mean"] == ""
    assert float(rows[1]["final_loss_mean"]) == never.rows[1]["final_loss_mean"]


@pytest.mark.parametrize("kw, err, word", [
    ({"activations": ["relu", "nope"]}, UnknownNameError, "nope"),
    ({"activations": ["relu", "relu"]}, ConfigError, "repeat"),
    ({"activations": ["softmax"]}, ConfigError, "hidden"),
    ({"activations": ["step"]}, ConfigError, "hidden"),
    ({"seeds": 0}, ConfigError, "seeds"),
    ({"seeds": [1, 1]}, ConfigError, "repeat"),
    ({"target_accuracy": 1.5}, ConfigError, "target"),
    ({"data": "nosuchdata"}, UnknownNameError, "nosuchdata"),
    ({"data": "sine"}, ConfigError, "regression"),
    ({"optimizer": "bogus"}, UnknownNameError, "bogus"),
    ({"init": "bogus"}, UnknownNameError, "bogus"),
    ({"epochs": 0}, ConfigError, "epochs"),
])
def test_bad_arguments_fail_before_training(kw, err, word):
    args = {"data": "digits", "activations": ["relu"], "seeds": 1, **kw}
    with pytest.raises(err, match=word):
        compare.compare_activations(args.pop("data"), args.pop("activations"), args.pop("seeds"), **args)


def test_too_large_a_learning_rate_kills_relu_units_but_not_leaky_ones():
    res = compare.compare_activations("digits", ["relu", "leaky_relu"], 1, hidden=[32], epochs=2, lr=2.0, jobs=1)
    assert res.row("relu")["dead_fraction_mean"] > 0.5
    assert res.row("leaky_relu")["dead_fraction_mean"] == 0.0 and res.row("leaky_relu")["diverged"] == 0


def test_diverged_runs_are_reported_not_raised(monkeypatch):
    real_fit = MLP.fit

    def fit(self, X, y, **kw):  # relu "diverges" on seed 1
        if self.activation_specs[0] == "relu" and self.seed == 1:
            raise DivergenceError("loss became nan at epoch 1")
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(MLP, "fit", fit)
    res = compare.compare_activations("digits", ["relu", "sigmoid"], 2, **KW)
    bad = [r for r in res.runs if r["diverged"]]
    assert [(r["activation"], r["seed"]) for r in bad] == [("relu", 1)]
    assert bad[0]["test_accuracy"] is None and "nan" in bad[0]["diverged"]
    relu, sigmoid = res.rows
    assert (relu["diverged"], sigmoid["diverged"]) == (1, 0)
    ok = next(r for r in res.runs if r["activation"] == "relu" and r["seed"] == 0)
    assert relu["test_accuracy_mean"] == ok["test_accuracy"] and relu["test_accuracy_std"] == 0.0
    assert "relu (1 diverged)" in res.table()


def test_cli_compare_digits_three_seeds(tmp_path, capsys):
    import matplotlib.image as mpimg

    j, c, f = tmp_path / "c.json", tmp_path / "c.csv", tmp_path / "c.png"
    rc = main(["compare", "--data", "digits", "--activations", "relu,sigmoid", "--seeds", "3",
               "--hidden", "16", "--epochs", "3", "--batch-size", "64", "--jobs", "1",
               "--out-json", str(j), "--out-csv", str(c), "--out-figure", str(f)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "relu" in table and "sigmoid" in table and "±" in table
    doc = json.loads(j.read_text())
    assert [r["activation"] for r in doc["rows"]] == ["relu", "sigmoid"]
    for row in doc["rows"]:
        for m in compare.METRICS:
            assert m + "_mean" in row and m + "_std" in row
        accs = [r["test_accuracy"] for r in doc["runs"] if r["activation"] == row["activation"]]
        assert len(accs) == 3
        assert row["test_accuracy_mean"] == pytest.approx(np.mean(accs))
        assert row["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1))
    lines = list(csv.DictReader(open(c)))
    assert [x["activation"] for x in lines] == ["relu", "sigmoid"]
    assert float(lines[0]["test_accuracy_mean"]) == pytest.approx(doc["rows"][0]["test_accuracy_mean"])
    img = mpimg.imread(f)
    assert img.ndim == 3 and img.var() > 0


@pytest.mark.parametrize("argv, word", [
    (["--activations", "relu,bogus"], "bogus"),
    (["--seeds", "x"], "--seeds"),
    (["--out-figure", "fig.gif"], ".png"),
    (["--jobs", "0"], "--jobs"),
])
def test_cli_compare_errors_exit_2(argv, word, capsys):
    try:
        rc = main(["compare", "--data", "digits", "--epochs", "1", *argv])
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert word in err and err.count("\n") == 1


def test_optimizer_hyper_parameters_reach_every_trial(capsys):
    res = compare.compare_activations("digits", ["relu"], [1], hidden=[16], epochs=2, batch_size=64,
                                      lr=0.01, optimizer_params={"momentum": 0.9}, jobs=1)
    assert res.config["optimizer_params"] == {"momentum": 0.9}
    # the defaults of `relunet train` are SGD with momentum 0.9: the same run
    assert main(["train", "--data", "digits", "--activation", "relu", "--hidden", "16", "--epochs", "2",
                 "--batch-size", "64", "--lr", "0.01", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["optimizer_config"]["momentum"] == 0.9
    assert out["final_loss"] == res.runs[0]["final_loss"]


@pytest.mark.parametrize("payload, words", [({}, "the key 'rows' is missing"),
                                            ({"rows": 3}, "'rows' must be a list of objects"),
                                            ({"rows": [1]}, "'rows' must be a list of objects")])
def test_a_foreign_json_is_not_a_comparison_result(payload, words):
    from relunet.insight.compare import ComparisonResult
    from relunet.errors import ConfigError

    with pytest.raises(ConfigError, match=words) as info:
        ComparisonResult.from_dict(payload)
    assert not str(info.value).endswith("'rows'")  # no stray repeat of the key


def test_compare_api_argument_types():
    from relunet.insight import compare

    with pytest.raises(errors.ConfigError, match="seeds"):
        compare.compare_activations("xor", ["relu"], 1.5, epochs=1, jobs=1)
    res = compare.compare_activations("xor", "relu,tanh", 1, hidden=[4], epochs=1, jobs=1)
    assert [r["activation"] for r in res.rows] == ["relu", "tanh"]


@pytest.mark.parametrize("argv", [["compare"], ["plot", "boundary"]])
def test_help_mentions_no_option_the_command_lacks(argv, capsys):
    from relunet.cli import main
    assert main([*argv, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--epochs" in text and "--resume" not in text


def test_a_poor_output_and_loss_pair_is_warned_of_once_per_comparison():
    """softmax + BCE: one ConfigWarning, to the caller of compare_activations, not one per
    trial (in worker processes they were printed in Python's format, once per worker)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare.compare_activations("xor", ["relu", "tanh"], 2, hidden=[4], epochs=2, batch_size=4, lr=0.5,
                                    output="softmax", loss="bce", jobs=1)
    mine = [w for w in caught if issubclass(w.category, errors.ConfigWarning)]
    assert len(mine) == 1 and "softmax-with-bce" in str(mine[0].message)
    assert mine[0].filename == __file__
