"""Training progress on the console.

Three modes, chosen from ``verbose`` and the stream:

* ``verbose=0``: silent;
* ``verbose=1`` on a terminal: a live single-line bar, rewritten in place with ``\\r``:
  ``epoch 3/10 [=====>    ] 45/100 loss 0.1234 acc 0.9500 12.3k samples/s ETA 0:42``;
  at the end of each epoch the line is completed with the epoch's metrics and kept;
* ``verbose=1`` when the stream is not a terminal (a pipe, a file, CI logs), or
  ``verbose=2``: one plain line per epoch, no control characters.

The bar redraws at most every ``min_interval`` seconds (0.1 s: 10 times a second), so
the per-batch cost is one clock read and a comparison -- online learning (one update per
sample) is not slowed measurably.

During an epoch the loss shown is the running mean of the batch losses so far; the
accuracy shown is the last completed epoch's (counted over the epoch's batches, or with
``exact_train_metrics`` an evaluation pass after it). While an evaluation pass runs
(validation data, exact training metrics) the bar reads ``... 100/100 loss 0.1234 evaluating...``.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Any, TextIO

#: keys of the epoch record printed at the end of each epoch, and their short labels
_SHOWN = (
    ("loss", "loss"),
    ("accuracy", "acc"),
    ("val_loss", "val_loss"),
    ("val_accuracy", "val_acc"),
    ("lr", "lr"),
    ("dead_fraction", "dead"),  # with the diagnostics tracker (train --diagnose)
)


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.1f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def format_record(record: dict[str, Any]) -> str:
    """The metrics of one epoch record as ``loss 0.1234 acc 0.9500 ...``."""
    parts = []
    for key, label in _SHOWN:
        v = record.get(key)
        if isinstance(v, (int, float)):
            parts.append(f"{label} {v:.4g}" if key == "lr" else f"{label} {v:.4f}")
    for key in ("iterations", "nfev"):
        if key in record:
            parts.append(f"{key} {record[key]}")
    if "seconds" in record:
        parts.append(f"{record['seconds']:.2f}s")
    return " ".join(parts)


class Progress:
    """Console progress for one training run.

    Args:
        epochs: the last epoch number (total epochs of the run).
        n_samples: training samples per epoch.
        n_batches: optimizer steps per epoch.
        verbose: 0 silent, 1 bar on a terminal / lines otherwise, 2 lines always.
        stream: where to write (default: ``sys.stdout`` at construction time).
        min_interval: seconds between two redraws of the bar.
        first_epoch: the epoch training starts from (after a resume, the checkpoint's + 1).
    """

    def __init__(
        self,
        epochs: int,
        n_samples: int,
        n_batches: int,
        verbose: int = 1,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        first_epoch: int = 1,
    ):
        self.stream = stream if stream is not None else sys.stdout
        self.epochs = epochs
        self.n_samples = n_samples
        self.n_batches = max(1, n_batches)
        self.min_interval = min_interval
        isatty = getattr(self.stream, "isatty", None)
        tty = bool(isatty and isatty())
        if not verbose:
            self.mode = "off"
        elif verbose == 1 and tty:
            self.mode = "bar"
        else:
            self.mode = "lines"
        self.enabled = self.mode != "off"
        # A bar longer than the terminal wraps, and "\r" then redraws only the last row.
        self._cols = shutil.get_terminal_size((100, 24)).columns if self.mode == "bar" else 0
        self._first_epoch = first_epoch
        self._t_start = time.perf_counter()
        self._epoch_seconds: list[float] = []
        self._last_acc: float | None = None
        self._epoch = first_epoch
        self._t_epoch = self._t_start
        self._next_draw = 0.0
        self._width = 0
        self._loss = math.nan  # the running mean of the batch losses of this epoch

    # -- hooks called by the training loop -----------------------------------
    def epoch_begin(self, epoch: int) -> None:
        self._epoch = epoch
        self._loss = math.nan
        self._t_epoch = time.perf_counter()
        self._next_draw = self._t_epoch + self.min_interval

    def batch_end(self, batch: int, seen: int, loss_sum: float) -> None:
        """After batch ``batch`` (from 1); ``seen`` samples so far, ``loss_sum`` their summed loss."""
        if self.mode != "bar":
            return
        self._loss = loss_sum / max(seen, 1)
        now = time.perf_counter()
        if now < self._next_draw:
            return
        self._next_draw = now + self.min_interval
        self._draw(self._bar_line(batch, seen, loss_sum / max(seen, 1), now))

    def evaluating(self) -> None:
        """The epoch's steps are done and its evaluation pass runs (a pass over the training
        and validation sets, which may take as long as the steps): the bar says so rather
        than sit still. Plain lines and silence print nothing (the epoch's line follows)."""
        if self.mode != "bar":
            return
        n = self.n_batches
        self._draw(f"epoch {self._epoch}/{self.epochs} [{'=' * 20}] {n}/{n} loss {self._loss:.4f} evaluating...")

    def epoch_end(self, record: dict[str, Any]) -> None:
        self._epoch_seconds.append(float(record.get("seconds", 0.0)))
        if "accuracy" in record:
            self._last_acc = record["accuracy"]
        if self.mode == "off":
            return
        line = f"epoch {record['epoch']}/{self.epochs} {format_record(record)}"
        if self.mode == "bar":
            self._draw(line)
            self.stream.write("\n")
            self._width = 0
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of text that does not get overwritten by the bar."""
        if self.mode == "off":
            return
        if self.mode == "bar" and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.mode == "bar" and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    # -- drawing ---------------------------------------------------------------
    def _bar_line(self, batch: int, seen: int, loss: float, now: float) -> str:
        elapsed = now - self._t_epoch
        rate = seen / elapsed if elapsed > 0 else 0.0
        frac = batch / self.n_batches
        width = 20
        filled = int(width * frac)
        bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
        # ETA: the rest of this epoch at the current rate, plus the remaining epochs at the
        # mean epoch time so far (or this epoch's projected time before one has completed).
        rest = (self.n_samples - seen) / rate if rate > 0 else math.inf
        per_epoch = (
            sum(self._epoch_seconds) / len(self._epoch_seconds)
            if self._epoch_seconds
            else elapsed + rest
        )
        eta = rest + (self.epochs - self._epoch) * per_epoch
        acc = f" acc {self._last_acc:.4f}" if self._last_acc is not None else ""
        return (
            f"epoch {self._epoch}/{self.epochs} [{bar}] {batch}/{self.n_batches} "
            f"loss {loss:.4f}{acc} {_fmt_rate(rate)} samples/s ETA {_fmt_time(eta)}"
        )

    def _draw(self, line: str) -> None:
        if self._cols > 1:
            line = line[: self._cols - 1]
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)
