r"""Learning-rate schedules: the learning rate as a function of the epoch (or of a metric).

A schedule is a small object with explicit state; it never holds the optimizer. Protocol
(what the training loop does)::

    sched = schedules.get("cosine", T_max=30)
    opt.lr = sched.start(opt.lr)            # before epoch 1: remembers base_lr, lr of epoch 0
    for epoch in range(1, epochs + 1):
        ...train one epoch with opt.lr...
        opt.lr = sched.step(metric)         # after each epoch: the lr for the next epoch

``metric`` is the monitored quantity (e.g. the validation loss); only
:class:`ReduceOnPlateau` uses it, the others ignore it. ``sched.lr`` is the current
learning rate and ``sched.epoch`` the number of ``step`` calls since ``start``.
Closed-form schedules also give ``sched.lr_at(epoch, base_lr)`` directly.

``state_dict()`` / ``load_state_dict()`` hold plain Python scalars only (nested dicts for
:class:`Warmup`), so a checkpoint can store them as JSON. After ``load_state_dict`` the loop
need not call ``start`` again; if it does, ``start`` keeps the loaded base lr and epoch and
just returns the current lr.

Epoch ``t`` below counts from 0 (the first epoch trains with ``lr_at(0)``); the values
equal those of ``torch.optim.lr_scheduler`` (StepLR, ExponentialLR, CosineAnnealingLR,
ReduceLROnPlateau, LinearLR, SequentialLR) epoch by epoch, which
``tests/test_schedules.py`` checks.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from relunet.core.checks import check_number
from relunet.core.registry import Registry
from relunet.errors import ConfigError

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "Exponential",
    "Cosine",
    "ReduceOnPlateau",
    "Warmup",
    "get",
    "names",
    "canonical_name",
    "SCHEDULES",
    "REGISTRY",
    "MAX_FACTOR",
]

#: the largest ``gamma`` a step or exponential schedule accepts: a rate multiplied by more
#: than this at every step is a typo (``1e-3`` written ``1e3``), and it leaves the float
#: range within a few hundred steps anyway
MAX_FACTOR = 10.0


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    ):
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if int(value) < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _power(schedule: str, base_lr: float, gamma: float, k: int) -> float:
    r""":math:`\eta_0\,\gamma^k`, or a ConfigError when it leaves the float range."""
    try:
        lr = base_lr * gamma**k
    except OverflowError:
        lr = math.inf
    return _finite_lr(schedule, lr, f"{base_lr!r} * {gamma!r}**{k}")


def _finite_lr(schedule: str, lr: float, how: str) -> float:
    if not math.isfinite(lr):
        raise ConfigError(
            f"schedule {schedule!r}: the learning rate {how} is not a finite number ({lr!r}); "
            "use a smaller gamma, base learning rate or number of epochs"
        )
    return float(lr)


class Schedule:
    """Base: ``base_lr`` (set by :meth:`start`), ``epoch`` and the current ``lr``.

    A closed-form subclass implements only :meth:`lr_at`; a stateful one (plateau)
    overrides :meth:`step`.
    """

    name = ""

    def __init__(self) -> None:
        self.base_lr: float | None = None
        self.epoch = 0
        self.lr: float | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"

    def config(self) -> dict[str, Any]:
        """The hyper-parameters, as keyword arguments of the constructor."""
        return {}

    def lr_at(self, epoch: int, base_lr: float) -> float:
        """The learning rate of epoch ``epoch`` (0-based) for a base learning rate ``base_lr``."""
        raise ConfigError(f"schedule {self.name!r} depends on the metric: it has no closed form")

    def start(self, base_lr: float) -> float:
        """Begin at epoch 0 with ``base_lr``; returns the learning rate of epoch 0.

        After :meth:`load_state_dict` this keeps the loaded state and returns ``self.lr``.
        """
        if self.base_lr is not None and self.lr is not None:
            return self.lr
        self.base_lr = check_number("base_lr", base_lr, low_open=True)
        self.epoch = 0
        self.lr = _finite_lr(self.name, self._first_lr(), "at epoch 0")
        return self.lr

    def _first_lr(self) -> float:
        return self.lr_at(0, self.base_lr)

    def reset(self) -> None:
        """Forget the state, so that the next :meth:`start` begins again at epoch 0."""
        state = type(self)(**self.config()).__dict__
        self.__dict__.update(state)

    def _require_started(self) -> None:
        if self.base_lr is None:
            raise ConfigError(f"call start(base_lr) before step() on the {self.name!r} schedule")

    def step(self, metric: float | None = None) -> float:
        """Advance one epoch; returns the learning rate for the next epoch."""
        self._require_started()
        self.epoch += 1
        self.lr = _finite_lr(self.name, self.lr_at(self.epoch, self.base_lr), f"at epoch {self.epoch}")
        return self.lr

    # -- checkpoints -------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain scalars: ``base_lr``, ``epoch``, ``lr`` (and what a subclass adds)."""
        return {"base_lr": self.base_lr, "epoch": self.epoch, "lr": self.lr}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        try:
            base_lr, epoch, lr = d["base_lr"], d["epoch"], d["lr"]
        except (KeyError, TypeError):
            raise ConfigError("a schedule state dict needs 'base_lr', 'epoch' and 'lr'") from None
        self.base_lr = None if base_lr is None else check_number("base_lr", base_lr, low_open=True)
        self.epoch = _int("epoch", epoch, 0)
        self.lr = None if lr is None else check_number("lr", lr)


