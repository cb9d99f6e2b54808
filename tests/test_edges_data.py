"""Edge cases of the data side: IDX files, user data files, splits, model files, atomic writes.

Each test here failed before the fix it guards (see the commit that added it).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import relunet
from relunet.data import datasets
from relunet.data import preprocessing
from relunet.cli import main
from relunet.errors import ConfigError, DataError, DataFormatError, ModelFileError
from relunet.data.idx import read_idx


def _idx_header(code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


# -- IDX ------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [[65536] * 4, [0xFFFFFFFF] * 8])
def test_idx_dimensions_whose_product_overflows_int64(tmp_path, dims):
    # 65536**4 = 2**64 wrapped to 0 in int64 (a RuntimeWarning, then a wrong size)
    p = tmp_path / "x"
    p.write_bytes(_idx_header(8, dims) + b"\0" * 10)
    with pytest.raises(DataFormatError, match="truncated"):
        read_idx(p)


def test_idx_plain_file_named_gz_is_read(tmp_path):
    # what a browser leaves when it undoes the transfer's gzip encoding but keeps the name
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(_idx_header(8, [2, 3, 4]) + arr.tobytes())
    np.testing.assert_array_equal(read_idx(p, shape=(None, 3, 4)), arr)


def test_idx_gzip_inflating_far_beyond_its_header_is_not_held(tmp_path):
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    p = tmp_path / "bomb.gz"
    with open(p, "wb") as f:
        f.write(co.compress(_idx_header(8, [1, 28, 28])))
        zeros = b"\0" * (1 << 22)
        for _ in range(16):  # 64 MiB of content behind an 800-byte array
            f.write(co.compress(zeros))
        f.write(co.flush())
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="trailing bytes"):
            read_idx(p, shape=(None, 28, 28))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak


def test_idx_gzip_still_reads_and_verifies(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    content = _idx_header(8, [2, 28, 28]) + arr.tobytes()
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(content))
    import hashlib

    np.testing.assert_array_equal(read_idx(p, md5=[hashlib.md5(content).hexdigest()]), arr)
    with pytest.raises(DataFormatError, match="checksum"):
        read_idx(p, md5=["0" * 32])


# -- user data files --------------------------------------------------------------


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


def test_train_on_two_rows_runs(tmp_path, capsys):
    p = tmp_path / "two.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,1\n")
    assert main(["train", "--data", str(p), "--epochs", "1", "-q"]) == 0


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


# -- model files ----------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path):
    net = relunet.MLP([2, 3, 2], activation="prelu", seed=0)
    net.fit(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array(["a", "b", "b", "a"]), epochs=1, verbose=0)
    p = tmp_path / "m.relunet"
    net.save(p)
    return p


def _tamper(src, dst, meta=None, arrays=None):
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    if meta is not None:
        h = json.loads(entries["meta.json"])
        meta(h)
        entries["meta.json"] = json.dumps(h).encode()
    for name, raw in (arrays or {}).items():
        entries[f"arrays/{name}.npy"] = raw
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in entries.items():
            z.writestr(n, b)
    return dst


def test_model_file_declaring_a_billion_parameter_arrays(model_file, tmp_path):
    # the loader built a dict of 10**9 names (killed for memory)
    bad = _tamper(model_file, tmp_path / "t.relunet",
                  meta=lambda h: h["meta"]["activations"][0].__setitem__("n_parameters", 10**9))
    with pytest.raises(ModelFileError, match="bad activation entry"):
        relunet.load(bad)


def test_model_file_array_header_declaring_a_huge_shape(model_file, tmp_path):
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": (2, 3 * 10**9)})
    bad = _tamper(model_file, tmp_path / "t.relunet", arrays={"W0": head.getvalue() + b"\0" * 24})
    with pytest.raises(ModelFileError, match="declares shape"):  # was MemoryError (22 GiB)
        relunet.load(bad)


@pytest.mark.parametrize("classes, words", [
    (["a", "b", "c"], "3 class labels"),
    ([], "0 class labels"),  # was an IndexError at predict
    (["b", "a"], "sorted and unique"),
    (["a", "a"], "sorted and unique"),
])
def test_model_file_class_labels_must_fit_the_output(model_file, tmp_path, classes, words):
    raw = io.BytesIO()
    np.lib.format.write_array(raw, np.array(classes, dtype="<U1"))
    bad = _tamper(model_file, tmp_path / "t.relunet", arrays={"classes": raw.getvalue()})
    with pytest.raises(ModelFileError, match=words):
        relunet.load(bad)


@pytest.mark.parametrize("version", [0, -1])
def test_model_file_version_below_one(model_file, tmp_path, version):
    bad = _tamper(model_file, tmp_path / "t.relunet", meta=lambda h: h["meta"].__setitem__("format_version", version))
    with pytest.raises(ModelFileError, match="format_version"):
        relunet.load(bad)


def test_model_file_bool_parameter_count(model_file, tmp_path):
    bad = _tamper(model_file, tmp_path / "t.relunet",
                  meta=lambda h: h["meta"]["activations"][0].__setitem__("n_parameters", True))
    with pytest.raises(ModelFileError):
        relunet.load(bad)


def test_saving_over_a_file_keeps_its_permissions(model_file):
    os.chmod(model_file, 0o600)  # private: re-saving must not make it world-readable
    relunet.load(model_file).save(model_file)
    assert stat.S_IMODE(os.stat(model_file).st_mode) == 0o600
    relunet.load(model_file)


# -- relunet predict on broken data files ------------------------------------------


@pytest.fixture
def cli_model(tmp_path):
    net = relunet.MLP([3, 4, 2], seed=0)
    net.fit(np.eye(3)[[0, 1, 2, 0]], np.array([0, 1, 1, 0]), epochs=1, verbose=0)
    net.save(tmp_path / "m.relunet")
    return str(tmp_path / "m.relunet")


def _good_npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, X=np.random.default_rng(0).normal(size=(50, 3)))
    return buf.getvalue()


@pytest.mark.parametrize("name, data, words", [
    ("trunc.npz", lambda: _good_npz_bytes()[:300], "cannot read data"),  # BadZipFile traceback before
    ("flip.npz", lambda: (lambda b: bytes(b[:200]) + bytes([b[200] ^ 0xFF]) + bytes(b[201:]))(_good_npz_bytes()),
     "cannot read data"),  # zlib.error traceback before
    ("semi.csv", lambda: b"a;b;c\n1;2;3\n", "separated by ';'"),
])
def test_predict_on_broken_files_is_one_line(tmp_path, capsys, cli_model, name, data, words):
    p = tmp_path / name
    p.write_bytes(data())
    assert main(["predict", "--model", cli_model, "--data", str(p)]) == 2
    err = capsys.readouterr().err
    assert words in err and str(p) in err and len(err.strip().splitlines()) == 1


def test_predict_on_an_image_stack_names_the_file_and_the_reshape(tmp_path, capsys, cli_model):
    np.save(tmp_path / "img.npy", np.zeros((4, 28, 28), np.float32))
    assert main(["predict", "--model", cli_model, "--data", str(tmp_path / "img.npy")]) == 2
    err = capsys.readouterr().err
    assert "img.npy" in err and "reshape(4, 784)" in err
