"""`relunet predict` on the command line."""

import io

import numpy as np
import pytest

import relunet
from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error

XOR_CSV = "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def test_predict_and_export_output_errors_name_the_users_path(capsys, tmp_path):
    model = tmp_path / "m.relunet"
    net = _xor_net()
    net.fit(XOR_X, XOR_Y, epochs=2)
    net.save(model)
    _, line = _usage_error(capsys, ["predict", "--model", str(model), "--data", "xor",
                                    "--out", str(tmp_path / "missing" / "p.csv")], str(tmp_path / "missing"))
    assert ".tmp" not in line
    _, line = _usage_error(capsys, ["export", "--model", str(model), "--onnx", str(tmp_path)], str(tmp_path))
    assert ".tmp" not in line
    real, link = tmp_path / "real.onnx", tmp_path / "link.onnx"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert main(["export", "--model", str(model), "--onnx", str(link)]) == 0
    assert link.is_symlink() and real.stat().st_size > 3


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


def _one_line_error(rc, err):
    assert rc == 2, err
    assert err.startswith("relunet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


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
    new = tmp_path / "new.csv"
    new.write_text("a,b,y\n0,1,dog\n1,1,bird\n")
    _usage_error(capsys, ["predict", "--model", str(model), "--data", str(new)], f"{new}: label(s) ['bird']")


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


def test_predict_csv_field_over_the_csv_limit_is_a_one_line_error(tmp_path, capsys, xor_model):
    data = tmp_path / "long.csv"
    data.write_text("a,b\n1," + "9" * 200_000 + "\n")
    _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(data)],
                 "field larger than field limit")


def test_predict_csv_field_over_the_csv_limit_names_the_file_and_line(tmp_path, capsys, xor_model):
    data = tmp_path / "long.csv"
    data.write_text("a,b\n\n0,1\n1," + "9" * 200_000 + "\n")
    _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(data)],
                 str(data), "line 4", "field larger than field limit")


@pytest.mark.parametrize("text, line", [
    ("0,0\n\n0,nan\n", 3),                       # no header, a blank line
    ("\n\na,b\n0,0\n\n0,zz\n", 6),               # blank lines before the header and between rows
    ('a,b,y\n0,0,"multi\nline"\n0,,1\n', 4),     # a line break inside a quoted field
    ("a,b\n0,0\n\n\n0,1,2\n", 5),                # a ragged row after blank lines
])
def test_predict_csv_errors_give_the_files_line_number(tmp_path, capsys, xor_model, text, line):
    data = tmp_path / "d.csv"
    data.write_text(text)
    _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(data)], f"line {line}")


def _run_in_subprocess(argv, cwd):
    """The CLI in a child process (a reader that blocks on a FIFO would hang the test run)."""
    import subprocess
    import sys

    try:
        return subprocess.run([sys.executable, "-m", "relunet", *argv], capture_output=True, text=True,
                              cwd=cwd, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"relunet {' '.join(argv)} blocked")


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["pipe.csv", "pipe.npy", "pipe"])
def test_predict_refuses_a_fifo_instead_of_blocking(tmp_path, xor_model, name):
    import os

    os.mkfifo(tmp_path / name)
    r = _run_in_subprocess(["predict", "--model", str(xor_model), "--data", str(tmp_path / name)], tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "FIFO" in r.stderr and name in r.stderr


@pytest.mark.skipif(not __import__("os").path.exists("/dev/zero"), reason="no /dev/zero here")
def test_predict_refuses_a_device_named_like_a_csv(tmp_path, capsys, xor_model):
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(tmp_path / "zero.csv")],
                 "zero.csv", "character device, not a regular file")


# -- many classes: the top classes by default ------------------------------------------------
def _many_class_model(tmp_path, n_classes, **kw):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6 * n_classes, 4))
    y = np.arange(6 * n_classes) % n_classes
    net = relunet.MLP([4, 8, n_classes], seed=0, **kw)
    net.fit(X, y, epochs=2, verbose=0)
    path = tmp_path / "many.relunet"
    net.save(path)
    data = tmp_path / "x.npy"
    np.save(data, X[:7])
    return net, str(path), str(data), X[:7]


