"""`relunet activations` on the command line."""

import json

from relunet.cli import main
from relunet.core import activations


def test_activations_json_is_valid_and_complete(capsys):
    assert main(["activations", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data) == sorted(activations.names())


def test_activations_table_points_to_explain_for_cut_cells(capsys):
    assert main(["activations"]) == 0
    out = capsys.readouterr().out
    assert "~" in out and "relunet explain" in out
