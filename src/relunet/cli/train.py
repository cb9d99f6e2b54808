"""``relunet train``: build, train and evaluate a network on a dataset.

Exit status: 0 trained; 2 bad arguments or data, or training diverged (one line on stderr);
130 interrupted by Ctrl-C (a checkpoint is written first when ``--checkpoint`` or
``--resume`` names one).

After training the outputs are written model first (``--save``, then ``--history``), each on
its own: one that cannot be written costs none of the others. Each failure is one line on
stderr that also says what was saved, the report is still printed, and the status is 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from relunet.cli import common
from relunet.core.contract import DataContract
from relunet.core.network import MLP
from relunet.data import datasets
from relunet.data.datasets import Dataset
from relunet.errors import RelunetError
from relunet.insight.diagnostics import DiagnosticsTracker
from relunet.training.history import History
from relunet.training.minimizers import METHODS

NAME = "train"
HELP = "train a network and report its test accuracy (or MSE)"

_patience = common.numeric(int, lambda v: v >= 1, "a patience (epochs, an integer >= 1)",
                           "the patience must be >= 1")


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_args(p)
    common.add_network_args(p)
    common.add_training_args(p)
    p.add_argument("--augment", default=None, metavar="SPEC",
                   help="data augmentation of the training images (mnist, fashion-mnist, digits): 'hflip' adds a "
                   "fixed mirrored copy of every training image, doubling the training part; 'flip[:P]' and "
                   "'shift[:PIXELS]' (comma-separated, e.g. flip,shift:2) transform each training batch afresh: "
                   "mirror a row with probability P (default 0.5), translate it by up to PIXELS (default 2) "
                   "each way. Mirroring suits mirror-symmetric classes such as Fashion-MNIST's clothing, not digits")
    p.add_argument("--model", choices=["mlp", "perceptron"], default="mlp",
                   help="mlp (default: trained by backpropagation) or perceptron (one layer of step "
                   "or sign units trained by the perceptron rule; --activation step|sign, --epochs, --lr)")
    g = p.add_argument_group("validation, checkpoints")
    g.add_argument("--validation-split", type=common.fraction_arg, default=None, metavar="F",
                   help="hold out this fraction of the training data for validation (stratified for "
                   "classifiers); default none, or 0.1 with --early-stopping")
    g.add_argument("--early-stopping", type=_patience, nargs="?", const=10, default=None, metavar="PATIENCE",
                   help="stop when val_loss has not improved for PATIENCE epochs (default 10) and keep "
                   "the best epoch's weights")
    g.add_argument("--monitor", default=None,
                   help="metric for early stopping and the plateau schedule: val_loss (default with "
                   "validation), val_accuracy, loss, accuracy")
    g.add_argument("--checkpoint", metavar="PATH",
                   help="save weights, optimizer, schedule and random state after every epoch (atomic write) "
                   "and on Ctrl-C")
    g.add_argument("--resume", metavar="PATH",
                   help="continue from a checkpoint up to --epochs in total (same options and seed: the "
                   "result equals an uninterrupted run); keeps checkpointing to PATH unless --checkpoint")
    g.add_argument("--history", metavar="PATH", help="write the per-epoch history as JSON")
    g.add_argument("--save", metavar="PATH",
                   help="write the trained model (safe, atomic file; for relunet predict, diagnose, export "
                   "and relunet.load)")
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of text")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="one plain line per epoch, even on a terminal (default: a live progress bar on "
                   "a terminal, one line per epoch otherwise)")
    g.add_argument("--quiet", "-q", action="store_true", help="no per-epoch progress")
    from relunet.cli.diagnose import add_option

    add_option(p)  # --diagnose: dead / saturated units and gradient norms per epoch


def run_perceptron(args: argparse.Namespace) -> int:
    """``--model perceptron``: the perceptron rule, no derivative needed."""
    from relunet.insight.perceptron import Perceptron

    units = args.activation or "step"
    if units not in ("step", "sign"):
        raise common.ConfigError(f"a perceptron uses --activation step or sign, not {units!r}")
    # options of backpropagation training: silently ignoring them would mislead (no file written, ...)
    for flag, default in (("--hidden", None), ("--output", "auto"), ("--loss", "auto"), ("--init", None),
                          ("--batch-size", None), ("--optimizer", "sgd"), ("--momentum", None),
                          ("--nesterov", False), ("--weight-decay", None), ("--schedule", None),
                          ("--validation-split", None), ("--early-stopping", None), ("--monitor", None),
                          ("--checkpoint", None), ("--resume", None), ("--history", None),
                          ("--save", None), ("--diagnose", False)):
        if getattr(args, flag.lstrip("-").replace("-", "_"), default) != default:
            raise common.ConfigError(f"{flag} does not apply to --model perceptron (one layer of {units} "
                                     "units trained by the perceptron rule: --activation, --epochs, --lr)")
    if common.random_augment(args):
        raise common.ConfigError(f"--augment {args.augment} transforms the batches of backpropagation training, "
                                 "not --model perceptron (its --augment is hflip, fixed mirrored copies)")
    data = common.load_data(args)
    if data.task != "classification":
        raise common.ConfigError(f"a perceptron classifies; {data.name!r} is a regression problem")
    model = Perceptron(units, lr=1.0 if args.lr is None else args.lr, seed=args.seed)
    epochs = 100 if args.epochs is None else args.epochs
    result = model.fit(data.X_train, data.y_train, epochs=epochs)
    out = {"data": data.name, "model": "perceptron", "activation": units, "epochs": result.epochs,
           "converged": result.converged, "mistakes": result.mistakes[-1] if result.mistakes else None,
           "train_accuracy": model.score(data.X_train, data.y_train),
           "test_accuracy": model.score(data.X_test, data.y_test), "message": result.message}
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"perceptron ({units} units) on {data.name}: {result.message}")
        print(f"test_accuracy: {out['test_accuracy']:.4f}  epochs: {result.epochs}")
    return 0


def _is_stdout(path: str) -> bool:
    """True when ``path`` is this process's standard output (``--save /dev/stdout``)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file yet, or stdout has no descriptor
        return False


