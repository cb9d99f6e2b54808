"""``relunet doctor``: check a network, its loss and data before training, train, then
report dead and saturated units.

Takes the arguments of ``relunet train``. Exit status: 0 when no errors or warnings were
found (info findings do not count), 1 when the doctor found problems, 2 on bad arguments
(unknown names, bad values, missing data), 130 interrupted by Ctrl-C (before or during training).
"""

from __future__ import annotations

import argparse
import json
import sys

from relunet.insight import doctor
from relunet.errors import RelunetError
from relunet.cli import common
from relunet.cli.diagnose import add_saturation_args, strict_json

NAME = "doctor"
HELP = "diagnose why a network would not learn: checks before training, dead/saturated units after"


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
            history = net.fit(data.X_train, data.y_train, verbose=0, **kwargs)
            if history.interrupted:  # fit stops cleanly on Ctrl-C; the doctor stops too (status 130)
                raise KeyboardInterrupt
            trained = True
        except RelunetError as exc:
            after.append(doctor.Finding(
                "training-failed", "error", "training stopped with an error", str(exc),
                "see the findings above; lower the learning rate if the loss diverged"))
        if trained:
            after += doctor.examine_trained(
                net, data.X_train, data.y_train, saturation_threshold=args.saturation_threshold,
                saturation_min_fraction=args.saturation_min_fraction)
    problems = doctor.has_problems(before + after)
    if args.json:
        json.dump(strict_json({"data": data.name, "network": repr(net), "trained": trained,
                               "before_training": [f.to_dict() for f in before],
                               "after_training": [f.to_dict() for f in after], "problems": problems}),
                  sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(f"{net}  on {data.name}: {len(data.X_train)} training samples")
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
