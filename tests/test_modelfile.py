"""Model files: bit-identical round trips, and bad files rejected with ModelFileError."""

import io
import json
import os
import stat
import warnings
import zipfile

import numpy as np
import pytest

import relunet
from relunet.core import activations
from relunet.io import modelfile
from relunet.errors import ModelFileError
from relunet.io.archive import write_archive

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])
X6 = np.random.default_rng(0).random((6, 2))

X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)  # 3 classes


def _net(act="relu", **kw):
    spec = ("prelu", {"num_parameters": "per_unit"}) if act == "prelu" else act
    return relunet.MLP([5, 8, 6, 3], activation=spec, seed=kw.pop("seed", 1), **kw)


def _roundtrip(net, tmp_path, name="m.relunet"):
    path = tmp_path / name
    net.save(path)
    return relunet.load(path), path


@pytest.mark.parametrize("name", activations.names())
def test_roundtrip_bit_identical_for_every_activation(name, tmp_path):
    net = _net(name)
    if activations.get(name).differentiable:
        net.fit(X, Y, epochs=3, batch_size=8, lr=0.05)
    else:  # step / sign cannot be trained by gradient descent: save them untrained
        net.classes_ = np.arange(3)
    loaded, _ = _roundtrip(net, tmp_path)
    assert loaded.sizes == net.sizes and loaded.loss.name == net.loss.name
    for a, b in zip(net.parameters(), loaded.parameters()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(net.predict_output(X), loaded.predict_output(X))
    assert np.array_equal(net.predict(X), loaded.predict(X))


def test_prelu_learned_slopes_survive(tmp_path):
    net = _net("prelu")
    net.fit(X, Y, epochs=5, batch_size=8, lr=0.1)
    slopes = [l.activation.weight for l in net.layers[1:-1:2]]
    assert all(s.shape == (8,) or s.shape == (6,) for s in slopes)
    assert any(not np.allclose(s, 0.25) for s in slopes)  # they were trained
    loaded, _ = _roundtrip(net, tmp_path)
    for s, t in zip(slopes, [l.activation.weight for l in loaded.layers[1:-1:2]]):
        assert np.array_equal(s, t)


def test_activation_settings_and_per_layer_specs(tmp_path):
    net = relunet.MLP([5, 7, 7, 7, 2], activation=[("leaky_relu", {"negative_slope": 0.3}),
                      ("softplus", {"beta": 2.0, "threshold": 5.0}), ("gelu", {"approximate": "tanh"})],
                      output="sigmoid", dtype=np.float64, seed=4)
    loaded, _ = _roundtrip(net, tmp_path)
    acts = [l.activation for l in loaded.layers[1::2]]
    assert acts[0].negative_slope == 0.3
    assert (acts[1].beta, acts[1].threshold) == (2.0, 5.0)
    assert acts[2].approximate == "tanh"
    assert loaded.dtype == np.float64
    assert np.array_equal(net.predict_output(X), loaded.predict_output(X))


def test_string_classes_and_regression(tmp_path):
    labels = np.array(["cat", "dog", "emu"])[Y]
    net = _net("tanh")
    net.fit(X, labels, epochs=2, lr=0.05)
    loaded, _ = _roundtrip(net, tmp_path)
    assert loaded.classes_.tolist() == ["cat", "dog", "emu"]
    assert np.array_equal(net.predict(X), loaded.predict(X))
    reg = relunet.MLP([5, 4, 2], activation="elu", output="identity", seed=2)
    reg.fit(X, X[:, :2] * 2, epochs=2, lr=0.05)
    loaded, _ = _roundtrip(reg, tmp_path, "r.relunet")
    assert loaded.classes_ is None and loaded.task == "regression"
    assert np.array_equal(reg.predict(X), loaded.predict(X))


def test_training_continues_identically_after_load(tmp_path):
    """The generator state is saved: shuffling (and RReLU noise) continue where they were."""
    net = _net("rrelu")
    net.fit(X, Y, epochs=2, batch_size=8, lr=0.05)
    loaded, _ = _roundtrip(net, tmp_path)
    net.fit(X, Y, epochs=2, batch_size=8, lr=0.05)
    loaded.fit(X, Y, epochs=2, batch_size=8, lr=0.05)
    for a, b in zip(net.parameters(), loaded.parameters()):
        assert np.array_equal(a, b)


def test_save_is_atomic_and_overwrites(tmp_path):
    path = tmp_path / "m.relunet"
    _net("relu", seed=1).save(path)
    net2 = _net("tanh", seed=2)
    net2.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.relunet"]  # no temp file left
    assert np.array_equal(relunet.load(path).predict_output(X), net2.predict_output(X))


# -- bad files -------------------------------------------------------------


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.relunet"
    net = relunet.MLP([3, 4, 2], activation=("prelu", {"num_parameters": "per_unit"}), seed=0)
    net.save(path)
    return path, net


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        relunet.load(tmp_path / "nope.relunet")


def test_truncated_file(good_file, tmp_path):
    path, _ = good_file
    data = path.read_bytes()
    for n in (0, 1, 10, len(data) // 3, len(data) // 2, len(data) - 22, len(data) - 1):
        bad = tmp_path / "t.relunet"
        bad.write_bytes(data[:n])
        with pytest.raises(ModelFileError, match="t.relunet"):
            relunet.load(bad)


def test_every_flipped_byte_is_caught_or_harmless(good_file, tmp_path):
    """Flip each byte of a small model file in turn: loading must raise ModelFileError or
    (a flip in a field zip does not use, e.g. a timestamp) give the very same model."""
    path, net = good_file
    data = path.read_bytes()
    x = X[:, :3]
    expected = net.predict_output(x)
    bad = tmp_path / "f.relunet"
    caught = harmless = 0
    for i, mask in [(i, m) for m in (0xFF, 0x01) for i in range(len(data))]:
        flipped = bytearray(data)
        flipped[i] ^= mask
        bad.write_bytes(bytes(flipped))
        try:
            loaded = relunet.load(bad)
        except ModelFileError:
            caught += 1
            continue
        assert np.array_equal(loaded.predict_output(x), expected), f"byte {i} changed the model silently"
        harmless += 1
    assert caught > 0.8 * 2 * len(data)


def test_flipped_byte_in_weights_is_a_checksum_error(good_file, tmp_path):
    path, _ = good_file
    data = bytearray(path.read_bytes())
    # the first occurrence is the local header: name, then the .npy (128-byte header, data)
    i = data.index(b"arrays/W0.npy") + len(b"arrays/W0.npy") + 128 + 4
    data[i] ^= 0x01
    bad = tmp_path / "w.relunet"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted"):
        relunet.load(bad)


def test_foreign_files(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, W0=np.zeros((3, 4)))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    zipped = tmp_path / "other.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("meta.json", json.dumps({"format": "something-else"}))
    ckpt = tmp_path / "ckpt.relunet"
    write_archive(ckpt, "checkpoint", {}, {})
    for path, message in [(png, "not a relunet file"), (npz, "no meta.json"), (text, "not a relunet file"),
                          (zipped, "not a relunet file"), (ckpt, "expected a 'model'")]:
        with pytest.raises(ModelFileError, match=message):
            relunet.load(path)


def _tampered(tmp_path, good_file, edit_meta=None, edit_arrays=None):
    path, net = good_file
    meta, arrays = modelfile.describe(net)
    arrays = {k: v.copy() for k, v in arrays.items()}
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    out = tmp_path / "x.relunet"
    write_archive(out, "model", meta, arrays)
    return out


@pytest.mark.parametrize("edit_meta,edit_arrays,message", [
    (lambda m: m.update(format_version=99), None, "newer"),
    (lambda m: m["activations"][0].update(name="frobnicate"), None, "unknown activation 'frobnicate'"),
    (lambda m: m.update(loss="hinge_of_doom"), None, "unknown loss"),
    (lambda m: m.update(sizes=[3, 5, 2]), None, "shape"),
    (lambda m: m.update(sizes=[3, "4", 2]), None, "sizes"),
    (lambda m: m.update(dtype="int8"), None, "dtype"),
    (lambda m: m["activations"][0]["config"].update(num_parameters=-3), None, "cannot be built"),
    (lambda m: m["activations"][0]["config"].update(num_parameters=1), None, "act0_p0 has shape"),
    (None, lambda a: a.pop("b1"), "missing \\['b1'\\]"),
    (None, lambda a: a.update(extra=np.zeros(2)), "unexpected \\['extra'\\]"),
    (None, lambda a: a.update(W0=a["W0"].astype(np.float64)), "dtype float64"),
    (None, lambda a: a.update(W1=a["W1"][:, :1]), "W1 has shape"),
    (None, lambda a: a["W0"].__setitem__((0, 0), np.nan), "NaN"),
])
def test_inconsistent_files(tmp_path, good_file, edit_meta, edit_arrays, message):
    bad = _tampered(tmp_path, good_file, edit_meta, edit_arrays)
    with pytest.raises(ModelFileError, match=message):
        relunet.load(bad)


def test_pickled_array_is_refused(tmp_path, good_file):
    """An array stored as a pickle (which could run code) is never unpickled."""
    path, _ = good_file
    bad = tmp_path / "p.relunet"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "arrays/b0.npy":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.array([object()] * 4, dtype=object), allow_pickle=True)
                data = buf.getvalue()
            dst.writestr(item, data)
    with pytest.raises(ModelFileError):
        relunet.load(bad)


def test_unsaveable_network(tmp_path):
    from relunet.core.layers import ActivationLayer, Dense

    net = relunet.Network([Dense(np.zeros((2, 2)), np.zeros(2)), ActivationLayer("relu")], "mse")
    with pytest.raises(ModelFileError, match="only an MLP"):
        modelfile.save(net, tmp_path / "n.relunet")
    assert not (tmp_path / "n.relunet").exists()


# -- relunet predict ---------------------------------------------------------


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    from relunet.data import datasets

    d = datasets.load("digits", seed=0)
    net = relunet.MLP([64, 16, 10], activation="prelu", seed=0)
    net.fit(d.X_train, d.y_train, epochs=3, lr=0.1)
    path = tmp_path_factory.mktemp("cli") / "digits.relunet"
    net.save(path)
    return path, net, d


def _cli(*argv):
    from relunet.cli import main

    return main([str(a) for a in argv])


def test_predict_csv_on_named_dataset(digits_model, tmp_path, capsys):
    import csv

    path, net, d = digits_model
    out = tmp_path / "pred.csv"
    assert _cli("predict", "--model", path, "--data", "digits", "--out", out) == 0
    assert "accuracy" in capsys.readouterr().err
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["prediction"] + [f"p_{k}" for k in range(10)]
    assert len(rows) - 1 == len(d.X_test)
    assert [int(r[0]) for r in rows[1:]] == net.predict(d.X_test).tolist()
    proba = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.array_equal(proba, net.predict_proba(d.X_test).astype(np.float64))  # repr round-trips


def test_predict_json_and_data_files(digits_model, tmp_path, capsys):
    path, net, d = digits_model
    X = d.X_test[:7]
    np.savez(tmp_path / "x.npz", X=X, y=d.y_test[:7])
    np.save(tmp_path / "x.npy", X)
    with open(tmp_path / "x.csv", "w") as f:  # a header and a named target column, first
        f.write(",".join(["label"] + [f"px{i}" for i in range(64)]) + "\n")
        for row, label in zip(X, d.y_test[:7]):
            f.write(",".join([str(label)] + [repr(float(v)) for v in row]) + "\n")
    expected = net.predict(X).tolist()
    for name in ("x.npz", "x.npy", "x.csv"):
        out = tmp_path / f"{name}.json"
        assert _cli("predict", "--model", path, "--data", tmp_path / name, "--out", out) == 0
        result = json.loads(out.read_text())
        assert result["predictions"] == expected and result["classes"] == list(range(10))
        assert np.allclose(result["probabilities"], net.predict_proba(X), atol=1e-6)
    assert _cli("predict", "--model", path, "--data", tmp_path / "x.npy", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["n_samples"] == 7


def test_predict_regression_and_multilabel(tmp_path, capsys):
    import csv

    reg = relunet.MLP([5, 4, 2], activation="tanh", output="identity", seed=0)
    reg.save(tmp_path / "reg.relunet")
    np.save(tmp_path / "x.npy", X)
    assert _cli("predict", "--model", tmp_path / "reg.relunet", "--data", tmp_path / "x.npy") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["prediction_0", "prediction_1"]
    assert np.array_equal(np.array(rows[1:], dtype=float), reg.predict(X).astype(np.float64))
    ml = relunet.MLP([5, 4, 3], activation="relu", output="sigmoid", seed=0)
    ml.fit(X, (X[:, :3] > 0).astype(int), epochs=2, lr=0.1)
    ml.save(tmp_path / "ml.relunet")
    assert _cli("predict", "--model", tmp_path / "ml.relunet", "--data", tmp_path / "x.npy") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["label_0", "label_1", "label_2", "p_0", "p_1", "p_2"]
    assert np.array_equal(np.array(rows[1:], dtype=float)[:, :3], ml.predict(X))


@pytest.mark.parametrize("case", ["corrupt", "features", "dataset", "suffix", "foreign_data"])
def test_predict_errors_exit_2_with_one_line(digits_model, tmp_path, capsys, case):
    path, _, _ = digits_model
    args = ["predict", "--model", path, "--data", "digits"]
    if case == "corrupt":
        bad = tmp_path / "bad.relunet"
        bad.write_bytes(path.read_bytes()[:-40])
        args[2] = bad
    elif case == "features":
        np.save(tmp_path / "x.npy", np.zeros((3, 5)))
        args[4] = tmp_path / "x.npy"
    elif case == "dataset":
        args[4] = "no-such-dataset"
    elif case == "suffix":
        args += ["--out", tmp_path / "p.txt"]
    else:
        (tmp_path / "x.npz").write_bytes(b"not a zip")
        args[4] = tmp_path / "x.npz"
    assert _cli(*args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("relunet: error:") and "\n" not in err


def test_predict_scaling_as_in_training(tmp_path, capsys):
    """--scale standard on a named dataset reproduces the inputs relunet train --scale saw."""
    from relunet.data import datasets

    d = datasets.load("digits", seed=1, scale="standard")
    net = relunet.MLP([64, 8, 10], activation="relu", seed=0)
    net.fit(d.X_train, d.y_train, epochs=2, lr=0.05)
    net.save(tmp_path / "m.relunet")
    out = tmp_path / "p.json"
    args = ["predict", "--model", tmp_path / "m.relunet", "--data", "digits", "--seed", 1, "--out", out]
    assert _cli(*args, "--scale", "standard") == 0
    assert json.loads(out.read_text())["predictions"] == net.predict(d.X_test).tolist()
    np.save(tmp_path / "x.npy", d.X_test)
    assert _cli("predict", "--model", tmp_path / "m.relunet", "--data", tmp_path / "x.npy", "--scale", "standard") == 2
    assert "--scale" in capsys.readouterr().err


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def test_model_save_errors_name_the_users_path(tmp_path):
    net = _xor_net()
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        net.save(tmp_path)
    missing = tmp_path / "missing" / "m.rln"
    with pytest.raises(FileNotFoundError) as info:
        net.save(missing)
    assert str(tmp_path / "missing") in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_model_save_writes_through_a_symlink(tmp_path):
    net = _xor_net()
    real = tmp_path / "real.rln"
    net.save(real)
    link = tmp_path / "link.rln"
    link.symlink_to(real)
    net.fit(XOR_X, XOR_Y, epochs=3, lr=0.5)
    net.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(relunet.load(real).predict_output(XOR_X), net.predict_output(XOR_X))


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


def test_float_class_labels_round_trip_through_a_model_file(tmp_path):
    net = relunet.MLP([2, 3, 3], seed=0)
    net.fit(X6, np.array([1.0, 2.0, 3.0] * 2), epochs=1)
    net.save(tmp_path / "m.relunet")
    back = relunet.load(tmp_path / "m.relunet")
    assert back.classes_.dtype == np.float64
    np.testing.assert_array_equal(back.predict(X6), net.predict(X6))


# -- sizes and numbers declared by a file are checked before anything is allocated ----------

def _run_under_memory_limit(code: str, spare_mb: int = 600) -> str:
    """Run ``code`` in a fresh interpreter whose address space may grow by ``spare_mb`` only
    (after relunet is imported); returns its stdout (its last line says what happened)."""
    import os
    import subprocess
    import sys
    prologue = (
        "import resource, relunet, relunet.io.modelfile, relunet.training.checkpoint\n"
        "vm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmSize')][0] * 1024\n"
        f"resource.setrlimit(resource.RLIMIT_AS, (vm + {spare_mb} * 2**20, resource.RLIM_INFINITY))\n"
        "try:\n" + "".join(f"    {line}\n" for line in code.splitlines()) +
        "except BaseException as exc:\n    print(type(exc).__name__, exc)\nelse:\n    print('loaded')\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", prologue], capture_output=True, text=True, timeout=120, env=env)
    return (done.stdout.strip().splitlines() or [done.stderr.strip()[-300:]])[-1]


@pytest.fixture()
def prelu_file(tmp_path):
    net = relunet.MLP([3, 4, 2], activation="prelu", seed=0)
    path = tmp_path / "p.relunet"
    net.save(path)
    return path, net


def test_huge_declared_parameter_count_is_refused_before_building(tmp_path, prelu_file, monkeypatch):
    path, net = prelu_file
    meta, arrays = modelfile.describe(net)
    meta["activations"][0]["config"]["num_parameters"] = 400_000_000
    bad = tmp_path / "huge.relunet"
    write_archive(bad, "model", meta, arrays)
    import relunet.core.network as network

    def no_building(*args, **kwargs):
        raise AssertionError("the network was built before the sizes were checked")

    monkeypatch.setattr(network, "MLP", no_building)
    with pytest.raises(ModelFileError, match="num_parameters = 400000000 exceeds 4"):
        modelfile.load(bad)
    assert "ModelFileError" in _run_under_memory_limit(f"relunet.load({str(bad)!r})")


def test_parameter_limit_has_a_default_and_an_override(tmp_path):
    net = relunet.MLP([30, 40, 2], seed=0)
    path = tmp_path / "m.relunet"
    net.save(path)
    assert modelfile.MAX_PARAMETERS >= 10**6
    with pytest.raises(ModelFileError, match=r"1322 parameters, over the limit of 1000 .*max_parameters"):
        modelfile.load(path, max_parameters=1000)
    assert modelfile.load(path, max_parameters=1322).sizes == [30, 40, 2]


def test_huge_layer_widths_are_refused_from_the_metadata(tmp_path, prelu_file, monkeypatch):
    path, net = prelu_file
    meta, arrays = modelfile.describe(net)
    meta["sizes"] = [3, 10**6, 10**6]
    bad = tmp_path / "wide.relunet"
    write_archive(bad, "model", meta, arrays)
    monkeypatch.setattr(np, "empty", None)  # nothing may be allocated for it
    with pytest.raises(ModelFileError, match="over the limit"):
        modelfile.load(bad)


def _zip_bomb(path, entry, inflated=2**30, meta_entry=None):
    """A zip whose ``entry`` deflates ``inflated`` zero bytes into a few megabytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        if meta_entry is not None:
            zf.writestr("meta.json", json.dumps(meta_entry))
        with zf.open(entry, "w", force_zip64=True) as f:
            block = bytes(2**20)
            for _ in range(inflated // len(block)):
                f.write(block)


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    net = relunet.MLP([3, 4, 2], seed=0)
    meta, _ = modelfile.describe(net)
    header = {"format": "relunet", "kind": "model", "version": 1, "arrays": ["W0"], "meta": meta}
    _zip_bomb(folder / "array.relunet", "arrays/W0.npy", meta_entry=header)
    _zip_bomb(folder / "meta.relunet", "meta.json")
    return folder


@pytest.mark.parametrize("name, message", [("array.relunet", "W0.npy would inflate"),
                                           ("meta.relunet", "meta.json declares 1073741824 bytes")])
def test_entries_that_inflate_to_a_gigabyte_are_refused_unread(bomb_files, name, message, monkeypatch):
    path = bomb_files / name
    assert path.stat().st_size < 8 * 2**20
    monkeypatch.setattr(zipfile.ZipFile, "testzip", None)  # refused before any entry is inflated
    with pytest.raises(ModelFileError, match=message):
        modelfile.load(path)
    assert "ModelFileError" in _run_under_memory_limit(f"relunet.load({str(path)!r})", spare_mb=300)


def test_an_entry_longer_than_its_directory_claims_is_cut_off(tmp_path):
    from relunet.io import archive
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr("meta.json", b" " * 100 + b"{}")
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as zf, zf.open("meta.json") as f:
        with pytest.raises(ModelFileError, match="more than 50 bytes"):
            archive.read_capped(f, 50, "meta.json", "x")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_endless_or_special_inputs_are_refused(tmp_path, special):
    import os
    if special == "fifo":
        path = tmp_path / "model.relunet"
        os.mkfifo(path)  # no writer: opening it would block
    elif special == "folder":
        path = tmp_path
    else:
        path = special
    out = _run_under_memory_limit(f"relunet.load({str(path)!r})", spare_mb=300)
    assert out.startswith("ModelFileError") and "not a regular file" in out


# -- numbers in a file: in the range where the maths stays finite --------------------------

@pytest.mark.parametrize("name, key, value", [("elu", "alpha", 1e308), ("celu", "alpha", 1e308),
                                              ("leaky_relu", "negative_slope", -1e308),
                                              ("prelu", "init", 1e308), ("softplus", "beta", 1e-308),
                                              ("hardtanh", "max_val", 1e308)])
def test_activation_settings_out_of_range_are_refused(tmp_path, name, key, value):
    net = relunet.MLP([3, 4, 2], activation=name, seed=0)
    meta, arrays = modelfile.describe(net)
    meta["activations"][0]["config"][key] = value
    bad = tmp_path / "big.relunet"
    write_archive(bad, "model", meta, arrays)
    with pytest.raises(ModelFileError, match=f"{key} must be"):
        modelfile.load(bad)


@pytest.mark.parametrize("field, value", [("state", 10**400), ("inc", -1), ("has_uint32", 7), ("uinteger", 2**40)],
                         ids=["state", "inc", "has_uint32", "uinteger"])
def test_generator_state_out_of_range_is_refused(tmp_path, prelu_file, field, value):
    _, net = prelu_file
    meta, arrays = modelfile.describe(net)
    (meta["rng"]["state"] if field in ("state", "inc") else meta["rng"])[field] = value
    bad = tmp_path / "rng.relunet"
    write_archive(bad, "model", meta, arrays)
    with pytest.raises(ModelFileError, match=f"rng: .*{field} must be an integer"):
        modelfile.load(bad)


def test_bytes_class_labels_are_saved_as_their_text(tmp_path):
    # np.save of b"cat" labels: the network trained, then save refused dtype |S3
    X = np.random.default_rng(0).normal(size=(20, 2))
    net = relunet.MLP([2, 4, 2], output="softmax", seed=0)
    net.fit(X, np.array([b"cat", b"dog"] * 10), epochs=1, verbose=0)
    net.save(tmp_path / "m.relunet")
    assert relunet.load(tmp_path / "m.relunet").classes_.tolist() == ["cat", "dog"]
    net = relunet.MLP([2, 4, 2], output="softmax", seed=0)
    net.fit(X, np.array([b"\xff", b"dog"] * 10), epochs=1, verbose=0)
    with pytest.raises(ModelFileError, match="bytes that are not UTF-8 text"):
        net.save(tmp_path / "n.relunet")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_model_with_non_finite_weights_is_refused_at_load(value, dtype, tmp_path):
    net = _net(dtype=dtype)
    net.fit(X, Y, epochs=1)
    net.dense_layers[1].b[2] = value
    path = tmp_path / "bad.relunet"
    net.save(path)
    with pytest.raises(ModelFileError, match="array b1 holds NaN or infinite values"):
        relunet.load(path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_model_with_huge_finite_weights_loads_and_predict_names_the_weights(dtype, tmp_path):
    """Finite weights near the float maximum are a valid file; predicting overflows, and the
    error blames the weights (it blamed the inputs, of magnitude 2, and told a float64 model
    to use float64), with no NumPy warning on the way."""
    net = _net(dtype=dtype)
    net.fit(X, Y, epochs=1)
    net.dense_layers[0].W[...] = 0.5 * np.finfo(dtype).max
    loaded, _ = _roundtrip(net, tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.parameters(), net.parameters()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(relunet.errors.DivergenceError, match=r"own weights overflow .*retrain"):
            loaded.predict(X[:3])


def _contract_file(tmp_path, **fields):
    """A saved network with a data contract (3 features, standard scaling, mean fill)."""
    from relunet.core.contract import DataContract

    net = relunet.MLP([3, 4, 2], activation="tanh", seed=0)
    net.contract = DataContract(scale="standard", offset=np.zeros(3), divisor=np.ones(3),
                                features=["a", "b", "c"], impute="mean", fill=np.zeros(3), **fields)
    path = tmp_path / "c.relunet"
    net.save(path)
    return path


def test_a_version_2_file_without_its_contract_is_refused(tmp_path):
    # loaded as a plain model: predictions without the inputs' scaling, silently
    bad = _tamper(_contract_file(tmp_path), tmp_path / "t.relunet", meta=lambda h: h["meta"].pop("contract"))
    with pytest.raises(ModelFileError, match="promises a data contract"):
        relunet.load(bad)


@pytest.mark.parametrize("key,value", [
    ("offset", [1e39, 0.0, 0.0]),          # finite in float64, infinite in the contract's float32
    ("divisor", [1e-50, 1.0, 1.0]),        # rounds to 0 in float32
    ("fill", [-1e300, 0.0, 0.0]),
    ("target_offset", 1e200),             # the network's float32
    ("features", ["a", "a", "c"]),         # which column is the feature? neither
])
def test_contract_statistics_that_break_prediction_are_refused_at_load(tmp_path, key, value):
    # predict then blamed the user's X ("X contains NaN or infinite values") with a RuntimeWarning
    bad = _tamper(_contract_file(tmp_path), tmp_path / "t.relunet",
                  meta=lambda h: h["meta"]["contract"].__setitem__(key, value))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelFileError, match="data contract: (duplicate feature names|" + key + " does not fit)"):
            relunet.load(bad)


def test_a_float64_contract_keeps_its_float64_statistics(tmp_path):
    path = _contract_file(tmp_path)
    for key, value in (("divisor", [1e-50, 1.0, 1.0]), ("dtype", "float64")):
        _tamper(path, path, meta=lambda h: h["meta"]["contract"].__setitem__(key, value))
    assert relunet.load(path).contract.divisor[0] == 1e-50


def test_a_contract_load_would_refuse_is_not_saved(tmp_path):
    from relunet.core.contract import DataContract

    net = relunet.MLP([3, 4, 2], activation="tanh", seed=0)
    net.contract = DataContract(scale="standard", offset=np.array([1e39, 0, 0]), divisor=np.ones(3))
    with pytest.raises(ModelFileError, match="cannot be saved: offset does not fit in float32"):
        net.save(tmp_path / "c.relunet")
    assert os.listdir(tmp_path) == []