def run(args: argparse.Namespace) -> int:
    if getattr(args, "save", None) and _is_stdout(args.save):
        # the model file is the output: progress and the summary go to stderr, not into the zip
        with contextlib.redirect_stdout(sys.stderr):
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.model == "perceptron":
        return run_perceptron(args)
    batch_given = args.batch_size is not None  # a number (--batch-size full is None: fine for cg/lbfgs)
    common.resolve_defaults(args)
    kwargs = common.training_kwargs(args)  # unknown optimizer/schedule names fail here
    from relunet.training.minimizers import Minimizer

    if batch_given and args.batch_size is not None and isinstance(kwargs["optimizer"], Minimizer):
        raise common.ConfigError(f"--batch-size does not apply to optimizer {args.optimizer!r}: it works on "
                                 "the full batch (its step comes from a line search over all samples)")
    common.check_outputs(args, "--history", "--checkpoint", "--save")  # before hours of training, not after
    if args.resume:  # the checkpoint read may be written again (--checkpoint), but not replaced by another file
        import os

        for flag in ("--history", "--save"):
            path = getattr(args, flag[2:])
            if path and os.path.realpath(path) == os.path.realpath(args.resume):
                raise common.ConfigError(f"{flag} {path} is also --resume: it would be overwritten; give another file")
    if common.random_augment(args) and isinstance(kwargs["optimizer"], Minimizer):
        raise common.ConfigError(f"--augment {args.augment} transforms each batch: optimizer {args.optimizer!r} works "
                                 "on the fixed full batch (a line search): give a per-batch optimizer (sgd, adam, ...)")
    if args.augment == "hflip" and (args.validation_split or args.early_stopping is not None):
        raise common.ConfigError("--augment does not go with --validation-split or --early-stopping: the "
                                 "validation part would hold mirrored copies of training images")
    monitors_train = bool(args.monitor) and not args.monitor.startswith("val_")
    implied_split = args.early_stopping is not None and args.validation_split is None and not monitors_train
    if implied_split:
        args.validation_split = 0.1
    data = common.load_data(args)
    common.scale_target(args, data)  # a table's regression target, standardised as its inputs
    net = common.build_network(args, data)
    if common.random_augment(args):  # random transforms of each batch (fit's augment=)
        kwargs["augment"] = common.batch_augment(args, data)
    from relunet.cli.diagnose import make_tracker

    tracker = make_tracker(args, data)
    verbose = 0 if (args.json or args.quiet) else (2 if args.verbose else 1)
    checkpoint = args.checkpoint or args.resume
    if verbose:
        print(header(net, data, kwargs["optimizer"], args.schedule, kwargs.get("augment"), args.epochs))
    t0 = time.perf_counter()
    from relunet.cli.verdict import divergence_cause
    from relunet.errors import DivergenceError

    # an overflow in a step is divergence: the engine raises one DivergenceError (epoch,
    # batch, advice) for it (relunet.training.divergence), instead of numpy warnings
    try:
        history = net.fit(
            data.X_train, data.y_train, verbose=verbose,
            validation_split=args.validation_split or 0.0,
            early_stopping=args.early_stopping, monitor=args.monitor or None,
            checkpoint=checkpoint, resume=args.resume, callbacks=[tracker] if tracker else (), **kwargs,
        )
    except common.ConfigError as exc:
        if implied_split and str(exc).startswith("validation_split="):  # say where the split came from
            raise common.ConfigError(f"--early-stopping holds out --validation-split 0.1 for its validation "
                                     f"loss, but {exc}; give --validation-split, or --monitor loss") from None
        raise
    except DivergenceError as exc:  # the epochs before it are worth keeping: --history still written
        if args.history and getattr(exc, "history", None) is not None:
            _report(write_outputs([Output("--history", args.history, exc.history.save, "the history")]))
        cause = divergence_cause(net, data)
        if cause is None:
            raise
        # the set-up cannot train at any rate: the doctor's cause, not "a smaller learning rate"
        raise DivergenceError(f"training diverged at epoch {exc.epoch}, batch {exc.batch}: {cause}") from None
    seconds = time.perf_counter() - t0
    if history.interrupted:  # the checkpoint holds the model; the history is still written
        failed = write_outputs([Output("--history", args.history, history.save, "the history")])
        done = history.records[-1]["epoch"] if history.records else 0
        where = f"; checkpoint saved to {checkpoint} (continue with --resume {checkpoint})" if checkpoint else ""
        print(f"relunet: interrupted after epoch {done}{where}", file=sys.stderr)
        _report(failed)
        return 130
    contract = common.make_contract(args, data)  # the model file carries it: predict / diagnose / export apply it
    # the trained model first, then each side output on its own: one that fails costs nothing else
    failed = write_outputs([Output("--save", args.save, lambda path: save_with_contract(net, contract, path),
                                   "the trained model"),
                            Output("--history", args.history, history.save, "the history")],
                           nothing="nothing else was saved" if args.save
                           else "the trained model was not kept (no --save given)")
    saved = bool(args.save) and not any(line.startswith("--save ") for line in failed)
    try:
        return _print_result(args, net, data, history, seconds, tracker, saved, failed, contract)
    finally:
        _report(failed)


