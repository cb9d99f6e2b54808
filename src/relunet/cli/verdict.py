"""The verdict after ``relunet train``: a run that failed says so, with the likely cause and the fix.

A run has failed when it ends at chance level (a classifier no better than always
answering the most frequent class), when every unit of a hidden layer is dead, or when its
loss never fell. Then the doctor (:mod:`relunet.insight.doctor`) examines the trained
network on (up to 2000 of) the training inputs, and its findings become the cause and the
fix of one paragraph; ``--json`` carries the same as ``verdict``.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from relunet.core.network import MLP
from relunet.data.datasets import Dataset
from relunet.errors import RelunetError
from relunet.training.history import History
from relunet.insight import diagnostics, doctor

#: a classifier within this much of the majority-class rate is at chance level
CHANCE_MARGIN = 0.02
#: the option of ``relunet train`` that applies a doctor rule's fix
CLI_FIXES = {"unscaled-inputs": "--scale standard", "lr-diverges": "a smaller --lr",
             "dead-units": "--activation leaky_relu, or a smaller --lr"}
#: the most training samples the verdict's checks look at
MAX_SAMPLES = 2000


def symptoms(net: MLP, data: Dataset, history: History, result: dict[str, Any]) -> list[str]:
    """What went wrong in a finished run (empty when nothing did), one phrase each."""
    out = []
    if net.task == "classification" and "test_accuracy" in result:
        _, counts = np.unique(np.asarray(data.y_train), return_counts=True)
        chance = float(counts.max() / counts.sum())
        if result["test_accuracy"] <= chance + CHANCE_MARGIN:
            out.append(f"it ended at chance level (test accuracy {result['test_accuracy']:.2f}; always "
                       f"answering the most frequent class gives {chance:.2f})")
    losses = [r["loss"] for r in history.records if "loss" in r and np.isfinite(r["loss"])]
    if len(losses) >= 3 and min(losses[1:]) >= 0.99 * losses[0]:
        out.append(f"its loss never fell (from {losses[0]:.4g} to {losses[-1]:.4g})")
    X = data.X_train[:MAX_SAMPLES]
    try:
        diag = diagnostics.diagnose(net, X)
    except RelunetError:
        return out
    for i, layer in enumerate(diag.layers):
        if not layer.output and layer.dead_fraction is not None and layer.dead_fraction >= 1.0:
            out.append(f"every unit of hidden layer {i + 1} is dead (outputs 0 for every sample)")
    return out


def verdict(net: MLP, data: Dataset, history: History, result: dict[str, Any]) -> dict[str, Any] | None:
    """``{"symptoms", "findings", "text"}`` for a failed run, None for one that worked."""
    found = symptoms(net, data, history, result)
    if not found:
        return None
    X, y = data.X_train[:MAX_SAMPLES], data.y_train[:MAX_SAMPLES]
    findings: list[doctor.Finding] = []
    try:
        findings = doctor.examine(net, X, y, probe=False) + doctor.examine_trained(net, X, y)
    except RelunetError:
        pass
    serious = [f for f in findings if f.severity in ("error", "warning")]
    text = "verdict: this run failed: " + "; ".join(found) + "."
    if serious:
        first = serious[0]
        fix = first.fix.rstrip(". ") + "."
        if first.rule in CLI_FIXES:
            fix += f" On the command line: {CLI_FIXES[first.rule]}."
        text += f" Likely cause: {first.title} ({first.rule}). Fix: {fix}"
        others = sorted({f.rule for f in serious[1:]} - {first.rule})
        if others:
            text += f" Also found: {', '.join(others)} (relunet doctor explains each)."
    else:
        text += (" The doctor found no cause in the network or the data; try more --epochs, another "
                 "--lr, or run relunet doctor with the same options.")
    return {"symptoms": found, "findings": [f.to_dict() for f in serious], "text": text}


def divergence_cause(net: MLP, data: Dataset) -> str | None:
    """The doctor's cause of a diverged run when the set-up itself cannot train (an
    ``error`` finding, e.g. binary cross-entropy on an identity output, whose loss is
    undefined at any learning rate), else None: the divergence's own advice stands."""
    X, y = data.X_train[:MAX_SAMPLES], data.y_train[:MAX_SAMPLES]
    try:
        errors = [f for f in doctor.examine(net, X, y, probe=False) if f.severity == "error"]
    except RelunetError:
        return None
    if not errors:
        return None
    return f"{errors[0].title} ({errors[0].rule}); fix: {errors[0].fix.rstrip('. ')} (relunet doctor explains it)"


def format_verdict(v: dict[str, Any], width: int = 88) -> str:
    """The verdict as one wrapped paragraph."""
    return textwrap.fill(v["text"], width)
