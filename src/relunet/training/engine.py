"""The training engine behind ``MLP.fit``, ``relunet train``, the scikit-learn estimators
and the doctor's learning-rate probe: one loop, in :class:`Run`.

One epoch visits every training sample once, in batches:

* ``batch_size=1``: online learning, one update per pattern;
* ``batch_size=B``: mini-batch, one update per B patterns (the last batch may be smaller);
* ``batch_size=None`` (or >= n_samples): full-batch (batch) learning, one update per epoch.

Each batch is one call of ``net.train_step(xb, yb, optimizer)`` (forward, backward, step).
Samples are shuffled each epoch with the network's seeded generator ``net.rng``, so the
same seed and data give the same parameters bit for bit.

Around the batches, per epoch (:meth:`Run.epoch`), in this order:

1. the record: ``epoch``, ``loss`` (mean of the batch losses, each taken before its
   update), ``accuracy`` (classifiers: the fraction of training samples classified
   correctly by their batch's forward pass, before its update, as Keras reports it; with
   ``exact_train_metrics`` an evaluation-mode pass over the training set after the epoch;
   a hierarchical softmax's records have it only with ``exact_train_metrics``),
   ``val_loss`` / ``val_accuracy`` (with validation data: evaluation mode, after the
   epoch), ``lr`` (the rate used in the epoch), ``seconds``;
2. the schedule: ``opt.lr = schedule.step(metric)`` gives the next epoch's rate
   (reduce-on-plateau gets the monitored metric);
3. callbacks' ``on_epoch_end`` (early stopping is one; any may ask to stop);
4. the snapshot of the last good state, then the checkpoint (if a path is given),
   written atomically.

Guards:

* **divergence** (:mod:`relunet.training.divergence`, the one policy): a NaN/inf loss, a
  floating-point overflow in a step or in the evaluation, or non-finite parameters stop
  training with :class:`relunet.errors.DivergenceError` naming the epoch and batch and
  suggesting a smaller learning rate; parameters, optimizer state and generator are put
  back to the end of the last completed epoch (the last good state), so no NaN is left;
* **Ctrl-C** (KeyboardInterrupt): the network is put back to the end of the last completed
  epoch, a checkpoint is written if a path was given, and ``fit`` *returns* the history with
  ``history.interrupted = True`` (the CLI then exits with status 130).

Full-batch methods (CG, L-BFGS: a :class:`relunet.training.minimizers.Minimizer`, not an
optimizer) are chosen by one ``if`` in :func:`fit` and run by :func:`fit_minimizer`: the
minimizer's ``minimize`` once, one history record per iteration, the iteration and
function-evaluation counts in ``history.info``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from relunet.core import blas, kernels
from relunet.errors import ConfigError, DataError, DivergenceError, ModelFileError, RelunetError
from relunet.io.archive import output_target
from relunet.training import checkpoint as ckpt_mod
from relunet.training import optimizers
from relunet.training import schedules as schedules_mod
from relunet.training.callbacks import Callback, EarlyStopping, as_callback
from relunet.training.divergence import (
    FLOAT_ERRORS,
    Diverged,
    check_parameters,
    check_record,
    checked_loss,
    divergence_error,
    float_errors,
)
from relunet.training.history import History, jsonable
from relunet.training.minimizers import Minimizer
from relunet.training.progress import Progress
from relunet.training.protocol import Augment, Trainable
from relunet.training.resume import (
    check_checkpoint,
    check_run_settings,
    fingerprint,
    optimizer_config,
    resume_config,
)
from relunet.training.schedule_spec import (
    SCHEDULE_POSITIONAL,
    SCHEDULE_SYNTAX,
    make_schedule,
    needs_metric,
    parse_schedule,
)

__all__ = [
    "DEFAULT_LR",
    "EVAL_MIN_ROWS",
    "SCHEDULE_POSITIONAL",
    "SCHEDULE_SYNTAX",
    "History",
    "Run",
    "evaluate",
    "fit",
    "fit_minimizer",
    "make_schedule",
    "parse_schedule",
    "validation_indices",
]


class _DefaultRate(float):
    """The documented default learning rate, told apart from the same value given."""


#: ``fit``'s default ``lr`` (0.01): a float, but not one a caller passes, so that ``fit``
#: can refuse an explicit ``lr`` beside an optimizer instance (which has its own rate)
DEFAULT_LR: float = _DefaultRate(0.01)


# -- evaluation -------------------------------------------------------------------
#: fewest rows per block when fit evaluates through the work arrays: row-by-row blocks
#: (online learning's batch of 1) make the per-epoch evaluation much slower, while 128 rows
#: of work arrays are a few MB at most (benchmarks/bench_evaluation.py measures the cost
#: by block size)
EVAL_MIN_ROWS = 128


def evaluate(net: Trainable, X: np.ndarray, Y: np.ndarray, *, loss: bool = True,
             work_rows: int | None = None) -> dict[str, float]:
    """Loss (and accuracy for classifiers) in evaluation mode, on encoded targets:
    ``net.evaluate(X, Y, loss=loss, work_rows=work_rows)`` (see
    :meth:`relunet.core.network.Network.evaluate`, which runs it in blocks of rows)."""
    return net.evaluate(X, Y, loss=loss, work_rows=work_rows)


# -- validation split ---------------------------------------------------------------
def _labels_for_stratification(net: Trainable, Y: np.ndarray) -> np.ndarray | None:
    if net.task != "classification":
        return None
    if net.loss.name == "cross_entropy":
        return np.argmax(Y, axis=1)
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    return None  # multi-label: plain random split


def validation_indices(
    net: Trainable, Y: np.ndarray, fraction: float, rng: np.random.Generator, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: a seeded split holding out ``fraction`` of the samples.

    Classification is stratified: each class gives ``round(fraction * n_class)`` samples
    (so the validation set has the class proportions of the data). With
    ``stratify=False`` the *last* ``fraction`` of the samples is held out, as given
    (Keras' convention; no randomness). Both index arrays are sorted.
    """
    n = len(Y)
    if not 0 < fraction < 1:
        raise ConfigError(f"validation_split must be in (0, 1), got {fraction}")
    if not stratify:
        n_val = int(math.ceil(fraction * n))
        val = np.arange(n - n_val, n)
    else:
        labels = _labels_for_stratification(net, Y)
        if labels is None:
            n_val = int(round(fraction * n))
            val = np.sort(rng.permutation(n)[:n_val])
        else:
            parts = []
            for c in np.unique(labels):
                idx = np.flatnonzero(labels == c)
                k = int(round(fraction * len(idx)))
                parts.append(rng.permutation(idx)[:k])
            val = np.sort(np.concatenate(parts))
    if len(val) == 0 or len(val) == n:
        raise ConfigError(
            f"validation_split={fraction} of {n} samples leaves "
            f"{'no validation' if len(val) == 0 else 'no training'} samples"
        )
    train = np.setdiff1d(np.arange(n), val)
    return train, val


