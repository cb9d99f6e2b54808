"""Figures: activations and derivatives, training curves, diagnostics, comparisons, decision boundaries.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no display and
no pyplot state are ever used), returns it, and when given ``path`` also saves it there:
PNG, SVG or PDF by the file's extension, written atomically (a temporary file in the same
folder, then renamed), so a reader never sees half a figure.

Per-layer series over epochs (dead-unit fraction, gradient norms) are plain data, in any
of these forms:

* a mapping ``{layer_name: [value_epoch1, value_epoch2, ...]}``;
* a sequence over epochs of sequences over layers, ``shape (n_epochs, n_layers)``;
* a sequence over epochs of mappings ``{layer_name: value}`` (records; the keys
  ``"epoch"``/``"epochs"`` give the x values instead of 1, 2, ...);
* an object with ``to_dict()`` returning one of those, or a mapping holding one under the
  plotted quantity's key (``"dead_fraction"``; ``"grad_norm"`` or ``"gradient_norms"``),
  in particular :class:`relunet.diagnostics.DiagnosticsTracker` and its ``to_dict()``:
  ``{"epochs": [...], "layers": [{"name": ...}], "dense": [{"name": ...}],
  "dead_fraction": [[per layer] per epoch], "grad_norm": [[per dense layer] per epoch]}``
  (also inside the ``"diagnostics"`` of ``relunet train --diagnose --json``, and in the
  ``info["diagnostics"]`` of the history ``relunet train --diagnose --history FILE`` writes).

``None`` or NaN marks an epoch/layer with no value (e.g. a tanh layer has no dead units);
a layer with no value at any epoch is not drawn.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from relunet.core import activations as catalog
from relunet.errors import ConfigError, DataError
from relunet.io.archive import read_json, write_atomic
from relunet.core.network import MLP

try:
    import matplotlib
except ValueError as _exc:  # matplotlib validates $MPLBACKEND as it is imported
    if "backend" not in str(_exc):
        raise
    raise ConfigError(
        f"MPLBACKEND={os.environ.get('MPLBACKEND')!r} is not a backend matplotlib knows; relunet draws "
        "into files with Agg and needs none: unset MPLBACKEND (or set it to agg)"
    ) from None
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

__all__ = [
    "save_figure",
    "plot_activations",
    "plot_history",
    "plot_dead_units",
    "plot_gradient_norms",
    "plot_layer_series",
    "plot_comparison",
    "plot_decision_boundary",
    "decision_grid",
    "read_json",
]

#: file formats :func:`save_figure` writes, by extension
FORMATS = ("png", "svg", "pdf")

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: "str | os.PathLike[str]", dpi: int | None = None) -> str:
    """Save ``fig`` to ``path`` atomically; the format follows the extension (png, svg, pdf).

    Returns the path written.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ConfigError(
            f"cannot tell the figure format of {path!r}: give a file name ending in "
            + ", ".join("." + f for f in FORMATS)
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder} does not exist (for figure {path})")
    buf = io.BytesIO()  # drawn whole before the file is touched: a failure leaves any old figure as it was
    # NOTE: SVG text stays text (not glyph outlines): searchable, editable, smaller.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format=ext, dpi=dpi)
    # atomic, keeping an existing file's permissions; through symlinks; a device written in place
    write_atomic(path, buf.getvalue())
    return path


