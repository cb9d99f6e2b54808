"""``relunet explain [NAME]``: an activation or loss explained, or the output-layer guide."""

from __future__ import annotations

import argparse

from .. import activations
from ..explain import explain

NAME = "explain"
HELP = "explain an activation or loss (no name: which output activation and loss to use)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="activation or loss name (e.g. relu, leaky_relu, cross_entropy)")
    p.add_argument("--plot", metavar="FILE", help="also draw f and f' on one figure (PNG or SVG)")


def run(args: argparse.Namespace) -> int:
    print(explain(args.name), end="")
    if args.plot:
        if args.name is None:
            from . import CLIError

            raise CLIError("--plot needs an activation name")
        from ..plots import plot_activations

        plot_activations([activations.canonical_name(args.name)], args.plot)
        print(f"figure written to {args.plot}")
    return 0
