"""``relunet activations``: the activation catalog as a table."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from relunet.core import activations

NAME = "activations"
HELP = "list every activation with its formula, derivative, range and properties"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")


def _flags(props) -> str:
    out = []
    out.append("saturating" if props.saturating else "non-saturating")
    if props.zero_centred:
        out.append("zero-centred")
    if props.monotonic:
        out.append("monotonic")
    out.append("smooth" if props.smooth else "kink")
    return ", ".join(out)


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in activations.names():
        cls = activations.ACTIVATIONS[name]
        rows.append((name, cls.properties))
    if args.json:
        json.dump({n: asdict(p) for n, p in rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    header = ("name", "f(x)", "f'(x)", "range", "properties")
    table = [header] + [(n, p.formula, p.derivative, p.output_range, _flags(p)) for n, p in rows]
    widths = [min(max(len(r[i]) for r in table), 44) for i in range(len(header) - 1)]
    cut = False
    for r in table:
        cells = [c if len(c) <= w else c[: w - 1] + "~" for c, w in zip(r[:-1], widths)]
        cut = cut or any(len(c) > w for c, w in zip(r[:-1], widths))
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r[-1])
    if cut:  # the cut part often holds the defaults (alpha = 1, negative_slope = 0.01)
        print("\n~: cut to fit; relunet explain NAME (or --json) gives the full text, with the "
              "parameters' defaults")
    return 0