#: the narrowest width the header is wrapped to, whatever the terminal says
MIN_WIDTH = 40


def _optimizer_text(optimizer: object, epochs: int | None) -> str:
    """The optimizer as the header shows it: its repr, but for CG / L-BFGS the settings that
    act (their ``lr`` is ignored, and ``--epochs`` is their iteration limit, not ``max_iter``)."""
    from relunet.training.minimizers import Minimizer

    if not isinstance(optimizer, Minimizer):
        return repr(optimizer)
    cfg = ", ".join(f"{k}={v!r}" for k, v in optimizer.config().items() if k not in ("lr", "max_iter"))
    limit = f"at most {epochs} iterations, " if epochs is not None else ""
    return (f"{type(optimizer).__name__}({cfg}): full batch, {limit}each step's length from a line "
            "search (no learning rate)")


def header(net: MLP, data: Dataset, optimizer: object, schedule: str | None, augment: Any = None,
           epochs: int | None = None) -> str:
    """The text printed before training: the network, the data, the optimizer and the
    schedule. One line when it fits the terminal (``shutil.get_terminal_size()``: $COLUMNS
    first, 80 when the output is not a terminal); else one part a line, each wrapped at
    spaces with an indent, so nothing is cut and no line is wider than the terminal."""
    augmented = f" (with {data.info['augment']} copies)" if data.info.get("augment") else ""
    parts = [repr(net), f"on {data.name}: {len(data.X_train)} train{augmented} / {len(data.X_test)} test samples",
             f"optimizer {_optimizer_text(optimizer, epochs)}"] + ([f"schedule {schedule}"] if schedule else []) \
        + ([f"random augmentation {augment.spec()} per batch"] if augment is not None else [])
    parts[1:-1] = [p + "," for p in parts[1:-1]]
    line = f"{parts[0]}  " + " ".join(parts[1:])
    width = max(shutil.get_terminal_size().columns, MIN_WIDTH)
    if len(line) <= width:
        return line
    lines = textwrap.wrap(parts[0], width, subsequent_indent="    ", break_on_hyphens=False)
    for part in parts[1:]:
        lines += textwrap.wrap(part, width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines)


class Output(NamedTuple):
    """One file a run writes: the flag that names it, its path (None: not asked for), the
    function that writes it (given the path) and what it holds (for messages)."""

    flag: str
    path: str | None
    write: Callable[[str], None]
    what: str


def write_outputs(outputs: list[Output], nothing: str = "nothing else was saved") -> list[str]:
    """Write every output that was asked for, in order, each independently of the others:
    after a failure the next output is still written. Returns one message per failure,
    ``"FLAG PATH: reason; "`` then what was saved (``"the trained model was saved to m"``),
    or ``nothing`` when no output was written."""
    errors, written = [], []
    for o in outputs:
        if not o.path:
            continue
        try:
            o.write(o.path)
        except (OSError, RelunetError, MemoryError) as exc:
            errors.append(f"{o.flag} {o.path}: {_reason(exc)}")
        else:
            written.append(f"{o.what} was saved to {o.path}")
    tail = ", ".join(written) if written else nothing
    return [f"{e}; {tail}" for e in errors]