@pytest.mark.parametrize("output", ["softmax", "hierarchical_softmax"])
def test_predict_writes_the_top_five_classes_of_a_many_class_model(tmp_path, capsys, output):
    net, model, data, X = _many_class_model(tmp_path, 25, output=output)
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", data])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "prediction," + ",".join(f"top{i},p_top{i}" for i in range(1, 6))
    proba = net.predict_proba(X)
    for row, p, pred in zip(lines[1:], proba, net.predict(X)):
        cells = row.split(",")
        top = [int(c) for c in cells[1::2]]
        ps = [float(c) for c in cells[2::2]]
        assert int(cells[0]) == pred == top[0]
        assert ps == sorted(ps, reverse=True) and len(ps) == 5
        np.testing.assert_array_equal(ps, np.sort(p)[::-1][:5])
        np.testing.assert_array_equal(p[top], ps)
    assert len(lines) == 8


def test_predict_all_probabilities_and_json_of_a_many_class_model(tmp_path, capsys):
    import json

    net, model, data, X = _many_class_model(tmp_path, 21)
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", data, "--all-probabilities"])
    assert rc == 0, err
    assert out.splitlines()[0] == "prediction," + ",".join(f"p_{c}" for c in range(21))
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", data, "--format", "json"])
    assert rc == 0, err
    res = json.loads(out)
    assert "probabilities" not in res and len(res["classes"]) == 21
    assert np.shape(res["top_classes"]) == np.shape(res["top_probabilities"]) == (7, 5)
    assert [t[0] for t in res["top_classes"]] == res["predictions"]
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", data, "--format", "json",
                                 "--all-probabilities"])
    res = json.loads(out)
    assert "top_classes" not in res and np.shape(res["probabilities"]) == (7, 21)


def test_predict_of_a_twenty_class_model_keeps_every_probability(tmp_path, capsys):
    _, model, data, _ = _many_class_model(tmp_path, 20)
    rc, out, err = _run(capsys, ["predict", "--model", model, "--data", data])
    assert rc == 0, err
    assert out.splitlines()[0] == "prediction," + ",".join(f"p_{c}" for c in range(20))