class Constant(Schedule):
    """The base learning rate at every epoch (no schedule)."""

    name = "constant"

    def lr_at(self, epoch, base_lr):
        return float(base_lr)


class StepDecay(Schedule):
    r"""Multiply by ``gamma`` every ``step_size`` epochs: :math:`\eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}`.

    As ``torch.optim.lr_scheduler.StepLR``.

    Args:
        step_size: :math:`s`, epochs between decays (>= 1).
        gamma: decay factor :math:`\gamma \in (0, 10]` (:data:`MAX_FACTOR`). Default: 0.1.

    Raises:
        ConfigError: a parameter out of its range; from :meth:`lr_at`, a rate
            :math:`\eta_0\,\gamma^k` beyond the float range.
    """

    name = "step"

    def __init__(self, step_size: int, gamma: float = 0.1):
        super().__init__()
        self.step_size = _int("step_size", step_size, 1)
        self.gamma = check_number("gamma", gamma, low_open=True, high=MAX_FACTOR)

    def config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}

    def lr_at(self, epoch, base_lr):
        return _power(self.name, base_lr, self.gamma, epoch // self.step_size)


class Exponential(Schedule):
    r"""Multiply by ``gamma`` every epoch: :math:`\eta_t = \eta_0\,\gamma^t`.

    As ``torch.optim.lr_scheduler.ExponentialLR``.

    Args:
        gamma: decay factor :math:`\gamma \in (0, 10]` (:data:`MAX_FACTOR`).

    Raises:
        ConfigError: a parameter out of its range; from :meth:`lr_at`, a rate
            :math:`\eta_0\,\gamma^t` beyond the float range.
    """

    name = "exponential"

    def __init__(self, gamma: float):
        super().__init__()
        self.gamma = check_number("gamma", gamma, low_open=True, high=MAX_FACTOR)

    def config(self):
        return {"gamma": self.gamma}

    def lr_at(self, epoch, base_lr):
        return _power(self.name, base_lr, self.gamma, epoch)


class Cosine(Schedule):
    r"""Cosine annealing from the base rate down to ``eta_min`` over ``T_max`` epochs.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\big(1 + \cos(\pi t / T_{\max})\big)

    Past ``T_max`` the cosine continues (it rises back to :math:`\eta_0` at
    :math:`2T_{\max}`), as ``torch.optim.lr_scheduler.CosineAnnealingLR`` does; there is no
    warm restart (SGDR) beyond that.

    Args:
        T_max: half period in epochs (>= 1).
        eta_min: the smallest learning rate (>= 0). Default: 0.

    Reference:
        Loshchilov, Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    """

    name = "cosine"

    def __init__(self, T_max: int, eta_min: float = 0.0):
        super().__init__()
        self.T_max = _int("T_max", T_max, 1)
        self.eta_min = check_number("eta_min", eta_min)

    def config(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min}

    def lr_at(self, epoch, base_lr):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceOnPlateau(Schedule):
    r"""Multiply the rate by ``factor`` when the metric has not improved for ``patience`` epochs.

    After each epoch, with :math:`m` the metric and :math:`m^*` the best so far, an epoch is
    an improvement when (mode ``min``) :math:`m < m^*(1 - \text{threshold})` (``rel``) or
    :math:`m < m^* - \text{threshold}` (``abs``); mode ``max`` mirrors it. After more than
    ``patience`` epochs without improvement, :math:`\eta \leftarrow \max(\eta\cdot
    \text{factor}, \text{min\_lr})` (skipped when the change is below ``eps``), then the
    counter waits ``cooldown`` epochs before counting again. Exactly
    ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Args:
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy). Default: ``"min"``.
        factor: in (0, 1). Default: 0.1.
        patience: epochs without improvement tolerated (>= 0). Default: 10.
        threshold: the least change that counts as improvement (>= 0). Default: 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``. Default: ``"rel"``.
        cooldown: epochs to wait after a reduction (>= 0). Default: 0.
        min_lr: lower bound of the rate (>= 0). Default: 0.
        eps: smallest reduction applied. Default: 1e-8.
    """

    name = "reduce_on_plateau"

    def __init__(self, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8):
        super().__init__()
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ConfigError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode = mode
        self.factor = check_number("factor", factor, low_open=True, high=1.0, high_open=True)
        self.patience = _int("patience", patience, 0)
        self.threshold = check_number("threshold", threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = _int("cooldown", cooldown, 0)
        self.min_lr = check_number("min_lr", min_lr)
        self.eps = check_number("eps", eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def config(self):
        return {"mode": self.mode, "factor": self.factor, "patience": self.patience,
                "threshold": self.threshold, "threshold_mode": self.threshold_mode,
                "cooldown": self.cooldown, "min_lr": self.min_lr, "eps": self.eps}

    def _first_lr(self):
        return float(self.base_lr)

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metric: float | None = None) -> float:
        self._require_started()
        if metric is None:
            raise ConfigError("the reduce_on_plateau schedule needs the monitored metric: step(metric)")
        current = float(metric)
        self.epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr

    def state_dict(self):
        return {**super().state_dict(), "best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, d):
        super().load_state_dict(d)
        try:
            self.best = float(d["best"])
            self.num_bad_epochs = int(d["num_bad_epochs"])
            self.cooldown_counter = int(d["cooldown_counter"])
        except (KeyError, TypeError):
            raise ConfigError(
                "a reduce_on_plateau state dict needs 'best', 'num_bad_epochs' and 'cooldown_counter'"
            ) from None


class Warmup(Schedule):
    r"""Linear warm-up over ``warmup_epochs``, then (optionally) another schedule.

    .. math::
        \eta_t = \eta_0 \Big(s + (1 - s)\frac{t}{W}\Big) \quad (t < W), \qquad
        \eta_t = \text{after}(t - W) \quad (t \ge W)

    where ``after`` restarts at its own epoch 0 with the base rate :math:`\eta_0` (without
    ``after`` the rate stays :math:`\eta_0`). As ``LinearLR(start_factor=s,
    total_iters=W)``, followed by the other scheduler through ``SequentialLR(...,
    milestones=[W])`` in torch. A metric passed to :meth:`step` during warm-up is ignored.

    Args:
        warmup_epochs: :math:`W \ge 1`. Default: 5.
        start_factor: :math:`s \in (0, 1]`. Default: 1/3.
        after: the schedule that follows: an instance, a name, or ``(name, params)``
            (as :meth:`config` gives it); None for a constant rate.

    Reference:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.
    """

    name = "warmup"

    def __init__(self, warmup_epochs: int = 5, start_factor: float = 1.0 / 3,
                 after: "Schedule | str | tuple[str, dict[str, Any]] | None" = None):
        super().__init__()
        self.warmup_epochs = _int("warmup_epochs", warmup_epochs, 1)
        self.start_factor = check_number("start_factor", start_factor, low_open=True, high=1.0)
        if isinstance(after, (tuple, list)):
            try:
                name, params = after
                after = get(name, **dict(params))
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"after must be a schedule, a name or (name, params); got {after!r}") from None
        elif after is not None:
            after = get(after)
        if isinstance(after, Warmup):
            raise ConfigError("a warm-up cannot be followed by another warm-up")
        self.after: Schedule | None = after

    def config(self):
        after = None if self.after is None else (self.after.name, self.after.config())
        return {"warmup_epochs": self.warmup_epochs, "start_factor": self.start_factor,
                "after": after}

    def lr_at(self, epoch, base_lr):
        if epoch < self.warmup_epochs:
            return base_lr * (self.start_factor + (1 - self.start_factor) * epoch / self.warmup_epochs)
        if self.after is None:
            return float(base_lr)
        return self.after.lr_at(epoch - self.warmup_epochs, base_lr)

    def reset(self):
        super().reset()
        if self.after is not None:
            self.after.reset()

    def start(self, base_lr):
        resumed = self.base_lr is not None and self.lr is not None
        lr = super().start(base_lr)
        if self.after is not None and not resumed:
            self.after.reset()
            self.after.start(self.base_lr)
        return lr

    def step(self, metric=None):
        self._require_started()
        self.epoch += 1
        if self.epoch < self.warmup_epochs:
            self.lr = self.lr_at(self.epoch, self.base_lr)
        elif self.after is None:
            self.lr = float(self.base_lr)
        elif self.epoch == self.warmup_epochs:
            self.lr = float(self.after.lr)  # the following schedule at its epoch 0
        else:
            self.lr = self.after.step(metric)
        return self.lr

    def state_dict(self):
        out = super().state_dict()
        if self.after is not None:
            out["after"] = self.after.state_dict()
        return out

    def load_state_dict(self, d):
        super().load_state_dict(d)
        if self.after is not None:
            if "after" not in d:
                raise ConfigError("this warm-up is followed by a schedule, but the state dict has no 'after'")
            self.after.load_state_dict(d["after"])


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, Exponential, Cosine, ReduceOnPlateau, Warmup)
}
#: the schedule catalog's name table (:class:`relunet.core.registry.Registry`)
REGISTRY: Registry[type[Schedule]] = Registry("schedule", SCHEDULES, base=Schedule, classes=True, aliases={
    "plateau": "reduce_on_plateau",
    "linear_warmup": "warmup",
    "cosine_annealing": "cosine",
    "exp": "exponential",
    "none": "constant",
})


def names() -> list[str]:
    """The names of every schedule, sorted."""
    return REGISTRY.names()


def canonical_name(name: str) -> str:
    """Resolve an alias (``plateau``, ``exp``, ``none``, ...) to its canonical name.

    Raises:
        UnknownNameError: for an unknown name (the message lists the known ones).
    """
    return REGISTRY.canonical_name(name)


def get(name: "str | Schedule | type[Schedule]", **hyper: Any) -> Schedule:
    """A fresh schedule by name (see :func:`names`) or class with its hyper-parameters, or an instance.

    Raises:
        UnknownNameError: for an unknown name (the message lists the known ones).
        ConfigError: for a hyper-parameter the schedule does not take, a bad value, or
            parameters given together with an instance.
    """
    return REGISTRY.get(name, **hyper)
