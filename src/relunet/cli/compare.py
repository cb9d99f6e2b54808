"""``relunet compare``: the same network and budget with each activation (or each value of
one regularization setting: ``--dropout 0,0.2,0.5``), over several seeds."""

from __future__ import annotations

import argparse
import json
import sys

from relunet.insight import compare
from relunet.errors import ConfigError
from relunet.cli import EPOCHS_HELP, common, set_help

NAME = "compare"
HELP = ("compare hidden activations (or dropout / l2 / max-norm values): same network and budget, "
        "several seeds, mean and std")


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_data_args(p)
    g = p.add_argument_group("comparison")
    g.add_argument("--activations",
                   help="hidden activations to compare, comma-separated "
                        f"(default: {','.join(compare.DEFAULT_ACTIVATIONS)}, those in the catalog)")
    g.add_argument("--seeds", type=_seeds, default=[0, 1, 2, 3, 4],
                   help="a number N (seeds 0..N-1) or a comma-separated list of seeds (default: 5)")
    g.add_argument("--target-accuracy", type=float, default=0.9,
                   help="training accuracy whose first epoch is reported as 'epochs to target' (default: 0.9)")
    g = p.add_argument_group("network")
    g.add_argument("--hidden", help="hidden layer sizes, comma-separated (default: 64)")
    g.add_argument("--output", default="auto", help="output activation (default: auto, as train)")
    g.add_argument("--loss", default="auto", help="loss (default: the one natural for the output)")
    g.add_argument("--init", default=None, help="weight initialisation (default: follows the activation)")
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    g = p.add_argument_group("regularization (one value: shared; several, comma-separated: compared)")
    g.add_argument("--dropout", type=_values(common.dropout_arg), metavar="P[,P...]",
                   help="dropout rate after every hidden layer; e.g. 0,0.2,0.5 compares the three")
    g.add_argument("--l2", type=_values(common.numeric(float, lambda v: v >= 0, "a number", "expected >= 0")),
                   metavar="A[,A...]", help="L2 penalty (scikit-learn's alpha); several: compared")
    g.add_argument("--max-norm", type=_values(common.positive_float_arg), metavar="C[,C...]",
                   help="max-norm cap per unit; several: compared")
    common.add_training_args(p)
    set_help(p, "--epochs", EPOCHS_HELP)  # compare has no --resume
    g = p.add_argument_group("parallelism")
    g.add_argument("--jobs", "-j", type=int, default=None,
                   help="local worker processes (default: all cores; 1 = no parallelism)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster, e.g. tcp://host:8786")
    g = p.add_argument_group("output")
    g.add_argument("--out-json", metavar="FILE", help="write the summary and per-seed results as JSON")
    g.add_argument("--out-csv", metavar="FILE", help="write one CSV line per activation")
    g.add_argument("--out-figure", metavar="FILE", help="bar chart with error bars (.png, .svg, .pdf)")
    g.add_argument("--json", action="store_true", help="print the JSON result on stdout instead of the table")


def _seeds(text: str) -> list[int]:
    try:
        if "," in text:
            seeds = [int(t) for t in text.split(",") if t.strip()]
        else:
            n = int(text)
            if n < 1:
                raise argparse.ArgumentTypeError(f"--seeds must be >= 1, got {n}")
            seeds = list(range(n))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds takes a number or a comma-separated list of integers, got {text!r}") from None
    if len(set(seeds)) != len(seeds) or not seeds:
        raise argparse.ArgumentTypeError(f"--seeds must list distinct integers, got {text!r}")
    return seeds


def _values(parse):
    """argparse type: comma-separated values, each parsed by ``parse``; a list."""

    def values(text: str) -> list:
        out = []
        for t in text.split(","):
            v = parse(t.strip())
            out += v if isinstance(v, list) else [v]
        return out

    return values