@dataclass
class _Snapshot:
    """The state at the end of the last completed epoch (the last good state)."""

    params: list[np.ndarray]
    optimizer: dict[str, Any]
    rng_state: dict[str, Any] | None
    schedule: dict[str, Any] | None
    #: True while :meth:`retake` runs: the snapshot is half old, half new
    retaking: bool = False

    @classmethod
    def take(cls, net: Trainable, opt: Any, schedule: Any) -> "_Snapshot":
        return cls(
            [p.copy() for p in net.parameters()],
            opt.state_dict(),  # its arrays are copies already
            ckpt_mod.capture_rng(net),
            None if schedule is None else copy.deepcopy(schedule.state_dict()),
        )

    def retake(self, net: Trainable, opt: Any, schedule: Any) -> "_Snapshot":
        """Take the state again, the parameters copied into this snapshot's arrays (so a
        new snapshot never coexists with the old one: one copy of the parameters, not two)."""
        params = net.parameters()
        if len(params) != len(self.params) or any(
            p.shape != s.shape or p.dtype != s.dtype for p, s in zip(params, self.params)
        ):
            return self.take(net, opt, schedule)
        self.retaking = True
        for p, saved in zip(params, self.params):
            np.copyto(saved, p)
        self.optimizer = {}  # the old state goes before the new copy is made
        self.optimizer = opt.state_dict()
        self.rng_state = ckpt_mod.capture_rng(net)
        self.schedule = None if schedule is None else copy.deepcopy(schedule.state_dict())
        self.retaking = False
        return self

    def restore(self, net: Trainable, opt: Any, schedule: Any) -> None:
        if self.retaking:
            # interrupted (Ctrl-C) while retaking: the snapshot is torn, but retake only
            # reads, so the network, optimizer, rng and schedule still hold exactly the state
            # it was taking (the epoch just completed): nothing to restore
            return
        for p, saved in zip(net.parameters(), self.params):
            p[...] = saved
        opt.load_state_dict(self.optimizer)  # copies the arrays
        if self.rng_state is not None:
            net.rng.bit_generator.state = self.rng_state
        if schedule is not None and self.schedule is not None:
            schedule.load_state_dict(copy.deepcopy(self.schedule))


class _Gathered:
    """``X[order]`` gathered batch by batch into one reused buffer.

    Slicing gives ``X[order[s:e]]`` written into the same ``(batch_size, ...)`` array each
    time (``np.take(..., out=)``), so an epoch never copies the whole data set: a
    memory-mapped X is read one batch at a time, and an in-memory X needs no second
    full-size copy. The returned array is overwritten by the next slice, which is safe
    because ``train_step`` is done with a batch before the next one is gathered.
    """

    def __init__(self, X: np.ndarray, order: np.ndarray, batch_size: int):
        self.X, self.order = X, order
        self.buf = np.empty((min(batch_size, len(order)),) + X.shape[1:], dtype=X.dtype)

    def __getitem__(self, sl: slice) -> np.ndarray:
        idx = self.order[sl]
        out = self.buf[: len(idx)]
        # mode="clip" writes straight into out (mode="raise" would gather into a temporary);
        # idx is a permutation of range(n), so clipping never changes an index
        np.take(self.X, idx, axis=0, out=out, mode="clip")
        return out


