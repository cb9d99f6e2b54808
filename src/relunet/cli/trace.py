"""``relunet trace``: backpropagation step by step, with the network's real numbers."""

from __future__ import annotations

import argparse
import sys

from relunet.insight.trace import render, trace_steps
from relunet.cli import common

NAME = "trace"
HELP = "print forward pass, loss, deltas, gradients and the update of real training steps"
#: every traced step prints all its numbers: more is a log, not a trace
MAX_STEPS = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_args(p, default="xor")
    common.add_network_args(p)
    p.add_argument("--lr", type=common.positive_float_arg, default=None, help="learning rate of the traced SGD step")
    p.add_argument("--samples", type=common.positive_int_arg, default=1, help="samples in the traced batch (default 1)")
    p.add_argument("--steps", type=common.numeric(int, lambda v: 1 <= v <= MAX_STEPS, "an integer",
                                                  f"expected an integer from 1 to {MAX_STEPS}"),
                   default=1, help=f"number of updates to trace (default 1, at most {MAX_STEPS})")
    p.add_argument("--precision", type=int, default=4, help="decimals shown (default 4)")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")


def run(args: argparse.Namespace) -> int:
    from relunet.cli import CLIError

    if not 0 <= args.precision <= 12:
        raise CLIError("--precision must be between 0 and 12")
    if args.hidden is None:
        args.hidden = "3" if str(args.data).lower() in ("xor", "and", "or") else "8"
    common.resolve_defaults(args)
    data = common.load_data(args)
    net = common.build_network(args, data)
    n = min(args.samples, len(data.X_train))
    if data.task == "classification":
        # the classes are the dataset's, not those of the few traced samples (one sample of
        # three text labels would otherwise be a one-class problem)
        net.encode_targets(data.y_train, len(data.y_train), fit=True)
    tr = trace_steps(net, data.X_train[:n], data.y_train[:n], lr=args.lr, steps=args.steps)
    sys.stdout.write(render(tr, args.format, args.precision))
    return 0
