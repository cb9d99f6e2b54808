"""Fixtures shared by several test files."""

import pytest

from relunet.cli import main


@pytest.fixture
def xor_model(tmp_path, capsys):
    """A small XOR network trained and saved by `relunet train --save`; its path."""
    path = tmp_path / "xor.relunet"
    rc = main(["train", "--data", "xor", "--epochs", "2", "-q", "--save", str(path)])
    _, err = capsys.readouterr()
    assert rc == 0, err
    return path
