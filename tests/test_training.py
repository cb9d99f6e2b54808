"""The training loop: online/batch, shuffling, validation, early stopping, callbacks,
schedules, progress, divergence guard, Ctrl-C, full-batch optimizers, determinism."""

import errno
import io
import json
import os
import warnings

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.io import archive
from relunet.training import progress as progress_mod
from relunet.training import schedules
from relunet.training import engine as training
from relunet.training.callbacks import Callback, EarlyStopping
from relunet.errors import ConfigError, DataError, DivergenceError, TargetTypeError
from relunet.training.engine import History, evaluate, fit, validation_indices

X6 = np.random.default_rng(0).random((6, 2))
Y6 = np.array([0, 1, 0, 1, 1, 0])

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _digits(n=300):
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data[:n] / 16.0).astype(np.float32), d.target[:n]


class Recorder(Callback):
    """Records the calls and a copy of the parameters after every epoch."""

    def __init__(self, stop_at=None, interrupt_at=None):
        self.calls = []
        self.params = {}
        self.stop_at = stop_at
        self.interrupt_at = interrupt_at

    def on_train_begin(self, net):
        self.calls.append("begin")
        self.params[0] = [p.copy() for p in net.parameters()]

    def on_batch_end(self, epoch, batch, loss, net):
        self.calls.append(("batch", epoch, batch))
        if self.interrupt_at == (epoch, batch):
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, record, net):
        self.calls.append(("epoch", epoch))
        self.params[epoch] = [p.copy() for p in net.parameters()]
        return self.stop_at is not None and epoch >= self.stop_at

    def on_train_end(self, net, history):
        self.calls.append("end")


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- online vs batch ----------------------------------------------------------------
def _epochs_to_100(batch_size, lr):
    net = relunet.MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
    hist = net.fit(XOR_X, XOR_Y, epochs=300, batch_size=batch_size, lr=lr)
    acc = hist["accuracy"]
    return net, next((i + 1 for i, a in enumerate(acc) if a == 1.0), None)


@pytest.mark.parametrize("batch_size", [1, 2, None])
def test_online_minibatch_and_batch_all_solve_xor(batch_size):
    net, reached = _epochs_to_100(batch_size, 0.5)
    assert reached is not None, f"batch_size={batch_size} never reached 100% on XOR"
    assert net.score(XOR_X, XOR_Y) == 1.0


@pytest.mark.parametrize("batch_size,documented", [(1, 19), (2, 17), (None, 29)])
def test_epochs_to_100_percent_on_xor_are_docs_training_md_measured_table(batch_size, documented):
    """docs/training.md's 'Measured' table, seed 0: epochs until the exact training accuracy
    first reaches 100% (2-8-1 leaky ReLU, sigmoid + BCE, SGD lr 0.5)."""
    net = relunet.MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
    acc = net.fit(XOR_X, XOR_Y, epochs=100, batch_size=batch_size, lr=0.5, exact_train_metrics=True)["accuracy"]
    reached = next(i + 1 for i, a in enumerate(acc) if a == 1.0)
    assert abs(reached - documented) <= 1


def test_online_does_one_update_per_pattern_batch_one_per_epoch():
    for bs, per_epoch in ((1, 4), (3, 2), (None, 1)):
        rec = Recorder()
        net = relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
        net.fit(XOR_X, XOR_Y, epochs=2, batch_size=bs, lr=0.1, callbacks=[rec])
        batches = [c for c in rec.calls if c[0] == "batch"]
        assert len(batches) == 2 * per_epoch


def test_shuffling_uses_the_networks_seeded_generator():
    """One online epoch equals manual SGD over net.rng's permutation, bit for bit."""
    net = relunet.MLP([2, 5, 1], activation="tanh", output="sigmoid", seed=3)
    twin = relunet.MLP([2, 5, 1], activation="tanh", output="sigmoid", seed=3)
    X, Y = net.check_X(XOR_X), net.encode_targets(XOR_Y)
    order = np.random.default_rng(0)
    order.bit_generator.state = net.rng.bit_generator.state
    perm = order.permutation(4)
    net.fit(XOR_X, XOR_Y, epochs=1, batch_size=1, lr=0.3)
    opt = relunet.optimizers.get("sgd", lr=0.3)
    for i in perm:
        twin.train_step(X[i : i + 1], Y[i : i + 1], opt)
    assert _same(net.parameters(), twin.parameters())
    # shuffle=False visits the samples in order
    a = relunet.MLP([2, 5, 1], activation="tanh", output="sigmoid", seed=3)
    b = relunet.MLP([2, 5, 1], activation="tanh", output="sigmoid", seed=3)
    a.fit(XOR_X, XOR_Y, epochs=1, batch_size=1, lr=0.3, shuffle=False)
    opt = relunet.optimizers.get("sgd", lr=0.3)
    for i in range(4):
        b.train_step(X[i : i + 1], Y[i : i + 1], opt)
    assert _same(a.parameters(), b.parameters())
    assert not _same(a.parameters(), net.parameters())


