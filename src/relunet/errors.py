"""Exception types raised by relunet.

Every error a user can cause has its own type, so callers can catch exactly what
they expect, and every message names the problem and, where there is one, the fix.
All of them derive from :class:`RelunetError`; those about bad values also derive
from :class:`ValueError` so generic code keeps working. A set-up that works, but poorly,
is a warning instead: :class:`RelunetWarning` and its kinds.
"""

from __future__ import annotations

from collections.abc import Iterable


class RelunetError(Exception):
    """Base class of every error relunet raises on purpose."""


class UnknownNameError(RelunetError, ValueError):
    """A registry was asked for a name it does not know.

    The message lists the names that are known.
    """

    def __init__(self, kind: str, name: object, known: Iterable[str]):
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        plural = kind + ("es" if kind.endswith(("s", "x", "ch", "sh")) else "s")  # loss -> losses
        shown = repr(name)
        if len(shown) > 100:  # a name read from a hostile file may be megabytes long: the message stays one line
            shown = f"{shown[:80]}... ({len(shown)} characters)"
        super().__init__(
            f"unknown {kind} {shown}; known {plural}: {', '.join(self.known)}"
        )

    def __reduce__(self):  # picklable, so it crosses joblib / Dask worker boundaries intact
        return (type(self), (self.kind, self.name, self.known))


class ConfigError(RelunetError, ValueError):
    """A hyper-parameter or architecture setting is invalid."""


class NonDifferentiableError(RelunetError):
    """A gradient was requested through an activation whose derivative is 0 almost everywhere.

    Step (Heaviside) and sign units pass no gradient: gradient descent cannot train
    them. They belong in the perceptron, trained by the perceptron rule.
    """


class DataError(RelunetError, ValueError):
    """Input data is unusable: NaN/inf, mismatched lengths, wrong dimensions, non-numeric."""


class FeatureCountError(DataError):
    """X has a different number of features from the one the model was built/fitted with."""


class ColumnMismatchError(FeatureCountError):
    """A table's columns do not match the feature names the model was trained on (missing
    or renamed columns; the message names them)."""


class MissingValueError(DataError):
    """A table's feature cell is missing (empty, a NaN or a missing-value marker such as
    ``NA``) where a value is needed; the message names its column and line."""


class NonNumericValueError(DataError):
    """A table's cell holds text in a column read as numbers; the message names the cell,
    its column and line."""


class TargetTypeError(DataError):
    """The target does not fit the task (e.g. continuous values given to a classifier)."""


class NotFittedError(RelunetError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class DivergenceError(RelunetError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class NonFiniteWeightsError(DivergenceError, ValueError):
    """A divergence reported as scikit-learn reports it: a ``ValueError`` too (the
    scikit-learn estimators raise it where ``sklearn.neural_network`` raises ValueError)."""


class DatasetNotFoundError(RelunetError, FileNotFoundError):
    """A dataset's files were not found where relunet looked."""


class DataFormatError(DataError):
    """A data file is truncated, corrupted or not in the expected format."""


class ModelFileError(RelunetError, ValueError):
    """A model or checkpoint file is truncated, corrupted, foreign or of an unknown version."""


class ClusterError(RelunetError, ConnectionError):
    """A parallel backend cannot be used: Dask is not installed or its scheduler is unreachable."""


class DownloadError(RelunetError, OSError):
    """A dataset could not be downloaded (no network, unreachable mirror, checksum mismatch)."""


class ExportError(RelunetError, ValueError):
    """A network cannot be exported (e.g. an activation the target format cannot express)."""


class CallOrderError(RelunetError, RuntimeError):
    """A method was called before the one it needs (e.g. ``backward`` before ``forward``)."""


class NotElementwiseError(RelunetError, TypeError):
    """``derivative(x)`` was asked of an activation whose Jacobian is not diagonal (softmax,
    log_softmax): use its ``backward`` (the vector-Jacobian product) instead."""


class RelunetWarning(UserWarning):
    """Base class of every warning relunet gives on purpose (``warnings.simplefilter("error",
    RelunetWarning)`` turns them into errors; the command line prints ``relunet: warning: ...``)."""


class ConfigWarning(RelunetWarning):
    """A setting that trains, but poorly (e.g. a softmax output with binary cross-entropy):
    the message names the fix; ``relunet doctor`` explains it."""
