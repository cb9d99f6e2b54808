"""Command-line misuse: one-line errors (status 2), no lost files, options never silently ignored."""

import json

import numpy as np
import pytest

from relunet.cli import build_parser, main

XOR_CSV = "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.fixture
def xor_model(tmp_path, capsys):
    path = tmp_path / "xor.relunet"
    rc, _, err = _run(capsys, ["train", "--data", "xor", "--epochs", "2", "-q", "--save", str(path)])
    assert rc == 0, err
    return path


# -- outputs that would destroy an input ---------------------------------------


def test_predict_out_never_overwrites_the_data_file(tmp_path, capsys, xor_model):
    data = tmp_path / "xor.csv"
    data.write_text(XOR_CSV)
    rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", str(data), "--out", str(data)])
    _one_line_error(rc, err)
    assert "--data" in err and data.read_text() == XOR_CSV


def test_predict_out_never_overwrites_the_model(tmp_path, capsys, xor_model):
    before = xor_model.read_bytes()
    rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", "xor",
                               "--out", str(xor_model), "--format", "csv"])
    _one_line_error(rc, err)
    assert "--model" in err and xor_model.read_bytes() == before


def test_export_never_overwrites_the_model(capsys, xor_model):
    before = xor_model.read_bytes()
    rc, _, err = _run(capsys, ["export", "--model", str(xor_model), "--onnx", str(xor_model)])
    _one_line_error(rc, err)
    assert "--model" in err and xor_model.read_bytes() == before


# -- binary garbage where text is expected --------------------------------------


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "1", "-q", "--data"],
    ["doctor", "--no-train", "--data"],
    ["data", "info"],
    ["plot", "history", "--out", "{tmp}/h.png"],
    ["plot", "gradients", "--out", "{tmp}/h.png"],
])
def test_binary_file_as_text_is_a_one_line_error(tmp_path, capsys, argv):
    bad = tmp_path / "garbage.csv"
    bad.write_bytes(b"\xd4\x80\xff\xfe" * 50)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    argv = argv[:2] + [str(bad)] + argv[2:] if argv[0] == "plot" else argv + [str(bad)]
    rc, _, err = _run(capsys, argv)
    _one_line_error(rc, err)
    assert "garbage.csv" in err and "UTF-8" in err


# -- options that were silently ignored -----------------------------------------


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


def test_target_with_an_npz_is_refused(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 2)), y=np.arange(10) % 2)
    np.save(tmp_path / "y.npy", np.arange(10) % 2)
    rc, _, err = _run(capsys, ["train", "--data", str(tmp_path / "d.npz"), "--target", str(tmp_path / "y.npy"),
                               "--epochs", "1", "-q"])
    _one_line_error(rc, err)
    assert "--target" in err


def test_predict_refuses_named_dataset_options_for_a_file(tmp_path, capsys, xor_model):
    data = tmp_path / "xor.csv"
    data.write_text(XOR_CSV)
    for extra in (["--split", "train"], ["--seed", "3"]):
        rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", str(data), *extra])
        _one_line_error(rc, err)
        assert extra[0] in err


def test_predict_data_dir_for_a_small_dataset(capsys, xor_model, tmp_path):
    rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", "xor", "--data-dir", str(tmp_path)])
    _one_line_error(rc, err)
    assert "--data-dir" in err and "_xor" not in err


def test_predict_csv_with_string_labels(tmp_path, capsys):
    data = tmp_path / "animals.csv"
    data.write_text("a,b,y\n" + "".join(f"{a},{b},{'dog' if a != b else 'cat'}\n"
                                        for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)] * 2))
    model = tmp_path / "m.relunet"
    rc, _, err = _run(capsys, ["train", "--data", str(data), "--epochs", "2", "-q", "--save", str(model)])
    assert rc == 0, err
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(data)])
    assert rc == 0, err
    assert out.splitlines()[0] == "prediction,p_cat,p_dog" and len(out.splitlines()) == 9


def test_predict_csv_errors_name_the_line(tmp_path, capsys, xor_model):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n0,0,0\n0,1\n")
    rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", str(ragged)])
    _one_line_error(rc, err)
    assert "line 3" in err and "inhomogeneous" not in err
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b\n0,0\n0,nan\n")
    rc, _, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", str(nan)])
    _one_line_error(rc, err)
    assert "nan.csv" in err and "line 3" in err


# -- numbers and help texts -------------------------------------------------------


def test_saturation_threshold_must_be_finite(capsys, xor_model):
    rc, _, err = _run(capsys, ["diagnose", str(xor_model), "--data", "xor", "--saturation-threshold", "inf"])
    _one_line_error(rc, err)


def test_positive_int_message_is_consistent(capsys):
    for bad in ("0", "-1"):
        rc, _, err = _run(capsys, ["bench", "--threads", bad])
        _one_line_error(rc, err)
        assert ">= 1" in err


def test_bench_out_checked_before_the_run(tmp_path, capsys):
    rc, _, err = _run(capsys, ["bench", "--quick", "--out", str(tmp_path / "missing" / "r.json")])
    _one_line_error(rc, err)
    assert "--out" in err and "does not exist" in err


def test_help_defaults_tell_the_truth():
    """--data's help names the default the sub-command really uses (trace, plot boundary: xor)."""
    sub = build_parser()._subparsers._group_actions[0].choices
    parsers = dict(sub)
    parsers.update({f"plot {k}": v for k, v in sub["plot"]._subparsers._group_actions[0].choices.items()})
    checked = 0
    for name, parser in parsers.items():
        for action in parser._actions:
            if "--data" in action.option_strings and "(default: " in (action.help or ""):
                claimed = action.help.rsplit("(default: ", 1)[1].split(")")[0]
                assert claimed == str(parser.get_default("data")), (name, claimed)
                checked += 1
    assert checked >= 5


@pytest.mark.parametrize("data, optimizer, expected", [
    ("Fashion_MNIST", "sgd", {"lr": 0.1, "schedule": "cosine", "epochs": 25}),  # the dataset's name table
    ("xor", "L-BFGS", {"lr": 1.0, "batch_size": None, "schedule": None}),  # an alias: lbfgs's defaults
    ("digits", "conjugate_gradient", {"lr": 1.0, "batch_size": None}),
    ("digits", "adam", {"lr": 1e-3, "batch_size": 32, "momentum": None}),
])
def test_defaults_follow_the_registries_names_and_aliases(data, optimizer, expected):
    import argparse

    from relunet.cli import common

    args = argparse.Namespace(data=data, optimizer=optimizer, lr=None, momentum=None, epochs=None,
                              batch_size=None, schedule=None, hidden=None, activation=None)
    common.resolve_defaults(args)
    assert {k: getattr(args, k) for k in expected} == expected


def test_scale_choices_come_from_the_scalers_registry():
    from relunet.cli import common
    from relunet.data import preprocessing

    assert common.SCALES[0] == "none" and sorted(common.SCALES) == preprocessing.REGISTRY.names()


def test_diagnose_option_adds_the_saturation_arguments_once():
    import argparse

    from relunet.cli import diagnose

    p = argparse.ArgumentParser()
    diagnose.add_saturation_args(p)
    diagnose.add_option(p)  # would raise argparse.ArgumentError on a second --saturation-threshold
    q = argparse.ArgumentParser()
    diagnose.add_option(q)
    assert q.parse_args([]).saturation_threshold == p.parse_args([]).saturation_threshold is not None
