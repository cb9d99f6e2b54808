"""Activation comparison: the same network and budget per activation, over several seeds.

For each activation and seed, :func:`trial` builds the network, trains it and measures

* ``test_accuracy``: accuracy on the test split;
* ``final_loss``: training loss of the last epoch;
* ``epochs_to_target``: the first epoch whose *training* accuracy reaches the target
  (None if never reached within the budget);
* ``dead_fraction``: the fraction of hidden units that are dead on the training set at
  the end: pre-activation ``z <= 0`` and ``f'(z) == 0`` on every training sample, so no
  gradient reaches their weights (dying ReLU; the definition of :mod:`relunet.diagnostics`).
  Activations without a flat negative side (leaky ReLU, ELU, tanh, ...) never die: 0;
* ``seconds``: wall time of training.

The same machinery compares regularization (:func:`compare_regularization`): one
activation, the values of one setting (``dropout``, ``l2``, ``max_norm``), each row
labelled ``setting=value`` (in the rows' ``activation`` field, which names the variant);
each run also reports ``train_accuracy``, so the train/test gap can be read off.

For seed ``s`` the data split and the network's weights both come from ``s``, so seed
``s`` of :func:`compare_activations` is exactly ``relunet train --seed s``; every
activation sees the same split for a given seed (a paired comparison).
:func:`compare_activations` runs the trials with :func:`relunet.insight.sweep.run_sweep`
(joblib locally or Dask) and summarises them as mean and sample standard deviation.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from relunet.core import activations as catalog
from relunet.data import datasets
from relunet.insight import diagnostics
from relunet.core import losses
from relunet.training import optimizers
from relunet.data.datasets import Dataset
from relunet.errors import ConfigError, ConfigWarning, DivergenceError
from relunet.core.network import MLP, output_for
from relunet.insight.sweep import run_sweep

__all__ = [
    "DEFAULT_ACTIVATIONS",
    "METRICS",
    "ComparisonResult",
    "compare_activations",
    "compare_regularization",
    "REGULARIZATION_SETTINGS",
    "dead_fraction",
    "trial",
]

#: the activations compared when none are named (those present in the catalog)
DEFAULT_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid")

#: the settings :func:`compare_regularization` can vary (MLP keyword arguments)
REGULARIZATION_SETTINGS = ("dropout", "input_dropout", "l2", "max_norm")

#: the metrics summarised per activation, in table order
METRICS = ("test_accuracy", "final_loss", "epochs_to_target", "dead_fraction", "seconds")


def default_activations() -> list[str]:
    """:data:`DEFAULT_ACTIVATIONS` that the catalog holds."""
    known = set(catalog.names())
    return [a for a in DEFAULT_ACTIVATIONS if a in known]


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------


def dead_fraction(net: MLP, X: np.ndarray) -> tuple[float, list[float]]:
    """Dead hidden units on ``X``: over all hidden units, and per hidden layer.

    "Dead" as in :mod:`relunet.diagnostics`: ``z <= 0`` and ``f'(z) == 0`` for every
    sample. Layers whose activation cannot die (leaky ReLU, ELU, tanh, ...) count as 0.

    Args:
        net: the network.
        X: ``shape (n_samples, n_features)``.

    Returns:
        ``(dead units / hidden units, [fraction per hidden layer])``.
    """
    hidden = [s for s in diagnostics.layer_stats(net, net.check_X(X)) if not s.output]
    units = sum(s.units for s in hidden)
    dead = sum(len(s.dead_units) for s in hidden)
    return (dead / units if units else 0.0), [len(s.dead_units) / s.units for s in hidden]


@lru_cache(maxsize=8)
def _load(name: str, seed: int) -> Dataset:
    return datasets.load(name, seed=seed)


def _dataset(config: dict[str, Any]) -> Dataset:
    data = config["data"]
    if isinstance(data, Dataset):
        return data
    return _load(str(data), int(config.get("data_seed", config["seed"])))


def build_network(config: dict[str, Any], data: Dataset) -> MLP:
    """The MLP a trial configuration describes, sized for ``data`` (as ``relunet train``)."""
    hidden = [int(h) for h in config.get("hidden", [64])]
    output, n_out = output_for(data.task, data.n_outputs, config.get("output", "auto"))
    loss = config.get("loss", "auto")
    return MLP([data.n_features, *hidden, n_out], activation=config["activation"], output=output,
               loss=None if loss == "auto" else losses.get(loss), init=config.get("init"),
               dtype=config.get("dtype", "float32"), seed=int(config["seed"]),
               **{k: config[k] for k in REGULARIZATION_SETTINGS if config.get(k) is not None})


def trial(config: dict[str, Any]) -> dict[str, Any]:
    """Train one network and measure it (the unit of work of a comparison).

    Args:
        config: ``data`` (a dataset name or :class:`Dataset`), ``activation``, ``seed``,
            and optionally ``hidden`` (list of sizes), ``epochs``, ``batch_size``, ``lr``,
            ``optimizer``, ``output``, ``loss``, ``init``, ``dtype``, ``target_accuracy``,
            ``data_seed`` (the split of a named dataset; default: ``seed``), the
            regularization of :data:`REGULARIZATION_SETTINGS` and ``label`` (the name of
            the variant the result is grouped under; default: the activation).

    Returns:
        A JSON-ready dict: the configuration's ``activation`` and ``seed``, the metrics of
        :data:`METRICS`, ``dead_per_layer`` and the per-epoch ``loss`` and ``accuracy``.
        A run whose loss became NaN/inf has ``diverged`` (the message) and None metrics
        except ``seconds``; otherwise ``diverged`` is None.
    """
    data = _dataset(config)
    if data.task != "classification":
        raise ConfigError(f"compare measures accuracy; dataset {data.name!r} is a {data.task} problem")
    net = build_network(config, data)
    name = config.get("label") or catalog.canonical_name(config["activation"])
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a poor output and loss pair: the comparison warned once
            warnings.simplefilter("ignore", ConfigWarning)
            history = net.fit(data.X_train, data.y_train, epochs=int(config.get("epochs", 30)),
                              batch_size=config.get("batch_size", 32), lr=float(config.get("lr", 0.1)),
                              optimizer=config.get("optimizer", "sgd"),
                              # epochs_to_target reads the training accuracy of the epoch's weights
                              exact_train_metrics=True,
                              **config.get("optimizer_params", {}))
    except DivergenceError as exc:
        # A diverged run is a result of the comparison, not a failure of it.
        return {"activation": name, "seed": int(config["seed"]), "diverged": str(exc),
                **{m: None for m in METRICS}, "seconds": time.perf_counter() - t0,
                "dead_per_layer": [], "loss": [], "accuracy": []}
    seconds = time.perf_counter() - t0
    target = float(config.get("target_accuracy", 0.9))
    acc = [float(a) for a in history["accuracy"]]
    reached = next((i + 1 for i, a in enumerate(acc) if a >= target), None)
    dead, dead_per_layer = dead_fraction(net, data.X_train)
    return {
        "activation": name,
        "seed": int(config["seed"]),
        "diverged": None,
        "test_accuracy": float(net.score(data.X_test, data.y_test)),
        "train_accuracy": float(net.score(data.X_train, data.y_train)),
        "final_loss": history.final_loss,
        "epochs_to_target": reached,
        "dead_fraction": dead,
        "seconds": seconds,
        "dead_per_layer": dead_per_layer,
        "loss": [float(v) for v in history["loss"]],
        "accuracy": acc,
    }


# ---------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------


def _mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for one value) of the non-None values."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), std


@dataclass
class ComparisonResult:
    """The outcome of :func:`compare_activations`.

    Attributes:
        rows: one dict per activation, in the order compared: ``activation``, ``n_seeds``,
            ``<metric>_mean`` and ``<metric>_std`` for every metric of :data:`METRICS`
            (over the seeds that have a value: ``epochs_to_target`` over those that reached
            the target, every metric over those that did not diverge), ``reached_target``
            and ``diverged`` (how many seeds did).
        runs: the per-seed raw results of :func:`trial`.
        config: the shared settings (data, network, budget, seeds, target).
    """

    rows: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_runs(cls, runs: Sequence[dict[str, Any]], config: dict[str, Any] | None = None) -> "ComparisonResult":
        order: list[str] = []
        for r in runs:
            if r["activation"] not in order:
                order.append(r["activation"])
        rows = []
        for name in order:
            mine = [r for r in runs if r["activation"] == name]
            row: dict[str, Any] = {"activation": name, "n_seeds": len(mine)}
            for m in METRICS:
                row[m + "_mean"], row[m + "_std"] = _mean_std([r[m] for r in mine])
            row["reached_target"] = sum(r["epochs_to_target"] is not None for r in mine)
            row["diverged"] = sum(bool(r.get("diverged")) for r in mine)
            rows.append(row)
        return cls(rows=rows, runs=list(runs), config=dict(config or {}))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ComparisonResult":
        try:
            rows = [{k: (math.nan if v is None and k.endswith(("_mean", "_std")) else v) for k, v in r.items()}
                    for r in d["rows"]]
            return cls(rows=rows, runs=list(d.get("runs", [])), config=dict(d.get("config", {})))
        except KeyError as exc:
            raise ConfigError(f"not a comparison result: the key {exc} is missing "
                              "(relunet compare --out-json writes one)") from None
        except (TypeError, AttributeError):
            raise ConfigError("not a comparison result: 'rows' must be a list of objects "
                              "(relunet compare --out-json writes one)") from None

    @property
    def activations(self) -> list[str]:
        return [r["activation"] for r in self.rows]

    def row(self, activation: str) -> dict[str, Any]:
        name = catalog.canonical_name(activation)
        for r in self.rows:
            if r["activation"] == name:
                return r
        raise ConfigError(f"activation {name!r} was not compared; compared: {', '.join(self.activations)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return _json_ready({"config": self.config, "rows": self.rows, "runs": self.runs})

    def save_json(self, path: str) -> None:
        _atomic_write(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def to_csv(self) -> str:
        """One line per activation: ``activation, n_seeds, <metric>_mean, <metric>_std, ..., reached_target, diverged``."""
        fields = ["activation", "n_seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "std")]
        fields += ["reached_target", "diverged"]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if _is_nan(r.get(k)) else r.get(k, "")) for k in fields})
        return buf.getvalue()

    def save_csv(self, path: str) -> None:
        _atomic_write(path, self.to_csv())

    def table(self) -> str:
        """A plain-text table, one line per activation."""
        header = ["activation", "test acc", "final loss", "epochs to target", "dead units", "time (s)"]
        n_seeds = max((r["n_seeds"] for r in self.rows), default=0)
        lines = []
        for r in self.rows:
            if _is_nan(r["test_accuracy_mean"]):  # every seed diverged
                lines.append([f"{r['activation']} (all {r['n_seeds']} diverged)"] + ["-"] * (len(header) - 1))
                continue
            ept = ("-" if _is_nan(r["epochs_to_target_mean"]) else
                   f"{r['epochs_to_target_mean']:.1f} ± {r['epochs_to_target_std']:.1f}")
            lines.append([
                r["activation"] + (f" ({r['diverged']} diverged)" if r.get("diverged") else ""),
                f"{r['test_accuracy_mean']:.4f} ± {r['test_accuracy_std']:.4f}",
                f"{r['final_loss_mean']:.4g} ± {r['final_loss_std']:.2g}",
                f"{ept} ({r['reached_target']}/{r['n_seeds']})",
                f"{100 * r['dead_fraction_mean']:.1f}% ± {100 * r['dead_fraction_std']:.1f}",
                f"{r['seconds_mean']:.2f} ± {r['seconds_std']:.2f}",
            ])
        widths = [max(len(x[i]) for x in [header] + lines) for i in range(len(header))]
        out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
        out.append("  ".join("-" * w for w in widths))
        out += ["  ".join(c.ljust(w) for c, w in zip(x, widths)) for x in lines]
        target = self.config.get("target_accuracy")
        out.append(f"mean ± std over {n_seeds} seed(s)"
                   + (f"; target = training accuracy {target}" if target is not None else ""))
        return "\n".join(out)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items() if not isinstance(v, Dataset)}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _atomic_write(path: str, text: str) -> None:
    """Write a text file atomically (temp file in the same folder, then rename; see
    :func:`relunet.io.archive.write_atomic`: symlinks followed, devices written in place)."""
    from relunet.io.archive import write_atomic

    write_atomic(path, text)


def _seeds(seeds: "int | Sequence[int]") -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds must be >= 1 (the number of seeds), got {seeds}")
        return list(range(int(seeds)))
    try:
        given = list(seeds)
        out = [int(s) for s in given]
    except (TypeError, ValueError):
        raise ConfigError(f"seeds is a number of seeds or a list of integer seeds, got {seeds!r}") from None
    if out != given or any(s < 0 for s in out):  # 1.5, "3": not silently truncated; numpy takes no -1
        raise ConfigError(f"seeds must be integers >= 0, got {given!r}")
    if not out:
        raise ConfigError("no seeds given")
    if len(set(out)) != len(out):
        raise ConfigError(f"seeds repeat: {out}")
    return out


def _validate(config: dict[str, Any], names: list[str], variants: Sequence[dict[str, Any]] = ()) -> None:
    """Fail here, with the specific error, rather than inside a worker process."""
    data = config["data"] if isinstance(config["data"], Dataset) else datasets.load(config["data"])
    if data.task != "classification":
        raise ConfigError(f"compare measures accuracy; dataset {data.name!r} is a {data.task} problem")
    built = [build_network({**config, "activation": a}, data) for a in names]  # sizes, output, loss, init, dtype
    built += [build_network(v, data) for v in variants]  # each regularization value
    if built:  # one output and loss for all: warned once, to the caller of compare_*; the trials stay silent
        built[0].check_pairing(stacklevel=5)
    optimizers.get(config["optimizer"], lr=config["lr"], **config.get("optimizer_params", {}))
    if config["epochs"] < 1:
        raise ConfigError(f"epochs must be >= 1, got {config['epochs']}")
    bs = config["batch_size"]
    if bs is not None and (not isinstance(bs, (int, np.integer)) or bs < 1):
        raise ConfigError(f"batch_size must be an integer >= 1 or None (full batch), got {bs!r}")


def compare_activations(
    data: "str | Dataset" = "digits",
    activations: "Sequence[str] | None" = None,
    seeds: "int | Sequence[int]" = 5,
    *,
    hidden: Sequence[int] = (64,),
    epochs: int = 30,
    batch_size: int | None = 32,
    lr: float = 0.1,
    optimizer: str = "sgd",
    optimizer_params: dict[str, Any] | None = None,
    output: str = "auto",
    loss: str = "auto",
    init: str | None = None,
    dtype: str = "float32",
    target_accuracy: float = 0.9,
    jobs: int | None = None,
    scheduler: Any = None,
    regularization: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Train the same network with each activation over several seeds and summarise.

    Args:
        data: a dataset name (split by each seed) or a :class:`Dataset` (one fixed split).
        activations: hidden activations to compare (catalog names); default: those of
            :data:`DEFAULT_ACTIVATIONS` in the catalog.
        seeds: a number N (seeds 0..N-1) or the list of seeds.
        hidden, epochs, batch_size, lr, optimizer, output, loss, init, dtype: the shared
            architecture and budget (as ``relunet train``).
        optimizer_params: the optimizer's other hyper-parameters, e.g. ``{"momentum": 0.9}``.
        target_accuracy: the training accuracy whose first epoch is ``epochs_to_target``.
        jobs, scheduler: where the trials run (see :func:`relunet.insight.sweep.run_sweep`).
        regularization: shared settings of :data:`REGULARIZATION_SETTINGS`, e.g.
            ``{"dropout": 0.2}``.

    Returns:
        A :class:`ComparisonResult`: one row per activation with mean and std of every metric.
    """
    if isinstance(activations, str):  # "relu" or "relu,tanh": names, not characters
        activations = [a.strip() for a in activations.split(",") if a.strip()]
    names = default_activations() if activations is None else list(activations)
    if not names:
        raise ConfigError("no activations to compare")
    names = [catalog.canonical_name(a) for a in names]  # unknown names list the known ones
    if len(set(names)) != len(names):
        raise ConfigError(f"activations repeat: {names}")
    for a in names:
        cls = catalog.ACTIVATIONS[a]
        if not cls.differentiable:
            raise ConfigError(f"{a!r} cannot be a hidden activation trained by gradient descent "
                              "(its derivative is 0 almost everywhere)")
        if not cls.elementwise:
            raise ConfigError(f"{a!r} is not element-wise (it couples the units of a layer): "
                              "compare compares element-wise hidden activations")
    if not 0 < target_accuracy <= 1:
        raise ConfigError(f"target accuracy must be in (0, 1], got {target_accuracy}")
    seed_list = _seeds(seeds)
    shared = {**_shared(data, hidden, epochs, batch_size, lr, optimizer, optimizer_params,
                        output, loss, init, dtype, target_accuracy),
              **_regularization(regularization)}
    configs = [{**shared, "activation": a, "seed": s} for a in names for s in seed_list]
    return _run(configs, shared, names, seed_list, jobs, scheduler, activations=names)


