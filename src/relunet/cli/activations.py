"""``relunet activations``: the activation catalog as a table.

The table has one row per activation when it fits the terminal's width (cells longer than
:data:`MAX_CELL` cut and marked ``~``); on a narrower terminal each activation is a block
of lines wrapped to the width, with nothing cut. ``--json`` gives the catalog whole.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from dataclasses import asdict

from relunet.core import activations

NAME = "activations"
HELP = "list every activation with its formula, derivative (and its value at a kink), range and properties"


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


#: the widest a table cell may be before it is cut (marked ``~``)
MAX_CELL = 44
#: the narrowest layout drawn; a smaller terminal still gets this width
MIN_WIDTH = 40
HEADER = ("name", "f(x)", "f'(x)", "at the kink", "range", "properties")


def _table(table: list[tuple[str, ...]]) -> list[str]:
    """One row per activation; cells over :data:`MAX_CELL` are cut and marked ``~``."""
    widths = [min(max(len(r[i]) for r in table), MAX_CELL) for i in range(len(HEADER) - 1)]
    lines = []
    for r in table:
        cells = [c if len(c) <= w else c[: w - 1] + "~" for c, w in zip(r[:-1], widths)]
        cells = [c or "-" for c in cells]  # no kink: f is differentiable everywhere
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r[-1])
    if any(len(c) > w for r in table for c, w in zip(r[:-1], widths)):
        # the cut part often holds the defaults (alpha = 1, negative_slope = 0.01)
        lines += ["", "~: cut to fit; relunet explain NAME (or --json) gives the full text, with the "
                      "parameters' defaults"]
    return lines


def _blocks(table: list[tuple[str, ...]], width: int) -> list[str]:
    """One block per activation, a field a line, long text wrapped to ``width``: nothing is cut
    (an empty field, no kink, is left out)."""
    label = max(len(h) for h in HEADER[1:]) + 4
    lines = []
    for name, *cells in table[1:]:
        lines.append(name)
        for head, text in zip(HEADER[1:], cells):
            lines.extend(textwrap.wrap(text, width, initial_indent=f"  {head}".ljust(label),
                                       subsequent_indent=" " * label, break_on_hyphens=False))
    return lines


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in activations.names():
        cls = activations.ACTIVATIONS[name]
        rows.append((name, cls.properties))
    if args.json:
        json.dump({n: asdict(p) for n, p in rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    table = [HEADER] + [(n, p.formula, p.derivative, p.kink, p.output_range, _flags(p)) for n, p in rows]
    # the terminal's width ($COLUMNS first; 80 when the output is not a terminal)
    width = max(shutil.get_terminal_size().columns, MIN_WIDTH)
    lines = _table(table)
    if max(len(line) for line in lines) > width:
        lines = _blocks(table, width)
    print("\n".join(lines))
    return 0
