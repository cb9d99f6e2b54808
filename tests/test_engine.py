"""The engine's pieces: the Run object and its epoch(), the divergence policy, the
minimizer contract for full-batch methods, conflicting arguments."""

import re
import warnings

import numpy as np
import pytest

import relunet
from relunet.errors import ConfigError, DivergenceError
from relunet.training import optimizers
from relunet.training.divergence import Diverged, check_parameters, checked_loss, float_errors
from relunet.training.engine import DEFAULT_LR, History, Run, fit
from relunet.training.minimizers import CG, LBFGS, FullBatchResult, Minimizer

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _digits(n=200):
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data[:n] / 16.0, d.target[:n]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- Run / epoch ----------------------------------------------------------------------------
def test_a_run_driven_by_hand_is_fit_bit_for_bit():
    X, y = _digits()
    a = relunet.MLP([64, 16, 10], seed=3)
    h = a.fit(X, y, epochs=3, batch_size=16, lr=0.1, optimizer="sgd", momentum=0.9)

    b = relunet.MLP([64, 16, 10], seed=3)
    Y = b.encode_targets(y, len(X), fit=True)
    run = Run(b, b.check_X(X), Y, optimizers.get("sgd", lr=0.1, momentum=0.9), batch_size=16)
    run.start()
    records = [run.epoch() for _ in range(3)]
    history = run.finish()
    assert _same(a.parameters(), b.parameters())
    assert [r["loss"] for r in records] == h["loss"] and history["accuracy"] == h["accuracy"]
    assert run.epochs_done == 3 and not run.stopped and not b.training


def test_run_epoch_record_callbacks_and_stop_request():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    seen = []

    def stop_after_two(epoch, record, net):
        seen.append(epoch)
        return epoch >= 2

    run = Run(net, net.check_X(XOR_X), net.encode_targets(XOR_Y, 4), optimizers.get("sgd", lr=0.5),
              batch_size=None, callbacks=[relunet.callbacks.as_callback(stop_after_two)])
    run.start()
    while run.epochs_done < 10 and not run.stopped:
        record = run.epoch()
    assert seen == [1, 2] and run.stopped and len(run.history) == 2
    assert set(record) >= {"epoch", "loss", "accuracy", "lr", "seconds"} and record["lr"] == 0.5
    assert run.batch_size == 4 and run.n_batches == 1  # None: the full batch


def test_run_without_metrics_skips_the_training_evaluation():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    run = Run(net, net.check_X(XOR_X), net.encode_targets(XOR_Y, 4), optimizers.get("sgd", lr=0.5),
              metrics=False)
    run.start()
    assert "accuracy" not in run.epoch()


def test_run_epoch_divergence_restores_the_last_good_state():
    net = relunet.MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
    run = Run(net, net.check_X(XOR_X), net.encode_targets(XOR_Y, 4), optimizers.get("sgd", lr=1e6),
              batch_size=1)
    run.start()
    good = [p.copy() for p in net.parameters()]
    with pytest.raises(DivergenceError) as info:
        for _ in range(50):
            good = [p.copy() for p in net.parameters()]
            run.epoch()
    assert _same(net.parameters(), good) and info.value.history is run.history


# -- divergence policy ------------------------------------------------------------------------
class _Overshoot(optimizers.SGD):
    """Plain SGD whose second step breaks the first weights with ``damage`` (default: makes
    them infinite; the loss, taken before the step, is still finite)."""

    name = "sgd"

    def __init__(self, damage=None):
        super().__init__(lr=0.1)
        self.calls, self.damage = 0, damage

    def _update(self, params, grads):
        self.calls += 1
        super()._update(params, grads)
        if self.calls == 2:
            if self.damage is None:
                params[0][...] = np.inf
            else:
                self.damage(params[0])


def test_non_finite_parameters_after_an_epoch_are_divergence():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    before = [p.copy() for p in net.parameters()]
    with pytest.raises(DivergenceError, match="parameters became infinite or NaN at the end of epoch 1") as info:
        net.fit(XOR_X, XOR_Y, epochs=1, batch_size=2, optimizer=_Overshoot())
    assert _same(net.parameters(), before) and info.value.epoch == 1 and info.value.batch is None