# -- determinism ------------------------------------------------------------------------
def test_same_seed_same_data_identical_bit_for_bit():
    X, y = _digits(200)
    runs = []
    for _ in range(2):
        net = relunet.MLP([64, 16, 10], activation="rrelu", seed=7)
        h = net.fit(X, y, epochs=3, batch_size=16, lr=0.1, optimizer="sgd", momentum=0.9,
                    validation_split=0.2)
        runs.append((net.parameters(), h["loss"], h["val_loss"]))
    assert _same(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1] and runs[0][2] == runs[1][2]
    other = relunet.MLP([64, 16, 10], activation="rrelu", seed=8)
    other.fit(X, y, epochs=3, batch_size=16, lr=0.1, optimizer="sgd", momentum=0.9, validation_split=0.2)
    assert not _same(runs[0][0], other.parameters())


# -- validation ---------------------------------------------------------------------------
def test_validation_split_is_stratified_disjoint_and_seeded():
    X, y = _digits(300)
    net = relunet.MLP([64, 10], seed=0)
    Y = net.encode_targets(y)
    tr, va = validation_indices(net, Y, 0.2, np.random.default_rng(0))
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 300
    for c in range(10):
        n_c = int(np.sum(y == c))
        assert int(np.sum(y[va] == c)) == round(0.2 * n_c)
    tr2, va2 = validation_indices(net, Y, 0.2, np.random.default_rng(0))
    assert np.array_equal(va, va2)
    _, last = validation_indices(net, Y, 0.2, np.random.default_rng(0), stratify=False)
    assert np.array_equal(last, np.arange(240, 300))
    with pytest.raises(ConfigError, match="validation_split"):
        validation_indices(net, Y, 1.5, np.random.default_rng(0))


def test_explicit_validation_data_is_encoded_and_recorded():
    X, y = _digits(300)
    net = relunet.MLP([64, 16, 10], seed=0)
    h = net.fit(X[:200], y[:200], epochs=3, batch_size=20, lr=0.2, validation_data=(X[200:], y[200:]))
    assert h.records[-1]["val_accuracy"] == pytest.approx(net.score(X[200:], y[200:]))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(h.records[0])
    with pytest.raises(DataError, match="pair"):
        net.fit(X, y, epochs=1, validation_data=X)


def test_low_level_fit_takes_validation_data_as_lists_or_other_dtypes():
    X, y = _digits(300)
    net = relunet.MLP([64, 16, 10], seed=0)
    Y = net.encode_targets(y)
    h_arrays = fit(relunet.MLP([64, 16, 10], seed=0), X[:200], Y[:200], epochs=2, batch_size=20,
                   validation_data=(X[200:], Y[200:]))
    h_lists = fit(net, X[:200], Y[:200], epochs=2, batch_size=20,
                  validation_data=(X[200:].astype(np.float64).tolist(), Y[200:].tolist()))
    for key in ("val_loss", "val_accuracy"):
        assert h_lists[key] == pytest.approx(h_arrays[key], rel=1e-6)
    with pytest.raises(DataError, match="numeric arrays"):
        fit(net, X[:200], Y[:200], epochs=1, validation_data=([["a"] * 64] * 3, Y[:3]))


