"""``relunet plot``: figures as PNG/SVG/PDF files (headless).

    relunet plot activations [NAMES ...] --out act.png     each f with f'
    relunet plot history HISTORY.json --out curves.svg     loss and accuracy per epoch
    relunet plot compare RESULT.json --out bars.png        a ``relunet compare --out-json`` file
    relunet plot dead-units FILE.json --out dead.png       dead-unit fraction per layer per epoch
    relunet plot gradients FILE.json --out grads.png       gradient norm per layer per epoch
    relunet plot boundary --data xor --out xor.png         train, then draw the decision boundary
"""

from __future__ import annotations

import argparse
import os
import re

from relunet.errors import DataError
from relunet.cli import EPOCHS_HELP, common, set_help

NAME = "plot"
HELP = "draw figures: activations, training curves, diagnostics, comparisons, decision boundaries"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="figure", metavar="FIGURE", required=True)

    a = sub.add_parser("activations", help="each activation with its derivative",
                       description="each activation f(x) with its derivative f'(x)")
    a.add_argument("names", nargs="*", help="activation names (space or comma separated; default: all; "
                   "softmax and log_softmax, not element-wise, are drawn on the logits (x, 0))")
    a.add_argument("--range", dest="x_range", type=_range, default=None, metavar="LOW,HIGH",
                   help="x range (default: -5,5, widened where an activation has a kink outside it: "
                   "relu6's clip at 6)")
    a.add_argument("--cols", type=_positive_int("--cols"), default=None, help="panels per row")
    # NOTE: argparse takes "-5,5" for an option (it is no plain negative number) unless told
    # otherwise: values that start with "-" and a digit are values here (--range -5,5).
    # argparse has no public setting for this; its private matcher is the only hook short of
    # rewriting argv, and this parser has no option that starts with "-" and a digit.
    a._negative_number_matcher = re.compile(r"^-\.?\d")
    _out(a)

    h = sub.add_parser("history", help="loss and accuracy curves from a history JSON file")
    h.add_argument("file", help="history JSON (History.save, or a file holding 'records')")
    _out(h)

    c = sub.add_parser("compare", help="a comparison's metrics as bars with error bars")
    c.add_argument("file", help="JSON written by relunet compare --out-json")
    c.add_argument("--metrics", help="comma-separated metrics (default: all)")
    _out(c)

    for name, what in (("dead-units", "dead-unit fraction"), ("gradients", "gradient norm")):
        d = sub.add_parser(name, help=f"{what} per layer over epochs from a JSON file",
                           description=f"{what} per layer over epochs, from the history file that "
                           "relunet train --diagnose --history FILE writes, the output of relunet train "
                           "--diagnose --json, or a JSON of {layer: [value per epoch]}, a list over epochs "
                           "of per-layer lists or dicts, or one of those under the key "
                           f"{'dead_fraction' if name == 'dead-units' else 'gradient_norms'!r}.")
        d.add_argument("file", help="a history written by relunet train --diagnose --history FILE, "
                       "or relunet train --diagnose --json output")
        _out(d)

    b = sub.add_parser("boundary", help="train on a 2-D dataset and draw the decision boundary")
    common.add_data_args(b, default="xor")
    common.add_network_args(b)
    common.add_training_args(b)
    set_help(b, "--epochs", EPOCHS_HELP)  # plot boundary has no --resume
    b.add_argument("--resolution", type=_positive_int("--resolution", 2, MAX_RESOLUTION), default=200,
                   help=f"pixels per side (default: 200, at most {MAX_RESOLUTION})")
    _out(b)


#: the largest --resolution: the grid is resolution^2 forward passes held in memory
MAX_RESOLUTION = 2000


def _positive_int(flag: str, low: int = 1, high: int | None = None):
    """argparse type: an integer in [low, high] (high None: no upper bound)."""
    bound = f"between {low} and {high}" if high is not None else f">= {low}"
    return common.numeric(int, lambda v: v >= low and (high is None or v <= high),
                          "an integer", f"{flag} must be {bound}")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="output file: .png, .svg or .pdf")


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, e.g. -5,5; got {text!r}") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"LOW must be below HIGH, got {text!r}")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    from relunet.insight import plots

    out = args.out
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    if ext not in plots.FORMATS:  # fail before any training or reading
        raise DataError(f"--out {out!r}: give a file name ending in " + ", ".join("." + f for f in plots.FORMATS))
    common.check_outputs(args, "--out")  # a missing folder fails now, not after training
    fig = args.figure
    if fig == "activations":
        names = [n.strip() for arg in args.names for n in arg.split(",") if n.strip()] or None
        plots.plot_activations(names, out, x_range=args.x_range, ncols=args.cols)
    elif fig == "history":
        plots.plot_history(args.file, out, title=os.path.basename(args.file))
    elif fig == "compare":
        metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
        plots.plot_comparison(args.file, out, metrics=metrics)
    elif fig == "dead-units":
        plots.plot_dead_units(plots.read_json(args.file), out)
    elif fig == "gradients":
        plots.plot_gradient_norms(plots.read_json(args.file), out)
    elif fig == "boundary":
        common.resolve_defaults(args)
        data = common.load_data(args)
        if data.n_features != 2:
            raise DataError(f"dataset {data.name!r} has {data.n_features} features; "
                            "a decision boundary needs 2 (e.g. xor, spirals, moons)")
        if data.task != "classification":
            raise DataError(f"a decision boundary needs classes; {data.name!r} is a regression problem")
        net = common.build_network(args, data)
        net.fit(data.X_train, data.y_train, **common.training_kwargs(args))
        acc = net.score(data.X_train, data.y_train)
        plots.plot_decision_boundary(
            net, data.X_train, data.y_train, out, resolution=args.resolution,
            title=f"{data.name}: {args.activation} {args.hidden}, train accuracy {acc:.3f}")
    print(f"wrote {out}")
    return 0
