"""Checkpoints: exact resume, atomic writes, Ctrl-C, faithful state, bad files."""

import os

import numpy as np
import pytest

import relunet
from relunet.training import checkpoint as ckpt
from relunet.training import optimizers
from relunet.training.callbacks import Callback, EarlyStopping
from relunet.errors import ConfigError, ModelFileError

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def _data(n=160):
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data[:n] / 16.0).astype(np.float32), d.target[:n]


X, Y = _data()

CASES = {
    "sgd_momentum": dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam_plateau_es": dict(optimizer="adam", lr=0.01, schedule="plateau:0:0.5", early_stopping=50),
    # T_max explicit: by default cosine anneals over the run's epochs, which differ (3 vs 5)
    "adamw_warmup": dict(optimizer="adamw", lr=0.01, schedule="warmup:2:cosine:4"),
}


def _net(activation="relu"):
    return relunet.MLP([64, 12, 10], activation=activation, seed=5)


def _train(net, epochs, **kwargs):
    return net.fit(X, Y, epochs=epochs, batch_size=16, validation_split=0.2, **kwargs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_epochs_resume_two_equals_five_straight(tmp_path, case):
    kw = CASES[case]
    act = "rrelu" if case == "sgd_momentum" else "relu"  # RReLU draws from net.rng each batch
    straight = _net(act)
    h5 = _train(straight, 5, **kw)

    path = tmp_path / "run.ckpt"
    first = _net(act)
    _train(first, 3, checkpoint=path, **kw)
    saved = ckpt.load(path)
    assert saved.epoch == 3 and saved.optimizer_name == kw["optimizer"]

    resumed = _net(act)  # a fresh process would build the same network from the same seed
    h = _train(resumed, 5, resume=path, checkpoint=path, **kw)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert np.array_equal(a, b)
    assert h["loss"] == h5["loss"] and h["val_loss"] == h5["val_loss"] and h["lr"] == h5["lr"]
    assert h.info["resumed_from"] == 3 and ckpt.load(path).epoch == 5
    assert straight.rng.bit_generator.state == resumed.rng.bit_generator.state


def test_resume_restores_the_generator_in_place():
    net = _net("rrelu")
    rrelu = next(l.activation for l in net.layers if getattr(l, "activation", None) is not None
                 and l.activation.name == "rrelu")
    state = {"bit_generator": "PCG64", "state": {"state": 12345, "inc": 7}, "has_uint32": 0, "uinteger": 0}
    c = ckpt.Checkpoint(epoch=1, params=[p.copy() for p in net.parameters()], rng_state=state,
                        optimizer_name="sgd", optimizer=None)
    ckpt.restore_params(net, c)
    assert rrelu.rng is net.rng and net.rng.bit_generator.state["state"]["state"] == 12345


def test_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.ckpt"
    net = _net()
    _train(net, 2, checkpoint=path, optimizer="adam", lr=0.01)
    before = path.read_bytes()
    good = ckpt.load(path)

    calls = {"n": 0}
    real = np.lib.format.write_array

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # a few arrays in: the archive is half written
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crashing)
    with pytest.raises(OSError, match="simulated"):
        _train(_net(), 5, checkpoint=path, optimizer="adam", lr=0.01)
    monkeypatch.undo()
    assert calls["n"] == 3
    assert path.read_bytes() == before
    again = ckpt.load(path)
    assert again.epoch == good.epoch == 2
    assert all(np.array_equal(a, b) for a, b in zip(again.params, good.params))
    assert os.listdir(tmp_path) == ["c.ckpt"]  # no temporary file left behind


class _InterruptAt(Callback):
    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch, loss, net):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(tmp_path):
    kw = dict(optimizer="sgd", lr=0.05, momentum=0.9)
    straight = _net()
    _train(straight, 5, **kw)

    path = tmp_path / "c.ckpt"
    net = _net()
    h = _train(net, 5, checkpoint=path, callbacks=[_InterruptAt(4, 3)], **kw)
    assert h.interrupted and len(h) == 3
    assert ckpt.load(path).epoch == 3
    resumed = _net()
    h2 = _train(resumed, 5, resume=path, **kw)
    assert not h2.interrupted and len(h2) == 5
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert np.array_equal(a, b)