def test_low_level_fit_never_truncates_validation_data_to_integer_training_dtypes():
    """Integer training targets (counts) must not turn float validation targets into integers."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    Y = rng.integers(0, 5, (200, 1))  # int64 targets
    Xv = rng.standard_normal((50, 4)).astype(np.float32)
    Yv = rng.integers(0, 5, (50, 1)) + 0.5
    net = relunet.MLP([4, 8, 1], output="identity", seed=0)
    h = fit(net, X, Y, epochs=1, batch_size=20, validation_data=(Xv, Yv))
    assert h["val_loss"][-1] == pytest.approx(evaluate(net, Xv, Yv)["loss"], rel=1e-6)


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e30), (np.float64, 1e300)])
def test_regression_targets_whose_squares_overflow_are_named_not_blamed_on_the_lr(dtype, big):
    X = np.arange(12, dtype=float).reshape(6, 2)
    net = relunet.MLP([2, 3, 1], output="identity", dtype=dtype, seed=0)
    with pytest.raises(DataError, match="squared error overflows.*scale the targets"):
        net.fit(X, np.full(6, big), epochs=1)
    net.fit(X, np.full(6, 1e3), epochs=1, lr=1e-6)  # large but representable: trains


# -- early stopping ----------------------------------------------------------------------
def _rising_val_net():
    """A linear unit y = w x trained towards w = 2; the validation targets are y = x, so
    the validation loss falls while w < 1 and rises after."""
    net = relunet.MLP([1, 1], output="identity", dtype=np.float64, seed=0)
    net.parameters()[0][...] = 0.0
    x = np.linspace(-1, 1, 21)[:, None]
    return net, x, 2 * x[:, 0], x[:, 0]


def test_early_stopping_restores_the_best_epochs_weights():
    net, x, y_train, y_val = _rising_val_net()
    rec = Recorder()
    h = net.fit(x, y_train, epochs=200, batch_size=None, lr=0.1, validation_data=(x, y_val),
                early_stopping=3, callbacks=[rec])
    val = h["val_loss"]
    best = int(np.argmin(val)) + 1
    assert 1 < best < len(val)  # it really fell, then rose
    assert h.stopped_early and h.info["best_epoch"] == best
    assert len(h) == best + 3  # patience 3
    assert all(val[i] > val[best - 1] for i in range(best, len(val)))
    assert _same(net.parameters(), rec.params[best])  # the best epoch's weights, exactly
    assert not _same(net.parameters(), rec.params[len(h)])


def test_early_stopping_val_accuracy_maximises_and_min_delta():
    es = EarlyStopping(monitor="val_accuracy", patience=2)
    assert es.mode == "max"
    net = relunet.MLP([2, 1], output="sigmoid", seed=0)
    for e, v in enumerate([0.5, 0.7, 0.7, 0.69], start=1):
        stop = es.on_epoch_end(e, {"val_accuracy": v}, net)
    assert stop and es.best_epoch == 2 and es.best == 0.7
    es = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)
    es.on_epoch_end(1, {"val_loss": 1.0}, net)
    assert es.on_epoch_end(2, {"val_loss": 0.95}, net)  # < min_delta: no improvement


def test_early_stopping_needs_validation_or_an_existing_metric():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    with pytest.raises(ConfigError, match="validation"):
        net.fit(XOR_X, XOR_Y, epochs=2, early_stopping=2)
    with pytest.raises(ConfigError, match="val_loss"):
        net.fit(XOR_X, XOR_Y, epochs=2, monitor="val_loss", schedule="plateau")
    with pytest.raises(ConfigError, match="nonsense"):
        net.fit(XOR_X, XOR_Y, epochs=2, early_stopping=EarlyStopping(monitor="nonsense"))
    h = net.fit(XOR_X, XOR_Y, epochs=2, early_stopping=2, monitor="loss")
    assert len(h) == 2


# -- callbacks and history -----------------------------------------------------------
def test_callback_protocol_order_and_stop_request():
    rec = Recorder(stop_at=3)
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=10, batch_size=2, lr=0.1, callbacks=[rec])
    assert len(h) == 3
    assert rec.calls[0] == "begin" and rec.calls[-1] == "end"
    assert rec.calls[1:4] == [("batch", 1, 1), ("batch", 1, 2), ("epoch", 1)]
    seen = []
    net.fit(XOR_X, XOR_Y, epochs=4, callbacks=[lambda e, r, n: seen.append(r["epoch"]) or e == 2])
    assert seen == [1, 2]


def test_history_saves_and_loads_as_json(tmp_path):
    X, y = _digits(120)
    net = relunet.MLP([64, 10], seed=0)
    h = net.fit(X, y, epochs=3, batch_size=30, lr=0.1, validation_split=0.25)
    path = tmp_path / "h.json"
    h.save(path)
    raw = json.loads(path.read_text())
    assert [r["epoch"] for r in raw["records"]] == [1, 2, 3]
    back = History.load(path)
    assert back.records == h.records and back.info == json.loads(json.dumps(h.info))
    assert back["val_accuracy"] == h["val_accuracy"] and back.final_loss == h.final_loss
    path.write_text("{not json")
    with pytest.raises(DataError, match="JSON"):
        History.load(path)


# -- schedules ----------------------------------------------------------------------
def test_schedule_sets_each_epochs_learning_rate():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=5, lr=1.0, schedule="step:2:0.5")
    assert h["lr"] == [1.0, 1.0, 0.5, 0.5, 0.25]
    h = net.fit(XOR_X, XOR_Y, epochs=4, lr=0.4, schedule="cosine")
    ref = schedules.Cosine(T_max=4)
    assert h["lr"] == pytest.approx([ref.lr_at(t, 0.4) for t in range(4)], rel=1e-15)


def test_plateau_schedule_receives_the_monitored_metric():
    class Spy(schedules.ReduceOnPlateau):
        def step(self, metric=None):
            got.append(metric)
            return super().step(metric)

    got = []
    X, y = _digits(100)
    net = relunet.MLP([64, 10], seed=0)
    h = net.fit(X, y, epochs=3, batch_size=25, lr=0.1, validation_split=0.2, schedule=Spy(patience=0))
    assert got == h["val_loss"]
    got.clear()
    h = net.fit(X, y, epochs=2, lr=0.1, validation_split=0.2, monitor="val_accuracy",
                schedule=Spy(mode="max"))
    assert got == h["val_accuracy"]


# -- divergence guard ---------------------------------------------------------------
@pytest.mark.parametrize("warnings_as_errors", [True, False])
def test_divergence_guard_stops_names_epoch_and_keeps_good_weights(warnings_as_errors):
    rec = Recorder()
    net = relunet.MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_as_errors else "ignore", RuntimeWarning)
        with pytest.raises(DivergenceError) as info:
            net.fit(XOR_X, XOR_Y, epochs=50, batch_size=1, lr=1e6, callbacks=[rec])
    err = info.value
    msg = str(err)
    assert f"epoch {err.epoch}" in msg and "smaller" in msg and "learning rate" in msg
    if err.batch is not None:
        assert f"batch {err.batch}" in msg
    assert all(np.isfinite(p).all() for p in net.parameters())
    # the parameters are exactly those at the end of the last completed epoch
    assert _same(net.parameters(), rec.params[err.epoch - 1])
    assert len(err.history) == err.epoch - 1



def test_divergence_of_an_output_that_cannot_hold_probabilities_names_the_pairing_not_the_rate():
    """Binary cross-entropy on an identity output diverges at any rate: the error says why
    (the doctor's ``output-loss-mismatch`` error), not 'try a smaller learning rate'."""
    net = relunet.MLP([2, 8, 1], output="identity", loss="binary_cross_entropy", seed=0)
    with pytest.raises(DivergenceError) as info:
        net.fit(XOR_X, XOR_Y, epochs=200, lr=0.5)
    msg = str(info.value)
    assert "identity output" in msg and "output='sigmoid' with loss='binary_cross_entropy'" in msg
    assert "smaller" not in msg
    assert all(np.isfinite(p).all() for p in net.parameters())

# -- Ctrl-C ----------------------------------------------------------------------------
def test_keyboard_interrupt_returns_history_with_last_complete_epoch():
    rec = Recorder(interrupt_at=(3, 2))
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=10, batch_size=1, lr=0.1, callbacks=[rec])
    assert h.interrupted and len(h) == 2
    assert _same(net.parameters(), rec.params[2])
    assert "end" not in rec.calls


