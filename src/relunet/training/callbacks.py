"""Callbacks: small objects the training loop calls at fixed points.

Protocol (every method optional; :class:`Callback` gives no-op defaults):

* ``on_train_begin(net)`` -- before the first epoch (also on resume);
* ``on_batch_end(epoch, batch, loss, net)`` -- after each optimizer step (``batch`` from 1,
  ``loss`` the batch loss before the step);
* ``on_epoch_end(epoch, record, net)`` -- after each epoch, ``record`` being the history
  row (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``, ...);
* ``on_train_end(net, history)`` -- once, after the last epoch (also after an early stop).

``on_batch_end`` and ``on_epoch_end`` may return ``True`` to ask the loop to stop (after
the current epoch completes). A plain function given as a callback is used as
``on_epoch_end``. A callback with state that must survive a checkpoint/resume cycle gives
``state_dict()`` / ``load_state_dict(d)`` (plain arrays and scalars).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from relunet.errors import ConfigError, ModelFileError
from relunet.training.protocol import Trainable


class Callback:
    """Base class with no-op hooks; subclass and override what you need."""

    def on_train_begin(self, net: Trainable) -> None:
        pass

    def on_batch_end(self, epoch: int, batch: int, loss: float, net: Trainable) -> bool | None:
        return None

    def on_epoch_end(self, epoch: int, record: dict[str, Any], net: Trainable) -> bool | None:
        return None

    def on_train_end(self, net: Trainable, history: Any) -> None:
        pass


class LambdaCallback(Callback):
    """Wraps a function ``f(epoch, record, net) -> bool | None`` as ``on_epoch_end``."""

    def __init__(self, on_epoch_end: Callable[[int, dict[str, Any], Any], Any]):
        self._f = on_epoch_end

    def on_epoch_end(self, epoch, record, net):
        out = self._f(epoch, record, net)
        try:
            return bool(out)
        except (TypeError, ValueError):  # an array of several values has no truth value
            raise ConfigError(
                f"callback {getattr(self._f, '__name__', self._f)!r} returned {type(out).__name__} "
                "from on_epoch_end; return True to stop training, or False/None"
            ) from None

    def __repr__(self) -> str:
        return f"LambdaCallback({getattr(self._f, '__name__', self._f)!r})"


def monitor_mode(monitor: str, mode: str = "auto") -> str:
    """``"min"`` or ``"max"``: ``auto`` maximises accuracies and minimises everything else."""
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if ("acc" in monitor or "score" in monitor) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    An epoch improves on the best so far when ``value < best - min_delta`` (mode ``min``)
    or ``value > best + min_delta`` (mode ``max``). With ``restore_best_weights`` the
    parameters of the best epoch are copied back into the network when training ends
    (whether it stopped early or ran out of epochs), so the returned model is the one
    that scored best on the monitored metric.

    Args:
        monitor: a key of the epoch record, e.g. ``"val_loss"`` (default), ``"val_accuracy"``,
            ``"loss"``. The training ``loss`` and ``accuracy`` of a record come from the
            epoch's batches, each before its update and in training mode (with dropout: the
            thinned network's); ``fit(exact_train_metrics=True)`` makes ``accuracy`` an
            evaluation of the epoch's final weights.
        patience: epochs without improvement before stopping (>= 1).
        min_delta: the smallest change that counts as an improvement (>= 0).
        mode: ``"auto"`` (max for accuracies, min otherwise), ``"min"`` or ``"max"``.
        restore_best_weights: copy the best epoch's parameters back at the end.

    Attributes:
        best: the best monitored value; best_epoch: its epoch (0 before any);
        stopped_epoch: the epoch at which it asked to stop (0 if it did not).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ):
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"monitor must be a metric name such as 'val_loss' or 'loss', got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
            raise ConfigError(f"early-stopping patience must be an integer >= 1, got {patience!r}")
        if isinstance(min_delta, (bool, np.bool_)) or not isinstance(min_delta, (int, float, np.number)) \
                or not 0 <= min_delta < np.inf:
            raise ConfigError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise ConfigError(f"restore_best_weights must be True or False, got {restore_best_weights!r}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = monitor_mode(monitor, mode)
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, net):
        self._reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, record, net):
        if self.monitor not in record:
            raise ConfigError(
                f"early stopping monitors {self.monitor!r}, which the epoch record does not have "
                f"(it has {', '.join(k for k in record if k != 'epoch')}); "
                "give validation data (validation_split or validation_data) or monitor 'loss'"
            )
        value = float(record[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = [p.copy() for p in net.parameters()]
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, net, history):
        if self.restore_best_weights and self.best_weights is not None:
            params = net.parameters()
            ours = [(p.shape, p.dtype) for p in params]
            theirs = [(np.shape(b), np.asarray(b).dtype) for b in self.best_weights]
            if ours != theirs:  # a state loaded from another network's checkpoint
                raise ModelFileError(
                    f"early stopping's best weights {[(s, d.name) for s, d in theirs]} do not fit this "
                    f"network's parameters {[(s, d.name) for s, d in ours]}"
                )
            for p, best in zip(params, self.best_weights):
                p[...] = best

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": float(self.best),
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ModelFileError: a missing key or a value of the wrong type (a corrupted checkpoint).
        """
        try:
            if not isinstance(d, dict):
                raise TypeError(f"a dict is needed, got {type(d).__name__}")
            best = d["best"]
            if isinstance(best, (bool, str)) or not isinstance(best, (int, float, np.number)):
                raise TypeError(f"best must be a number, got {best!r}")
            counts = {k: d[k] for k in ("best_epoch", "wait", "stopped_epoch")}
            for k, v in counts.items():
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                    raise TypeError(f"{k} must be an integer >= 0, got {v!r}")
            w = d.get("best_weights")
            if w is not None and (not isinstance(w, list) or not all(isinstance(a, np.ndarray) for a in w)):
                raise TypeError("best_weights must be a list of arrays")
        except (KeyError, TypeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ModelFileError(f"bad early-stopping state in the checkpoint ({detail})") from None
        self.best = float(best)
        self.best_epoch, self.wait, self.stopped_epoch = (int(counts[k]) for k in ("best_epoch", "wait", "stopped_epoch"))
        self.best_weights = None if w is None else [np.array(a) for a in w]

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r})"
        )


def as_callback(cb: Any) -> Any:
    """A callback object from an object with hooks or a plain ``on_epoch_end`` function."""
    hooks = ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end")
    if any(hasattr(cb, h) for h in hooks):
        return cb
    if callable(cb):
        return LambdaCallback(cb)
    raise ConfigError(
        f"a callback must have on_epoch_end/on_batch_end/... methods or be a function; got {cb!r}"
    )
