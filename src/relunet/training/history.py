"""The record of a training run: per-epoch metrics and run-level facts (:class:`History`),
and the conversions that make them JSON."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relunet.errors import DataError
from relunet.io.archive import read_json, write_atomic

__all__ = ["History", "json_safe", "jsonable"]


@dataclass(repr=False)
class History:
    """Per-epoch records and facts about the run.

    ``history.records[i]`` is the dict of epoch ``i + 1`` (``epoch``, ``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``, ...; ``loss`` and ``accuracy`` from
    the epoch's batches, see :func:`relunet.training.engine.fit`); ``history["loss"]`` is the
    list of one metric over the epochs. ``history.info`` holds run-level facts: the
    ``optimizer`` and its ``optimizer_config``; ``stopped_early``, ``best_epoch`` (early
    stopping); ``iterations`` and ``nfev`` (full-batch optimizers); ``resumed_from``;
    ``interrupted`` (Ctrl-C); ``blas``, the BLAS library that ran the matrix products and
    why (:func:`relunet.core.blas.backend`).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """A summary, short whatever the run's length: the epochs, the last epoch's metrics,
        the metric names and the keys of ``info`` (``history.records`` holds every epoch)."""
        if not self.records:
            return "History(epochs=0)"
        last = self.records[-1]
        final = " ".join(f"{k}={v:.4g}" for k, v in last.items()
                         if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool))
        return f"History(epochs={self.epochs}, final: {final}, keys={self.keys()}, info={list(self.info)})"

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def __getitem__(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def epochs(self) -> int:
        """Completed epochs (for full-batch optimizers: iterations)."""
        return len(self.records)

    @property
    def final_loss(self) -> float:
        return float(self.records[-1]["loss"]) if self.records else float("nan")

    @property
    def interrupted(self) -> bool:
        """True when training was stopped by Ctrl-C (KeyboardInterrupt)."""
        return bool(self.info.get("interrupted", False))

    @property
    def stopped_early(self) -> bool:
        return bool(self.info.get("stopped_early", False))

    def keys(self) -> list[str]:
        """Metric names present in any record, in first-seen order."""
        out: dict[str, None] = {}
        for r in self.records:
            out.update(dict.fromkeys(r))
        return list(out)

    def to_dict(self) -> dict[str, Any]:
        return {"records": jsonable(self.records), "info": jsonable(self.info)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        if not isinstance(d, dict) or not isinstance(d.get("records"), list):
            raise DataError("a history needs a list under 'records'")
        return cls(records=[dict(r) for r in d["records"]], info=dict(d.get("info") or {}))

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as strict JSON (``{"records": [...], "info": {...}}``; NaN and
        infinities become ``null``), atomically: a failed write leaves any previous file intact."""
        write_atomic(path, json.dumps(json_safe(self.to_dict()), indent=1, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        """Read a history written by :meth:`save` (:func:`relunet.io.archive.read_json`: at
        most ``MAX_JSON_BYTES``; a file that is not JSON is a :class:`DataError`)."""
        return cls.from_dict(read_json(path, "a JSON history"))


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars as lists and Python numbers, tuples as lists
    and dict keys as strings (what ``json.dumps`` accepts)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
