"""The training engine: the one training loop (:class:`Run`, driven by :func:`fit`),
optimizers, schedules, callbacks, full-batch minimizers (CG, L-BFGS), the divergence
policy, checkpoints and progress (uses core and io)."""

from relunet.training.engine import (
    DEFAULT_LR,
    EVAL_MIN_ROWS,
    SCHEDULE_SYNTAX,
    History,
    Run,
    evaluate,
    fit,
    fit_minimizer,
    make_schedule,
    parse_schedule,
    validation_indices,
)
from relunet.training.minimizers import Minimizer
from relunet.training.protocol import Differentiable, Trainable

__all__ = [
    "DEFAULT_LR",
    "EVAL_MIN_ROWS",
    "SCHEDULE_SYNTAX",
    "Differentiable",
    "History",
    "Minimizer",
    "Run",
    "Trainable",
    "evaluate",
    "fit",
    "fit_minimizer",
    "make_schedule",
    "parse_schedule",
    "validation_indices",
]