def test_keyboard_interrupt_while_the_epoch_snapshot_is_taken():
    """Ctrl-C landing while the end-of-epoch snapshot is refreshed (in place) must not
    restore a torn snapshot (it raised ConfigError from an emptied optimizer state): the
    network keeps the epoch just completed, as the history says, optimizer and rng included."""
    X, y = _digits(100)

    class Adam(relunet.optimizers.Adam):
        calls = 0

        def state_dict(self):
            type(self).calls += 1
            if type(self).calls == 3:  # 1: before training, 2: after epoch 1, 3: after epoch 2
                raise KeyboardInterrupt
            return super().state_dict()

    net = relunet.MLP([64, 16, 10], seed=0)
    opt = Adam(lr=0.01)
    h = net.fit(X, y, epochs=5, batch_size=20, optimizer=opt)
    assert h.interrupted and len(h) == 2
    ref = relunet.MLP([64, 16, 10], seed=0)
    ref_opt = relunet.optimizers.Adam(lr=0.01)
    ref.fit(X, y, epochs=2, batch_size=20, optimizer=ref_opt)
    assert _same(net.parameters(), ref.parameters())
    assert opt.n_steps == ref_opt.n_steps
    assert _same(opt.state["exp_avg"], ref_opt.state["exp_avg"])
    assert net.rng.bit_generator.state == ref.rng.bit_generator.state


# -- progress --------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_plain_lines_when_not_a_terminal_and_silent_at_zero():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    out = io.StringIO()
    net.fit(XOR_X, XOR_Y, epochs=3, batch_size=1, lr=0.1, verbose=1, stream=out)
    lines = out.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert "\r" not in out.getvalue() and all("loss" in ln and "acc" in ln for ln in lines)
    quiet = io.StringIO()
    net.fit(XOR_X, XOR_Y, epochs=3, verbose=0, stream=quiet)
    assert quiet.getvalue() == ""


def test_progress_bar_on_a_terminal_redraws_at_most_ten_times_a_second(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, "perf_counter", lambda: now[0])
    monkeypatch.setenv("COLUMNS", "200")
    out = _Tty()
    p = progress_mod.Progress(epochs=2, n_samples=1000, n_batches=1000, verbose=1, stream=out)
    assert p.mode == "bar"
    p.epoch_begin(1)
    for b in range(1, 501):  # 500 batches within 50 ms: no redraw
        now[0] += 1e-4
        p.batch_end(b, b, 0.5 * b)
    assert out.getvalue() == ""
    for b in range(501, 1001):  # 500 batches over 1 s: about 10 redraws
        now[0] += 2e-3
        p.batch_end(b, b, 0.5 * b)
    text = out.getvalue()
    assert 8 <= text.count("\r") <= 11
    last = text.split("\r")[-1]
    assert "epoch 1/2" in last and "loss 0.5000" in last and "samples/s" in last and "ETA" in last
    p.epoch_end({"epoch": 1, "loss": 0.5, "accuracy": 0.75, "seconds": 1.05})
    assert out.getvalue().endswith("\n") and "acc 0.7500" in out.getvalue().splitlines()[-1]
    monkeypatch.setenv("COLUMNS", "40")  # never wider than the terminal: no wrapped redraws
    narrow = _Tty()
    q = progress_mod.Progress(epochs=2, n_samples=10, n_batches=10, verbose=1, stream=narrow)
    q.epoch_begin(1)
    now[0] += 1.0
    q.batch_end(5, 5, 1.0)
    assert 0 < len(narrow.getvalue().split("\r")[-1]) <= 39
    assert progress_mod.Progress(2, 10, 10, verbose=2, stream=_Tty()).mode == "lines"
    assert progress_mod.Progress(2, 10, 10, verbose=0, stream=_Tty()).mode == "off"


