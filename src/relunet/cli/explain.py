"""``relunet explain [NAME]``: an activation or loss explained, or the output-layer guide."""

from __future__ import annotations

import argparse

from relunet.insight.explain import explain

NAME = "explain"
HELP = "explain an activation or loss (no name: which output activation and loss to use)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="activation or loss name (e.g. relu, leaky_relu, cross_entropy)")
    p.add_argument("--plot", metavar="FILE", help="also draw f and f' on one figure (PNG, SVG or PDF); softmax and the losses over one logit")


def run(args: argparse.Namespace) -> int:
    text = explain(args.name)  # an unknown name fails here, listing the known ones
    if args.plot is not None:  # every check before anything is printed: one error line, no half output
        import os

        from relunet.errors import ConfigError
        from relunet.io.archive import output_target
        from relunet.insight.plots import FORMATS, plot_explained

        if args.name is None:
            raise ConfigError("--plot needs an activation or loss name")
        if os.path.splitext(args.plot)[1].lower().lstrip(".") not in FORMATS:
            raise ConfigError(f"--plot {args.plot!r}: give a file name ending in "
                              + ", ".join("." + f for f in FORMATS))
        try:
            output_target(args.plot)
            # drawn before the text is printed: a write that fails only now (a folder that
            # passes the access checks but refuses new files, a full disk) is one error line
            # naming --plot and the user's path, not a temporary file's name after the text
            plot_explained(args.name, args.plot)
        except OSError as exc:
            raise ConfigError(f"--plot {args.plot}: {exc.strerror or exc}") from None
        print(text, end="")
        print(f"figure written to {args.plot}")
        return 0
    print(text, end="")
    return 0
