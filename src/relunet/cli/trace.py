"""``relunet trace``: backpropagation step by step, with the network's real numbers.

Without ``--model`` a fresh network is built from the network options; with ``--model`` the
saved model is traced on the data it was trained on (its data contract: the stored split,
scaling and columns), and the file is left unchanged.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from relunet.insight.trace import render, trace_steps
from relunet.cli import common
from relunet.cli.diagnose import contract_data
from relunet.core.network import MLP

NAME = "trace"
HELP = "print forward pass, loss, deltas, gradients and the update of real training steps"
#: every traced step prints all its numbers: more is a log, not a trace
MAX_STEPS = 1000


#: network options that a saved model fixes: (attribute, its unset value, flag)
_NETWORK_OPTIONS = (("hidden", None, "--hidden"), ("activation", None, "--activation"), ("output", "auto", "--output"),
                    ("loss", "auto", "--loss"), ("init", None, "--init"), ("dtype", "float32", "--dtype"),
                    ("dropout", None, "--dropout"), ("input_dropout", None, "--input-dropout"),
                    ("l2", None, "--l2"), ("max_norm", None, "--max-norm"), ("tree", None, "--tree"))


class _DefaultData(str):
    """``--data``'s default (xor), told apart from the same name given on the command line:
    with ``--model`` the default is the model's own dataset."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="trace a saved model (net.save / relunet train --save) on its own data: the split, "
                   "scaling and columns it stores; --data defaults to the dataset it was trained on. "
                   "The file is not changed")
    common.add_data_args(p, default="xor")
    common.add_network_args(p)
    p.set_defaults(data=_DefaultData("xor"), seed=None)  # with --model: the model's dataset and split
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
    if args.model is not None:
        net, X, y = _saved_model_data(args)
    else:
        net, X, y = _fresh_network_data(args)
    n = min(args.samples, len(X))
    tr = trace_steps(net, X[:n], y[:n], lr=args.lr, steps=args.steps)
    sys.stdout.write(render(tr, args.format, args.precision))
    return 0


def _fresh_network_data(args: argparse.Namespace) -> tuple[MLP, np.ndarray, np.ndarray]:
    """A network built from the options, and the training part of ``--data`` (xor by default)."""
    if args.seed is None:
        args.seed = 0
    if args.hidden is None:
        args.hidden = "3" if str(args.data).lower() in ("xor", "and", "or") else "8"
    common.resolve_defaults(args)
    data = common.load_data(args)
    net = common.build_network(args, data)
    if data.task == "classification":
        # the classes are the dataset's, not those of the few traced samples (one sample of
        # three text labels would otherwise be a one-class problem)
        Y = net.encode_targets(data.y_train, len(data.y_train), fit=True)
        net.build_huffman_tree(Y)  # --tree huffman: from the training labels, as fit builds it
    return net, data.X_train, data.y_train


def _saved_model_data(args: argparse.Namespace) -> tuple[MLP, np.ndarray, np.ndarray]:
    """The saved model and the training part of its data, as the network sees it."""
    from relunet import load
    from relunet.cli import CLIError

    for attr, unset, flag in _NETWORK_OPTIONS:
        if getattr(args, attr) != unset:
            raise CLIError(f"{flag}: the model file fixes the network; leave it out with --model")
    net = load(args.model)
    contract = getattr(net, "contract", None)
    if isinstance(args.data, _DefaultData):
        if contract is None or contract.dataset is None:
            raise CLIError(f"{args.model} does not record the data it was trained on; give --data")
        args.data = contract.dataset
    if net.task == "classification" and getattr(net, "classes_", None) is None:
        raise CLIError(f"{args.model} does not record its classes (a model never fitted); "
                       "trace it after training")
    common.resolve_defaults(args)  # the dataset's default learning rate, when --lr is not given
    args.split = "train"
    _, X, y = contract_data(args, net)
    return net, X, y