def test_state_encoding_is_faithful():
    state = {
        "lr": 0.1,
        "step": 3,
        "state": {"exp_avg": [np.arange(3, dtype=np.float32), np.ones((2, 2))]},
        "betas": (0.9, 0.999),
        "by_index": {0: np.float32(1.5), 1: None},
        "flag": True,
        "name": "x",
    }
    arrays = {}
    enc = ckpt.encode_state(state, "opt", arrays)
    import json

    dec = ckpt.decode_state(json.loads(json.dumps(enc)), arrays)
    assert dec["betas"] == (0.9, 0.999) and dec["step"] == 3 and dec["flag"] is True
    assert dec["by_index"][1] is None and set(dec["by_index"]) == {0, 1}
    assert isinstance(dec["by_index"][0], np.float32) and dec["by_index"][0] == np.float32(1.5)
    a, b = dec["state"]["exp_avg"]
    assert a.dtype == np.float32 and np.array_equal(a, np.arange(3)) and np.array_equal(b, np.ones((2, 2)))
    with pytest.raises(TypeError, match="checkpoint"):
        ckpt.encode_state({"f": object()}, "x", {})


def test_optimizer_state_round_trips_through_a_file(tmp_path):
    params = [np.ones((3, 2), np.float32), np.zeros(2, np.float32)]
    opt = optimizers.get("adam", lr=0.01)
    for _ in range(3):
        opt.step(params, [np.full_like(p, 0.5) for p in params])
    c = ckpt.Checkpoint(epoch=1, params=params, rng_state=None, optimizer_name="adam",
                        optimizer=opt.state_dict())
    ckpt.save(tmp_path / "o.ckpt", c)
    back = ckpt.load(tmp_path / "o.ckpt")
    twin = optimizers.get("adam", lr=0.01)
    twin.load_state_dict(back.optimizer)
    p1, p2 = [p.copy() for p in params], [p.copy() for p in params]
    g = [np.full_like(p, -0.25) for p in params]
    opt.step(p1, [x.copy() for x in g])
    twin.step(p2, [x.copy() for x in g])
    assert all(np.array_equal(a, b) for a, b in zip(p1, p2))


def test_bad_checkpoints_are_refused(tmp_path):
    path = tmp_path / "c.ckpt"
    _train(_net(), 1, checkpoint=path, optimizer="sgd", lr=0.1)
    other = relunet.MLP([64, 7, 10], seed=5)
    with pytest.raises(ModelFileError, match="do not fit"):
        other.fit(X, Y, epochs=2, resume=path)
    with pytest.raises(ConfigError, match="same optimizer"):
        _train(_net(), 2, resume=path, optimizer="adam")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        _train(_net(), 2, resume=bad)
    (tmp_path / "junk.ckpt").write_text("hello")
    with pytest.raises(ModelFileError):
        ckpt.load(tmp_path / "junk.ckpt")
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "missing.ckpt")


def test_resume_after_the_last_epoch_trains_no_more(tmp_path):
    path = tmp_path / "c.ckpt"
    net = _net()
    _train(net, 2, checkpoint=path, optimizer="sgd", lr=0.1)
    again = _net()
    h = _train(again, 2, resume=path, optimizer="sgd", lr=0.1)
    assert len(h) == 2
    assert all(np.array_equal(a, b) for a, b in zip(net.parameters(), again.parameters()))


@pytest.mark.parametrize("change, words", [
    ({"lr": 0.05}, "learning rate 0.02, this run uses 0.05"),
    ({"schedule": "cosine"}, "schedule None"),
    ({"data": "other"}, "other data"),
    ({"data": "fewer"}, "other data"),
])
def test_resume_refuses_another_learning_rate_schedule_or_data(tmp_path, change, words):
    path = tmp_path / "run.ckpt"
    kw = {"optimizer": "sgd", "lr": 0.02}
    net = _net()
    net.fit(X, Y, epochs=2, batch_size=16, checkpoint=path, **kw)
    X2, Y2 = X, Y
    if change.get("data") == "other":
        X2 = X[::-1].copy()  # the same rows in another order: another split of the data
    elif change.get("data") == "fewer":
        X2, Y2 = X[:-1], Y[:-1]
    kw.update({k: v for k, v in change.items() if k != "data"})
    with pytest.raises(ConfigError, match=words):
        _net().fit(X2, Y2, epochs=4, batch_size=16, resume=path, **kw)
    _net().fit(X, Y, epochs=4, batch_size=16, resume=path, optimizer="sgd", lr=0.02)  # the same run: fine


def _xor_net():
    return relunet.MLP([2, 4, 1], output="sigmoid", seed=0)


def _fit(net, epochs, **kw):
    return net.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.5, batch_size=2, **kw)


@pytest.fixture()
def saved(tmp_path):
    path = tmp_path / "x.ckpt"
    _fit(_xor_net(), 2, checkpoint=path, early_stopping=EarlyStopping(monitor="loss", patience=5))
    return path