# -- full-batch optimizers ---------------------------------------------------------------
def test_full_batch_optimizer_records_iterations_and_evaluations():
    net = relunet.MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=200, optimizer="lbfgs")
    assert h.info["iterations"] == len(h) >= 1
    assert h.info["nfev"] >= h.info["iterations"]
    assert net.score(XOR_X, XOR_Y) == 1.0
    losses = h["loss"]
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # line searches never increase it
    assert h.records[-1]["accuracy"] == 1.0


# -- bad settings --------------------------------------------------------------------
def test_bad_settings_raise_config_errors():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    for kwargs, match in [({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"),
                          ({"verbose": 5}, "verbose"), ({"schedule": "step:1:2:3"}, "at most"),
                          ({"callbacks": [42]}, "callback")]:
        with pytest.raises(ConfigError, match=match):
            net.fit(XOR_X, XOR_Y, **kwargs)
    with pytest.raises(relunet.errors.UnknownNameError, match="known schedules"):
        net.fit(XOR_X, XOR_Y, schedule="zigzag")
    with pytest.raises(ConfigError):
        training.make_schedule(42, 10, "loss")


def test_callback_and_early_stopping_mistakes_are_named():
    X, y = _digits(120)
    net = relunet.MLP([64, 8, 10], seed=0)
    with pytest.raises(ConfigError, match="early_stopping=0: a patience is an integer >= 1"):
        net.fit(X, y, epochs=2, early_stopping=0, validation_split=0.2)
    with pytest.raises(ConfigError, match="the string 'abc'"):
        net.fit(X, y, epochs=1, callbacks="abc")

    class ArrayAnswer(Callback):
        def on_epoch_end(self, epoch, record, net):
            return np.array([True, False])

    with pytest.raises(ConfigError, match="ArrayAnswer.on_epoch_end returned array"):
        net.fit(X, y, epochs=1, callbacks=[ArrayAnswer()])

    class Counting(EarlyStopping):
        calls = 0

        def on_epoch_end(self, epoch, record, net):
            Counting.calls += 1
            return super().on_epoch_end(epoch, record, net)

    es = Counting(monitor="val_loss", patience=50)
    net.fit(X, y, epochs=3, validation_split=0.2, callbacks=[es], early_stopping=es)
    assert Counting.calls == 3  # given twice, called once per epoch


def _strict_json(text: str):
    def reject(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def _xor_net(**kw):
    return relunet.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0, **kw)


def test_history_save_is_atomic_and_strict_json(tmp_path, monkeypatch):
    path = tmp_path / "h.json"
    path.write_text("previous")
    h = History(records=[{"epoch": 1, "loss": 0.5, "val_loss": float("nan")}], info={"x": float("inf")})

    def crash(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", crash)
    monkeypatch.setattr(json, "dumps", crash)
    with pytest.raises(OSError):
        h.save(path)
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["h.json"]  # no temporary file left behind
    monkeypatch.undo()
    h.save(path)
    d = _strict_json(path.read_text())
    assert d["records"][0]["loss"] == 0.5 and d["records"][0]["val_loss"] is None and d["info"]["x"] is None


def test_history_save_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    History(records=[{"epoch": 1, "loss": 1.0}]).save(link)
    assert link.is_symlink() and History.load(real)["loss"] == [1.0]


def test_fit_batch_size_string():
    with pytest.raises(errors.ConfigError, match="batch_size"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=1, batch_size="full")


def test_fit_complex_X():
    with pytest.raises(errors.DataError, match="complex"):
        _xor_net().fit(XOR_X.astype(complex), XOR_Y, epochs=1)


def test_fit_X_beyond_float32_range():
    X = XOR_X.copy()
    X[1, 0] = 1e300
    with pytest.raises(errors.DataError, match="float32") as info:
        _xor_net().fit(X, XOR_Y, epochs=1)
    assert "row 1, column 0" in str(info.value)
    _xor_net(dtype="float64").fit(X, XOR_Y, epochs=1)  # fits in float64: no error


def test_fit_y_none_and_mixed_labels():
    with pytest.raises(errors.DataError, match="y"):
        _xor_net().fit(XOR_X, None, epochs=1)
    with pytest.raises(errors.TargetTypeError, match="labels"):
        _xor_net().fit(XOR_X, np.array([0, "a", 1, 0], dtype=object), epochs=1)


def test_fit_argument_types(tmp_path):
    with pytest.raises(errors.ConfigError, match="patience"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, early_stopping="x", monitor="loss")
    with pytest.raises(errors.ConfigError, match="monitor"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, monitor=5)
    with pytest.raises(errors.ConfigError, match="callbacks"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=2, callbacks=5)
    seen = []
    _xor_net().fit(XOR_X, XOR_Y, epochs=2, callbacks=lambda epoch, record, net: seen.append(epoch))
    assert seen == [1, 2]  # one callback given on its own is one callback
    calls = []

    class Spy:
        def on_epoch_end(self, epoch, record, net):
            calls.append(epoch)

    net = _xor_net()
    net.fit(XOR_X, XOR_Y, epochs=2, callbacks=Spy())
    assert calls == [1, 2]
    with pytest.raises(FileNotFoundError, match="missing"):
        net.fit(XOR_X, XOR_Y, epochs=1, checkpoint=tmp_path / "missing" / "c.ckpt", callbacks=Spy())
    assert calls == [1, 2]  # refused before the first epoch


def test_one_optimizer_instance_for_two_networks():
    opt = relunet.optimizers.get("adam", lr=0.01)
    relunet.MLP([2, 4, 1], output="sigmoid", seed=0).fit(XOR_X, XOR_Y, epochs=2, optimizer=opt)
    with pytest.raises(errors.ConfigError, match="another network"):
        relunet.MLP([2, 6, 1], output="sigmoid", seed=0).fit(XOR_X, XOR_Y, epochs=2, optimizer=opt)


def test_optimizer_instance_with_extra_hyper_parameters():
    opt = relunet.optimizers.get("sgd", lr=0.1)
    with pytest.raises(errors.ConfigError, match="momentum would be ignored"):
        _xor_net().fit(XOR_X, XOR_Y, epochs=1, optimizer=opt, momentum=0.9)


def _bin():
    return relunet.MLP([2, 3, 1], output="sigmoid", seed=0)


def test_ragged_X_and_y_are_data_errors():
    net = _bin()
    with pytest.raises(DataError, match="2-D array of numbers"):
        net.fit([[1.0, 2.0], [3.0]], [0, 1])
    net.fit(X6, Y6, epochs=1)
    with pytest.raises(DataError, match="2-D array of numbers"):
        net.predict([[1.0, 2.0], [3.0]])
    with pytest.raises(DataError, match="one per sample"):
        _bin().fit(X6, [[0], [1, 2], 0, 0, 0, 0], epochs=1)


def test_complex_targets_are_refused():
    with pytest.raises(TargetTypeError, match="complex"):
        relunet.MLP([2, 3, 1], output="identity").fit(X6, Y6 + 1j, epochs=1)
    with pytest.raises(TargetTypeError, match="complex"):
        _bin().fit(X6, Y6 + 0j, epochs=1)


def test_regression_target_beyond_float32_is_named_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="too large for float32"):
            relunet.MLP([2, 3, 1], output="identity").fit(X6, np.full(6, 1e300), epochs=1)


@pytest.mark.parametrize("label", ["a", 5])
def test_one_sigmoid_unit_with_a_single_label_other_than_0_1(label):
    # was accepted, then predict raised IndexError (classes_ had one entry for two outputs)
    with pytest.raises(TargetTypeError, match="1 class"):
        _bin().fit(X6, np.array([label] * 6), epochs=1)
    net = _bin()  # all-zero labels still name the classes 0/1
    net.fit(X6, np.zeros(6, dtype=int), epochs=1)
    assert net.predict(X6).shape == (6,)


def test_history_repr_is_short_whatever_the_epochs():
    net = relunet.MLP([2, 4, 1], activation="leaky_relu", output="sigmoid", seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=2000, lr=0.5, verbose=0)
    text = repr(h)
    assert len(text) < 300, len(text)
    assert text.startswith("History(epochs=2000") and f"loss={h['loss'][-1]:.4g}" in text
    assert "keys=['epoch', 'loss', 'accuracy', 'lr', 'seconds']" in text and "optimizer" in text
    assert repr(History()) == "History(epochs=0)"


class _Recording(_Tty):
    """A terminal stream that keeps what the bar line reads at the moment ``evaluate`` runs."""

    def __init__(self):
        super().__init__()
        self.during_evaluation: list[str] = []


@pytest.mark.parametrize("exact, passes", [(False, 2), (True, 4)])
def test_progress_bar_says_evaluating_while_the_epoch_is_evaluated(monkeypatch, exact, passes):
    monkeypatch.setenv("COLUMNS", "200")
    out = _Recording()
    net = relunet.MLP([2, 8, 2], activation="relu", seed=0)
    real = type(net).evaluate

    def evaluate(self, *args, **kwargs):
        out.during_evaluation.append(out.getvalue().split("\r")[-1])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(net), "evaluate", evaluate)
    X = np.random.default_rng(0).normal(size=(64, 2))
    net.fit(X, (X[:, 0] > 0).astype(int), epochs=2, batch_size=8, verbose=1, stream=out,
            validation_split=0.25, exact_train_metrics=exact)
    # two epochs: the validation pass, and with exact training metrics the training set's too
    assert len(out.during_evaluation) == passes
    for line in out.during_evaluation:
        assert line.startswith("epoch ") and "evaluating" in line, line
    final = [line.split("\r")[-1] for line in out.getvalue().split("\n") if line]
    assert all("evaluating" not in line and "val_loss" in line for line in final)  # the kept lines


def test_progress_lines_and_silence_have_no_evaluating_text():
    for verbose in (0, 2):
        out = _Tty()
        p = progress_mod.Progress(epochs=1, n_samples=10, n_batches=10, verbose=verbose, stream=out)
        p.epoch_begin(1)
        p.evaluating()
        assert out.getvalue() == ""


# -- the training accuracy of the records: from the batches, or exact -----------------------
def _batch_accuracy_by_hand(net, X, Y, batch_size, lr):
    """Each batch judged by evaluate before its step (no dropout: training mode = evaluation)."""
    opt = relunet.optimizers.get("sgd", lr=lr)
    correct = 0
    for s in range(0, len(X), batch_size):
        xb, yb = X[s : s + batch_size], Y[s : s + batch_size]
        correct += round(net.evaluate(xb, yb, loss=False)["accuracy"] * len(xb))
        net.train_step(xb, yb, opt)
    return correct / len(X)


@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_record_accuracy_counts_each_batch_before_its_update(batch_size):
    X, y = _digits(90)
    net = relunet.MLP([64, 16, 10], seed=0)
    twin = relunet.MLP([64, 16, 10], seed=0)
    Y = twin.encode_targets(y, len(X))
    expected = _batch_accuracy_by_hand(twin, X, Y, batch_size or len(X), 0.1)
    h = net.fit(X, y, epochs=1, batch_size=batch_size, lr=0.1, shuffle=False)
    assert h["accuracy"][0] == pytest.approx(expected, abs=1e-12)
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a, b)  # the same steps: counting changes nothing


