"""The training engine: the one training loop, optimizers, schedules, callbacks, full-batch
minimizers (CG, L-BFGS), checkpoints and progress (uses core and io)."""

from relunet.training.engine import (
    EVAL_MIN_ROWS,
    SCHEDULE_SYNTAX,
    History,
    evaluate,
    fit,
    make_schedule,
    parse_schedule,
    validation_indices,
)

__all__ = [
    "EVAL_MIN_ROWS",
    "SCHEDULE_SYNTAX",
    "History",
    "evaluate",
    "fit",
    "make_schedule",
    "parse_schedule",
    "validation_indices",
]