def _regularization(args: argparse.Namespace) -> tuple[str | None, list, dict]:
    """``(setting compared or None, its values, the shared settings)`` from the options."""
    given = {k: v for k, v in (("dropout", args.dropout), ("l2", args.l2), ("max_norm", args.max_norm))
             if v is not None}
    varied = [k for k, v in given.items() if len(v) > 1]
    if len(varied) > 1:
        raise ConfigError("compare varies one setting at a time; "
                          f"{' and '.join('--' + k.replace('_', '-') for k in varied)} both list several values")
    shared = {k: v[0] for k, v in given.items() if len(v) == 1}
    if not varied:
        return None, [], shared
    return varied[0], given[varied[0]], shared


def _data(args: argparse.Namespace):
    """What ``compare_activations`` gets: the dataset's name (each seed splits it anew), or,
    when a data option (--target, --scale, --train-samples, --test-size, --task, --data-dir)
    is given or a scaling applies by default (a ``.csv`` table's), the dataset loaded with
    it, split once by the first seed. Returns ``(data, note)``."""
    given = [flag for flag, attr, default in (
        ("--target", "target", None), ("--task", "task", "auto"), ("--scale", "scale", None),
        ("--test-size", "test_size", None), ("--train-samples", "train_samples", None),
        ("--data-dir", "data_dir", None)) if getattr(args, attr, default) != default]
    if "--scale" not in given and common.resolved_scale(args) != "none":
        given.append(f"--scale {common.resolved_scale(args)} (a table's default)")
    if not given:
        return args.data, ""
    args.seed = args.seeds[0]
    return common.load_data(args), f"; one split (seed {args.seed}) for every seed: {', '.join(given)}"


def run(args: argparse.Namespace) -> int:
    common.resolve_defaults(args)
    names = None
    if args.activations:
        names = [a.strip() for a in args.activations.split(",") if a.strip()]
    if args.activations is not None and not names:
        raise ConfigError(f"--activations lists no activation names: {args.activations!r}")
    if args.jobs is not None and args.jobs < 1 and args.jobs != -1:
        raise ConfigError(f"--jobs must be >= 1 (or -1 for all cores), got {args.jobs}")
    if args.out_figure:
        from relunet.insight.plots import FORMATS

        ext = args.out_figure.rsplit(".", 1)[-1].lower() if "." in args.out_figure else ""
        if ext not in FORMATS:  # fail before training, not after
            raise ConfigError(f"--out-figure {args.out_figure!r}: give a name ending in "
                              + ", ".join("." + f for f in FORMATS))
    common.check_outputs(args, "--out-json", "--out-csv", "--out-figure")  # before training, not after
    if args.hidden is not None and not common.parse_hidden(args.hidden):
        raise ConfigError("--hidden '' means no hidden layer: there is no hidden activation to compare")
    if args.schedule:  # compare_activations trains at a constant rate: no schedule to pass on
        raise ConfigError("--schedule does not apply to relunet compare (every trial trains at the constant "
                          "--lr); compare schedules with relunet train --schedule")
    common.training_kwargs(args)  # unknown optimizer names, options that do not apply: fail before training
    setting, values, shared = _regularization(args)
    if setting is not None and names is not None and len(names) > 1:
        raise ConfigError(f"--{setting.replace('_', '-')} lists several values: give one --activations "
                          "(compare varies one thing at a time)")
    data, split_note = _data(args)
    options = dict(hidden=common.parse_hidden(args.hidden), epochs=args.epochs,
                   batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                   optimizer_params=common.optimizer_params(args), output=args.output,
                   loss=args.loss, init=args.init, dtype=args.dtype, target_accuracy=args.target_accuracy,
                   jobs=args.jobs, scheduler=args.scheduler, regularization=shared)
    if setting is None:
        result = compare.compare_activations(data, names, args.seeds, **options)
    else:
        result = compare.compare_regularization(data, setting, values, args.seeds,
                                                activation=(names or ["relu"])[0], **options)
    if args.json:
        json.dump(result.to_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{args.data}: hidden {args.hidden or 'none'}, {args.epochs} epochs, lr {args.lr}, "
              f"batch {args.batch_size or 'full'}, {args.optimizer}; seeds {args.seeds}{split_note}")
        print(result.table())
    if args.out_json:
        result.save_json(args.out_json)
    if args.out_csv:
        result.save_csv(args.out_csv)
    if args.out_figure:
        from relunet.insight.plots import plot_comparison

        plot_comparison(result, args.out_figure)
    return 0
