"""The command line's entry point (relunet.cli): the parser, main's error handling and the options
several commands share."""

import errno
import json

import pytest

from relunet.cli import build_parser, cli_terms, main
from cli_helpers import run_cli as _run, usage_error as _usage_error


@pytest.mark.parametrize("cmd", [["train", "--epochs", "1"], ["trace"], ["doctor", "--no-train"]])
def test_negative_seed_is_a_usage_error(capsys, cmd):
    _usage_error(capsys, [*cmd, "--data", "digits", "--seed", "-1"], "--seed")


def test_closed_pipe_exits_quietly(capsys, monkeypatch):
    import relunet.cli.activations as cmd

    def write_to_closed_pipe(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cmd, "run", write_to_closed_pipe)
    rc, out, err = _run(capsys, ["activations"])
    assert rc == 141 and err == ""  # `relunet activations | head -1`: no "error: Broken pipe"


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


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
    ("Fashion_MNIST", "sgd", {"lr": 0.1, "schedule": "cosine", "epochs": 50}),  # the dataset's name table
    ("mnist", "sgd", {"epochs": 100, "schedule": "cosine", "input_dropout": 0.2}),
    ("xor", "L-BFGS", {"lr": 1.0, "batch_size": None, "schedule": None}),  # an alias: lbfgs's defaults
    ("digits", "conjugate_gradient", {"lr": 1.0, "batch_size": None}),
    ("digits", "adam", {"lr": 1e-3, "batch_size": 32, "momentum": None}),
])
def test_defaults_follow_the_registries_names_and_aliases(data, optimizer, expected):
    import argparse

    from relunet.cli import common

    args = argparse.Namespace(data=data, optimizer=optimizer, lr=None, momentum=None, epochs=None,
                              batch_size=None, schedule=None, hidden=None, activation=None,
                              input_dropout=None)
    common.resolve_defaults(args)
    assert {k: getattr(args, k) for k in expected} == expected


def test_scale_choices_come_from_the_scalers_registry():
    from relunet.cli import common
    from relunet.data import preprocessing

    assert common.SCALES[0] == "none" and sorted(common.SCALES) == preprocessing.REGISTRY.names()


def test_closed_stdout_is_a_one_line_error(tmp_path, xor_model):
    import os
    import subprocess
    import sys
    data = tmp_path / "x.csv"
    data.write_text("a,b\n0,1\n")
    cmd = f"{sys.executable} -m relunet predict --model {xor_model} --data {data} >&-"
    done = subprocess.run(["bash", "-c", cmd], stderr=subprocess.PIPE, text=True, env={**os.environ}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("relunet: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "standard output is closed" in done.stderr


# -- options of the data and the network that every training command shares ---------------
def test_noise_reaches_the_generated_datasets(capsys, tmp_path):
    from relunet.cli import common

    args = build_parser().parse_args(["train", "--data", "circles", "--noise", "0.3", "--test-size", "0.4"])
    assert common.data_options(args) == {"scale": "none", "noise": 0.3, "test_size": 0.4}
    rc, out, err = _run(capsys, ["train", "--data", "gaussians", "--noise", "0.05", "--hidden", "",
                                    "--epochs", "3", "-q", "--json"])
    assert rc == 0, err
    assert json.loads(out)["data"] == "gaussians"
    _usage_error(capsys, ["train", "--data", "xor", "--noise", "0.1"], "--noise applies to the generated datasets")
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,0\n2,1\n3,0\n4,1\n")
    _usage_error(capsys, ["train", "--data", str(csv), "--noise", "0.1"], "not to a data file")
    _usage_error(capsys, ["train", "--data", "moons", "--noise", "-1"], "--noise")


def test_activation_takes_its_parameters(capsys, tmp_path):
    import relunet

    model = tmp_path / "m.relunet"
    rc, _, err = _run(capsys, ["train", "--data", "xor", "--hidden", "4,3", "--epochs", "2", "-q", "--save",
                                  str(model), "--activation", "leaky_relu(negative_slope=0.2),rrelu(lower=0.1, upper=0.2)"])
    assert rc == 0, err
    acts = [l.activation for l in relunet.load(model).layers if hasattr(l, "activation")]
    assert acts[0].config() == {"negative_slope": 0.2} and acts[1].config() == {"lower": 0.1, "upper": 0.2}
    rc, _, err = _run(capsys, ["train", "--data", "xor", "--hidden", "4", "--epochs", "1", "-q",
                                  "--activation", "prelu(num_parameters=per_unit)"])
    assert rc == 0, err
    for spec, needle in (("leaky_relu(negative_slope)", "is not PARAM=VALUE"),
                         ("leaky_relu(slope=0.1)", "unexpected keyword argument 'slope'; its parameters: negative_slope"),
                         ("elu(alpha=big)", "alpha must be a real number"),
                         ("relu((x=1))", "write NAME or NAME(PARAM=VALUE, ...)"),
                         ("reluu(x=1)", "reluu")):
        _usage_error(capsys, ["train", "--data", "xor", "--hidden", "4", "--epochs", "1", "--activation", spec], needle)


def test_cli_terms_writes_the_api_keywords_as_their_options():
    text = "use output='sigmoid' with loss='binary_cross_entropy' (activation='leaky_relu'); lr=0.1, init='he'"
    assert cli_terms(text) == ("use --output sigmoid with --loss binary_cross_entropy (--activation leaky_relu); "
                               "lr=0.1, init='he'")
    assert cli_terms("no keywords here") == "no keywords here"