def _shared(data: Any, hidden: Sequence[int], epochs: int, batch_size: int | None, lr: float,
            optimizer: str, optimizer_params: dict[str, Any] | None, output: str, loss: str,
            init: str | None, dtype: str, target_accuracy: float) -> dict[str, Any]:
    """The settings every trial of a comparison shares, as plain JSON-ready values."""
    return {
        "data": data, "hidden": [int(h) for h in hidden], "epochs": int(epochs),
        "batch_size": batch_size, "lr": float(lr), "optimizer": optimizer,
        "optimizer_params": dict(optimizer_params or {}), "output": output,
        "loss": loss, "init": init, "dtype": dtype, "target_accuracy": float(target_accuracy),
    }


def _regularization(settings: dict[str, Any] | None) -> dict[str, Any]:
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(REGULARIZATION_SETTINGS))
    if unknown:
        raise ConfigError(f"unknown regularization setting(s) {unknown}; known: {', '.join(REGULARIZATION_SETTINGS)}")
    return settings


def _run(configs: list[dict[str, Any]], shared: dict[str, Any], names: list[str], seed_list: list[int],
         jobs: Any, scheduler: Any, **summary: Any) -> ComparisonResult:
    """Validate, run the trials, summarise."""
    data = shared["data"]
    _validate(configs[0], names, [c for c in configs if c["seed"] == seed_list[0]])
    runs = run_sweep(configs, trial, jobs=jobs, scheduler=scheduler)
    summary_config = {**shared, "data": data.name if isinstance(data, Dataset) else data,
                      **summary, "seeds": seed_list}
    return ComparisonResult.from_runs(runs, summary_config)


