"""The training loop behind ``MLP.fit`` and ``relunet train``.

One epoch visits every sample once, in batches:

* ``batch_size=1``: online learning, one update per pattern;
* ``batch_size=B``: mini-batch, one update per B patterns (the last batch may be smaller);
* ``batch_size=None`` (or >= n_samples): full-batch (batch) learning, one update per epoch.

Samples are shuffled each epoch with the network's seeded generator.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import optimizers
from .errors import ConfigError, DivergenceError


@dataclass
class History:
    """Per-epoch records: ``history.records[i]`` is a dict with ``epoch``, ``loss``, ...

    ``history["loss"]`` gives the list of one metric over epochs.
    """

    records: list[dict[str, Any]] = field(default_factory=list)

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def __getitem__(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def final_loss(self) -> float:
        return float(self.records[-1]["loss"]) if self.records else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records}

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)


def _accuracy(net: Any, X: np.ndarray, Y: np.ndarray) -> float | None:
    if net.task != "classification":
        return None
    out = net.forward(X)
    if net.loss.name == "binary_cross_entropy":
        return float(np.mean(np.all((out > 0.5) == (Y > 0.5), axis=1)))
    return float(np.mean(np.argmax(out, axis=1) == np.argmax(Y, axis=1)))


def evaluate(net: Any, X: np.ndarray, Y: np.ndarray) -> dict[str, float]:
    """Loss (and accuracy for classifiers) in evaluation mode, on encoded targets."""
    was = net.training
    net.eval()
    try:
        out = {"loss": net.loss_value(X, Y)}
        acc = _accuracy(net, X, Y)
        if acc is not None:
            out["accuracy"] = acc
        return out
    finally:
        net.train(was)


def fit(
    net: Any,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    lr: float = 0.01,
    optimizer: "str | optimizers.Optimizer" = "sgd",
    shuffle: bool = True,
    verbose: int = 0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    **optimizer_params: Any,
) -> History:
    """Train ``net`` on encoded data; returns the per-epoch :class:`History`.

    Args:
        net: a :class:`relunet.network.Network` (usually an MLP).
        X: ``shape (n_samples, n_features)`` in the network's dtype.
        Y: encoded targets ``shape (n_samples, n_outputs)``.
        epochs: passes over the data.
        batch_size: 1 (online), B (mini-batch) or None (full batch).
        lr: learning rate.
        optimizer: name or instance (see :mod:`relunet.optimizers`).
        verbose: 0 silent, 1 one line per epoch.
        validation_data: optional encoded ``(X_val, Y_val)``.
    """
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    n = len(X)
    if batch_size is None or batch_size >= n:
        batch_size = n
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    opt = optimizers.get(optimizer, lr=lr, **optimizer_params)
    history = History()
    net.train()
    rng = net.rng
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n) if shuffle and batch_size < n else None
        total = 0.0
        for start in range(0, n, batch_size):
            if order is None:
                xb, yb = X[start : start + batch_size], Y[start : start + batch_size]
            else:
                idx = order[start : start + batch_size]
                xb, yb = X[idx], Y[idx]
            loss = net.train_step(xb, yb, opt)
            if not np.isfinite(loss):
                raise DivergenceError(
                    f"loss became {loss} at epoch {epoch}, batch {start // batch_size + 1}; "
                    f"the learning rate ({opt.lr}) is probably too large: try a smaller one"
                )
            total += loss * len(xb)
        record: dict[str, Any] = {"epoch": epoch, "loss": total / n, "lr": opt.lr}
        acc = evaluate(net, X, Y).get("accuracy")
        if acc is not None:
            record["accuracy"] = acc
        if validation_data is not None:
            for k, v in evaluate(net, *validation_data).items():
                record["val_" + k] = v
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        if verbose:
            parts = " ".join(
                f"{k}={v:.4g}" for k, v in record.items() if k not in ("epoch",) and isinstance(v, float)
            )
            print(f"epoch {epoch}/{epochs} {parts}", file=sys.stderr if verbose < 0 else sys.stdout)
    net.eval()
    return history
