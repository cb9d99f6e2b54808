"""Edge cases of runs: checkpoints and resume, callbacks, sweeps and comparisons, plots."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

import relunet
from relunet.training import checkpoint as ckpt
from relunet.insight import sweep
from relunet.training.callbacks import Callback, EarlyStopping
from relunet.errors import ClusterError, ConfigError, ModelFileError, RelunetError

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def _net():
    return relunet.MLP([2, 4, 1], output="sigmoid", seed=0)


# ---------------------------------------------------------------------------
# Dask: an address that answers but is no scheduler fails fast and clearly
# ---------------------------------------------------------------------------


class _FakeServer:
    """A TCP server that accepts connections and either stays silent or sends ``reply``."""

    def __init__(self, reply: bytes | None):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def _run_bounded(fn, seconds):
    """``fn()`` in a daemon thread: (finished, exception); a hang fails instead of blocking."""
    out: dict = {}

    def target():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), out.get("exc")


@pytest.mark.parametrize("reply", [None, b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4 + b"\xff" * 64])
def test_dask_address_that_is_not_a_scheduler_fails_fast(reply):
    pytest.importorskip("distributed")
    server = _FakeServer(reply)
    try:
        t0 = time.perf_counter()
        done, exc = _run_bounded(lambda: sweep.run_sweep([1], abs, scheduler=server.address, timeout=1), 20)
        assert done, "run_sweep hung on a server that is not a Dask scheduler"
        assert isinstance(exc, ClusterError), repr(exc)
        assert server.address in str(exc)
        assert time.perf_counter() - t0 < 10
    finally:
        server.close()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "2", True])
def test_dask_timeout_is_checked(timeout):
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="timeout"):
        sweep.run_sweep([1], abs, scheduler="tcp://127.0.0.1:9", timeout=timeout)


def test_dask_address_with_an_unknown_scheme_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="http"):
        sweep.run_sweep([1], abs, scheduler="http://127.0.0.1:8786", timeout=1)


# ---------------------------------------------------------------------------
# Checkpoints: corrupted-but-checksummed content is a ModelFileError, not a traceback
# ---------------------------------------------------------------------------


def _fit(net, epochs, **kw):
    return net.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.5, batch_size=2, **kw)


@pytest.fixture()
def saved(tmp_path):
    path = tmp_path / "x.ckpt"
    _fit(_net(), 2, checkpoint=path, early_stopping=EarlyStopping(monitor="loss", patience=5))
    return path


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
        _fit(_net(), 4, resume=bad, early_stopping=EarlyStopping(monitor="loss", patience=5))


class _Stateful(Callback):
    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return {"s": self.state}

    def load_state_dict(self, d):
        pass


@pytest.mark.parametrize("state", [{1, 2}, lambda: 1, np.array(["a", None], dtype=object)])
def test_unstorable_callback_state_is_a_config_error(tmp_path, state):
    with pytest.raises(ConfigError, match=r"callbacks/0:_Stateful/s"):
        _fit(_net(), 2, callbacks=[_Stateful(state)], checkpoint=tmp_path / "s.ckpt")


def test_resume_of_an_early_stopped_run_keeps_the_best_weights(tmp_path):
    path = tmp_path / "es.ckpt"
    kw = dict(early_stopping=EarlyStopping(monitor="val_loss", patience=1), validation_split=0.5)
    first = _net()
    h1 = _fit(first, 20, checkpoint=path, **kw)
    assert h1.stopped_early
    again = _net()
    h2 = _fit(again, 30, resume=path, **kw)
    assert len(h2) == len(h1) and h2.stopped_early
    assert all(np.array_equal(a, b) for a, b in zip(first.parameters(), again.parameters()))


# ---------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"min_delta": float("inf")}, {"min_delta": True}, {"min_delta": "0.1"},
                                {"restore_best_weights": "no"}])
def test_early_stopping_settings_are_checked(kw):
    with pytest.raises(ConfigError):
        EarlyStopping(monitor="loss", **kw)


def test_early_stopping_state_of_another_network_is_named():
    es = EarlyStopping(monitor="loss")
    es.load_state_dict({"best": 0.5, "best_epoch": 1, "wait": 0, "stopped_epoch": 0,
                        "best_weights": [np.zeros(3, np.float32)]})
    with pytest.raises(ModelFileError, match="do not fit"):
        es.on_train_end(_net(), None)


def test_function_callback_returning_an_array_is_named():
    def cb(epoch, record, net):
        return np.array([1, 2])

    with pytest.raises(ConfigError, match="'cb' returned ndarray"):
        _fit(_net(), 2, callbacks=[cb])


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def test_history_with_a_non_numeric_epoch_is_a_data_error(tmp_path):
    from relunet.insight import plots
    from relunet.errors import DataError

    with pytest.raises(DataError, match="epoch"):
        plots.plot_history([{"epoch": "a", "loss": 1.0}], tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


def test_activation_range_with_an_infinite_width_is_refused():
    from relunet.insight import plots

    with pytest.raises(ConfigError, match="finite width"):
        plots.plot_activations("relu", x_range=(-1e308, 1e308))


def test_comparison_rows_missing_a_metric_are_named(tmp_path):
    from relunet.insight import plots
    from relunet.errors import DataError

    with pytest.raises(DataError, match="test_accuracy_mean"):
        plots.plot_comparison({"rows": [{"activation": "relu"}]}, tmp_path / "c.png")
    fig = plots.plot_comparison({"rows": [{"activation": "relu", "test_accuracy_mean": 0.5,
                                           "test_accuracy_std": None}]}, metrics=["test_accuracy"])
    assert fig.axes[0].get_title() == "test accuracy"


def test_cli_plot_history_bad_epoch_is_one_line(tmp_path, capsys):
    from relunet.cli import main

    f = tmp_path / "h.json"
    f.write_text('{"records": [{"epoch": "a", "loss": 1}]}')
    assert main(["plot", "history", str(f), "--out", str(tmp_path / "h.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "epoch" in err
