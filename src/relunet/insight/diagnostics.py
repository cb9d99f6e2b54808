"""Seeing inside a network: dead units, saturation, activation statistics, gradient flow.

Everything here is measured on a dataset ``X`` (``shape (n_samples, n_features)``) with
the network in evaluation mode, and returned as plain data (dataclasses of floats, ints
and lists; ``to_dict()`` gives JSON-serialisable dicts) so that it can be printed,
saved or plotted.

Definitions (``z``: a unit's pre-activation, the input of its activation; ``f'``: the
activation's derivative with respect to ``z``, as in :mod:`relunet.activations`):

* **dead unit** -- ``z <= 0`` *and* ``f'(z) == 0`` for every sample of ``X``: the unit
  outputs a constant and backpropagation passes it no gradient, so it can never recover
  ("dying ReLU"). Only layers whose activation has an exactly flat negative side can have
  dead units (relu, relu6, hardtanh, ...; found by probing ``f'`` at -10 and -5); leaky
  ReLU, PReLU, ELU, GELU, ... have ``f' != 0`` for ``z <= 0`` and never die: for them
  ``dead_fraction`` is ``None`` ("cannot die"), not 0.
* **saturated unit** -- for activations whose ``properties.saturating`` is True (sigmoid,
  tanh, ...): ``|f'(z)| < threshold`` (default ``1e-3``) on at least ``min_fraction``
  (default ``0.99``) of the samples. The unit sits in a flat region for (nearly) every
  input and passes back a thousandth of the gradient or less. ``saturated_entries`` is the
  looser per-(sample, unit) fraction with ``|f'(z)| < threshold``.
* **activation statistics** -- mean, std and the fraction of exact zeros of ``f(z)``
  over all samples and units of a layer.
* **gradient flow** -- per dense layer, the Frobenius norm of ``dL/dW`` on the whole of
  ``X`` (with targets), the weight norm, and during training the update/weight ratio
  ``||W_e - W_{e-1}|| / ||W_{e-1}||`` over an epoch. Gradients orders of magnitude
  smaller in the first layers than in the last ones mean vanishing gradients; rising
  norms and update ratios near or above 1 mean exploding ones.

:class:`DiagnosticsTracker` is a training callback that records all of this after
every epoch (epoch 0 is the network before training), so one sees *when* units die.
Its ``data.series(key)`` is a float array ``shape (n_epochs, n_layers)`` (NaN where a
value does not apply) for plotting, e.g. ``series("dead_fraction")`` or
``series("grad_norm")``; ``data.epochs`` gives the x axis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from relunet.errors import ConfigError, DataError, NonDifferentiableError
from relunet.core.layers import ActivationLayer
from relunet.core.network import MLP

__all__ = [
    "LayerStats",
    "GradientStats",
    "Diagnosis",
    "DiagnosticsTracker",
    "TrainingDiagnostics",
    "diagnose",
    "can_die",
    "is_saturating",
    "SATURATION_THRESHOLD",
    "SATURATION_MIN_FRACTION",
]

#: |f'(z)| below this counts as the flat (saturated) region
SATURATION_THRESHOLD = 1e-3
#: a unit is saturated when it is in the flat region on at least this fraction of samples
SATURATION_MIN_FRACTION = 0.99

_DEATH_PROBE = np.array([-10.0, -5.0])


# ---------------------------------------------------------------------------
# What an activation can suffer from
# ---------------------------------------------------------------------------


def can_die(activation: Any) -> bool:
    """True when the activation's derivative is exactly 0 on its negative side (ReLU family).

    Probed numerically (``f'(-10) == f'(-5) == 0``), so any activation added to the catalog
    is classified without a list: relu and relu6 can die; leaky_relu, prelu, elu, gelu,
    sigmoid, tanh cannot. Non-element-wise (softmax) and non-differentiable (step, sign)
    activations are excluded.
    """
    if not getattr(activation, "elementwise", False) or not getattr(activation, "differentiable", True):
        return False
    try:
        d = np.asarray(activation.derivative(_DEATH_PROBE.copy()))
    except (TypeError, NotImplementedError, ValueError):
        return False
    return bool(np.all(d == 0))


def is_saturating(activation: Any) -> bool:
    """True for element-wise, differentiable activations whose properties say saturating."""
    props = getattr(activation, "properties", None)
    return bool(
        props is not None
        and props.saturating
        and getattr(activation, "elementwise", False)
        and getattr(activation, "differentiable", True)
    )


# ---------------------------------------------------------------------------
# Results as plain data
# ---------------------------------------------------------------------------


@dataclass
class LayerStats:
    """Diagnosis of one activation layer over a dataset.

    Attributes:
        index: position among the network's activation layers (0 = first hidden layer).
        name: ``"hidden 1"``, ``"hidden 2"``, ..., ``"output"``.
        activation: the activation's name.
        units: number of units.
        output: True for the output layer.
        dead_fraction: fraction of dead units, or None where the activation cannot die.
        dead_units: indices of the dead units.
        saturated_fraction: fraction of saturated units, or None for a non-saturating activation.
        saturated_units: indices of the saturated units.
        saturated_entries: fraction of (sample, unit) pairs with |f'(z)| < threshold (or None).
        mean, std: of the activations f(z) over samples and units.
        zero_fraction: fraction of activations exactly 0.
    """

    index: int
    name: str
    activation: str
    units: int
    output: bool
    dead_fraction: float | None
    dead_units: list[int]
    saturated_fraction: float | None
    saturated_units: list[int]
    saturated_entries: float | None
    mean: float
    std: float
    zero_fraction: float


@dataclass
class GradientStats:
    """Gradient flow through one dense layer.

    Attributes:
        index: position among the dense layers (0 = first).
        name: ``"dense 1"``, ...
        shape: ``[n_in, n_out]``.
        weight_norm: ``||W||_F``.
        grad_norm: ``||dL/dW||_F`` on the dataset (None when no targets were given).
        relative_grad: ``grad_norm / weight_norm`` (None without targets).
    """

    index: int
    name: str
    shape: list[int]
    weight_norm: float
    grad_norm: float | None
    relative_grad: float | None


@dataclass
class Diagnosis:
    """A network's state on a dataset: per activation layer and per dense layer.

    ``to_dict()`` is JSON-serialisable; ``report()`` is an aligned text table.
    """

    n_samples: int
    saturation_threshold: float
    saturation_min_fraction: float
    layers: list[LayerStats]
    dense: list[GradientStats]
    loss: float | None = None

    @property
    def hidden(self) -> list[LayerStats]:
        return [l for l in self.layers if not l.output]

    def dead_fraction(self, include_output: bool = False) -> float | None:
        """Dead units over all layers that can die (hidden only by default), or None."""
        layers = [l for l in self.layers if l.dead_fraction is not None and (include_output or not l.output)]
        if not layers:
            return None
        return sum(len(l.dead_units) for l in layers) / sum(l.units for l in layers)

    def saturated_fraction(self, include_output: bool = False) -> float | None:
        """Saturated units over all saturating layers (hidden only by default), or None."""
        layers = [l for l in self.layers if l.saturated_fraction is not None and (include_output or not l.output)]
        if not layers:
            return None
        return sum(len(l.saturated_units) for l in layers) / sum(l.units for l in layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "saturation_threshold": self.saturation_threshold,
            "saturation_min_fraction": self.saturation_min_fraction,
            "loss": self.loss,
            "dead_fraction": self.dead_fraction(),
            "saturated_fraction": self.saturated_fraction(),
            "layers": [asdict(l) for l in self.layers],
            "dense": [asdict(d) for d in self.dense],
        }

    def report(self) -> str:
        """The diagnosis as aligned text tables (activation layers, then gradient flow)."""
        rows = [("layer", "activation", "units", "dead", "saturated", "mean", "std", "zero")]
        for l in self.layers:
            rows.append((
                l.name, l.activation, str(l.units),
                _count(l.dead_units, l.units, l.dead_fraction),
                _count(l.saturated_units, l.units, l.saturated_fraction),
                f"{l.mean:.3g}", f"{l.std:.3g}", f"{l.zero_fraction:.1%}",
            ))
        out = [f"diagnosis on {self.n_samples} samples"
               + (f" (loss {self.loss:.4g})" if self.loss is not None else "")]
        out += _table(rows)
        total = self.dead_fraction()
        if total is not None:
            out.append(f"dead hidden units: {total:.1%} (pre-activation <= 0 and f' = 0 on every sample)")
        sat = self.saturated_fraction()
        if sat is not None:
            out.append(f"saturated hidden units: {sat:.1%} (|f'| < {self.saturation_threshold:g} "
                       f"on >= {self.saturation_min_fraction:.0%} of samples)")
        for l in self.layers:
            if l.dead_units:
                out.append(f"  {l.name}: dead units {_indices(l.dead_units)}")
            if l.saturated_units:
                out.append(f"  {l.name}: saturated units {_indices(l.saturated_units)}")
        if self.dense:
            out.append("")
            rows = [("layer", "shape", "|W|", "|dL/dW|", "|dL/dW|/|W|")]
            for d in self.dense:
                rows.append((
                    d.name, "x".join(map(str, d.shape)), f"{d.weight_norm:.3g}",
                    "-" if d.grad_norm is None else f"{d.grad_norm:.3g}",
                    "-" if d.relative_grad is None else f"{d.relative_grad:.3g}",
                ))
            out += _table(rows)
        return "\n".join(out)


def _count(idx: list[int], units: int, frac: float | None) -> str:
    if frac is None:
        return "-"
    return f"{len(idx)} ({frac:.0%})"


def _indices(idx: list[int], limit: int = 20) -> str:
    s = ", ".join(map(str, idx[:limit]))
    return s + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def _check_inputs(net: MLP, X: Any) -> np.ndarray:
    if hasattr(net, "check_X"):
        return net.check_X(X)
    X = np.asarray(X, dtype=net.dtype)
    if X.ndim != 2 or len(X) == 0:
        raise DataError(f"X must be 2-D with at least one sample; got shape {X.shape}")
    return X


def _encode(net: MLP, X: np.ndarray, y: Any) -> np.ndarray:
    """Targets as the loss takes them: already-encoded arrays pass, labels are encoded."""
    y_arr = np.asarray(y)
    if (
        y_arr.ndim == 2
        and y_arr.shape == (len(X), net.n_outputs)
        and np.issubdtype(y_arr.dtype, np.floating)
    ) or not hasattr(net, "encode_targets"):
        if len(y_arr) != len(X):
            raise DataError(f"X has {len(X)} samples but y has {len(y_arr)}")
        return np.asarray(y_arr, dtype=net.dtype)
    # fit=False: never changes the network's classes_
    return net.encode_targets(y_arr, len(X), fit=False)


#: rows per forward/backward pass. NOTE: small passes, the size of training batches, are
#: much faster than big ones on a loaded machine: OpenBLAS goes multi-threaded for big
#: products and its threads then wait on each other (``benchmarks/bench_diagnostics.py``
#: measures the tracker's cost).
CHUNK_ROWS = 32


def _chunks(n: int) -> list[slice]:
    return [slice(s, min(s + CHUNK_ROWS, n)) for s in range(0, n, CHUNK_ROWS)]


def _pre_activations(net: MLP, X: np.ndarray) -> list[tuple[ActivationLayer, np.ndarray, np.ndarray]]:
    """(layer, z, f(z)) for every activation layer: one pass of the network's own forward,
    recorded (the caller sets evaluation mode)."""
    outputs: list[np.ndarray] = []
    net.forward(X, record=outputs)
    inputs = [X] + outputs[:-1]
    return [(layer, z, a) for layer, z, a in zip(net.layers, inputs, outputs)
            if isinstance(layer, ActivationLayer)]


class _LayerAccumulator:
    """Sums over chunks of samples for one activation layer (exact, in float64)."""

    def __init__(self, layer: ActivationLayer, units: int):
        act = layer.activation
        self.act = act
        self.units = units
        self.die, self.saturating = can_die(act), is_saturating(act)
        self.n = 0
        self.dead = np.ones(units, dtype=bool)
        self.flat = np.zeros(units, dtype=np.int64)
        self.total = 0.0
        self.total_sq = 0.0
        self.zeros = 0

    def add(self, z: np.ndarray, a: np.ndarray, threshold: float) -> None:
        self.n += len(z)
        if self.die or self.saturating:
            d = np.abs(self.act.derivative(z))
            if self.die:
                self.dead &= np.all((z <= 0) & (d == 0), axis=0)
            if self.saturating:
                self.flat += np.count_nonzero(d < threshold, axis=0)
        a64 = np.asarray(a, dtype=np.float64)
        self.total += float(a64.sum())
        self.total_sq += float(np.sum(a64 * a64))
        self.zeros += int(np.count_nonzero(a64 == 0))


def layer_stats(
    net: MLP,
    X: np.ndarray,
    *,
    saturation_threshold: float = SATURATION_THRESHOLD,
    saturation_min_fraction: float = SATURATION_MIN_FRACTION,
) -> list[LayerStats]:
    """Dead units, saturation and activation statistics of every activation layer on ``X``.

    Computed in chunks of :data:`CHUNK_ROWS` samples, in evaluation mode.
    """
    accs: list[_LayerAccumulator] = []
    was = net.training
    net.eval()
    try:
        for rows in _chunks(len(X)):
            passes = _pre_activations(net, X[rows])
            if not accs:
                accs = [_LayerAccumulator(layer, int(z.shape[1])) for layer, z, _ in passes]
            for acc, (_, z, a) in zip(accs, passes):
                acc.add(z, a, saturation_threshold)
    finally:
        net.train(was)
    stats = []
    for i, acc in enumerate(accs):
        units = acc.units
        is_out = i == len(accs) - 1
        dead = np.flatnonzero(acc.dead).tolist() if acc.die else []
        sat = (np.flatnonzero(acc.flat >= saturation_min_fraction * acc.n).tolist()
               if acc.saturating else [])
        entries = acc.n * units
        mean = acc.total / entries
        stats.append(LayerStats(
            index=i,
            name="output" if is_out else f"hidden {i + 1}",
            activation=acc.act.name,
            units=units,
            output=is_out,
            dead_fraction=len(dead) / units if acc.die else None,
            dead_units=dead,
            saturated_fraction=len(sat) / units if acc.saturating else None,
            saturated_units=sat,
            saturated_entries=float(acc.flat.sum() / entries) if acc.saturating else None,
            mean=float(mean),
            std=float(np.sqrt(max(acc.total_sq / entries - mean * mean, 0.0))),
            zero_fraction=acc.zeros / entries,
        ))
    return stats


def _norm(a: np.ndarray) -> float:
    """Frobenius norm in float64 (element-wise: no BLAS call, see :data:`CHUNK_ROWS`)."""
    a64 = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.sum(a64 * a64)))


def gradient_stats(net: MLP, X: np.ndarray | None = None, Y: np.ndarray | None = None) -> tuple[list[GradientStats], float | None]:
    """Per dense layer weight and gradient norms; gradients on ``(X, Y)`` (encoded) if given.

    The gradient on all of ``X`` is accumulated over chunks of :data:`CHUNK_ROWS` rows,
    each weighted by its share of the samples: exact for relunet's losses, which are all
    means over the samples. Overwrites the network's gradient buffers (``dW``, ``db``),
    never its parameters. Returns the list and the loss on ``(X, Y)`` (None without data).
    """
    loss = None
    dense = net.dense_layers
    grads: list[np.ndarray] | None = None
    if X is not None and Y is not None:
        n = len(X)
        grads = [np.zeros(d.W.shape) for d in dense]
        loss = 0.0
        was = net.training
        net.eval()
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for rows in _chunks(n):
                    w = (rows.stop - rows.start) / n
                    loss += w * float(net.loss_and_gradients(X[rows], Y[rows]))
                    for g, d in zip(grads, dense):
                        g += w * d.dW
        except NonDifferentiableError:
            # step/sign pass no gradient: the norms are undefined, the loss is not
            grads = None
            with np.errstate(over="ignore", invalid="ignore"):
                loss = float(net.loss_value(X, Y))
        finally:
            net.train(was)
    out = []
    for k, d in enumerate(dense):
        w = _norm(d.W)
        g = _norm(grads[k]) if grads is not None else None
        out.append(GradientStats(
            index=k, name=f"dense {k + 1}", shape=[int(d.n_in), int(d.n_out)], weight_norm=w,
            grad_norm=g, relative_grad=(g / w if g is not None and w > 0 else None),
        ))
    return out, loss


def diagnose(
    net: MLP,
    X: Any,
    y: Any = None,
    *,
    saturation_threshold: float = SATURATION_THRESHOLD,
    saturation_min_fraction: float = SATURATION_MIN_FRACTION,
) -> Diagnosis:
    """Diagnose ``net`` on a dataset: dead and saturated units, activation statistics,
    and (when ``y`` is given) the gradient norms per layer.

    Args:
        net: a :class:`relunet.core.network.Network` (usually an MLP, fitted or not).
        X: ``shape (n_samples, n_features)``.
        y: optional labels/targets (as for ``fit``) or encoded targets
            ``shape (n_samples, n_outputs)``; needed for gradient norms and the loss.
        saturation_threshold: ``|f'(z)|`` below this is the flat region.
        saturation_min_fraction: fraction of samples in the flat region for a unit to count
            as saturated (default 0.99: saturated on practically every input).

    Example:
        >>> d = diagnose(net, X_test, y_test)            # doctest: +SKIP
        >>> print(d.report()); d.to_dict()["dead_fraction"]   # doctest: +SKIP
    """
    for name, value in (("saturation_threshold", saturation_threshold),
                        ("saturation_min_fraction", saturation_min_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
    if not saturation_threshold > 0:
        raise ConfigError(f"saturation_threshold must be > 0, got {saturation_threshold}")
    if not 0 < saturation_min_fraction <= 1:
        raise ConfigError(f"saturation_min_fraction must be in (0, 1], got {saturation_min_fraction}")
    X = _check_inputs(net, X)
    Y = _encode(net, X, y) if y is not None else None
    layers = layer_stats(net, X, saturation_threshold=saturation_threshold,
                         saturation_min_fraction=saturation_min_fraction)
    dense, loss = gradient_stats(net, X, Y)
    return Diagnosis(
        n_samples=int(len(X)), saturation_threshold=float(saturation_threshold),
        saturation_min_fraction=float(saturation_min_fraction), layers=layers, dense=dense, loss=loss,
    )


# ---------------------------------------------------------------------------
# Per-epoch tracking during training
# ---------------------------------------------------------------------------

#: per-layer series recorded each epoch (rows: epochs; columns: activation layers)
LAYER_SERIES = ("dead_fraction", "saturated_fraction", "mean", "std", "zero_fraction")
#: per-dense-layer series (rows: epochs; columns: dense layers)
DENSE_SERIES = ("grad_norm", "weight_norm", "update_ratio")


@dataclass
class TrainingDiagnostics:
    """Diagnostics over epochs, as tables ready to plot.

    ``epochs[i]`` is the epoch of row ``i`` (0 = before training). Every series in
    ``layer_series`` is a list of rows (one per epoch) of one value per activation layer
    (``layers`` names them; None where not applicable, e.g. dead fraction of a leaky ReLU
    layer); every series in ``dense_series`` has one value per dense layer. ``dead_units``
    holds, per epoch, the dead unit indices per layer. ``series(key)`` returns a float
    array ``shape (n_epochs, n_layers)`` with NaN for None.
    """

    layers: list[dict[str, Any]] = field(default_factory=list)
    dense: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    layer_series: dict[str, list[list[float | None]]] = field(
        default_factory=lambda: {k: [] for k in LAYER_SERIES})
    dense_series: dict[str, list[list[float | None]]] = field(
        default_factory=lambda: {k: [] for k in DENSE_SERIES})
    dead_units: list[list[list[int]]] = field(default_factory=list)
    loss: list[float | None] = field(default_factory=list)

    def series(self, key: str) -> np.ndarray:
        """One series as a float array ``shape (n_epochs, n_layers)`` (NaN where None)."""
        table = self.layer_series.get(key, self.dense_series.get(key))
        if table is None:
            raise ConfigError(
                f"unknown series {key!r}; known: {', '.join(LAYER_SERIES + DENSE_SERIES)}")
        return np.array([[np.nan if v is None else v for v in row] for row in table], dtype=float).reshape(
            len(table), -1)

    def first_death(self) -> dict[str, int | None]:
        """Per layer that can die, the first recorded epoch with a dead unit (None if never)."""
        out: dict[str, int | None] = {}
        dead = self.layer_series["dead_fraction"]
        for j, layer in enumerate(self.layers):
            if all(row[j] is None for row in dead):
                continue
            out[layer["name"]] = next((e for e, row in zip(self.epochs, dead) if row[j]), None)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": list(self.epochs),
            "layers": self.layers,
            "dense": self.dense,
            **{k: v for k, v in self.layer_series.items()},
            **{k: v for k, v in self.dense_series.items()},
            "dead_units": self.dead_units,
            "loss": self.loss,
        }

    def report(self, max_rows: int | None = 25) -> str:
        """Per epoch: loss, dead fraction per layer that can die, saturated fraction per
        saturating layer, gradient norm per dense layer. With more than ``max_rows`` recorded
        epochs, evenly spaced ones are shown (always the first and the last)."""
        die = [j for j, _ in enumerate(self.layers)
               if any(row[j] is not None for row in self.layer_series["dead_fraction"])]
        sat = [j for j, _ in enumerate(self.layers)
               if any(row[j] is not None for row in self.layer_series["saturated_fraction"])]
        header = (["epoch", "loss"] + [f"dead {self.layers[j]['name']}" for j in die]
                  + [f"sat {self.layers[j]['name']}" for j in sat]
                  + [f"|dW| {d['name']}" for d in self.dense])
        rows = [tuple(header)]
        shown = range(len(self.epochs))
        if max_rows is not None and len(self.epochs) > max_rows:
            shown = sorted(set(np.linspace(0, len(self.epochs) - 1, max_rows).round().astype(int).tolist()))
        for i in shown:
            e = self.epochs[i]
            cells = [str(e), "-" if self.loss[i] is None else f"{self.loss[i]:.4g}"]
            cells += [_pct(self.layer_series["dead_fraction"][i][j]) for j in die]
            cells += [_pct(self.layer_series["saturated_fraction"][i][j]) for j in sat]
            cells += ["-" if g is None else f"{g:.3g}" for g in self.dense_series["grad_norm"][i]]
            rows.append(tuple(cells))
        return "\n".join(_table(rows))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


class DiagnosticsTracker:
    """Training callback recording diagnostics after every ``every`` epochs.

    Use with the training loop's callbacks (``on_train_begin(net)``,
    ``on_epoch_end(epoch, record, net)``), or call the hooks yourself. Epoch 0 is the
    network before training. The measurements are taken on ``X`` (at most
    ``max_samples`` rows, drawn once with the seeded generator), in evaluation mode; the
    network's parameters and random generator are left untouched, so a run with the
    tracker gives the same weights as one without it.

    Args:
        X: ``shape (n_samples, n_features)``: the data to diagnose on (usually the training set).
        y: optional labels/targets for the gradient norms.
        every: record every ``every`` epochs (and always the last one reported).
        max_samples: subsample ``X`` to this many rows (None: all).
        annotate: also add ``dead_fraction`` (hidden layers) to the epoch's record dict,
            so it shows in the history and the per-epoch progress line.
        seed: seed of the subsampling.

    Attributes:
        data: the :class:`TrainingDiagnostics` recorded so far.
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        *,
        every: int = 1,
        max_samples: int | None = 2000,
        annotate: bool = True,
        saturation_threshold: float = SATURATION_THRESHOLD,
        saturation_min_fraction: float = SATURATION_MIN_FRACTION,
        seed: int = 0,
    ):
        if int(every) < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        X = np.asarray(X)
        if max_samples is not None and len(X) > max_samples:
            idx = np.sort(np.random.default_rng(seed).choice(len(X), size=max_samples, replace=False))
            X = X[idx]
            y = None if y is None else np.asarray(y)[idx]
        self._X_raw, self._y_raw = X, y
        self._X: np.ndarray | None = None
        self._Y: np.ndarray | None = None
        self.every = int(every)
        self.annotate = annotate
        self.saturation_threshold = saturation_threshold
        self.saturation_min_fraction = saturation_min_fraction
        self.data = TrainingDiagnostics()
        self._previous: list[np.ndarray] | None = None
        self._last_epoch: int | None = None

    # -- callback hooks ---------------------------------------------------
    def on_train_begin(self, net: MLP, *args: Any, **kwargs: Any) -> None:
        """Record epoch 0 (the network before training)."""
        if not self.data.epochs:
            self._record(0, net)

    def on_epoch_end(self, epoch: int, record: dict[str, Any] | None, net: MLP, *args: Any, **kwargs: Any) -> None:
        if self._previous is None:  # no on_train_begin: start from here
            self._snapshot(net)
        if epoch % self.every:
            return
        row = self._record(int(epoch), net)
        if self.annotate and record is not None and row is not None:
            record["dead_fraction"] = row

    def on_train_end(self, net: MLP, *args: Any, **kwargs: Any) -> None:
        pass

    # -- measuring --------------------------------------------------------
    def _prepare(self, net: MLP) -> None:
        if self._X is None:
            self._X = _check_inputs(net, self._X_raw)
            if self._y_raw is not None:
                self._Y = _encode(net, self._X, self._y_raw)

    def _snapshot(self, net: MLP) -> None:
        self._previous = [d.W.astype(np.float64) for d in net.dense_layers]

    def _record(self, epoch: int, net: MLP) -> float | None:
        """Measure and append one row; returns the dead fraction of the hidden layers."""
        self._prepare(net)
        stats = layer_stats(net, self._X, saturation_threshold=self.saturation_threshold,
                            saturation_min_fraction=self.saturation_min_fraction)
        dense, loss = gradient_stats(net, self._X, self._Y)
        d = self.data
        if not d.layers:
            d.layers = [{"index": s.index, "name": s.name, "activation": s.activation,
                         "units": s.units, "output": s.output} for s in stats]
            d.dense = [{"index": g.index, "name": g.name, "shape": g.shape} for g in dense]
        d.epochs.append(epoch)
        d.loss.append(loss)
        for key in LAYER_SERIES:
            d.layer_series[key].append([getattr(s, key) for s in stats])
        d.dead_units.append([list(s.dead_units) for s in stats])
        ratios: list[float | None]
        if self._previous is None or epoch == 0:
            ratios = [None] * len(dense)
        else:
            ratios = []
            for prev, layer in zip(self._previous, net.dense_layers):
                n = _norm(prev)
                step = _norm(layer.W.astype(np.float64) - prev)
                ratios.append(step / n if n > 0 else None)
        d.dense_series["grad_norm"].append([g.grad_norm for g in dense])
        d.dense_series["weight_norm"].append([g.weight_norm for g in dense])
        d.dense_series["update_ratio"].append(ratios)
        self._snapshot(net)
        diag = Diagnosis(len(self._X), self.saturation_threshold, self.saturation_min_fraction, stats, dense, loss)
        return diag.dead_fraction()

    def diagnosis(self, net: MLP) -> Diagnosis:
        """A full :class:`Diagnosis` of ``net`` now, on the tracker's data."""
        self._prepare(net)
        return diagnose(net, self._X, self._Y, saturation_threshold=self.saturation_threshold,
                        saturation_min_fraction=self.saturation_min_fraction)

    def to_dict(self) -> dict[str, Any]:
        return self.data.to_dict()

    def report(self, max_rows: int | None = 25) -> str:
        return self.data.report(max_rows)

