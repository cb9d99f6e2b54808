"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a :func:`relunet.io.archive.write_archive` file of kind ``"checkpoint"`` (zip of
``meta.json`` + ``.npy`` arrays, never pickled, written atomically: a crash mid-write
leaves the previous checkpoint intact). It holds

* the network's parameters (every array of ``net.parameters()``, in order);
* the optimizer's ``state_dict()`` (moment buffers, step counts, current lr);
* the schedule's and the stateful callbacks' (early stopping) ``state_dict()``;
* the state of the network's random generator (``net.rng.bit_generator.state``), so the
  next epoch's shuffle is the one an uninterrupted run would draw;
* the completed epoch, the history so far, and the validation-split indices.

Restoring all of it and running the remaining epochs gives bit for bit the parameters of
an uninterrupted run with the same seed (``tests/test_checkpoint.py`` checks it).

State dicts are stored faithfully: arrays (and NumPy scalars, as 0-d arrays, keeping their
dtype) go into the archive's array entries; tuples and dicts with non-string keys are
tagged so they come back as they were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relunet.errors import ConfigError, ModelFileError
from relunet.io.archive import MAX_ARCHIVE_BYTES, read_archive, write_archive
from relunet.io.modelfile import check_rng_state
from relunet.training.protocol import Trainable

KIND = "checkpoint"


class CheckpointStateError(ConfigError, TypeError):
    """A state dict (an optimizer's, a schedule's, a callback's) holds something a checkpoint
    cannot store: the message names where (e.g. ``callbacks/0:MyCallback/seen``)."""