def _finish(fig: Figure, path: "str | os.PathLike[str] | None") -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _grid_shape(n: int, ncols: int | None) -> tuple[int, int]:
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1):
        raise ConfigError(f"ncols (panels per row) must be an integer >= 1, got {ncols!r}")
    ncols = ncols or min(n, 3)
    return math.ceil(n / ncols), ncols


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def plot_activations(
    names: "str | Sequence[str] | None" = None,
    path: "str | os.PathLike[str] | None" = None,
    *,
    x_range: tuple[float, float] | None = None,
    n_points: int = 401,
    ncols: int | None = None,
) -> Figure:
    """Each activation ``f`` with its derivative ``f'``, one panel per activation.

    Args:
        names: a catalog name, a list of them, or None for every activation.
        path: where to save (png/svg/pdf), or None.
        x_range: the plotted inputs ``x`` (``n_points`` evenly spaced, float64). Default:
            ``(-5, 5)``, widened in a panel to show each kink of its activation within 10
            of 0 two units inside (relu6's clip at 6: ``(-5, 8)``).
        ncols: panels per row (default: up to 3).

    In each panel the first line is ``f(x)`` (label ``"f(x)"``), the second ``f'(x)``
    (label ``"f'(x)"``), computed by the catalog's ``fn`` and ``derivative`` in
    evaluation mode (RReLU's fixed mean slope). Softmax and log-softmax are not
    element-wise (each output depends on every input), so they have no ``f'(x)``: their
    panel shows output 0 for the two logits ``(x, 0)`` and its derivative in ``x`` (the
    diagonal of the Jacobian), as :func:`explained_curves` computes them, and says so.
    """
    if names is None:
        names = catalog.names()
    elif isinstance(names, str):
        names = [names]
    names = [catalog.canonical_name(n) for n in names]
    if not names:
        raise ConfigError("no activations to plot")
    if x_range is not None:
        _x_values(x_range, n_points)  # checked before any drawing
    rows, cols = _grid_shape(len(names), ncols)
    fig = _new_figure(3.2 * cols, 2.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        _activation_panel(ax, name, x_range, n_points)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    return _finish(fig, path)


def _activation_panel(ax: Any, name: str, x_range: tuple[float, float] | None, n_points: int) -> None:
    """One panel of :func:`plot_activations`."""
    act = catalog.get(name)
    act.eval()
    x = _x_values(x_range if x_range is not None else _panel_range(act), n_points)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    if act.elementwise:
        y = np.asarray(act.fn(x), dtype=np.float64)
        d = np.asarray(act.derivative(x), dtype=np.float64)
        ax.set_title(name)
        f_label, d_label = "f(x)", "f'(x)"
    else:
        y, d, _, _, _ = explained_curves(name, x)
        ax.set_title(f"{name}: not element-wise,\noutput 0 of the logits (x, 0)", fontsize="medium")
        f_label, d_label = "f(x, 0)[0]", "\u2202f[0]/\u2202x"
    ax.plot(x, y, color=_COLORS[0], lw=2, label=f_label)
    ax.plot(x, d, color=_COLORS[1], lw=1.5, ls="--", label=d_label)
    ax.set_xlabel("x")
    ax.legend(loc="upper left" if act.elementwise else "best", fontsize="small", frameon=False)


#: kinks farther from 0 than this do not widen an activation's default panel: softplus switches
#: to x at 20, where f and f' are already x and 1 (a numerical, not a visible, kink)
_KINK_REACH = 10.0


def _panel_range(act: Any) -> tuple[float, float]:
    """``(-5, 5)``, widened so that every kink of ``act`` within ``_KINK_REACH`` of 0 lies at
    least 2 inside (relu6's clip at 6)."""
    kinks = [float(k) for k in act.kinks() if abs(float(k)) <= _KINK_REACH]
    lo = min([-5.0] + [k - 2.0 for k in kinks])
    hi = max([5.0] + [k + 2.0 for k in kinks])
    return lo, hi


def _x_values(x_range: Any, n_points: Any) -> np.ndarray:
    """``n_points`` evenly spaced float64 values over ``x_range``, checked."""
    try:
        lo, hi = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise ConfigError(f"x range must be two numbers (low, high); got {x_range!r}") from None
    # the width must be finite too: (-1e308, 1e308) overflowed in linspace (RuntimeWarnings, inf x)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and np.isfinite(hi - lo)):
        raise ConfigError(f"x range must be two finite numbers, low < high, with a finite width; got {x_range}")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise ConfigError(f"n_points must be an integer >= 2, got {n_points!r}")
    return np.linspace(lo, hi, int(n_points))


def explained_curves(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, str, str, str]:
    """One-variable curves for what has no element-wise ``f'(x)``: ``(f, df, f_label, df_label, title)``.

    * softmax / log_softmax: output 0 over the logits ``(x, 0)`` (two classes) and its
      diagonal Jacobian entry, from the activation's own ``forward`` and ``backward``;
    * a loss: ``L`` over one logit of its natural output, target class 0 (cross-entropy:
      logits ``(x, 0)``; binary cross-entropy: logit ``x``, target 1; MSE: output ``x``,
      target 1) and ``dL/dx``, from the loss's own ``value_from_logits`` / ``delta_from_logits``.
    """
    from relunet.core import losses

    x = np.asarray(x, dtype=np.float64)
    if name in ("softmax", "log_softmax", "hierarchical_softmax"):
        act = catalog.get(name)
        Z = np.stack([x, np.zeros_like(x)], axis=1)
        f = act.forward(Z)[:, 0]
        g = np.zeros_like(Z)
        g[:, 0] = 1.0
        df = act.backward(g)[:, 0]  # d out_0 / d z_0, the diagonal of the Jacobian
        return f, df, f"{name}(x, 0)_0", f"d/dx {name}(x, 0)_0", f"{name}: two logits (x, 0), output 0"
    loss = losses.get(name)
    if loss.name in ("cross_entropy", "hierarchical_nll"):
        rows = [np.array([[v, 0.0]]) for v in x]
        Y = np.array([[1.0, 0.0]])  # (two classes: the tree is one node, score x)
        what = "logits (x, 0), target class 0"
    else:
        rows = [np.array([[v]]) for v in x]
        Y = np.array([[1.0]])
        what = "logit x, target 1" if loss.name == "binary_cross_entropy" else "output x, target 1"
    f = np.array([loss.value_from_logits(z, Y) for z in rows])
    df = np.array([loss.delta_from_logits(z, Y)[0, 0] for z in rows])
    return f, df, "L(x)", "dL/dx", f"{loss.name}: {what}"


def plot_explained(name: str, path: "str | os.PathLike[str] | None" = None, *,
                   x_range: tuple[float, float] = (-5.0, 5.0), n_points: int = 401) -> Figure:
    """``relunet explain NAME --plot``: an element-wise activation's ``f`` and ``f'``
    (as :func:`plot_activations`), or the curves of :func:`explained_curves` for softmax,
    log_softmax and the losses. One panel; the first line is ``f``, the second its derivative."""
    from relunet.core import losses

    from relunet.errors import UnknownNameError

    try:
        key = catalog.canonical_name(name)
    except UnknownNameError:
        try:
            key = losses.get(name).name
        except UnknownNameError:
            raise UnknownNameError("activation or loss name", name, catalog.names() + losses.names()) from None
    if key in catalog.ACTIVATIONS and catalog.ACTIVATIONS[key].elementwise:
        return plot_activations([key], path, x_range=x_range, n_points=n_points)
    x = _x_values(x_range, n_points)
    f, df, f_label, df_label, title = explained_curves(key, x)
    fig = _new_figure(4.2, 3.0)
    ax = fig.subplots()
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.plot(x, f, color=_COLORS[0], lw=2, label=f_label)
    ax.plot(x, df, color=_COLORS[1], lw=1.5, ls="--", label=df_label)
    ax.set_title(title, fontsize="small")
    ax.set_xlabel("x")
    ax.legend(loc="best", fontsize="small", frameon=False)
    return _finish(fig, path)


# ---------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------


def load_history(source: Any) -> list[dict[str, Any]]:
    """The per-epoch records of a History, its ``to_dict()``, a list of records or a JSON file."""
    if isinstance(source, (str, os.PathLike)):
        source = read_json(source, "a JSON history")
    if hasattr(source, "records"):
        source = source.records
    elif isinstance(source, Mapping):
        if "records" in source:
            source = source["records"]
        elif "history" in source:
            return load_history(source["history"])
        elif source and all(isinstance(v, list) for v in source.values()):
            lengths = {k: len(v) for k, v in source.items()}
            if len(set(lengths.values())) > 1:
                raise DataError(f"a history's per-epoch lists differ in length: {lengths}")
            n = len(next(iter(source.values())))
            source = [{k: v[i] for k, v in source.items()} for i in range(n)]
        else:
            raise DataError("a history needs 'records' (a list of per-epoch dicts)")
    if not isinstance(source, Sequence) or not all(isinstance(r, Mapping) for r in source):
        raise DataError("a history is a list of per-epoch records (dicts with 'loss', ...)")
    if not source:
        raise DataError("the history is empty (no epochs)")
    return [dict(r) for r in source]


def plot_history(history: Any, path: "str | os.PathLike[str] | None" = None, *,
                 title: str | None = None) -> Figure:
    """Loss (and accuracy, when recorded) per epoch, training and validation.

    Args:
        history: a :class:`relunet.training.History`, its ``to_dict()``, a list of records
            or the path of a history JSON file.
        path: where to save, or None.

    Panels: ``loss`` (lines ``loss`` and ``val_loss``), then ``accuracy`` (``accuracy``,
    ``val_accuracy``) if any record holds one.
    """
    records = load_history(history)
    epochs = np.array([_num(r.get("epoch", i + 1), "history 'epoch'") for i, r in enumerate(records)],
                      dtype=np.float64)
    panels = [("loss", ["loss", "val_loss"])]
    if any("accuracy" in r or "val_accuracy" in r for r in records):
        panels.append(("accuracy", ["accuracy", "val_accuracy"]))
    if not any("loss" in r for r in records):
        raise DataError("the history records hold no 'loss'")
    fig = _new_figure(5.0 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, keys) in zip(axes, panels):
        for j, key in enumerate(keys):
            if any(key in r for r in records):
                v = np.array([_num(r.get(key), f"history {key!r}") for r in records])
                ax.plot(epochs, v, color=_COLORS[j], marker="o" if len(v) < 30 else None, ms=3,
                        label="train" if not key.startswith("val_") else "validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel(metric)
        ax.set_title(metric)
        if metric == "loss":
            train_loss = np.array([_num(r.get("loss"), "history 'loss'") for r in records])
            if np.all(train_loss[np.isfinite(train_loss)] > 0):  # gaps (None, NaN, inf) aside
                ax.set_yscale("log")
        ax.legend(fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


#: the largest magnitude a figure draws (matplotlib's axis limits and ticks overflow near 1.8e308)
MAX_DRAWN = 1e300

#: the most bars a comparison plot draws, one per compared activation (the catalog has 25):
#: a file of more is refused, not drawn as a figure hundreds of inches wide
MAX_COMPARED = 100
#: the most lines a per-layer plot draws (one per layer)
MAX_LAYERS_DRAWN = 1000
#: the longest name drawn or quoted in a message (an activation's, a layer's); longer ones
#: are cut with an ellipsis (matplotlib lays out a megabyte-long label for minutes)
MAX_LABEL = 40


def _label(name: Any) -> str:
    """``name`` as text of at most :data:`MAX_LABEL` characters."""
    text = str(name)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def _num(v: Any, what: str = "a value") -> float:
    """``v`` as a float to draw: None, NaN, infinities and magnitudes beyond
    :data:`MAX_DRAWN` (an axis from -1e308 to 1e308 spans more than a float holds) are NaN,
    a gap in the line.

    Raises:
        DataError: ``v`` is not a number, or an integer beyond float's range.
    """
    if v is None:
        return math.nan
    if isinstance(v, (str, bytes)) or not isinstance(v, (int, float, np.number)):
        raise DataError(f"{what}: expected a number, got {v!r}")
    try:
        f = float(v)
    except OverflowError:  # an integer of 400 digits
        raise DataError(f"{what}: {str(v)[:20]}... is beyond the range of a float") from None
    return f if abs(f) <= MAX_DRAWN else math.nan  # NaN fails the test too


# ---------------------------------------------------------------------------
# Per-layer series over epochs (diagnostics)
# ---------------------------------------------------------------------------


def _history_diagnostics(history: Mapping[str, Any]) -> Mapping[str, Any]:
    """The per-layer diagnostics a training history holds (``info["diagnostics"]``, written
    by ``relunet train --diagnose --history FILE``), or a DataError saying how to get them."""
    info = history.get("info")
    if isinstance(info, Mapping) and isinstance(info.get("diagnostics"), Mapping):
        return info["diagnostics"]
    raise DataError("this training history holds no per-layer diagnostics (only the loss and metrics "
                    "per epoch): train with --diagnose, e.g. relunet train --diagnose --history FILE, "
                    "or plot the output of relunet train --diagnose --json")


def per_layer_series(data: Any, key: "str | Sequence[str] | None" = None, names_key: str | None = None
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Normalise per-layer data over epochs (see the module docstring) to ``(epochs, {layer: values})``.

    Args:
        data: the data, in one of the documented forms.
        key: the quantity's key (or aliases) when ``data`` is a mapping holding several,
            e.g. ``TrainingDiagnostics.to_dict()`` of :mod:`relunet.diagnostics`.
        names_key: where such a mapping lists the layers (``"layers"`` or ``"dense"``: dicts
            with a ``"name"``), naming the columns of a table of rows.

    Returns:
        ``epochs`` ``shape (n_epochs,)`` and, per layer in order, values ``shape (n_epochs,)``
        (NaN where there is none). Layers with no value at any epoch (a leaky ReLU layer's
        dead fraction, the output layer's) are left out.
    """
    if hasattr(data, "to_dict") and not isinstance(data, Mapping):
        data = data.to_dict()
    keys = [key] if isinstance(key, str) else list(key or [])
    what = f" for {keys[0]!r}" if keys else ""
    epochs: Any = None
    names: list[str] | None = None
    if isinstance(data, Mapping) and isinstance(data.get("records"), list) and "diagnostics" not in data:
        data = _history_diagnostics(data)  # ``relunet train --diagnose --history FILE``
    if isinstance(data, Mapping) and isinstance(data.get("diagnostics"), Mapping):
        data = data["diagnostics"]  # ``relunet train --diagnose --json`` output
    if isinstance(data, Mapping) and isinstance(data.get("epochs"), Mapping):
        data = data["epochs"]
    if isinstance(data, Mapping):
        found = next((k for k in keys if k in data), None)
        if found is not None:
            epochs = data.get("epochs")
            listed = data.get(names_key) if names_key else None
            if isinstance(listed, Sequence) and not isinstance(listed, str):
                names = [str(n.get("name", j + 1)) if isinstance(n, Mapping) else str(n)
                         for j, n in enumerate(listed)]
            data = data[found]
        elif names_key and names_key in data:  # a diagnostics dict without this quantity
            raise DataError(f"the data holds no per-layer values{what}")
    series: dict[str, np.ndarray]
    if isinstance(data, Mapping):  # {layer: [value per epoch]}
        items = dict(data)
        epochs = items.pop("epochs", items.pop("epoch", epochs))
        series = {}
        for name, values in items.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
                raise DataError(f"layer {_label(name)!r}: expected a list of per-epoch values, got {_label(values)}")
            series[str(name)] = np.array([_num(v, f"layer {_label(name)!r}") for v in values], dtype=np.float64)
    elif isinstance(data, Sequence | np.ndarray) and not isinstance(data, (str, bytes)):
        rows = list(data)
        if rows and all(isinstance(r, Mapping) for r in rows):  # [{layer: value} per epoch]
            cols: list[str] = []
            for r in rows:
                cols += [str(k) for k in r if k not in ("epoch", "epochs") and str(k) not in cols]
            series = {c: np.array([_num(r.get(c, r.get(_maybe_int(c))), f"layer {_label(c)!r}") for r in rows])
                      for c in cols}
            if all("epoch" in r for r in rows):
                epochs = [r["epoch"] for r in rows]
        else:  # [[value per layer] per epoch]
            try:
                table = np.array([[_num(v) for v in np.atleast_1d(r)] for r in rows], dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError("per-layer data over epochs must be numbers, shape (n_epochs, n_layers)") from None
            if table.ndim != 2:
                raise DataError("per-layer rows must all have the same number of layers")
            if names is None or len(names) != table.shape[1]:
                names = [f"layer {j + 1}" for j in range(table.shape[1])]
            series = {n: table[:, j] for j, n in enumerate(names)}
    else:
        raise DataError(f"cannot read per-layer data from {type(data).__name__}")
    lengths = {len(v) for v in series.values()}
    if len(lengths) > 1:
        raise DataError(f"layers have different numbers of epochs: {sorted(lengths)}")
    if not series or lengths == {0}:
        raise DataError(f"no epochs in the per-layer data{what}")
    n = lengths.pop()
    series = {k: v for k, v in series.items() if not np.all(np.isnan(v))}
    if not series:
        raise DataError(f"no layer has a value{what} at any epoch "
                        "(e.g. leaky ReLU, ELU or tanh layers cannot have dead units)")
    if epochs is None:
        epochs = np.arange(1, n + 1, dtype=np.float64)
    elif isinstance(epochs, (str, bytes)) or not isinstance(epochs, Sequence | np.ndarray):
        raise DataError(f"'epochs' must be a list of epoch numbers, got {epochs!r}")
    else:
        epochs = np.array([_num(e, "epoch") for e in epochs], dtype=np.float64)
    if epochs.shape != (n,):
        raise DataError(f"{epochs.size} epochs given for {n} values per layer")
    return epochs, series


def _maybe_int(name: str) -> Any:
    try:
        return int(name)
    except ValueError:
        return name


def plot_layer_series(data: Any, path: "str | os.PathLike[str] | None" = None, *,
                      key: "str | Sequence[str] | None" = None, names_key: str | None = None,
                      ylabel: str = "value", title: str = "", log: bool = False,
                      ylim: tuple[float, float] | None = None) -> Figure:
    """One line per layer over epochs (the layer's name is the line's label)."""
    epochs, series = per_layer_series(data, key, names_key)
    if len(series) > MAX_LAYERS_DRAWN:
        raise DataError(f"the data holds {len(series)} layers; a plot draws at most {MAX_LAYERS_DRAWN}")
    fig = _new_figure(5.5, 3.6)
    ax = fig.subplots()
    for j, (name, v) in enumerate(series.items()):
        ax.plot(epochs, v, color=_COLORS[j % len(_COLORS)], marker="o" if len(v) < 30 else None,
                ms=3, label=_label(name))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if log:
        finite = np.concatenate([v[np.isfinite(v)] for v in series.values()])
        if finite.size and np.all(finite > 0):
            ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize="small", frameon=False)
    return _finish(fig, path)


def plot_dead_units(data: Any, path: "str | os.PathLike[str] | None" = None) -> Figure:
    """Fraction of dead units per hidden layer over epochs (a "dying ReLU" shows as a rising line)."""
    return plot_layer_series(data, path, key="dead_fraction", names_key="layers", ylabel="dead-unit fraction",
                             title="dead units per layer", ylim=(-0.02, 1.02))


def plot_gradient_norms(data: Any, path: "str | os.PathLike[str] | None" = None, *, log: bool = True) -> Figure:
    """Gradient norm per layer over epochs (log scale): vanishing or exploding gradients."""
    return plot_layer_series(data, path, key=("grad_norm", "gradient_norms"), names_key="dense",
                             ylabel="gradient norm",
                             title="gradient norm per layer", log=log)


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------

_METRIC_LABELS = {
    "test_accuracy": "test accuracy",
    "final_loss": "final training loss",
    "epochs_to_target": "epochs to target",
    "dead_fraction": "dead-unit fraction",
    "seconds": "training time (s)",
}


def _metric_label(metric: str, config: Mapping[str, Any]) -> str:
    """A panel's title: the metric's label; epochs to target names the target."""
    target = config.get("target_accuracy")
    if metric == "epochs_to_target" and isinstance(target, (int, float)):
        return f"epochs to target\n(training accuracy \u2265 {target:g})"
    return _METRIC_LABELS.get(metric, metric)


def _zoomed_limits(means: np.ndarray, stds: np.ndarray) -> tuple[float, float]:
    """y limits around the bars' tops and error bars, with a margin of a quarter of their
    spread (at least 0.01), within [0, 1] plus the margin: accuracies of 0.944 and 0.968 must
    look different, which they do not on a 0-1 axis."""
    ends = np.concatenate([means - stds, means + stds])
    ends = ends[np.isfinite(ends)]
    if not ends.size:
        return 0.0, 1.05
    lo, hi = float(ends.min()), float(ends.max())
    pad = max(0.25 * (hi - lo), 0.01)
    return max(lo - pad, 0.0), min(hi + pad, max(hi, 1.0) + pad / 2)


def plot_comparison(result: Any, path: "str | os.PathLike[str] | None" = None, *,
                    metrics: Sequence[str] | None = None, ncols: int | None = None) -> Figure:
    """Bars of each metric's mean per activation, with error bars of one standard deviation.

    Args:
        result: a :class:`relunet.insight.compare.ComparisonResult`, its ``to_dict()`` or the path
            of its JSON file.
        metrics: which of :data:`relunet.insight.compare.METRICS` (default: all), one panel each,
            titled with the metric's label (a metric never measured, e.g. no seed reached
            the target, is an empty bar marked "n/a").
        ncols: panels per row (default: up to 3).
    """
    from relunet.insight.compare import METRICS, ComparisonResult

    if isinstance(result, (str, os.PathLike)):
        result = read_json(result, "a comparison JSON file")
    if isinstance(result, Mapping):
        result = ComparisonResult.from_dict(dict(result))
    if not isinstance(result, ComparisonResult):
        raise DataError(f"cannot plot a comparison from {type(result).__name__}")
    metrics = list(METRICS if metrics is None else metrics)
    for m in metrics:
        if m not in METRICS:
            raise ConfigError(f"unknown metric {m!r}; known metrics: {', '.join(METRICS)}")
    if not result.rows:
        raise DataError("the comparison has no rows")
    if len(result.rows) > MAX_COMPARED:
        raise DataError(f"the comparison has {len(result.rows)} rows; a plot draws at most {MAX_COMPARED}")
    for i, r in enumerate(result.rows):
        missing = [k for k in ["activation"] + [m + s for m in metrics for s in ("_mean", "_std")] if k not in r]
        if missing:
            raise DataError(f"comparison row {i + 1} has no {', '.join(repr(k) for k in missing)} "
                            "(relunet compare --out-json writes complete rows)")
    names = [_label(n) for n in result.activations]
    rows, cols = _grid_shape(len(metrics), ncols)
    fig = _new_figure(max(3.0, 0.5 * len(names) + 1.5) * cols, 3.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    xs = np.arange(len(names))
    for ax, m in zip(axes.flat, metrics):
        means = np.array([_num(r[m + "_mean"], f"{_label(r['activation'])}: {m}_mean") for r in result.rows])
        stds = np.array([_num(r[m + "_std"], f"{_label(r['activation'])}: {m}_std") for r in result.rows])
        if np.any(stds < 0):
            row = result.rows[int(np.flatnonzero(stds < 0)[0])]
            raise DataError(f"{_label(row['activation'])}: {m}_std is {row[m + '_std']}; a standard deviation is >= 0")
        # NOTE: a NaN mean (no seed reached the target) is drawn as an empty bar, labelled.
        ax.bar(xs, np.nan_to_num(means), yerr=np.nan_to_num(stds), capsize=4,
               color=[_COLORS[i % len(_COLORS)] for i in range(len(names))], label=m)
        for x in xs[np.isnan(means)]:
            ax.annotate("n/a", (x, 0), ha="center", va="bottom", fontsize="small")
        ax.set_xticks(xs, names, rotation=45, ha="right")
        ax.set_title(_metric_label(m, result.config))
        ax.set_ylabel(_METRIC_LABELS.get(m, m))
        if m == "test_accuracy":
            ax.set_ylim(*_zoomed_limits(means, stds))
        elif m == "dead_fraction":
            ax.set_ylim(0, 1.05)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    n = max((r.get("n_seeds") for r in result.rows if isinstance(r.get("n_seeds"), int)), default=0)
    fig.suptitle(f"{result.config.get('data', '')} — mean ± std over {n} seed(s)".lstrip(" —"))
    return _finish(fig, path)


# ---------------------------------------------------------------------------
# Decision boundary
# ---------------------------------------------------------------------------


def decision_grid(X: np.ndarray, resolution: int = 200, padding: float = 0.1
                  ) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """Pixel-centre coordinates covering ``X`` (2 features) with a margin.

    Returns:
        ``xs`` ``shape (resolution,)``, ``ys`` ``shape (resolution,)`` (pixel centres) and the
        image ``extent`` ``(left, right, bottom, top)`` of the pixel edges.
    """
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = padding * np.maximum(hi - lo, 1e-12) + (hi == lo)
    lo, hi = lo - margin, hi + margin
    step = (hi - lo) / resolution
    xs = lo[0] + (np.arange(resolution) + 0.5) * step[0]
    ys = lo[1] + (np.arange(resolution) + 0.5) * step[1]
    return xs, ys, (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def plot_decision_boundary(net: MLP, X: Any, y: Any = None, path: "str | os.PathLike[str] | None" = None, *,
                           resolution: int = 200, padding: float = 0.1, title: str | None = None) -> Figure:
    """The class regions a trained 2-D classifier assigns, with the data points on top.

    Args:
        net: a fitted classifier with ``predict`` and ``classes_`` (e.g. :class:`relunet.MLP`).
        X: ``shape (n_samples, 2)``: the points drawn (and whose bounding box is covered).
        y: their labels (colour of the points), or None.
        resolution: pixels per side; pixel ``[i, j]`` is the class index (in ``net.classes_``)
            of ``net.predict`` at ``(xs[j], ys[i])`` (``origin="lower"``).
        padding: margin around the data, as a fraction of its range.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise DataError(f"a decision boundary needs 2-D inputs, shape (n_samples, 2); got shape {X.shape}")
    if getattr(net, "task", "classification") != "classification":
        raise ConfigError("a decision boundary needs a classifier; this network does regression")
    classes = getattr(net, "classes_", None)
    if classes is None:
        raise ConfigError("the network is not fitted (no classes_): train it before plotting its decision boundary")
    if resolution < 2:
        raise ConfigError(f"resolution must be >= 2, got {resolution}")
    xs, ys, extent = decision_grid(X, resolution, padding)
    gx, gy = np.meshgrid(xs, ys)
    pred = np.asarray(net.predict(np.column_stack([gx.ravel(), gy.ravel()])))
    if pred.ndim != 1:
        raise ConfigError("a decision boundary needs single-label predictions (not multi-label)")
    idx = np.searchsorted(classes, pred).reshape(gx.shape)
    k = len(classes)
    cmap = ListedColormap([_COLORS[i % len(_COLORS)] for i in range(k)])
    fig = _new_figure(5.0, 4.4)
    ax = fig.subplots()
    ax.imshow(idx, origin="lower", extent=extent, cmap=cmap, vmin=-0.5, vmax=k - 0.5,
              alpha=0.35, interpolation="nearest", aspect="auto")
    if k > 1 and len(np.unique(idx)) > 1:
        ax.contour(xs, ys, idx, levels=np.arange(k - 1) + 0.5, colors="k", linewidths=1)
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} samples but y has {len(y)}")
        yi = np.searchsorted(classes, y)
        ax.scatter(X[:, 0], X[:, 1], c=yi, cmap=cmap, vmin=-0.5, vmax=k - 0.5, edgecolors="k", s=22)
    else:
        ax.scatter(X[:, 0], X[:, 1], color="k", s=12)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    # one entry per class: the colour of its region and of its points
    handles = [Line2D([], [], ls="", marker="s", ms=9, mfc=cmap(i), mec="k", label=str(c))
               for i, c in enumerate(classes)]
    ax.legend(handles=handles, title="class", fontsize="small", ncols=1 if k <= 10 else 2,
              framealpha=0.85, loc="best")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "decision boundary")
    return _finish(fig, path)
