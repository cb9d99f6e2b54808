"""Learning-rate schedules: 30 epochs of learning rates equal torch.optim.lr_scheduler's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from relunet.training import schedules
from relunet.errors import ConfigError, UnknownNameError

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

EPOCHS = 30
BASE = 0.1


def _torch_lrs(make, metrics=None, base=BASE):
    """The lr torch uses in each of EPOCHS epochs (stepping the scheduler after each)."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    out = []
    for e in range(EPOCHS):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
    return out


def _our_lrs(sched, metrics=None, base=BASE):
    out = [sched.start(base)]
    for e in range(EPOCHS - 1):
        out.append(sched.step(None if metrics is None else metrics[e]))
    return out


CLOSED_FORM = [
    ("step", {"step_size": 7, "gamma": 0.5}, lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    ("step", {"step_size": 1}, lambda o: lr_scheduler.StepLR(o, step_size=1)),
    ("exponential", {"gamma": 0.9}, lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)),
    ("cosine", {"T_max": 30}, lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30)),
    # past T_max the cosine rises again, in both
    ("cosine", {"T_max": 8, "eta_min": 0.01}, lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01)),
    ("warmup", {}, lambda o: lr_scheduler.LinearLR(o)),
    ("warmup", {"warmup_epochs": 10, "start_factor": 0.05},
     lambda o: lr_scheduler.LinearLR(o, start_factor=0.05, total_iters=10)),
    ("warmup", {"warmup_epochs": 5, "start_factor": 0.1, "after": ("cosine", {"T_max": 25, "eta_min": 0.001})},
     lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
                                             lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=0.001)],
                                         milestones=[5])),
    ("warmup", {"warmup_epochs": 3, "start_factor": 0.25, "after": schedules.StepDecay(step_size=4, gamma=0.5)},
     lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3),
                                             lr_scheduler.StepLR(o, step_size=4, gamma=0.5)],
                                         milestones=[3])),
]
CF_IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CLOSED_FORM)]


@pytest.mark.parametrize("name, hyper, make", CLOSED_FORM, ids=CF_IDS)
def test_learning_rates_equal_torch(name, hyper, make):
    with _no_torch_warnings():
        ref = _torch_lrs(make)
    ours = _our_lrs(schedules.get(name, **hyper))
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert len(set(np.round(ours, 12))) > 1  # the schedule does change the rate


@pytest.mark.parametrize("name, hyper, make", CLOSED_FORM, ids=CF_IDS)
def test_lr_at_is_the_closed_form_of_step(name, hyper, make):
    s = schedules.get(name, **hyper)
    stepped = _our_lrs(s, base=0.3)
    np.testing.assert_allclose([s.lr_at(e, 0.3) for e in range(EPOCHS)], stepped, rtol=1e-14)


# metrics: improving, then a plateau with noise, then improving again, then worse
METRICS = [1.0, 0.8, 0.7, 0.69995, 0.7, 0.71, 0.7, 0.72, 0.6, 0.59, 0.5, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.49, 0.48, 0.6, 0.7, 0.8, 0.9, 0.47, 0.47, 0.47, 0.47, 0.47, 0.47, 0.47, 0.47]

