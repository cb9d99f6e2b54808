"""``relunet doctor``: check a network, its loss and data before training, train, then
report dead and saturated units and, on the validation part it holds out, overfitting.

Takes the arguments of ``relunet train``. Exit status: 0 when no errors or warnings were
found (info findings do not count), 1 when the doctor found problems, 2 on bad arguments
(unknown names, bad values, missing data), 130 interrupted by Ctrl-C (before or during training).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from relunet.insight import doctor
from relunet.errors import ConfigError, ConfigWarning, RelunetError
from relunet.cli import common
from relunet.cli.diagnose import add_saturation_args, strict_json

NAME = "doctor"
HELP = ("diagnose why a network would not learn: checks before training, dead/saturated units and "
        "overfitting after")

#: the fraction of the training data the doctor holds out for validation unless told otherwise
VALIDATION_SPLIT = 0.2
#: with fewer training samples than this the doctor holds none out by default (xor has 4)
MIN_SAMPLES_FOR_VALIDATION = 50
#: argparse type of the doctor's ``--validation-split``: a fraction in [0, 1), 0 for none
split_arg = common.numeric(float, lambda v: 0.0 <= v < 1.0, "a fraction",
                           "expected a fraction in [0, 1) (0: no validation part)")

EPILOG = (
    "exit status: 0 no errors or warnings (notes do not count), 1 problems found, "
    "2 bad arguments, 130 interrupted (Ctrl-C). Rules: relunet doctor --list-rules"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    common.add_data_args(p)
    common.add_network_args(p)
    common.add_training_args(p)
    g = p.add_argument_group("doctor")
    g.add_argument("--no-train", action="store_true",
                   help="only the checks before training (no training run)")
    g.add_argument("--no-probe", action="store_true", help="skip the short learning-rate probe")
    g.add_argument("--validation-split", type=split_arg, default=None, metavar="F",
                   help="hold out this fraction of the training data for validation, so that the doctor "
                   f"can see overfitting (default {VALIDATION_SPLIT}; none below "
                   f"{MIN_SAMPLES_FOR_VALIDATION} samples; 0: train on all of it)")
    g.add_argument("--list-rules", action="store_true", help="list the rules the doctor checks and exit")
    add_saturation_args(p)
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        width = max(map(len, doctor.RULES))
        for rule, summary in doctor.RULES.items():
            print(f"{rule.ljust(width)}  {summary}")
        return 0
    common.resolve_defaults(args)
    kwargs = common.training_kwargs(args)  # unknown optimizer/schedule names fail here
    data = common.load_data(args)
    net = common.build_network(args, data, refuse_constant_output=False)  # a finding, not a refusal
    before = doctor.examine(net, data.X_train, data.y_train, lr=args.lr, batch_size=args.batch_size,
                            optimizer=kwargs["optimizer"], probe=not args.no_probe, seed=args.seed)
    split = validation_fraction(args.validation_split, len(data.X_train))
    after: list[doctor.Finding] = []
    trained = False
    note = ""
    if args.no_train:
        note = "not trained (--no-train)"
    elif any(f.severity == "error" for f in before):
        note = "not trained: fix the errors first"
    else:
        try:
            # an overflow is divergence: fit raises one DivergenceError (the engine's policy)
            with warnings.catch_warnings():  # fit's ConfigWarning: the findings above report it
                warnings.simplefilter("ignore", ConfigWarning)
                history = net.fit(data.X_train, data.y_train, verbose=0, validation_split=split, **kwargs)
            if history.interrupted:  # fit stops cleanly on Ctrl-C; the doctor stops too (status 130)
                raise KeyboardInterrupt
            trained = True
        except ConfigError:
            raise  # a bad option (e.g. a --validation-split that leaves no training samples): usage error
        except RelunetError as exc:
            after.append(doctor.Finding(
                "training-failed", "error", "training stopped with an error", str(exc),
                "see the findings above; lower the learning rate if the loss diverged"))
        if trained:
            after += doctor.examine_trained(
                net, data.X_train, data.y_train, saturation_threshold=args.saturation_threshold,
                saturation_min_fraction=args.saturation_min_fraction, history=history)
    problems = doctor.has_problems(before + after)
    if args.json:
        json.dump(strict_json({"data": data.name, "network": repr(net), "trained": trained,
                               "validation_split": split,
                               "before_training": [f.to_dict() for f in before],
                               "after_training": [f.to_dict() for f in after], "problems": problems}),
                  sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        held_out = "" if args.no_train else held_out_text(split)
        print(f"{net}  on {data.name}: {len(data.X_train)} training samples{held_out}")
        print("\n== before training ==")
        print(doctor.format_findings(before))
        print("\n== after training ==")
        if trained or after:
            if trained:
                score = net.score(data.X_test, data.y_test)
                print(f"({'test accuracy' if net.task == 'classification' else 'test R^2'}: {score:.4f})")
            print(doctor.format_findings(after))
        else:
            print(note)
        n = sum(f.severity in ("error", "warning") for f in before + after)
        notes = sum(f.severity == "info" for f in before + after)
        tail = f" ({notes} note(s))" if notes else ""
        print(f"\n{n} problem(s) found{tail}" if problems else f"\nno problems found{tail}")
    return 1 if problems else 0


def validation_fraction(given: float | None, n_samples: int) -> float:
    """The fraction of the training data the doctor holds out: ``given`` (``--validation-split``;
    0 for none), else :data:`VALIDATION_SPLIT`, or 0 below :data:`MIN_SAMPLES_FOR_VALIDATION`
    samples, where a validation part would be too small to say anything and would take
    samples the training needs. The split is the engine's (stratified for classifiers)."""
    if given is not None:
        return float(given)
    return VALIDATION_SPLIT if n_samples >= MIN_SAMPLES_FOR_VALIDATION else 0.0


def held_out_text(split: float) -> str:
    """The report's note on the validation part: its share, or why overfitting is not checked."""
    if split:
        return f", {split:.0%} of them held out for validation (the overfitting check)"
    return " (no validation part: overfitting not checked; --validation-split F holds one out)"