def test_exact_train_metrics_evaluate_the_training_set_after_the_epoch():
    X, y = _digits(120)
    h = relunet.MLP([64, 16, 10], seed=0).fit(X, y, epochs=2, batch_size=16, lr=0.1, exact_train_metrics=True)
    net = relunet.MLP([64, 16, 10], seed=0)
    h2 = net.fit(X, y, epochs=2, batch_size=16, lr=0.1)
    assert h["loss"] == h2["loss"]  # the loss is the batch mean either way
    assert h["accuracy"][-1] == net.score(X, y)  # same weights: the exact pass is score's
    assert h2["accuracy"] != h["accuracy"]  # the batches judged before their updates
    with pytest.raises(ConfigError, match="exact_train_metrics must be True or False"):
        net.fit(X, y, epochs=1, exact_train_metrics="yes")


def test_hierarchical_softmax_records_have_training_accuracy_only_when_exact(monkeypatch):
    X, y = _digits(60)
    calls = []
    real = relunet.MLP.last_batch_correct
    monkeypatch.setattr(relunet.MLP, "last_batch_correct",
                        lambda self, Y: calls.append(1) or real(self, Y))
    net = relunet.MLP([64, 16, 10], output="hierarchical_softmax", seed=0)
    h = net.fit(X, y, epochs=2, batch_size=16, lr=0.1, validation_split=0.25)
    assert "accuracy" not in h.records[0] and "val_accuracy" in h.records[0] and not calls
    assert "accuracy" not in repr(h).split("keys=")[1].split("]")[0].split(", ")
    plain = relunet.MLP([64, 16, 10], output="hierarchical_softmax", seed=0)
    h1 = plain.fit(X, y, epochs=2, batch_size=16, lr=0.1)
    exact = relunet.MLP([64, 16, 10], output="hierarchical_softmax", seed=0)
    h2 = exact.fit(X, y, epochs=2, batch_size=16, lr=0.1, exact_train_metrics=True)
    assert h2["loss"] == h1["loss"] and "accuracy" not in h1.records[-1] and not calls
    assert h2["accuracy"][-1] == exact.score(X, y)  # the exact pass: the epoch's weights
    # the same network with a plain softmax still counts its batches
    h3 = relunet.MLP([64, 16, 10], seed=0).fit(X, y, epochs=1, batch_size=16, lr=0.1)
    assert "accuracy" in h3.records[0] and calls