PLATEAU = [
    {},
    {"patience": 1},
    {"patience": 2, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs", "factor": 0.3},
    {"mode": "max", "patience": 1, "factor": 0.5, "threshold": 0.01},
    {"mode": "max", "patience": 2, "threshold": 0.1, "threshold_mode": "abs", "cooldown": 1},
]


@pytest.mark.parametrize("hyper", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_equals_torch(hyper):
    ref = _torch_lrs(lambda o: lr_scheduler.ReduceLROnPlateau(o, **hyper), METRICS)
    ours = _our_lrs(schedules.get("reduce_on_plateau", **hyper), METRICS)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    if hyper:
        assert min(ours) < BASE  # the metric sequence does trigger reductions


def test_warmup_then_plateau_waits_for_the_warmup():
    s = schedules.get("warmup", warmup_epochs=4, start_factor=0.5, after=("plateau", {"patience": 0}))
    lrs = [s.start(1.0)] + [s.step(1.0) for _ in range(6)]
    # warm-up ignores the metric; then the plateau starts at the base lr and reduces on
    # the second equal metric (the first sets the best)
    np.testing.assert_allclose(lrs, [0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 0.1])


@pytest.mark.parametrize("name, hyper, metrics", [
    ("cosine", {"T_max": 12, "eta_min": 0.001}, None),
    ("warmup", {"warmup_epochs": 4, "after": ("exponential", {"gamma": 0.8})}, None),
    ("warmup", {"warmup_epochs": 2, "after": ("reduce_on_plateau", {"patience": 1})}, METRICS),
    ("reduce_on_plateau", {"patience": 2, "cooldown": 1, "factor": 0.5}, METRICS),
])
def test_state_dict_round_trip_through_json_continues_identically(name, hyper, metrics):
    straight = _our_lrs(schedules.get(name, **hyper), metrics)
    first = schedules.get(name, **hyper)
    lrs = [first.start(BASE)] + [first.step(None if metrics is None else metrics[e]) for e in range(11)]
    state = json.loads(json.dumps(first.state_dict()))
    second = schedules.get(name, **hyper)
    second.load_state_dict(state)
    assert second.start(123.0) == lrs[-1]  # start after a load keeps the loaded state
    lrs += [second.step(None if metrics is None else metrics[e]) for e in range(11, EPOCHS - 1)]
    assert lrs == straight


def test_config_rebuilds_an_equal_schedule_and_is_json_ready():
    s = schedules.get("warmup", warmup_epochs=3, after=schedules.Cosine(T_max=9, eta_min=0.01))
    cfg = json.loads(json.dumps(s.config()))
    assert _our_lrs(schedules.get("warmup", **cfg)) == _our_lrs(s)


def test_reset_starts_over():
    s = schedules.get("warmup", warmup_epochs=2, after=("step", {"step_size": 2}))
    first = _our_lrs(s)
    s.reset()
    assert _our_lrs(s) == first


def test_plateau_needs_a_metric_and_a_start():
    s = schedules.get("plateau")
    with pytest.raises(ConfigError, match="start"):
        s.step(1.0)
    s.start(0.1)
    with pytest.raises(ConfigError, match="metric"):
        s.step()
    with pytest.raises(ConfigError, match="closed form"):
        s.lr_at(3, 0.1)


def test_registry():
    assert schedules.names() == sorted(["constant", "step", "exponential", "cosine", "reduce_on_plateau", "warmup"])
    assert isinstance(schedules.get("Linear-Warmup"), schedules.Warmup)
    with pytest.raises(UnknownNameError, match="cosine"):
        schedules.get("cosinus")


@pytest.mark.parametrize("name, hyper, match", [
    ("step", {}, "step_size"),
    ("step", {"step_size": 0}, "step_size"),
    ("step", {"step_size": 2.5}, "step_size"),
    ("exponential", {"gamma": 0}, "gamma"),
    ("cosine", {"T_max": 0}, "T_max"),
    ("cosine", {"T_max": 10, "eta_min": -1}, "eta_min"),
    ("plateau", {"factor": 1.0}, "factor"),
    ("plateau", {"mode": "maximum"}, "mode"),
    ("plateau", {"threshold_mode": "relative"}, "threshold_mode"),
    ("plateau", {"patience": -1}, "patience"),
    ("warmup", {"start_factor": 0}, "start_factor"),
    ("warmup", {"warmup_epochs": 0}, "warmup_epochs"),
    ("warmup", {"after": ("cosine", {"T_max": -3})}, "T_max"),
    ("warmup", {"after": "warmup"}, "warm-up"),
    ("cosine", {"T_max": 10, "tmax": 3}, "unexpected keyword"),
])
def test_invalid_hyper_parameters_raise_config_error(name, hyper, match):
    with pytest.raises(ConfigError, match=match):
        schedules.get(name, **hyper)


def test_start_rejects_a_bad_base_lr():
    with pytest.raises(ConfigError, match="base_lr"):
        schedules.get("cosine", T_max=3).start(-0.1)
    with pytest.raises(ConfigError, match="base_lr"):
        schedules.get("cosine", T_max=3).start(math.nan)


class _no_torch_warnings:
    """SequentialLR/LinearLR may warn about deprecated internals; not our concern here."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def test_an_infinite_factor_is_refused_with_a_consistent_interval():
    from relunet.errors import ConfigError

    with pytest.raises(ConfigError, match=r"gamma must be a finite number in \(0\.0, 10\.0\], got inf"):
        schedules.Exponential(gamma=float("inf"))


@pytest.mark.parametrize("name, hyper", [
    ("exponential", {"gamma": 1e308}),
    ("step", {"step_size": 1, "gamma": 1e300}),
    ("exponential", {"gamma": 15.0}),
])
def test_a_huge_factor_is_refused_naming_gamma_and_its_range(name, hyper):
    with pytest.raises(ConfigError, match=r"gamma must be a finite number in \(0\.0, 10\.0\], got"):
        schedules.get(name, **hyper)


def test_the_largest_factor_is_accepted():
    s = schedules.get("exponential", gamma=schedules.MAX_FACTOR)
    assert s.start(0.1) == 0.1
    assert s.step() == pytest.approx(1.0)


@pytest.mark.parametrize("name, hyper", [
    ("exponential", {"gamma": 10.0}),
    ("step", {"step_size": 1, "gamma": 10.0}),
])
def test_a_rate_that_leaves_the_float_range_is_a_config_error(name, hyper):
    s = schedules.get(name, **hyper)
    s.start(1e307)
    assert s.step() == pytest.approx(1e308)
    with pytest.raises(ConfigError, match=rf"schedule '{name}': the learning rate .* is not a finite number"):
        s.step()
    with pytest.raises(ConfigError, match="not a finite number"):
        s.lr_at(400, 0.1)


@pytest.mark.parametrize("state, match", [
    ({"base_lr": float("inf"), "epoch": 3, "lr": 0.1}, "base_lr"),
    ({"base_lr": 0.1, "epoch": 3, "lr": float("nan")}, "lr"),
    ({"base_lr": 0.1, "epoch": -1, "lr": 0.1}, "epoch"),
])
def test_a_state_dict_with_a_non_finite_rate_is_refused(state, match):
    with pytest.raises(ConfigError, match=match):
        schedules.get("exponential", gamma=0.5).load_state_dict(state)


@pytest.mark.parametrize("spec", ["exponential:gamma=1e308", "step:1:1e300"])
def test_cli_refuses_a_huge_schedule_factor_in_one_line(spec, tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "relunet", "train", "--data", "xor", "--epochs", "3",
                        "--schedule", spec], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "OverflowError" not in r.stderr
    assert "gamma must be a finite number in (0.0, 10.0]" in r.stderr
