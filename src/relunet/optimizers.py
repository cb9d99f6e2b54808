"""First-order optimizers: each a small object with explicit state, updating in place.

Interface (every optimizer):

* ``Optimizer(lr=..., **hyper)``; ``opt.lr`` may be changed between steps (schedules);
* ``opt.step(params, grads)`` updates the arrays in ``params`` in place from ``grads``
  (same order, same shapes); state is created on the first step;
* ``opt.state_dict()`` / ``opt.load_state_dict(d)`` for checkpoints.

Update rules and defaults follow ``torch.optim``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError, UnknownNameError


class Optimizer:
    """Base: holds ``lr`` and an explicit ``state`` dict of named lists of arrays."""

    name = ""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)
        self.state: dict[str, Any] = {}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "state": self.state}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.lr = float(d["lr"])
        self.state = d["state"]


class SGD(Optimizer):
    r"""Stochastic gradient descent: :math:`\theta \leftarrow \theta - \eta\, g`.

    With batch size 1 this is the per-pattern (online) delta rule.
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD}


def names() -> list[str]:
    return sorted(OPTIMIZERS)


def get(name: "str | Optimizer", **hyper: Any) -> Optimizer:
    """An optimizer by name (``sgd``, ...) with its hyper-parameters, or an instance."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise UnknownNameError("optimizer", name, OPTIMIZERS)
    try:
        return OPTIMIZERS[key](**hyper)
    except TypeError as exc:
        raise ConfigError(f"optimizer {key!r}: {exc}") from None
