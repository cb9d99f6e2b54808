"""`relunet activations` on the command line."""

import json

import pytest

from relunet.cli import main
from relunet.core import activations


def test_activations_json_is_valid_and_complete(capsys):
    assert main(["activations", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data) == sorted(activations.names())


def test_activations_table_points_to_explain_for_cut_cells(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for the one-row-per-activation table
    assert main(["activations"]) == 0
    out = capsys.readouterr().out
    assert "~" in out and "relunet explain" in out


def _table(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["activations"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", [80, 60, 40])
def test_activations_fit_a_narrow_terminal_with_nothing_lost(capsys, monkeypatch, columns):
    out = _table(capsys, monkeypatch, columns)
    assert max(len(line) for line in out.splitlines()) <= columns, out
    flat = " ".join(out.split())
    for name in activations.names():
        props = activations.ACTIVATIONS[name].properties
        assert name in out.split()
        for text in (props.formula, props.derivative, props.output_range):
            assert " ".join(text.split()) in flat, (name, text)


def test_activations_table_on_a_wide_terminal_is_one_row_per_activation(capsys, monkeypatch):
    out = _table(capsys, monkeypatch, 250)
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["name", "f(x)"]
    assert max(len(line) for line in lines) <= 250
    rows = [line.split()[0] for line in lines[1:] if line and not line.startswith("~")]
    assert rows == activations.names()


@pytest.mark.parametrize("columns", [80, 250])
def test_activations_list_the_derivative_at_the_kink(capsys, monkeypatch, columns):
    """`relunet activations` answers "what is f' at the kink?" (relu'(0) = 0, as PyTorch)."""
    out = _table(capsys, monkeypatch, columns)
    assert "at the kink" in out
    if columns == 80:  # nothing cut: every kink text whole
        flat = " ".join(out.split())
        for name in activations.names():
            kink = activations.ACTIVATIONS[name].properties.kink
            assert not kink or " ".join(kink.split()) in flat, name
    relu = next(line for line in out.splitlines()[1:] if line.split() and line.split()[0] == "relu") \
        if columns == 250 else out
    assert "f'(0) = 0 (PyTorch" in relu