def test_top_classes_orders_by_probability_then_class_index():
    from relunet.cli.predict import top_classes

    proba = np.array([[0.1, 0.3, 0.3, 0.2, 0.05, 0.05], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(top_classes(proba, 3), [[1, 2, 3], [5, 0, 1]])
    np.testing.assert_array_equal(top_classes(proba[:, :2], 5), [[1, 0], [0, 1]])
    assert top_classes(np.empty((0, 30)), 5).shape == (0, 5)
    rng = np.random.default_rng(3)
    ties = np.round(rng.random((200, 40)), 1)  # many equal probabilities, some across the cut
    np.testing.assert_array_equal(top_classes(ties, 5), np.argsort(-ties, axis=1, kind="stable")[:, :5])


# -- missing values: predict reads a CSV as training does ---------------------------------------
def _holes_table(path, cell):
    rows = [f"{i % 5},{(i * 7) % 11}.5,{i % 2}" for i in range(40)]
    rows[2], rows[9] = f"3,{cell},1", f"{cell},4.5,0"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize("marker", ["NA", "N/A", "n/a", "NaN", "null", "NULL", "None", "#N/A", "<NA>"])
def test_predict_reads_a_missing_marker_as_an_empty_cell(tmp_path, capsys, marker):
    train = _holes_table(tmp_path / "train.csv", "")
    model, plain = str(tmp_path / "m.relunet"), str(tmp_path / "plain.relunet")
    assert main(["train", "--data", train, "--epochs", "2", "--impute", "mean", "--save", model, "-q"]) == 0
    capsys.readouterr()
    marked, empty = _holes_table(tmp_path / "marked.csv", marker), _holes_table(tmp_path / "empty.csv", "")
    rc, out_marked, err = _run(capsys, ["predict", "--model", model, "--data", marked])
    assert rc == 0, err
    rc, out_empty, err = _run(capsys, ["predict", "--model", model, "--data", empty])
    assert rc == 0, err
    assert out_marked == out_empty and len(out_marked.splitlines()) == 41
    # a model trained without --impute refuses it, naming the cell, its column and line
    assert main(["train", "--data", _holes_table(tmp_path / "full.csv", "1"), "--epochs", "1",
                 "--save", plain, "-q"]) == 0
    capsys.readouterr()
    _usage_error(capsys, ["predict", "--model", plain, "--data", marked],
                 f"a missing value ('{marker}') in column 'b', line 4", "without --impute")


def test_predict_refuses_a_missing_marker_in_a_text_column(tmp_path, capsys):
    rows = [f"{i},{['red', 'blue'][i % 2]},{i % 2}" for i in range(30)]
    path = tmp_path / "c.csv"
    path.write_text("size,color,ok\n" + "\n".join(rows) + "\n")
    model = str(tmp_path / "m.relunet")
    assert main(["train", "--data", str(path), "--epochs", "1", "--impute", "mean", "--save", model, "-q"]) == 0
    capsys.readouterr()
    rows[5] = "5,N/A,1"
    other = tmp_path / "new.csv"
    other.write_text("size,color,ok\n" + "\n".join(rows) + "\n")
    _usage_error(capsys, ["predict", "--model", model, "--data", str(other)],
                 "a missing value ('N/A') in column 'color', line 7", "--impute fills numeric columns only")


@pytest.mark.parametrize("out", [None, "p.csv"])
def test_predict_reports_the_accuracy_of_a_file_with_targets_on_stderr(tmp_path, capsys, xor_model, out):
    """With targets in the file the accuracy goes to stderr, whether the predictions go to
    stdout or to --out (stdout then holds the predictions alone)."""
    data = tmp_path / "xy.npz"
    np.savez(data, X=XOR_X, y=XOR_Y)
    rc, stdout, err = _run(capsys, ["predict", "--model", str(xor_model), "--data", str(data),
                                    *(["--out", str(tmp_path / out)] if out else [])])
    assert rc == 0, err
    assert err.count("\n") == 1 and "4 predictions" in err and "accuracy: " in err
    assert (stdout == "") == bool(out) and "accuracy" not in stdout


def test_predict_refuses_targets_of_another_length_than_the_inputs(tmp_path, capsys, xor_model):
    """An .npz whose y is shorter than its X: a one-line error naming both lengths (the
    metric was silently left out)."""
    data = tmp_path / "xy.npz"
    np.savez(data, X=np.vstack([XOR_X, XOR_X[:1]]), y=XOR_Y)
    out, _ = _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(data)],
                          "xy.npz", "X has 5 samples but y has 4")
    assert out == ""


@pytest.mark.parametrize("X, words", [
    (np.array([[np.nan, 1.0]]), "NaN"),
    (np.ones((0, 2)), "no samples"),
])
def test_predict_errors_on_the_values_of_a_data_file_name_the_file(tmp_path, capsys, xor_model, X, words):
    data = tmp_path / "bad.npy"
    np.save(data, X)
    _usage_error(capsys, ["predict", "--model", str(xor_model), "--data", str(data)], f"{data}: X ", words)


def test_predict_npz_header_declaring_a_huge_shape_is_one_line(tmp_path, capsys, cli_model):
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**5)})
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as z:
        z.writestr("X.npy", head.getvalue() + bytes(64))
    rc = main(["predict", "--model", cli_model, "--data", str(tmp_path / "lie.npz")])
    err = capsys.readouterr().err
    _one_line_error(rc, err)
    assert "array X: its header declares shape (1000000, 100000)" in err and "out of memory" not in err


