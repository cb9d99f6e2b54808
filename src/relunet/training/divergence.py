"""The one divergence policy of every training loop (``fit``, the scikit-learn estimators,
the doctor's learning-rate probe, the command line).

Training has diverged when, in an optimizer step or in the evaluation after an epoch,

* the loss (or a metric of the epoch record) is NaN or infinite,
* a floating-point overflow or invalid operation happens: numpy's ``RuntimeWarning`` is
  raised as an error inside :func:`float_errors` (a diverging run overflows inside a step
  before its loss is infinite), as is a ``FloatingPointError`` (``np.errstate(raise)``),
* or the parameters are no longer finite at the end of an epoch.

The run then puts back its last good state (the end of the last completed epoch) and
raises one :class:`relunet.errors.DivergenceError` naming the epoch and batch, with advice
(:func:`divergence_error`). Inside the engine a :class:`Diverged` signal carries the place;
only the engine turns it into the error, after the restore.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from relunet.core.activations import Activation
from relunet.core.finite import overflow_advice
from relunet.core.losses import Loss, log_of_non_probabilities
from relunet.errors import DivergenceError

__all__ = ["Diverged", "float_errors", "checked_loss", "check_record", "check_parameters",
           "divergence_error", "FLOAT_ERRORS"]

#: the exceptions that mean "a floating-point operation overflowed" inside :func:`float_errors`
FLOAT_ERRORS = (FloatingPointError, RuntimeWarning)


class Diverged(Exception):
    """Signal inside a run: training diverged at ``epoch`` (and ``batch``; None: in the
    evaluation after the epoch). ``value`` is the non-finite loss or a description."""

    def __init__(self, epoch: int, batch: int | None, value: Any, cause: BaseException | None = None):
        super().__init__(epoch, batch, value)
        self.epoch, self.batch, self.value, self.cause = epoch, batch, value, cause


@contextmanager
def float_errors() -> Iterator[None]:
    """numpy's floating-point warnings (overflow, invalid operation) raised as errors.

    Code that expects an overflow and handles it (a sigmoid of a large input, a loss of
    a saturated probability) wraps itself in ``np.errstate(over="ignore")``, which wins.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def checked_loss(value: Any, epoch: int, batch: int) -> float:
    """``value`` as a float; :class:`Diverged` when it is NaN or infinite."""
    loss = float(value)
    if not math.isfinite(loss):
        raise Diverged(epoch, batch, loss)
    return loss


def check_record(record: dict[str, Any], epoch: int) -> None:
    """:class:`Diverged` when a metric of the epoch record is NaN or infinite."""
    bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise Diverged(epoch, None, f"{bad[0]}={record[bad[0]]}")


def check_parameters(params: Sequence[np.ndarray], epoch: int) -> None:
    """:class:`Diverged` when a parameter is NaN or infinite (the last update overflowed,
    while the loss, taken before it, was still finite)."""
    if not all(np.isfinite(p).all() for p in params):
        raise Diverged(epoch, None, "the parameters became infinite or NaN")


def divergence_error(d: Diverged, lr: float, batch_size: int, kept: int, opt: Any = None,
                     net: Any = None) -> DivergenceError:
    """The error for the user: where, what, and advice (an output and loss that cannot train
    together, :func:`relunet.core.losses.log_of_non_probabilities`; else a smaller rate;
    momentum below 1; a weight decay that does not overshoot). ``kept`` is the epoch whose
    state was put back; ``net`` the network that diverged."""
    where = f"epoch {d.epoch}, batch {d.batch}" if d.batch is not None else f"the end of epoch {d.epoch}"
    what = _what(d)
    advice = f"the learning rate is probably too large: try a smaller one (e.g. {lr / 10:g})"
    wd = _number(getattr(opt, "weight_decay", 0.0))
    momentum = _number(getattr(opt, "momentum", 0.0))
    output, loss = getattr(net, "output_activation", None), getattr(net, "loss", None)
    pairing = (log_of_non_probabilities(output, loss)
               if isinstance(output, Activation) and isinstance(loss, Loss) else None)
    if pairing is not None:
        advice = f"{pairing.why}: {pairing.fix}"
    elif d.epoch == 1 and d.batch == 1 and not isinstance(d.value, str):
        # the loss of the first batch is taken before the first update: no rate made it
        advice = (f"it was {d.value} on the first batch, before any update, so the learning rate is not the "
                  f"cause: {overflow_advice(getattr(net, 'dtype', np.float64))}")
    elif momentum >= 1:
        advice = f"momentum {momentum:g} >= 1 lets the steps grow without bound: use momentum < 1 (e.g. 0.9)"
    elif getattr(opt, "name", "") != "adamw" and lr * wd > 1:
        # L2 decay shrinks w by the factor (1 - lr * wd) each step: beyond 1 it overshoots 0
        advice = (f"the weight decay is too large for this learning rate (lr x weight_decay = {lr * wd:g} > 1): "
                  f"try a weight decay below {1 / lr:g}, e.g. {0.01 / lr:g}")
    err = DivergenceError(
        f"training diverged: {what} at {where} (learning rate {lr:g}, batch size {batch_size}); "
        f"{advice}. The parameters are those of the last good state (end of epoch {kept})."
    )
    err.epoch, err.batch = d.epoch, d.batch  # type: ignore[attr-defined]
    return err


def _what(d: Diverged) -> str:
    """What happened, in words: the non-finite loss, or the floating-point error (an
    overflow, or an invalid operation such as 0 / 0 or inf - inf, named as NumPy names it)."""
    if not isinstance(d.value, str):
        return f"the loss became {d.value}"
    cause = str(d.cause) if isinstance(d.cause, FLOAT_ERRORS) else ""
    if cause and "overflow" not in cause:
        return f"an invalid floating-point operation ({cause}: 0 / 0, inf - inf or inf * 0)"
    return d.value


def _number(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