def test_a_missing_training_accuracy_is_a_clear_error_for_early_stopping_on_it():
    X, y = _digits(40)
    net = relunet.MLP([64, 8, 10], output="hierarchical_softmax", seed=0)
    before = [p.copy() for p in net.parameters()]
    for kwargs in ({"early_stopping": 3}, {"schedule": "plateau"}):
        with pytest.raises(ConfigError, match="monitor='accuracy': a hierarchical softmax's epoch records have no "
                                              "training accuracy unless exact_train_metrics=True"):
            net.fit(X, y, epochs=2, monitor="accuracy", **kwargs)
    for p, q in zip(net.parameters(), before):
        np.testing.assert_array_equal(p, q)  # refused before the first epoch
    h = net.fit(X, y, epochs=2, early_stopping=3, monitor="accuracy", exact_train_metrics=True)
    assert "accuracy" in h.records[-1]


def test_regression_records_have_no_training_accuracy_and_no_evaluation_pass(monkeypatch):
    X = np.random.default_rng(0).random((40, 3))
    net = relunet.MLP([3, 8, 1], output="identity", seed=0)
    calls = []
    real = type(net).evaluate
    monkeypatch.setattr(type(net), "evaluate", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    h = net.fit(X, X.sum(axis=1), epochs=2, batch_size=8)
    assert "accuracy" not in h.records[0] and not calls


def test_multilabel_batch_accuracy_is_an_exact_match_of_every_output():
    rng = np.random.default_rng(1)
    X = rng.random((30, 4))
    Y = (rng.random((30, 3)) > 0.5).astype(float)
    net = relunet.MLP([4, 8, 3], output="sigmoid", seed=0)
    twin = relunet.MLP([4, 8, 3], output="sigmoid", seed=0)
    expected = _batch_accuracy_by_hand(twin, X, twin.encode_targets(Y, len(X)), 10, 0.5)
    h = net.fit(X, Y, epochs=1, batch_size=10, lr=0.5, shuffle=False)
    assert h["accuracy"][0] == pytest.approx(expected, abs=1e-12)


def test_last_batch_correct_before_any_step_and_with_wrong_rows():
    net = relunet.MLP([2, 4, 2], seed=0)
    assert net.last_batch_correct(np.eye(2)) == 0
    Y = net.encode_targets(XOR_Y, 4)
    net.train_step(XOR_X, Y, relunet.optimizers.get("sgd", lr=0.1))
    assert 0 <= net.last_batch_correct(Y) <= 4
    with pytest.raises(DataError, match="Y has 3 rows, the last training batch 4"):
        net.last_batch_correct(Y[:3])


@pytest.mark.parametrize("scale", [1.0, 1e30])
@pytest.mark.parametrize("index_targets", [False, True])
def test_softmax_batch_count_on_the_logits_equals_the_count_on_the_probabilities(scale, index_targets):
    """The batch's correct rows are counted on the logits (no softmax per batch): the same
    count as the probabilities' argmax, huge logits included."""
    X, y = _digits(200)
    net = relunet.MLP([64, 16, 10], seed=0)
    net.loss.index_targets = index_targets  # class indices, as MLP encodes 1024 classes or more
    Y = net.encode_targets(y, len(X))
    assert Y.shape[1] == (1 if index_targets else 10)
    net.dense_layers[-1].W *= scale
    with np.errstate(over="ignore", invalid="ignore"):  # the logits before the step's update
        p = net.output_activation.fn(net.logits(X[:128], training=False))
    net.train_step(X[:128], Y[:128], relunet.optimizers.get("sgd", lr=0.1))
    want = int(np.sum(np.argmax(p, axis=1) == y[:128]))
    assert net.last_batch_correct(Y[:128]) == want
    assert 0 < want < 128  # the comparison is not vacuous


def test_threads_setting_of_fit():
    X, y = _digits(60)
    a = relunet.MLP([64, 8, 10], seed=0)
    b = relunet.MLP([64, 8, 10], seed=0)
    a.fit(X, y, epochs=1, threads=1, optimizer="adam")
    b.fit(X, y, epochs=1, optimizer="adam")
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)  # threads change the speed, never the numbers
    for bad in (0, -1, 2.5, "4"):
        with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
            a.fit(X, y, epochs=1, threads=bad)
    cores = relunet.core.kernels.default_threads()
    before = [p.copy() for p in a.parameters()]
    with pytest.raises(ConfigError, match=f"threads must be at most {cores}, the cores this process may use"):
        a.fit(X, y, epochs=1, threads=cores + 1)
    for p, q in zip(a.parameters(), before):
        np.testing.assert_array_equal(p, q)  # refused before any step
    a.fit(X, y, epochs=1, threads=cores)


def test_history_load_of_json_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("{\"records\": " + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DataError, match="nested too deeply"):
        History.load(path)


def test_history_load_reads_at_most_the_json_cap(tmp_path, monkeypatch):
    """History.load reads through archive.read_json: an endless or oversized file is refused
    once past MAX_JSON_BYTES (it was read whole: /dev/zero until memory ran out)."""
    h = relunet.MLP([2, 4, 1], output="sigmoid", seed=0).fit(XOR_X, XOR_Y, epochs=3, lr=0.1)
    path = tmp_path / "h.json"
    h.save(path)
    assert History.load(path).records == h.records
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", path.stat().st_size - 1)
    with pytest.raises(DataError, match="more than"):
        History.load(path)
    path.write_text("[" * 100_000)
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", 2**20)
    with pytest.raises(DataError, match="nested too deeply"):
        History.load(path)
