"""What a checkpoint must agree with to continue a run: the same network, optimizer
settings, run settings (batch size, rate, schedule, shuffle) and training data."""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np

from relunet.errors import ConfigError, ModelFileError
from relunet.training.checkpoint import Checkpoint
from relunet.training.history import jsonable
from relunet.training.protocol import Trainable

__all__ = ["check_checkpoint", "check_run_settings", "fingerprint", "optimizer_config", "resume_config"]


def resume_config(opt: Any) -> dict[str, Any]:
    """The optimizer settings a resumed run must share (the lr is restored from the state)."""
    return {k: v for k, v in optimizer_config(opt).items() if k != "lr"}


def check_checkpoint(path: str | os.PathLike, restored: Checkpoint, net: Trainable, opt: Any, epochs: int) -> None:
    """A checkpoint continues only the run that wrote it: same network, optimizer settings,
    and fewer epochs done than the total asked for. (Checked where the file records them.)"""
    where = os.fspath(path)
    saved_net = restored.extra.get("network")
    if saved_net is not None and saved_net != repr(net):
        raise ModelFileError(f"{where}: the checkpoint's network {saved_net} and this run's {net!r} do not fit; "
                             "resume with the same network options")
    saved_opt = restored.extra.get("optimizer_config")
    if saved_opt is not None and jsonable(saved_opt) != resume_config(opt):
        raise ConfigError(f"{where} was written with optimizer settings {saved_opt}, this run uses "
                          f"{resume_config(opt)}; resume with the same options")
    if restored.epoch > epochs:
        raise ConfigError(f"{where} already holds {restored.epoch} epochs but --epochs/epochs asks for "
                          f"{epochs} in total; give at least {restored.epoch}")


def fingerprint(X: np.ndarray) -> dict[str, Any]:
    """The training data's shape, dtype and a checksum of up to 16 rows spread over it:
    cheap even for a memory-mapped 60k x 784 X, and different for another data set or
    another split of the same one."""
    n = len(X)
    crc = 0
    for i in np.unique(np.linspace(0, n - 1, min(n, 16)).astype(np.int64)):
        crc = zlib.crc32(np.ascontiguousarray(X[int(i)]).tobytes(), crc)
    return {"rows": int(n), "shape": [int(d) for d in X.shape[1:]], "dtype": str(X.dtype), "crc32": int(crc)}


def check_run_settings(path: str | os.PathLike, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """The checkpoint's run settings against this run's (those the file records: older
    checkpoints hold only the batch size)."""
    what = {"batch_size": "batch size", "lr": "learning rate", "schedule": "schedule",
            "data": "training data", "shuffle": "shuffle", "augment": "augmentation"}
    for key, name in what.items():
        if key in saved and jsonable(saved[key]) != jsonable(now[key]):
            if key == "data" and isinstance(saved[key], dict):
                raise ConfigError(
                    f"{os.fspath(path)} was written while training on other data ({saved[key].get('rows')} rows, "
                    f"checksum {saved[key].get('crc32')}; this run: {now[key]['rows']} rows, checksum "
                    f"{now[key]['crc32']}); resume on the same data, split and scaling (same --seed, --scale, ...)"
                )
            raise ConfigError(f"{os.fspath(path)} was written with {name} {saved[key]}, this run uses "
                              f"{now[key]}; resume with the same options")


def optimizer_config(opt: Any) -> dict[str, Any]:
    cfg = getattr(opt, "config", None)
    try:
        return jsonable(cfg()) if callable(cfg) else {"lr": float(opt.lr)}
    except Exception:  # a user's optimizer with an odd config(): not worth failing for
        return {"lr": float(opt.lr)}