# -- the run -------------------------------------------------------------------------
@dataclass(eq=False)
class Run:
    """One training run by per-batch optimizer steps: its state, and :meth:`epoch`.

    Use::

        run = Run(net, X, Y, optimizers.get("adam", lr=1e-3), batch_size=32)
        run.start()                # callbacks' on_train_begin, first snapshot
        while run.epochs_done < 10 and not run.stopped:
            record = run.epoch()   # one pass over (X, Y); the epoch's history record
        history = run.finish()     # on_train_end, evaluation mode

    ``X`` and ``Y`` are the encoded training data; ``validation`` an encoded pair. The run
    holds the network, the optimizer, the schedule, the callbacks, the :class:`History`,
    the snapshot of the last good state (``good``), the progress display and the checkpoint
    settings. A :class:`relunet.errors.DivergenceError` from :meth:`epoch` leaves the
    network at the last good state. ``metrics=False`` leaves the training ``accuracy`` out
    of the record where the caller does not use it. By default the training ``accuracy`` is
    counted from the batches' own forward passes (training mode, each before its update:
    with dropout, on the thinned network); ``exact_train_metrics=True`` instead evaluates
    the whole training set in evaluation mode after the epoch (a forward pass over every
    sample, about a third of the epoch's work more). A hierarchical softmax output
    (``net.counts_batch_correct`` False) has no cheap per-batch count: its records carry no
    training ``accuracy`` unless ``exact_train_metrics=True``.
    """

    net: Trainable
    X: np.ndarray
    Y: np.ndarray
    optimizer: optimizers.Optimizer
    batch_size: int | None = 32
    shuffle: bool = True
    schedule: schedules_mod.Schedule | None = None
    callbacks: list[Any] = field(default_factory=list)
    validation: tuple[np.ndarray, np.ndarray] | None = None
    monitor: str = "loss"
    history: History = field(default_factory=History)
    #: the epoch to train up to (progress display; a resumed early stop ends there)
    epochs: int = 0
    verbose: int = 0
    stream: TextIO | None = None
    checkpoint: str | os.PathLike | None = None
    #: the validation split's indices into the data given to fit (kept in checkpoints)
    val_idx: np.ndarray | None = None
    metrics: bool = True
    #: the training accuracy from an evaluation pass after the epoch, not from the batches
    exact_train_metrics: bool = False
    #: a random transform of each training batch, ``augment(X_batch, net.rng) -> X_batch``
    #: (e.g. :class:`relunet.data.augment.ImageAugment`); None: the batches as gathered
    augment: Augment | None = None
    #: completed epochs (also those of a resumed run)
    epochs_done: int = 0
    #: a callback asked to stop (or a resumed run had already stopped)
    stopped: bool = False

    def __post_init__(self) -> None:
        n = len(self.X)
        if n == 0:
            raise DataError("no training samples")
        self.batch_size = _batch_size(self.batch_size, n)
        self.n_batches = -(-n // self.batch_size)
        # the epoch's evaluation runs through the work arrays in blocks of the batch size, or of
        # EVAL_MIN_ROWS for smaller batches (online learning would otherwise evaluate row by row)
        self.eval_rows = max(self.batch_size, EVAL_MIN_ROWS)
        n_val = len(self.validation[0]) if self.validation is not None else 0
        self.evaluates_train = self.metrics and self.exact_train_metrics
        # the training accuracy counted batch by batch (classifiers only: a regression
        # record has no training metric besides the loss; nor a hierarchical softmax's,
        # whose count would score every class of every row)
        self.counts_correct = (self.metrics and not self.exact_train_metrics
                               and self.net.task == "classification" and self.net.counts_batch_correct)
        rows = max(n if self.evaluates_train else 0, n_val)
        self.net.reserve_work(min(self.eval_rows, rows) if rows else self.batch_size)
        self.batch_callbacks = [cb for cb in self.callbacks if _has_hook(cb, "on_batch_end")]
        # what a checkpoint records of the run, so that a resume continues this run and no other
        self.settings: dict[str, Any] = {
            "batch_size": self.batch_size, "shuffle": bool(self.shuffle), "lr": float(self.optimizer.lr),
            "schedule": None if self.schedule is None else jsonable({"name": self.schedule.name,
                                                                     **self.schedule.config()}),
            "data": fingerprint(self.X),
            "augment": _augment_name(self.augment),
        }
        self.first_epoch = self.epochs_done + 1
        self.current = self.epochs_done
        self.progress: Progress | None = None
        self.good: _Snapshot | None = None

    # -- start and end -------------------------------------------------------------
    def start(self, restored: ckpt_mod.Checkpoint | None = None,
              path: str | os.PathLike = "checkpoint") -> None:
        """Callbacks' ``on_train_begin``, the resume from ``restored`` (read from ``path``),
        the schedule's first rate, training mode and the first snapshot."""
        for cb in self.callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(self.net)
        if restored is not None:
            self._resume(restored, path)
        self.history.info["blas"] = str(blas.backend())
        if self.schedule is not None:
            self.optimizer.lr = self.schedule.start(self.optimizer.lr)
        self.progress = Progress(self.epochs, len(self.X), self.n_batches, self.verbose, self.stream,
                                 first_epoch=self.first_epoch)
        self.net.train()
        self.good = _Snapshot.take(self.net, self.optimizer, self.schedule)

    def _resume(self, restored: ckpt_mod.Checkpoint, path: str | os.PathLike) -> None:
        """Continue the run ``restored`` holds: parameters, generator, optimizer, schedule,
        callbacks' state, history and the epoch count."""
        check_run_settings(path, restored.extra.get("config") or {}, self.settings)
        ckpt_mod.restore_params(self.net, restored, path)
        try:
            self.optimizer.load_state_dict(restored.optimizer)
        except RelunetError:
            raise
        except (TypeError, ValueError, KeyError) as exc:  # a corrupted (but checksummed) state
            raise ModelFileError(f"{os.fspath(path)}: bad optimizer state ({exc})") from None
        if self.schedule is not None and restored.schedule is not None:
            self.schedule.load_state_dict(restored.schedule)
        for key, cb in _stateful(self.callbacks).items():
            if key in restored.callbacks:
                cb.load_state_dict(restored.callbacks[key])
        if restored.history:
            self.history = History.from_dict(restored.history)
        self.history.info["resumed_from"] = restored.epoch
        self.history.info.pop("interrupted", None)
        self.epochs_done = self.current = restored.epoch
        self.first_epoch = restored.epoch + 1
        if restored.extra.get("stopped"):  # the run had already ended (early stop)
            self.first_epoch, self.stopped = self.epochs + 1, True

    def finish(self) -> History:
        """Callbacks' ``on_train_end`` (early stopping's outcome into ``history.info`` and a
        message), then evaluation mode; returns the history."""
        for cb in _train_end(self.callbacks, self.net, self.history):
            if cb.stopped_epoch:
                self.progress.message(
                    f"early stopping at epoch {cb.stopped_epoch}: {cb.monitor} has not improved for "
                    f"{cb.patience} epochs; best {cb.monitor} {cb.best:.4g} at epoch {cb.best_epoch}"
                )
        self.progress.close()
        self.net.eval()
        return self.history

    def interrupt(self) -> History:
        """After Ctrl-C: back to the end of the last completed epoch (consistent with the
        history and the checkpoint, so a resume continues exactly), a checkpoint, a message."""
        # The snapshot is the epoch the network goes back to. A Ctrl-C after an epoch's record
        # was appended but before its snapshot was taken (in the schedule step or a slow
        # callback) leaves the snapshot one epoch behind the history: that record goes too,
        # so the history, the parameters and the checkpoint's epoch all agree. While the
        # snapshot is being retaken the network still holds the epoch just completed.
        done = self.current if self.good.retaking else self.epochs_done
        self.good.restore(self.net, self.optimizer, self.schedule)
        self.history.records[:] = [r for r in self.history.records if r["epoch"] <= done]
        self.history.info["interrupted"] = True
        if self.checkpoint is not None:
            self.save_checkpoint(done)
        self.progress.message(
            f"interrupted during epoch {self.current}; parameters are those of epoch {done}"
            + (f"; checkpoint saved to {os.fspath(self.checkpoint)}" if self.checkpoint is not None else "")
        )
        self.progress.close()
        self.net.eval()
        return self.history

    # -- one epoch -------------------------------------------------------------------
    def epoch(self) -> dict[str, Any]:
        """Train one epoch; returns its history record (see the module docstring).

        Raises:
            DivergenceError: the loss or the parameters became NaN/inf (the network is back
                at the last good state; ``err.history`` holds the completed epochs).
        """
        epoch = self.current = self.epochs_done + 1
        t0 = time.perf_counter()
        self.progress.epoch_begin(epoch)
        lr_used = float(self.optimizer.lr)
        try:
            with float_errors():
                total, correct = self._batches(epoch)
                record: dict[str, Any] = {"epoch": epoch, "loss": total / len(self.X)}
                if self.counts_correct:
                    record["accuracy"] = correct / len(self.X)
                self._evaluate(record, epoch)
        except Diverged as d:
            raise self._diverged(d, lr_used) from d.cause
        record["lr"] = lr_used
        record["seconds"] = time.perf_counter() - t0
        self.history.append(record)
        self._step_schedule(record)
        for cb in self.callbacks:
            if hasattr(cb, "on_epoch_end") and _wants_stop(cb.on_epoch_end(epoch, record, self.net),
                                                           cb, "on_epoch_end"):
                self.stopped = True
        self.good = self.good.retake(self.net, self.optimizer, self.schedule)
        self.epochs_done = epoch
        if self.checkpoint is not None:
            self.save_checkpoint(epoch)
        self.progress.epoch_end(record)
        return record

    def _batches(self, epoch: int) -> tuple[float, int]:
        """The epoch's optimizer steps; the sum of the batch losses weighted by batch rows,
        and the number of rows the batches classified correctly (0 unless counted)."""
        X, Y, n, bs = self.X, self.Y, len(self.X), self.batch_size
        if self.shuffle and bs < n:
            # gather batch by batch into reused buffers: no full copy of X per epoch
            # (a memory-mapped X is read one batch at a time)
            order = self.net.rng.permutation(n)
            X, Y = _Gathered(X, order, bs), _Gathered(Y, order, bs)
        bar = self.progress.mode == "bar"
        net, opt, total, correct = self.net, self.optimizer, 0.0, 0
        count, augment = self.counts_correct, self.augment
        for b in range(1, self.n_batches + 1):
            s, e = (b - 1) * bs, b * bs
            try:
                xb, yb = X[s:e], Y[s:e]
                if augment is not None:
                    xb = _augmented_batch(augment, xb, net.rng)
                value = net.train_step(xb, yb, opt)
                if count:
                    correct += net.last_batch_correct(yb)
            except FLOAT_ERRORS as exc:
                raise Diverged(epoch, b, "a floating-point overflow", exc) from None
            loss = checked_loss(value, epoch, b)
            total += loss * (min(e, n) - s)
            if bar:
                self.progress.batch_end(b, min(e, n), total)
            for cb in self.batch_callbacks:
                if _wants_stop(cb.on_batch_end(epoch, b, loss, self.net), cb, "on_batch_end"):
                    self.stopped = True
        return total, correct

    def _evaluate(self, record: dict[str, Any], epoch: int) -> None:
        """The record's evaluation metrics, in evaluation mode; checks that all are finite."""
        if self.evaluates_train or self.validation is not None:
            self.progress.evaluating()
        try:
            if self.evaluates_train:
                record.update(evaluate(self.net, self.X, self.Y, loss=False, work_rows=self.eval_rows))
            if self.validation is not None:
                for k, v in evaluate(self.net, *self.validation, work_rows=self.eval_rows).items():
                    record["val_" + k] = v
        except FLOAT_ERRORS as exc:
            raise Diverged(epoch, None, "a floating-point overflow", exc) from None
        check_record(record, epoch)
        check_parameters(self.net.parameters(), epoch)

    def _diverged(self, d: Diverged, lr: float) -> DivergenceError:
        self.good.restore(self.net, self.optimizer, self.schedule)
        self.progress.close()
        err = divergence_error(d, lr, self.batch_size, self.epochs_done, self.optimizer, self.net)
        err.history = self.history  # type: ignore[attr-defined]
        return err

    def _step_schedule(self, record: dict[str, Any]) -> None:
        """The next epoch's rate from the schedule (reduce-on-plateau gets the monitored metric)."""
        if self.schedule is None:
            return
        if self.monitor not in record and needs_metric(self.schedule):
            raise ConfigError(
                f"the {self.schedule.name} schedule monitors {self.monitor!r}, which the epoch record does "
                f"not have (it has {', '.join(record)}); give validation data or monitor 'loss'"
            )
        self.optimizer.lr = self.schedule.step(record.get(self.monitor))

    def save_checkpoint(self, done_epoch: int) -> None:
        """Write the run's state after epoch ``done_epoch`` to ``checkpoint`` (atomically)."""
        opt = self.optimizer
        extra: dict[str, Any] = {"stopped": self.stopped, "config": self.settings,
                                 "network": repr(self.net), "optimizer_config": resume_config(opt)}
        if self.val_idx is not None:
            extra["val_idx"] = self.val_idx
        ckpt_mod.save(self.checkpoint, ckpt_mod.Checkpoint(
            epoch=done_epoch,
            params=self.net.parameters(),
            rng_state=ckpt_mod.capture_rng(self.net),
            optimizer_name=opt.name,
            optimizer=opt.state_dict(),
            schedule=None if self.schedule is None else self.schedule.state_dict(),
            callbacks={k: cb.state_dict() for k, cb in _stateful(self.callbacks).items()},
            history=self.history.to_dict(),
            extra=extra,
        ))


def _augmented_batch(augment: Augment, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``augment(X, rng)``, checked to be what the step can take: an array of ``X``'s shape
    and dtype, every value finite.

    Raises:
        DataError: naming the augment and what it returned instead (a floating-point error
            inside it too, which would otherwise read as a diverged run).
    """
    try:
        out = augment(X, rng)
    except FLOAT_ERRORS as exc:
        raise DataError(f"augment {_augment_name(augment)} failed on a batch: {exc}") from exc
    if not isinstance(out, np.ndarray) or out.shape != X.shape or out.dtype != X.dtype:
        got = f"shape {out.shape}, dtype {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise DataError(f"augment {_augment_name(augment)} returned {got} for a batch of shape {X.shape}, dtype "
                        f"{X.dtype}: it must return an array of its input's shape and dtype")
    if not np.isfinite(out).all():
        raise DataError(f"augment {_augment_name(augment)} returned NaN or inf values: it must return finite ones")
    return out


def _augment_name(augment: Augment | None) -> str | None:
    """How a checkpoint records ``fit(augment=)``, the same in every process: a function by
    its module and name, an object by its ``repr`` (an :class:`ImageAugment`'s names its
    settings) unless that is the default one, which holds a memory address; None for none."""
    if augment is None:
        return None
    if hasattr(augment, "__qualname__"):  # a function, a method, a class
        return f"{getattr(augment, '__module__', None)}.{augment.__qualname__}"
    if type(augment).__repr__ is object.__repr__:
        return f"{type(augment).__module__}.{type(augment).__qualname__}()"
    return repr(augment)


def _batch_size(batch_size: Any, n: int) -> int:
    """The batch size for ``n`` samples: None (or more than ``n``) is the full batch."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, float, np.integer, np.floating))
        or int(batch_size) != batch_size or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be an integer >= 1 or None (full batch), got {batch_size!r}")
    if batch_size is None or batch_size >= n:
        return n
    return int(batch_size)


def _train_end(cbs: list[Any], net: Trainable, history: History) -> list[EarlyStopping]:
    """Run the callbacks' ``on_train_end``, then record early stopping's outcome in
    ``history.info``; returns the EarlyStopping callbacks (the caller may report them)."""
    for cb in cbs:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(net, history)
    stops = [cb for cb in cbs if isinstance(cb, EarlyStopping)]
    for cb in stops:
        history.info["stopped_early"] = cb.stopped_epoch > 0
        history.info["best_epoch"] = cb.best_epoch
    return stops


def _stateful(cbs: list[Any]) -> dict[str, Any]:
    """Callbacks with state to checkpoint, keyed by position and class name."""
    return {
        f"{i}:{type(cb).__name__}": cb
        for i, cb in enumerate(cbs)
        if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict")
    }


def _has_hook(cb: Any, name: str) -> bool:
    """True when ``cb`` defines ``name`` itself (not the base class's no-op)."""
    fn = getattr(type(cb), name, None)
    if fn is None:
        return hasattr(cb, name)
    return fn is not getattr(Callback, name, None)


# -- fit -----------------------------------------------------------------------------------
def fit(
    net: Trainable,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    lr: float = DEFAULT_LR,
    optimizer: "str | optimizers.Optimizer | Minimizer" = "sgd",
    schedule: Any = None,
    shuffle: bool = True,
    verbose: int = 0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
    stratify: bool = True,
    early_stopping: "int | bool | EarlyStopping | None" = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    restore_best_weights: bool = True,
    callbacks: Any = (),
    checkpoint: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    stream: TextIO | None = None,
    exact_train_metrics: bool = False,
    threads: int | None = None,
    augment: Augment | None = None,
    **optimizer_params: Any,
) -> History:
    """Train ``net`` on encoded data; returns the per-epoch :class:`History`.

    Args:
        net: a :class:`relunet.core.network.Network` (usually an MLP) with a seeded ``rng``.
        X: ``shape (n_samples, n_features)`` in the network's dtype.
        Y: encoded targets ``shape (n_samples, n_outputs)``.
        epochs: the epoch to train up to. After ``resume`` from epoch ``k``, epochs
            ``k+1 .. epochs`` are run (so rerunning the same call with ``resume=`` finishes
            the intended run). For full-batch optimizers: the maximum number of iterations.
        batch_size: 1 (online), B (mini-batch) or None (full batch).
        lr: learning rate (the schedule's base rate) of an optimizer given by name;
            default 0.01. An optimizer instance carries its own rate: ``lr`` is then refused.
        optimizer: name or instance (see :mod:`relunet.optimizers`); ``**optimizer_params``
            go to its constructor (``momentum``, ``nesterov``, ``weight_decay``, ...).
            ``"cg"`` and ``"lbfgs"`` (or a :class:`relunet.training.minimizers.Minimizer`)
            train full-batch by line search (see :func:`fit_minimizer`).
        schedule: a name, ``(name, params)`` or :class:`relunet.schedules.Schedule`.
        shuffle: reshuffle the training samples every epoch (with ``net.rng``).
        verbose: 0 silent; 1 a live progress bar on a terminal, else one line per epoch;
            2 one line per epoch always (see :mod:`relunet.training.progress`).
        validation_data: encoded ``(X_val, Y_val)``.
        validation_split: hold out this fraction of ``(X, Y)`` for validation (ignored when
            ``validation_data`` is given); drawn once with ``net.rng``.
        stratify: stratified split for classifiers (default); False holds out the last part.
        early_stopping: patience (int), True (patience 10) or an
            :class:`relunet.callbacks.EarlyStopping`.
        monitor: metric for early stopping and reduce-on-plateau; default ``val_loss`` with
            validation data, ``loss`` without (early stopping requires validation data
            unless ``monitor`` is given).
        min_delta, restore_best_weights: for early stopping (see EarlyStopping).
        callbacks: objects following :mod:`relunet.callbacks`' protocol (or functions used
            as ``on_epoch_end``).
        checkpoint: path of a checkpoint written after every epoch (and on Ctrl-C).
        resume: path of a checkpoint to continue from (see :mod:`relunet.training.checkpoint`).
        stream: where progress goes (default stdout).
        exact_train_metrics: the record's training ``accuracy`` from an evaluation-mode pass
            over the whole training set after each epoch (with the epoch's final weights),
            instead of from the batches' own forward passes (the default: each batch
            judged before its update, in training mode, so with dropout on the thinned
            network; no second pass over the data). ``loss`` is the mean of the batch
            losses either way; validation metrics are always evaluation-mode passes.
            A hierarchical softmax output has no per-batch count (judging a row needs every
            class's probability, ``O(d V)`` for ``V`` classes, more than its training step):
            its records carry a training ``accuracy`` only with ``exact_train_metrics=True``.
        threads: the threads for the matrix products (BLAS) and the element-wise kernels
            while training; None: the cores this process may use (see
            :func:`relunet.core.kernels.default_threads`).
        augment: a random transform applied to every training batch before its step,
            called as ``augment(X_batch, net.rng)`` and returning a new array of the same
            shape and dtype (:class:`relunet.data.augment.ImageAugment`: random mirroring
            and shifts). Training only: validation, the exact training metrics and
            ``predict`` see the data as given. Not for ``"cg"``/``"lbfgs"``.

    Returns:
        The history. ``history.interrupted`` is True when Ctrl-C stopped training; the
        network then holds the parameters of the last completed epoch.

    Raises:
        DivergenceError: a NaN/inf loss; the network keeps the last good parameters.
        ConfigError: bad or conflicting settings; ModelFileError: an unusable ``resume`` file.
    """
    epochs, verbose = _check_settings(epochs, verbose, monitor, checkpoint)
    n_threads = kernels.check_threads(threads)
    if not isinstance(exact_train_metrics, (bool, np.bool_)):
        raise ConfigError(f"exact_train_metrics must be True or False, got {exact_train_metrics!r}")
    opt = _optimizer(net, optimizer, lr, optimizer_params)
    restored = _read_resume(resume, net, opt, epochs, validation_split, validation_data)
    X, Y, validation, val_idx = _validation(net, X, Y, validation_data, validation_split, stratify,
                                            restored, resume)
    monitor = _monitor(monitor, early_stopping, validation)
    cbs = _callbacks(callbacks, early_stopping, monitor, min_delta, restore_best_weights)
    schedule_obj = make_schedule(schedule, epochs, monitor)
    _check_target_scale(net, Y)
    history = History(info={"optimizer": opt.name, "optimizer_config": optimizer_config(opt)})
    if len(X) == 0:
        raise DataError("no training samples")
    if augment is not None and not callable(augment):
        raise ConfigError(f"augment must be a function augment(X_batch, rng) -> X_batch, got {augment!r}")
    if isinstance(opt, Minimizer):  # full batch by line search (CG, L-BFGS), else per-batch steps
        if augment is not None:
            raise ConfigError(f"{opt.name!r} minimizes the loss of the fixed training set by line search: "
                              "random augmentation needs a per-batch optimizer (sgd, adam, ...)")
        if schedule_obj is not None:
            raise ConfigError(f"{opt.name!r} chooses its step by line search: a learning-rate schedule does not apply")
        with kernels.threads(n_threads):
            return fit_minimizer(net, X, Y, opt, epochs=epochs, validation=validation, callbacks=cbs,
                                 history=history, verbose=verbose, stream=stream, checkpoint=checkpoint,
                                 restored=restored, resume=resume)
    if monitor == "accuracy" and net.task == "classification" and not net.counts_batch_correct \
            and not exact_train_metrics:  # refused before the first epoch, not after it
        raise ConfigError("monitor='accuracy': a hierarchical softmax's epoch records have no training accuracy "
                          "unless exact_train_metrics=True (an evaluation pass over the training set after each "
                          "epoch); monitor 'loss', or 'val_accuracy' with validation data")
    run = Run(net, X, Y, opt, batch_size=batch_size, shuffle=shuffle, schedule=schedule_obj, callbacks=cbs,
              validation=validation, monitor=monitor, history=history, epochs=epochs, verbose=verbose,
              stream=stream, checkpoint=checkpoint, val_idx=val_idx,
              exact_train_metrics=bool(exact_train_metrics), augment=augment)
    with kernels.threads(n_threads):
        run.start(restored, resume if resume is not None else "checkpoint")
        try:
            while run.epochs_done < epochs and not run.stopped:
                run.epoch()
        except KeyboardInterrupt:
            return run.interrupt()
        return run.finish()


# -- fit's argument checks ---------------------------------------------------------------
def _check_settings(epochs: Any, verbose: Any, monitor: Any,
                    checkpoint: str | os.PathLike | None) -> tuple[int, int]:
    """``(epochs, verbose)`` as integers, after checking them, ``monitor`` and the checkpoint's folder."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(f"epochs must be an integer >= 0, got {epochs!r}")
    if verbose not in (0, 1, 2, True, False):
        raise ConfigError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    if monitor is not None and not isinstance(monitor, str):
        raise ConfigError(f"monitor must be a metric name such as 'val_loss' or 'loss', got {monitor!r}")
    if checkpoint is not None:  # a folder that is missing fails now, not after the first epoch
        output_target(checkpoint)
    return int(epochs), int(verbose)


def _optimizer(net: Trainable, optimizer: Any, lr: float,
               params: dict[str, Any]) -> "optimizers.Optimizer | Minimizer":
    """The optimizer (or minimizer) of the run. An instance comes with its own settings:
    ``lr`` or other hyper-parameters beside it would be ignored, so they are refused."""
    if isinstance(optimizer, (optimizers.Optimizer, Minimizer)):
        given = sorted([*params, *([] if isinstance(lr, _DefaultRate) else ["lr"])])
        if given:
            raise ConfigError(f"{', '.join(given)} would be ignored: the optimizer is given as an "
                              f"instance, {optimizer!r}; set them on it, or give the optimizer by name")
        opt = optimizer
    else:
        if isinstance(optimizer, str):  # fit hands the keywords it does not take to the optimizer
            accepted = optimizers.REGISTRY.parameters(optimizer) or []
            bad = [k for k in params if k not in accepted] if accepted else []
            if bad:
                raise ConfigError(f"fit() got an unexpected keyword argument {bad[0]!r}: neither an argument "
                                  f"of fit nor a parameter of optimizer {optimizer!r} ({', '.join(accepted)})")
        opt = optimizers.get(optimizer, lr=float(lr), **params)
        if isinstance(opt, Minimizer) and not isinstance(lr, _DefaultRate):
            raise ConfigError(f"lr does not apply to {opt.name!r}: it chooses each step by line "
                              "search; leave lr out (max_iter and tol are its settings)")
    state = opt.state if isinstance(opt, optimizers.Optimizer) else {}
    if state:  # an instance that already trained: its state must be this net's
        shapes = [p.shape for p in net.parameters()]
        for name, arrays in state.items():
            if isinstance(arrays, list) and [np.shape(a) for a in arrays] != shapes:
                raise ConfigError(
                    f"this {opt.name} instance holds state ({name!r}) of another network; give each network "
                    f"its own optimizer (a fresh instance, or the name {opt.name!r})"
                )
    return opt


def _read_resume(resume: str | os.PathLike | None, net: Trainable, opt: Any, epochs: int,
                 validation_split: float, validation_data: Any) -> ckpt_mod.Checkpoint | None:
    """The checkpoint to continue from, read first (its validation split and epoch decide
    what follows), after checking that it belongs to this run."""
    if resume is None:
        return None
    restored = ckpt_mod.load(resume)
    if restored.optimizer_name != opt.name:
        raise ConfigError(
            f"{os.fspath(resume)} was written by optimizer {restored.optimizer_name!r}, "
            f"this run uses {opt.name!r}; resume with the same optimizer"
        )
    check_checkpoint(resume, restored, net, opt, epochs)
    had_split = "val_idx" in restored.extra
    if had_split and not validation_split and validation_data is None:
        raise ConfigError(f"{os.fspath(resume)} was written by a run that held out a validation split; "
                          "resume with validation_split (--validation-split) too: the same samples are held out")
    if not had_split and validation_split:
        raise ConfigError(f"{os.fspath(resume)} was written by a run without a validation split; "
                          "resume without validation_split (--validation-split, --early-stopping)")
    return restored


def _validation(net: Trainable, X: np.ndarray, Y: np.ndarray, validation_data: Any, validation_split: float,
                stratify: bool, restored: ckpt_mod.Checkpoint | None, resume: Any) -> tuple[Any, Any, Any, Any]:
    """``(X, Y, validation, val_idx)``: the training data, the validation pair (or None)
    and the held-out indices of a split (the checkpoint's when resuming)."""
    if validation_data is not None:
        return X, Y, _validation_pair(net, X, Y, validation_data), None
    if not validation_split:
        return X, Y, None, None
    if restored is not None and "val_idx" in restored.extra:
        val_idx = np.asarray(restored.extra["val_idx"], dtype=np.int64)
        if len(val_idx) and val_idx.max() >= len(X):
            raise ConfigError(f"{os.fspath(resume)}: its validation split does not fit {len(X)} samples")
        train_idx = np.setdiff1d(np.arange(len(X)), val_idx)
    else:
        train_idx, val_idx = validation_indices(net, Y, float(validation_split), net.rng, stratify)
    return X[train_idx], Y[train_idx], (X[val_idx], Y[val_idx]), val_idx


def _validation_pair(net: Trainable, X: np.ndarray, Y: np.ndarray, validation_data: Any) -> tuple[np.ndarray, np.ndarray]:
    """The given ``(X_val, Y_val)`` checked against the training data."""
    try:
        Xv, Yv = validation_data
    except (TypeError, ValueError):
        raise ConfigError("validation_data must be a pair (X_val, Y_val)") from None
    # arrays in the training data's dtypes (lists, float64 for a float32 network, ...),
    # but never an integer one: integer training targets (counts) must not truncate
    # float validation targets (2.5 -> 2), nor uint8 pixels scaled validation inputs
    xd, yd = (d if d.kind == "f" else np.dtype(net.dtype) for d in (X.dtype, Y.dtype))
    try:
        Xv, Yv = np.asarray(Xv, dtype=xd), np.asarray(Yv, dtype=yd)
    except (TypeError, ValueError) as exc:
        raise DataError(f"validation_data must be numeric arrays (X_val, Y_val): {exc}") from None
    if len(Xv) != len(Yv) or len(Xv) == 0:
        raise DataError(f"validation_data: X_val has {len(Xv)} samples, Y_val {len(Yv)}")
    if np.ndim(Xv) != 2 or np.shape(Xv)[1] != X.shape[1] or np.ndim(Yv) != 2 or np.shape(Yv)[1] != Y.shape[1]:
        raise DataError(
            f"validation_data has shapes {np.shape(Xv)}, {np.shape(Yv)}; the training data "
            f"{X.shape}, {Y.shape} (give encoded targets here, or raw labels to MLP.fit)"
        )
    return Xv, Yv


def _monitor(monitor: str | None, early_stopping: Any, validation: Any) -> str:
    """The monitored metric: ``val_loss`` with validation data, ``loss`` without."""
    if (isinstance(early_stopping, (int, np.integer)) and not isinstance(early_stopping, (bool, np.bool_))
            and early_stopping < 1):
        raise ConfigError(f"early_stopping={early_stopping!r}: a patience is an integer >= 1 "
                          "(None or False turn early stopping off)")
    if monitor is None:
        monitor = "val_loss" if validation is not None else "loss"
        if early_stopping not in (None, False) and validation is None and not isinstance(early_stopping, EarlyStopping):
            raise ConfigError(
                "early stopping needs validation data to monitor val_loss: give validation_split or "
                "validation_data (or monitor='loss' to stop on the training loss)"
            )
    if monitor.startswith("val_") and validation is None:
        raise ConfigError(f"monitor={monitor!r} needs validation data (validation_split or validation_data)")
    return monitor


def _callbacks(callbacks: Any, early_stopping: Any, monitor: str, min_delta: float,
               restore_best_weights: bool) -> list[Any]:
    """The callbacks as a list of objects, early stopping (if asked) among them once."""
    if isinstance(callbacks, (str, bytes)):
        raise ConfigError(f"callbacks must be a list of callbacks, got the string {callbacks!r}")
    if callbacks is not None and (callable(callbacks) or hasattr(callbacks, "on_epoch_end")
                                  or hasattr(callbacks, "on_batch_end")):
        callbacks = [callbacks]  # one callback given on its own
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise ConfigError(f"callbacks must be a list of callbacks, got {callbacks!r}") from None
    cbs = [as_callback(c) for c in callbacks]
    if early_stopping in (None, False):
        return cbs
    if isinstance(early_stopping, EarlyStopping):
        stopper = early_stopping
    else:
        if not isinstance(early_stopping, (int, np.integer)):
            raise ConfigError(f"early_stopping is a patience (an integer >= 1), True, or an EarlyStopping; "
                              f"got {early_stopping!r}")
        patience = 10 if early_stopping is True else int(early_stopping)
        stopper = EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta,
                                restore_best_weights=restore_best_weights)
    if not any(cb is stopper for cb in cbs):  # given twice: one stopper, called once per epoch
        cbs.append(stopper)
    return cbs


def _wants_stop(value: Any, cb: Any, hook: str) -> bool:
    """A hook's answer: True (or 1) stops training; False, 0 or None goes on; anything else
    (an array, a string: their truth is ambiguous) is a mistake."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return bool(value)
    raise ConfigError(f"{type(cb).__name__}.{hook} returned {value!r}: return True to stop training, "
                      "False or None to go on")


def _check_target_scale(net: Trainable, Y: np.ndarray) -> None:
    """Refuse regression targets whose squared error cannot be represented: training would
    only report a divergence, blaming the learning rate."""
    if net.loss.name != "mse" or Y.dtype.kind != "f" or not Y.size:
        return
    limit = float(np.sqrt(np.finfo(Y.dtype).max))
    largest = float(np.max(np.abs(Y)))
    if largest > limit:
        raise DataError(
            f"regression targets reach {largest:.3g}: their squared error overflows {Y.dtype} "
            f"(above {limit:.3g}); scale the targets first (e.g. divide by their standard deviation)"
        )


# -- full batch: CG, L-BFGS -----------------------------------------------------------------
def fit_minimizer(net: Trainable, X: np.ndarray, Y: np.ndarray, minimizer: Minimizer, *, epochs: int,
                  validation: tuple[np.ndarray, np.ndarray] | None = None, callbacks: list[Any] | None = None,
                  history: History | None = None, verbose: int = 0, stream: TextIO | None = None,
                  checkpoint: str | os.PathLike | None = None, restored: ckpt_mod.Checkpoint | None = None,
                  resume: str | os.PathLike | None = None) -> History:
    """Train by a full-batch minimizer (CG, L-BFGS): one record per iteration, up to ``epochs``.

    Resuming restarts the method from the checkpoint's parameters (scipy's internal
    state is not saved), so it continues but is not bit-identical to an uninterrupted run.
    """
    cbs = list(callbacks or ())
    history = history if history is not None else History()
    if restored is not None:
        ckpt_mod.restore_params(net, restored, resume if resume is not None else "checkpoint")
        if restored.history:
            history.records = list(History.from_dict(restored.history).records)
        history.info["resumed_from"] = restored.epoch
    history.info["blas"] = str(blas.backend())
    for cb in cbs:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(net)
    iterations = _Iterations(net, X, Y, minimizer, validation, cbs, history, checkpoint)
    iterations.progress = Progress(epochs, len(X), 1, verbose, stream, first_epoch=iterations.start + 1)
    if iterations.progress.mode == "bar":
        iterations.progress.mode = "lines"
    # Evaluation mode: a line search needs a deterministic objective (RReLU's random slopes
    # would defeat it; RReLU then uses its mean slope).
    net.eval()
    interrupted = False
    if epochs > iterations.start:
        try:
            result = minimizer.minimize(net, X, Y, max_iter=epochs - iterations.start, callback=iterations)
        except KeyboardInterrupt:
            interrupted, result = True, None
            history.info["interrupted"] = True
        if result is not None:
            history.info.update({"iterations": int(result.nit), "nfev": int(result.nfev),
                                 "success": bool(result.success), "message": str(result.message)})
            if not math.isfinite(float(result.loss)):
                raise DivergenceError(f"{minimizer.name}: the loss became {result.loss}")
    if not interrupted:
        _train_end(cbs, net, history)
    if checkpoint is not None:
        iterations.save_checkpoint()
    iterations.progress.close()
    net.eval()
    return history


class _Iterations:
    """The minimizer's per-iteration callback: the history record, the callbacks, the
    progress line and the checkpoint of each iteration."""

    def __init__(self, net: Trainable, X: np.ndarray, Y: np.ndarray, minimizer: Minimizer,
                 validation: tuple[np.ndarray, np.ndarray] | None, cbs: list[Any], history: History,
                 checkpoint: str | os.PathLike | None):
        self.net, self.X, self.Y, self.minimizer = net, X, Y, minimizer
        self.validation, self.cbs, self.history, self.checkpoint = validation, cbs, history, checkpoint
        self.start = len(history.records)
        self.t = time.perf_counter()
        self.stopped = False
        self.progress: Progress | None = None
        # the validation set in blocks of the training set's rows (the work arrays the passes
        # already hold), but never fewer than EVAL_MIN_ROWS: a small training set (XOR's 4
        # rows) would otherwise take a large validation set a few rows at a time
        self.val_rows = max(len(X), min(EVAL_MIN_ROWS, len(validation[0]))) if validation is not None else None

    def __call__(self, iteration: int, loss: float) -> bool:
        epoch = self.start + int(iteration)
        record: dict[str, Any] = {"epoch": epoch, "loss": float(loss)}
        record.update(evaluate(self.net, self.X, self.Y, loss=False, work_rows=len(self.X)))
        if self.validation is not None:
            for k, v in evaluate(self.net, *self.validation, work_rows=self.val_rows).items():
                record["val_" + k] = v
        now = time.perf_counter()
        record["seconds"], self.t = now - self.t, now
        self.history.append(record)
        stop = False
        for cb in self.cbs:
            if hasattr(cb, "on_epoch_end") and _wants_stop(cb.on_epoch_end(epoch, record, self.net),
                                                           cb, "on_epoch_end"):
                stop = True
        self.progress.epoch_end(record)
        self.stopped = stop
        if self.checkpoint is not None:  # after every iteration, as for the per-batch optimizers
            self.save_checkpoint()
        return stop

    def save_checkpoint(self) -> None:
        net, opt = self.net, self.minimizer
        ckpt_mod.save(self.checkpoint, ckpt_mod.Checkpoint(
            epoch=len(self.history.records), params=net.parameters(), rng_state=ckpt_mod.capture_rng(net),
            optimizer_name=opt.name, optimizer=opt.state_dict(), history=self.history.to_dict(),
            extra={"stopped": bool(self.stopped), "network": repr(net)},
        ))