def test_an_overflow_is_divergence_whatever_the_callers_warning_filter():
    net = relunet.MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DivergenceError, match="diverged"):
            net.fit(XOR_X, XOR_Y, epochs=50, batch_size=1, lr=1e6)
    assert all(np.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_loss_already_infinite_on_the_first_batch_blames_the_data_not_the_rate(dtype):
    """Inputs near the float maximum overflow the first forward pass, before any update:
    'try a smaller learning rate' (the advice it got) cannot help."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(40, 3)) * (0.9 * float(np.finfo(dtype).max))
    net = relunet.MLP([3, 5, 2], dtype=dtype, seed=0)
    before = [p.copy() for p in net.parameters()]
    with pytest.raises(DivergenceError, match="at epoch 1, batch 1") as info:
        net.fit(X, (X[:, 0] > 0).astype(int), epochs=2)
    msg = str(info.value)
    assert "before any update, so the learning rate is not the cause" in msg and "smaller" not in msg
    assert f"overflow {np.dtype(dtype).name} inside the network" in msg
    assert ("use dtype float64" in msg) == (dtype == np.float32)
    assert _same(net.parameters(), before)


def _zero_over_zero(w):
    """0 / 0 (NumPy: 'invalid value encountered in divide')."""
    w[...] /= np.zeros_like(w) * w


def test_an_invalid_operation_is_named_as_such_not_as_an_overflow():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    net.dense_layers[0].W[...] = 0.0
    with pytest.raises(DivergenceError) as info:
        net.fit(XOR_X, XOR_Y, epochs=1, batch_size=2, optimizer=_Overshoot(_zero_over_zero))
    msg = str(info.value)
    assert "an invalid floating-point operation (invalid value encountered in divide" in msg
    assert "overflow" not in msg and info.value.batch == 2


def test_divergence_policy_pieces():
    with pytest.raises(Diverged) as info:
        checked_loss(float("nan"), 3, 2)
    assert (info.value.epoch, info.value.batch) == (3, 2)
    assert checked_loss(np.float32(1.5), 1, 1) == 1.5
    with pytest.raises(Diverged):
        check_parameters([np.zeros(2), np.array([1.0, np.inf])], 1)
    with float_errors(), pytest.raises(RuntimeWarning):
        np.exp(np.array([1000.0]))


# -- conflicting arguments ---------------------------------------------------------------------
@pytest.mark.parametrize("kw, bad, names", [
    ({"epoch": 3}, "epoch", "optimizer 'sgd' (lr, momentum"),
    ({"optimizer": "lbfgs", "momentum": 0.9}, "momentum", "optimizer 'lbfgs' (lr, max_iter"),
])
def test_a_keyword_neither_fit_nor_its_optimizer_takes_is_blamed_on_fit(kw, bad, names):
    """fit hands the keywords it does not take to the optimizer; a misspelt fit argument
    is named as such, not as a missing setting of SGD."""
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    with pytest.raises(ConfigError, match=rf"fit\(\) got an unexpected keyword argument '{bad}': neither an "
                                          rf"argument of fit nor a parameter of {re.escape(names)}"):
        net.fit(XOR_X, XOR_Y, **kw)


def test_an_lr_beside_an_optimizer_instance_is_refused():
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    with pytest.raises(ConfigError, match=r"lr would be ignored.*Adam\(lr=0.001"):
        net.fit(XOR_X, XOR_Y, epochs=1, optimizer=optimizers.Adam(lr=1e-3), lr=0.5)
    with pytest.raises(ConfigError, match="lr would be ignored"):  # the default's value, given
        net.fit(XOR_X, XOR_Y, epochs=1, optimizer=optimizers.Adam(lr=1e-3), lr=0.01)
    with pytest.raises(ConfigError, match="lr, momentum would be ignored"):
        net.fit(XOR_X, XOR_Y, epochs=1, optimizer=optimizers.SGD(lr=0.1), lr=0.5, momentum=0.9)
    h = net.fit(XOR_X, XOR_Y, epochs=1, optimizer=optimizers.Adam(lr=1e-3))
    assert h["lr"] == [1e-3]


def test_the_default_lr_is_documented_0_01_and_applies_to_names():
    assert DEFAULT_LR == 0.01 and repr(DEFAULT_LR) == "0.01"
    net = relunet.MLP([2, 4, 1], output="sigmoid", seed=0)
    assert net.fit(XOR_X, XOR_Y, epochs=1, optimizer="adam")["lr"] == [0.01]


# -- the minimizer contract ---------------------------------------------------------------------
def test_cg_and_lbfgs_are_minimizers_not_optimizers():
    for name, cls in (("cg", CG), ("lbfgs", LBFGS), ("l-bfgs", LBFGS)):
        m = optimizers.get(name)
        assert isinstance(m, cls) and isinstance(m, Minimizer)
        assert not isinstance(m, optimizers.Optimizer) and not hasattr(m, "step")
        assert m.state_dict() == {"lr": 1.0, "step": 0, "state": {}}


class _CountingLBFGS(LBFGS):
    """An L-BFGS that counts its minimize calls (the engine must call it once)."""

    def __init__(self):
        super().__init__(max_iter=50)
        self.calls = []

    def minimize(self, net, X, Y, max_iter=None, callback=None):
        self.calls.append((len(X), max_iter))
        return super().minimize(net, X, Y, max_iter=max_iter, callback=callback)


def test_fit_hands_the_whole_data_set_to_a_minimizer_once():
    X, y = _digits(150)
    net = relunet.MLP([64, 10], seed=0)
    m = _CountingLBFGS()
    h = net.fit(X, y, epochs=7, optimizer=m)
    assert m.calls == [(150, 7)] and len(h) == h.info["iterations"] <= 7
    assert m.n_steps == h.info["iterations"] and h.info["optimizer"] == "lbfgs"
    with pytest.raises(ConfigError, match="schedule does not apply"):
        net.fit(X, y, epochs=2, optimizer=_CountingLBFGS(), schedule="cosine")


def test_a_minimizer_result_and_its_checks():
    X, y = _digits(100)
    net = relunet.MLP([64, 10], seed=0)
    res = CG(max_iter=3).minimize(net, net.check_X(X), net.encode_targets(y, len(X)))
    assert isinstance(res, FullBatchResult) and res.method == "cg" and 1 <= res.nit <= 3
    assert len(res.history) == res.nit + 1
    with pytest.raises(ConfigError, match="max_grad_norm does not apply"):
        LBFGS(max_grad_norm=1.0)
    with pytest.raises(ConfigError, match="tol must be"):
        CG(tol=-1)


def test_history_lives_in_its_own_module():
    from relunet.training import history

    assert history.History is History is relunet.History
    assert fit.__module__ == "relunet.training.engine"


@pytest.mark.parametrize("where", ["callback", "schedule"])
def test_ctrl_c_between_an_epochs_record_and_its_snapshot_resumes_exactly(tmp_path, where):
    """A Ctrl-C after epoch 3's record but before its snapshot (a slow callback, the schedule
    step) goes back to epoch 2: the history, the parameters and the checkpoint agree, and
    resuming gives the uninterrupted run bit for bit."""
    from relunet.training import schedules
    from relunet.training.callbacks import Callback

    X, y = _digits(120)
    kw = dict(epochs=6, batch_size=None, lr=0.01, optimizer="adam")

    class Interrupt(Callback):
        def on_epoch_end(self, epoch, record, net):
            if epoch == 3:
                raise KeyboardInterrupt

    class InterruptingSchedule(schedules.Constant):
        def step(self, metric=None):
            if self.epoch == 2:  # the step after epoch 3's record
                raise KeyboardInterrupt
            return super().step(metric)

    full = relunet.MLP([64, 12, 10], seed=4)
    full.fit(X, y, **kw)

    net = relunet.MLP([64, 12, 10], seed=4)
    ck = tmp_path / "run.ckpt"
    extra = {"callbacks": [Interrupt()]} if where == "callback" else {"schedule": InterruptingSchedule()}
    h = net.fit(X, y, checkpoint=ck, **kw, **extra)
    assert h.interrupted and [r["epoch"] for r in h.records] == [1, 2]
    two = relunet.MLP([64, 12, 10], seed=4)
    two.fit(X, y, **{**kw, "epochs": 2})
    assert _same(net.parameters(), two.parameters())

    resumed = relunet.MLP([64, 12, 10], seed=4)
    extra = {} if where == "callback" else {"schedule": schedules.Constant()}
    resumed.fit(X, y, resume=ck, **kw, **extra)
    assert _same(resumed.parameters(), full.parameters())


def test_an_lr_beside_a_line_search_method_is_refused_not_ignored(capsys):
    from relunet.cli import main

    X, y = _digits(60)
    net = relunet.MLP([64, 8, 10], seed=0)
    with pytest.raises(ConfigError, match="lr does not apply to 'lbfgs'"):
        net.fit(X, y, optimizer="lbfgs", lr=0.5, epochs=2)
    net.fit(X, y, optimizer="lbfgs", epochs=2)  # without lr: its own line search
    assert main(["train", "--optimizer", "cg", "--lr", "0.5", "--epochs", "2"]) == 2
    assert "--lr does not apply" in capsys.readouterr().err
    assert main(["train", "--optimizer", "cg", "--epochs", "2"]) == 0