def test_predict_on_a_table_that_is_not_utf8_names_the_file_and_line(tmp_path, capsys):
    # the reader of a model's named columns let the UnicodeDecodeError through: "an input file is not UTF-8 text"
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--epochs", "1", "--quiet",
                 "--save", str(tmp_path / "m.relunet")]) == 0
    capsys.readouterr()
    (tmp_path / "bin.csv").write_bytes(b"a,b\n1,2\n\xff,3\n")
    rc = main(["predict", "--model", str(tmp_path / "m.relunet"), "--data", str(tmp_path / "bin.csv")])
    err = capsys.readouterr().err
    _one_line_error(rc, err)
    assert "bin.csv: not a UTF-8 text file (byte 0xff at offset 8, line 3)" in err


def _train_model(capsys, tmp_path, data_args, contract: bool):
    """``relunet train`` a 4-unit model for 2 epochs on ``data_args`` (``--data ...``) into
    tmp_path/m.relunet; without ``contract``, the file is saved again with no data
    contract (as an older model file)."""
    model = tmp_path / "m.relunet"
    rc, _, err = _run(capsys, ["train", *data_args, "--hidden", "4", "--epochs", "2", "--save", str(model), "-q"])
    assert rc == 0, err
    if not contract:
        net = relunet.load(model)
        net.contract = None
        net.save(model)
    return model


@pytest.mark.parametrize("contract", [True, False])
def test_train_and_predict_agree_on_the_shape_of_an_npy_X(capsys, tmp_path, contract):
    """One feature as a 1-D X.npy, shape (n,): train takes it and predict (with the model's
    data contract or without one, an older file) predicts on the same file; a 0-D or 3-D X.npy
    is refused by both with the same one-line message, not a traceback."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", (x > 0).astype(int))
    model = _train_model(capsys, tmp_path, ["--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy")],
                         contract)
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(tmp_path / "X.npy")])
    assert rc == 0, err
    assert len(out.splitlines()) == 41
    for name, bad in (("X0.npy", np.float64(3.0)), ("X3.npy", x.reshape(40, 1, 1))):
        np.save(tmp_path / name, bad)
        _, trained = _usage_error(capsys, ["train", "--data", str(tmp_path / name), "--target",
                                           str(tmp_path / "y.npy"), "--epochs", "1"], "must be 2-D")
        _, predicted = _usage_error(capsys, ["predict", "--model", str(model), "--data", str(tmp_path / name)],
                                    "must be 2-D")
        assert trained.split(": X must")[1] == predicted.split(": X must")[1]


@pytest.mark.parametrize("contract", [True, False])
@pytest.mark.parametrize("text, rows", [
    ("0.5,-1,cat\n", 1),                 # one headerless row with a text label: data (it was a header)
    ("\ufeff0.5,-1,cat\n\n\n", 1),       # a BOM and trailing blank lines
    ("0.5,-1\n", 1),                     # one row of numbers, no target
    ("0.5,-1,cat\n1.5,-2,dog\n3,-4,cat\n", 3),
])
def test_predict_reads_a_one_row_or_headerless_csv_with_text_labels(capsys, tmp_path, contract, text, rows):
    train = tmp_path / "train.csv"
    train.write_text("a,b,label\n" + "".join(f"{i * 0.5},{-i},{'cat' if i % 2 else 'dog'}\n" for i in range(40)))
    model = _train_model(capsys, tmp_path, ["--data", str(train)], contract)
    data = tmp_path / "p.csv"
    data.write_bytes(text.encode("utf-8"))
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(data)])
    assert rc == 0, err
    assert len(out.splitlines()) == rows + 1
    assert ("accuracy" in err) == ("cat" in text)
    if "cat" in text:
        assert f"{rows} prediction{'s' if rows > 1 else ''}; accuracy" in err  # "1 prediction", not "1 predictions"
    for empty, words in (("a,b,label\n", "no data rows below its header row"), ("", "no data rows"),
                         ("\n\n", "no data rows")):
        data.write_text(empty)
        _usage_error(capsys, ["predict", "--model", str(model), "--data", str(data)], words)


@pytest.mark.parametrize("contract", [True, False])
def test_predict_on_a_data_directory_takes_the_split_asked_for(capsys, tmp_path, contract):
    """A directory with X.npy, y.npy, X_test.npy, y_test.npy: every row by default, its test
    or training part with --split (--split was ignored: always every row)."""
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    d.mkdir()
    for name, n in (("", 30), ("_test", 10)):
        x = rng.normal(size=(n, 2))
        np.save(d / f"X{name}.npy", x)
        np.save(d / f"y{name}.npy", (x[:, 0] > 0).astype(int))
    model = _train_model(capsys, tmp_path, ["--data", str(d)], contract)
    for split, n in ((None, 40), ("test", 10), ("train", 30), ("all", 40)):
        rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(d),
                                     *(["--split", split] if split else [])])
        assert rc == 0, err
        assert len(out.splitlines()) == n + 1 and f"({split or 'all'})" in err, (split, err)


@pytest.mark.parametrize("contract", [True, False])
def test_predict_on_a_train_test_npz_predicts_every_row(capsys, tmp_path, contract):
    """An .npz of X_train, y_train, X_test, y_test is predicted on whole, as the help says
    (it was X_test alone); the file the model was trained on has its parts with --split,
    described without 'split seed None' (its parts are the file's own)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 2)), rng.normal(size=(10, 2))
    path = tmp_path / "tt.npz"
    np.savez(path, X_train=a, y_train=(a[:, 0] > 0).astype(int), X_test=b, y_test=(b[:, 0] > 0).astype(int))
    model = _train_model(capsys, tmp_path, ["--data", str(path)], contract)
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(path)])
    assert rc == 0, err
    assert len(out.splitlines()) == 41 and "40 predictions; accuracy" in err and "None" not in err
    if contract:
        rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(path), "--split", "test"])
        assert rc == 0 and len(out.splitlines()) == 11 and f"{path} (test): 10 predictions" in err, err
    np.savez(tmp_path / "bad.npz", X_train=a, X_test=b[:, :1])
    _usage_error(capsys, ["predict", "--model", str(model), "--data", str(tmp_path / "bad.npz")],
                 "X_train has 2 features but X_test 1")