def _reason(exc: BaseException) -> str:
    """Why a write failed, in one line (an OSError's reason without its ``[Errno n]``)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return " ".join(text.split())


def _report(failed: list[str]) -> None:
    """One ``relunet: error:`` line on stderr per output that could not be written."""
    for line in failed:
        print(f"relunet: error: {line}", file=sys.stderr)


def save_with_contract(net: MLP, contract: DataContract, path: str) -> None:
    """Write ``net`` with its data contract; the network in memory keeps working on the
    transformed inputs (the summary scores ``data`` as it was trained on)."""
    net.contract = contract
    try:
        net.save(path)
    finally:
        net.contract = None


def _print_result(args: argparse.Namespace, net: MLP, data: Dataset, history: History, seconds: float,
                  tracker: DiagnosticsTracker | None, saved: bool, failed: list[str], contract: DataContract) -> int:
    """The report on stdout (text or ``--json``); 2 when an output failed, else 0."""
    from relunet.cli.diagnose import print_report
    from relunet.cli.verdict import format_verdict, verdict

    result = summary(net, data, history, seconds)  # on the inputs as transformed for training
    verdict_ = verdict(net, data, history, result)  # chance level, a dead layer, a loss that never fell
    if verdict_ is not None:
        result["verdict"] = verdict_
    result["scale"] = contract.scale
    if args.augment:  # hflip (the loader's copies) or a random spec
        result["augment"] = args.augment
    if "y_test_raw" in data.info:  # the error in the target's own units, as predict reports it
        pred = contract.inverse_target(net.predict_output(data.X_test))
        y_raw = np.asarray(data.info["y_test_raw"], dtype=float)
        result["test_mse"] = float(np.mean((pred[:, 0] - y_raw) ** 2))
    if failed:
        result["output_errors"] = failed
    if saved:
        result["model"] = args.save
        result["contract"] = contract.describe()
    if args.json:
        print_report(tracker, net, result)
        json.dump(_strict(result), sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        key = "test_accuracy" if "test_accuracy" in result else "test_mse"
        extra = ""
        if "iterations" in result:
            extra = f"  iterations: {result['iterations']}  nfev: {result['nfev']}"
        if result.get("stopped_early"):
            extra += f"  early stop, best epoch: {result['best_epoch']}"
        # a run of 0 epochs has no loss: say so rather than print nan
        loss = f"{result['final_loss']:.4g}" if result["epochs"] else "none (0 epochs)"
        print(f"{key}: {result[key]:.4f}  final_loss: {loss}  "
              f"epochs: {result['epochs']}  time: {seconds:.1f}s{extra}")
        if saved:
            print(f"model saved to {args.save} ({contract.describe()}; predict, diagnose and export "
                  "apply it)")
        print_report(tracker, net)
        if verdict_ is not None:
            print("\n" + format_verdict(verdict_))
    return 2 if failed else 0


def _strict(obj):
    """``obj`` with NaN/inf floats as None: ``--json`` prints strict JSON (e.g. the final
    loss of a run of 0 epochs is null, not NaN)."""
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def summary(net, data, history, seconds: float) -> dict:
    """The JSON report of a training run."""
    out = {
        "data": data.name,
        "sizes": net.sizes,
        "activations": [s if isinstance(s, str) else getattr(s, "name", str(s)) for s in net.activation_specs],
        "loss": net.loss.name,
        "regularization": net.regularization(),
        "epochs": history.epochs,
        "final_loss": history.final_loss,
        "seconds": seconds,
    }
    info = history.info
    out["optimizer"] = info.get("optimizer")
    out["optimizer_config"] = info.get("optimizer_config", {})
    if out["optimizer"] in METHODS:  # CG / L-BFGS ignore lr, and --epochs is their max_iter
        out["optimizer_config"] = {k: v for k, v in out["optimizer_config"].items() if k not in ("lr", "max_iter")}
    for key in ("iterations", "nfev", "stopped_early", "best_epoch", "resumed_from"):
        if key in info:
            out[key] = info[key]
    last = history.records[-1] if history.records else {}
    for key in ("val_loss", "val_accuracy", "lr"):
        if key in last:
            out[key] = last[key]
    if net.task == "classification":
        out["train_accuracy"] = net.score(data.X_train, data.y_train)
        out["test_accuracy"] = net.score(data.X_test, data.y_test)
    else:
        pred = net.predict(data.X_test)
        out["test_mse"] = float(np.mean((pred - data.y_test.reshape(pred.shape)) ** 2))
    return out
