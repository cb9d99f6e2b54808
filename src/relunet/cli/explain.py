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
    text = explain(args.name)  # an unknown name fails here, listing the known ones
    if args.plot:  # every check before anything is printed: one error line, no half output
        import os

        from ..errors import ConfigError, UnknownNameError
        from ..io import output_target
        from ..plots import FORMATS, plot_activations

        if args.name is None:
            raise ConfigError("--plot needs an activation name")
        try:
            name = activations.canonical_name(args.name)
        except UnknownNameError:  # explain() knew the name, so it is a loss
            raise ConfigError(f"--plot draws an activation's f and f'; {args.name!r} is a loss") from None
        if not activations.ACTIVATIONS[name].elementwise:
            raise ConfigError(f"--plot: {name!r} is not element-wise (its Jacobian is not diagonal): "
                              "no f'(x) curve to draw")
        if os.path.splitext(args.plot)[1].lower().lstrip(".") not in FORMATS:
            raise ConfigError(f"--plot {args.plot!r}: give a file name ending in "
                              + ", ".join("." + f for f in FORMATS))
        try:
            output_target(args.plot)
        except OSError as exc:
            raise ConfigError(f"--plot {args.plot}: {exc.strerror}") from None
        print(text, end="")
        plot_activations([name], args.plot)
        print(f"figure written to {args.plot}")
        return 0
    print(text, end="")
    return 0