# -- faithful (de)serialisation of state dicts -----------------------------------
def encode_state(obj: Any, name: str, arrays: dict[str, np.ndarray]) -> Any:
    """A JSON-able copy of ``obj``; its arrays are moved into ``arrays`` under ``name/...``."""
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        if np.asarray(obj).dtype.kind not in "biufc":  # object, string, structured: pickled or not portable
            raise CheckpointStateError(
                f"cannot store an array of dtype {np.asarray(obj).dtype} in a checkpoint ({name}); "
                "state_dict() must hold numeric arrays, numbers, strings, lists and dicts"
            )
        key = name
        arrays[key] = np.asarray(obj)
        return {"__array__": key, "scalar": isinstance(obj, np.generic)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__array__" not in obj:
            return {k: encode_state(v, f"{name}/{k}", arrays) for k, v in obj.items()}
        return {"__items__": [[encode_state(k, f"{name}/k{i}", arrays),
                               encode_state(v, f"{name}/v{i}", arrays)]
                              for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, f"{name}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, f"{name}/{i}", arrays) for i, v in enumerate(obj)]
    raise CheckpointStateError(
        f"cannot store a {type(obj).__name__} in a checkpoint ({name}); "
        "state_dict() must hold numeric arrays, numbers, strings, lists and dicts"
    )


def decode_state(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of :func:`encode_state`."""
    if isinstance(obj, dict):
        if "__array__" in obj:
            arr = arrays[obj["__array__"]]
            return arr[()] if obj.get("scalar") else np.array(arr)
        if "__items__" in obj:
            return {_hashable(decode_state(k, arrays)): decode_state(v, arrays) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(decode_state(v, arrays) for v in obj["__tuple__"])
        return {k: decode_state(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_state(v, arrays) for v in obj]
    return obj


def _hashable(k: Any) -> Any:
    return k.item() if isinstance(k, np.generic) else k


# -- the checkpoint ------------------------------------------------------------
@dataclass
class Checkpoint:
    """The content of a checkpoint file (see the module docstring)."""

    epoch: int
    params: list[np.ndarray]
    rng_state: dict[str, Any] | None
    optimizer_name: str
    optimizer: dict[str, Any] | None
    schedule: dict[str, Any] | None = None
    callbacks: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` atomically to ``path`` (the previous file survives a failed write)."""
    arrays: dict[str, np.ndarray] = {}
    for i, p in enumerate(ckpt.params):
        arrays[f"param/{i}"] = np.asarray(p)
    meta = {
        "epoch": int(ckpt.epoch),
        "n_params": len(ckpt.params),
        "rng_state": ckpt.rng_state,
        "optimizer_name": ckpt.optimizer_name,
        "optimizer": encode_state(ckpt.optimizer, "optimizer", arrays),
        "schedule": encode_state(ckpt.schedule, "schedule", arrays),
        "callbacks": encode_state(ckpt.callbacks, "callbacks", arrays),
        "history": ckpt.history,
        "extra": encode_state(ckpt.extra, "extra", arrays),
    }
    write_archive(path, KIND, meta, arrays)


def load(path: str | os.PathLike, *, max_bytes: int = MAX_ARCHIVE_BYTES) -> Checkpoint:
    """Read a checkpoint written by :func:`save`.

    ``max_bytes`` bounds what the file's entries may inflate to, all together (see
    :func:`relunet.io.archive.read_archive`); a device or FIFO is refused.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: not a relunet checkpoint, truncated, corrupted or over the limit.
    """
    meta, arrays = read_archive(path, KIND, max_bytes=max_bytes)
    try:
        if isinstance(meta["epoch"], bool) or not isinstance(meta["epoch"], int) or meta["epoch"] < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {meta['epoch']!r}")
        if meta["rng_state"] is not None and not isinstance(meta["rng_state"], dict):
            raise ValueError(f"rng_state must be a dict, got {type(meta['rng_state']).__name__}")
        if meta["rng_state"] is not None and meta["rng_state"].get("bit_generator") == "PCG64":
            try:
                check_rng_state(meta["rng_state"])
            except ValueError as exc:
                raise ValueError(f"rng_state: {exc}") from None
        params = [np.array(arrays[f"param/{i}"]) for i in range(int(meta["n_params"]))]
        callbacks = decode_state(meta["callbacks"], arrays) or {}
        if not isinstance(callbacks, dict):
            raise ValueError(f"callbacks must be a dict, got {type(callbacks).__name__}")
        extra = decode_state(meta["extra"], arrays) or {}
        if not isinstance(extra, dict):
            raise ValueError(f"extra must be a dict, got {type(extra).__name__}")
        _check_history(meta["history"])
        _check_extra(extra)
        return Checkpoint(
            epoch=int(meta["epoch"]),
            params=params,
            rng_state=meta["rng_state"],
            optimizer_name=str(meta["optimizer_name"]),
            optimizer=decode_state(meta["optimizer"], arrays),
            schedule=decode_state(meta["schedule"], arrays),
            callbacks=callbacks,
            history=meta["history"] or {},
            extra=extra,
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{os.fspath(path)}: incomplete or corrupted checkpoint ({detail})") from None


def _check_history(history: Any) -> None:
    if not history:
        return
    if not isinstance(history, dict) or not isinstance(history.get("records", []), list):
        raise ValueError("history must be a dict with a list of 'records'")
    if not all(isinstance(r, dict) for r in history.get("records", [])):
        raise ValueError("history records must be dicts")
    if not isinstance(history.get("info", {}), dict):
        raise ValueError("history info must be a dict")


def _check_extra(extra: dict[str, Any]) -> None:
    config = extra.get("config")
    if config is not None:
        if not isinstance(config, dict):
            raise ValueError("extra config must be a dict")
        bs = config.get("batch_size")
        if bs is not None and (isinstance(bs, bool) or not isinstance(bs, int) or bs < 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {bs!r}")
    if "stopped" in extra and not isinstance(extra["stopped"], bool):
        raise ValueError(f"stopped must be true or false, got {extra['stopped']!r}")
    if "val_idx" in extra:
        idx = extra["val_idx"]
        if not isinstance(idx, np.ndarray) or idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError("val_idx must be a 1-D integer array")
        if idx.size and (idx.min() < 0 or len(np.unique(idx)) != idx.size):
            raise ValueError("val_idx must hold distinct sample indices >= 0")


def capture_rng(net: Trainable) -> dict[str, Any]:
    """The state of the network's generator (a copy: plain dicts and integers)."""
    return net.rng.bit_generator.state


def restore_params(net: Trainable, ckpt: Checkpoint, path: str | os.PathLike = "checkpoint") -> None:
    """Copy the checkpoint's parameters and generator state into ``net`` (in place).

    Raises:
        ModelFileError: the checkpoint belongs to a network of another shape or dtype.
    """
    params = net.parameters()
    theirs = [(tuple(p.shape), p.dtype.name) for p in ckpt.params]
    ours = [(tuple(p.shape), p.dtype.name) for p in params]
    if theirs != ours:
        raise ModelFileError(
            f"{os.fspath(path)}: the checkpoint's parameters {theirs} do not fit this network's {ours}; "
            "resume with the same architecture, dtype and options"
        )
    for p, saved in zip(params, ckpt.params):
        p[...] = saved
    if ckpt.rng_state is not None:
        # Assign in place: layers (RReLU) share this generator object.
        try:
            net.rng.bit_generator.state = ckpt.rng_state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ModelFileError(f"{os.fspath(path)}: bad random generator state ({exc})") from None