def compare_regularization(
    data: "str | Dataset" = "digits",
    setting: str = "dropout",
    values: Sequence[Any] = (0.0, 0.2, 0.5),
    seeds: "int | Sequence[int]" = 5,
    *,
    activation: str = "relu",
    hidden: Sequence[int] = (64,),
    epochs: int = 30,
    batch_size: int | None = 32,
    lr: float = 0.1,
    optimizer: str = "sgd",
    optimizer_params: dict[str, Any] | None = None,
    output: str = "auto",
    loss: str = "auto",
    init: str | None = None,
    dtype: str = "float32",
    target_accuracy: float = 0.9,
    jobs: int | None = None,
    scheduler: Any = None,
    regularization: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Train the same network with each value of one regularization setting, over seeds.

    Each row is one value, labelled ``"setting=value"`` (e.g. ``"dropout=0.2"``); the
    other arguments are those of :func:`compare_activations` (one ``activation`` for all).

    Args:
        setting: one of :data:`REGULARIZATION_SETTINGS`.
        values: its values to compare (``None`` for max_norm: no cap).
        regularization: the other settings, shared by every row (e.g. ``{"l2": 1e-4}``).

    Returns:
        A :class:`ComparisonResult` whose rows are the values (in the ``activation`` field);
        the runs carry ``train_accuracy`` beside ``test_accuracy``.
    """
    if setting not in REGULARIZATION_SETTINGS:
        raise ConfigError(f"cannot compare {setting!r}; compare one of {', '.join(REGULARIZATION_SETTINGS)}")
    values = list(values)
    if not values:
        raise ConfigError(f"no values of {setting} to compare")
    labels = [f"{setting}={v}" for v in values]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{setting} values repeat: {values}")
    act = catalog.canonical_name(activation)
    seed_list = _seeds(seeds)
    others = _regularization(regularization)
    others.pop(setting, None)
    shared = {**_shared(data, hidden, epochs, batch_size, lr, optimizer, optimizer_params,
                        output, loss, init, dtype, target_accuracy),
              "activation": act, **others}
    configs = [{**shared, setting: v, "label": label, "seed": s}
               for v, label in zip(values, labels) for s in seed_list]
    return _run(configs, shared, [act], seed_list, jobs, scheduler,
                activations=labels, setting=setting, values=values)
