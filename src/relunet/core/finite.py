"""Checks on what a network computes: no NaN or inf leaves inference silently.

Inputs are checked before a forward pass (finite, in the dtype's range), but finite inputs
can still overflow inside it: a feature near the float32 maximum (3.4e38) times a weight
above 1 is inf, and ``inf - inf`` in the next layer or softmax's shift is NaN. A
classifier would then report label 0 with NaN probabilities. :func:`check_finite_output`
is applied to the output of every public prediction and raises, naming the cause.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from relunet.errors import DataError, DivergenceError

__all__ = ["check_finite_output", "overflow_advice", "wider_dtype"]


def check_finite_output(out: np.ndarray, X: np.ndarray, parameters: Sequence[np.ndarray]) -> np.ndarray:
    """Return ``out`` (a network's output for the inputs ``X``) if every value is finite.

    The check is one pass over the output, ``shape (n_samples, n_outputs)``; the cause is
    looked for only when it fails.

    Raises:
        DivergenceError: a parameter of the network is NaN or infinite (a diverged run), or
            beyond the square root of the dtype's maximum while the inputs are not (the
            weights overflow on modest inputs: a diverged or edited model).
        DataError: the inputs overflowed inside the network; the message names the first
            such sample, its largest feature and the largest weight.
    """
    finite = np.isfinite(out)
    if finite.all():
        return out
    for i, p in enumerate(parameters):
        if not np.isfinite(p).all():
            raise DivergenceError(
                f"the network's parameter array {i} holds NaN or infinite values (training diverged), "
                "so its outputs are NaN; retrain it with a smaller learning rate"
            )
    bad_rows = np.flatnonzero(~finite.reshape(len(out), -1).all(axis=1))
    row = int(bad_rows[0])
    largest = float(np.max(np.abs(X[row]))) if X[row].size else 0.0
    dtype = np.asarray(out).dtype
    # NOTE: a product of two numbers below sqrt(max) cannot overflow: a weight beyond it
    # with inputs below it means the weights, not the inputs, are out of range
    root = math.sqrt(float(np.finfo(dtype).max))
    weight = max((float(np.max(np.abs(p))) for p in parameters if np.size(p)), default=0.0)
    what = (f"the network's output is NaN or infinite for {len(bad_rows)} of {len(out)} samples "
            f"(first: row {row}, whose largest |feature| is {largest:.3g})")
    if weight >= root > largest:
        raise DivergenceError(
            f"{what}: the network's own weights overflow {dtype.name} (the largest |weight| is {weight:.3g}; "
            f"products beyond {np.finfo(dtype).max:.3g} are inf): a model whose training diverged or that "
            "was edited; retrain it (with a smaller learning rate)"
        )
    raise DataError(
        f"{what}: the inputs overflow {dtype.name} (max {np.finfo(dtype).max:.3g}) inside the network "
        f"(its largest |weight| is {weight:.3g}); rescale them (e.g. --scale standard, as in training)"
        f"{wider_dtype(dtype)}"
    )


def wider_dtype(dtype: "np.dtype | type") -> str:
    """The advice ``" or use dtype float64"`` for a float32 network (float64 reaches
    1.8e308), else an empty string."""
    return " or use dtype float64" if np.dtype(dtype) == np.float32 else ""


def overflow_advice(dtype: "np.dtype | type") -> str:
    """What to do when a network of ``dtype`` overflows before any update (the first
    batch's loss, a full-batch minimizer's starting point): the data or the weights are out
    of range, not the learning rate."""
    return (f"the inputs or targets overflow {np.dtype(dtype).name} inside the network (or its weights are too "
            f"large); scale them (e.g. --scale standard){wider_dtype(dtype)}")