class _Stateful(Callback):
    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return {"s": self.state}

    def load_state_dict(self, d):
        pass


@pytest.mark.parametrize("mutate, word", [
    (lambda c: setattr(c, "history", {"records": [1, 2]}), "records"),
    (lambda c: setattr(c, "callbacks", [1]), "callbacks"),
    (lambda c: c.callbacks.update({k: {"best": "x"} for k in c.callbacks}), "best"),
    (lambda c: c.callbacks.update({k: {} for k in c.callbacks}), "best"),
    (lambda c: c.extra.update(config={"batch_size": "x"}), "batch_size"),
    (lambda c: c.extra.update(val_idx=np.array([-1, 0])), "val_idx"),
    (lambda c: c.extra.update(val_idx=np.array([0.5, 1.5])), "val_idx"),
    (lambda c: c.extra.update(val_idx="ab"), "val_idx"),
])
def test_bad_checkpoint_content_is_a_model_file_error(saved, tmp_path, mutate, word):
    c = ckpt.load(saved)
    mutate(c)
    bad = tmp_path / "bad.ckpt"
    ckpt.save(bad, c)
    with pytest.raises(ModelFileError, match=word):
        _fit(_xor_net(), 4, resume=bad, early_stopping=EarlyStopping(monitor="loss", patience=5))


@pytest.mark.parametrize("state", [{1, 2}, lambda: 1, np.array(["a", None], dtype=object)])
def test_unstorable_callback_state_is_a_config_error(tmp_path, state):
    with pytest.raises(ConfigError, match=r"callbacks/0:_Stateful/s"):
        _fit(_xor_net(), 2, callbacks=[_Stateful(state)], checkpoint=tmp_path / "s.ckpt")


def test_resume_of_an_early_stopped_run_keeps_the_best_weights(tmp_path):
    path = tmp_path / "es.ckpt"
    kw = dict(early_stopping=EarlyStopping(monitor="val_loss", patience=1), validation_split=0.5)
    first = _xor_net()
    h1 = _fit(first, 20, checkpoint=path, **kw)
    assert h1.stopped_early
    again = _xor_net()
    h2 = _fit(again, 30, resume=path, **kw)
    assert len(h2) == len(h1) and h2.stopped_early
    assert all(np.array_equal(a, b) for a, b in zip(first.parameters(), again.parameters()))


def _resaved(tmp_path, edit):
    """A checkpoint of a short run, its metadata changed by ``edit(meta)`` and written again."""
    from relunet.io.archive import read_archive, write_archive
    path = tmp_path / "c.ckpt"
    _train(_net(), 1, checkpoint=path, optimizer="sgd", lr=0.1)
    meta, arrays = read_archive(path, "checkpoint")
    edit(meta)
    write_archive(path, "checkpoint", meta, arrays)
    return path


@pytest.mark.parametrize("field, value", [("state", 10**400), ("inc", 2**128), ("uinteger", -5)],
                         ids=["state", "inc", "uinteger"])
def test_generator_state_out_of_range_is_refused(tmp_path, field, value):
    def edit(meta):
        state = meta["rng_state"]
        (state["state"] if field in ("state", "inc") else state)[field] = value
    path = _resaved(tmp_path, edit)
    with pytest.raises(ModelFileError, match=f"rng_state: .*{field} must be an integer in"):
        ckpt.load(path)


def test_an_entry_inflating_far_beyond_its_size_is_refused_unread(tmp_path, monkeypatch):
    import zipfile
    path = tmp_path / "bomb.ckpt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", b"{}")
        zf.writestr("arrays/param/0.npy", bytes(64 * 2**20))  # 64 MiB of zeros in 64 KiB
    assert path.stat().st_size < 2**20
    monkeypatch.setattr(zipfile.ZipFile, "testzip", None)  # refused before any entry is inflated
    with pytest.raises(ModelFileError, match="param/0.npy would inflate .* zip bomb"):
        ckpt.load(path)
    small = tmp_path / "small.ckpt"
    _train(_net(), 1, checkpoint=small, optimizer="sgd", lr=0.1)
    with pytest.raises(ModelFileError, match="over the limit of 1000"):
        ckpt.load(small, max_bytes=1000)


def test_a_fifo_named_as_checkpoint_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.ckpt"
    os.mkfifo(fifo)
    import subprocess
    import sys
    code = (f"from relunet.training import checkpoint as c\ntry: c.load({str(fifo)!r})\n"
            "except Exception as e: print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.startswith("ModelFileError") and "not a regular file" in out