def test_predict_on_the_data_directory_of_the_model_takes_its_stored_test_fraction(capsys, tmp_path):
    """A directory of X.npy, y.npy split by fraction: --split test gives the part the model
    was tested on, its stored --test-size (it took the default 0.25: 25 rows, not 40)."""
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    d.mkdir()
    x = rng.normal(size=(100, 2))
    np.save(d / "X.npy", x)
    np.save(d / "y.npy", (x[:, 0] > 0).astype(int))
    model = _train_model(capsys, tmp_path, ["--data", str(d), "--test-size", "0.4"], True)
    for split, n in (("test", 40), ("train", 60)):
        rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(d) + "/", "--split", split])
        assert rc == 0, err
        assert len(out.splitlines()) == n + 1, (split, err)


def test_predict_of_a_named_model_reads_a_headerless_first_row_as_data(capsys, tmp_path):
    """A model of columns a, b, label and a headerless file whose first label occurs once:
    with the model's names, '1,2,cat' names none of them, so it is data (it was taken as a
    header: 'lacks the model's feature column(s) ['a', 'b']')."""
    train = tmp_path / "train.csv"
    train.write_text("a,b,label\n" + "".join(f"{i * 0.5},{-i},{'cat' if i % 2 else 'dog'}\n" for i in range(40)))
    model = _train_model(capsys, tmp_path, ["--data", str(train)], True)
    data = tmp_path / "p.csv"
    data.write_text("1,2,cat\n3,4,dog\n5,6,dog\n")
    rc, out, err = _run(capsys, ["predict", "--model", str(model), "--data", str(data)])
    assert rc == 0, err
    assert len(out.splitlines()) == 4 and "3 predictions; accuracy" in err
