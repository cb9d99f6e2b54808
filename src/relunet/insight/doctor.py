"""The network doctor: "why is my network not learning?", answered before and after training.

:func:`examine` inspects a network, its loss and the data *before* training and returns
a list of :class:`Finding` (rule id, severity, explanation, fix). :func:`examine_trained`
looks at a trained network (dead and saturated units, vanishing gradients).
``relunet doctor`` runs both around a training run with the arguments of ``relunet train``.

Severities: ``"error"`` (training cannot work as set up), ``"warning"`` (it will probably
train badly), ``"info"`` (worth knowing, no action needed). :func:`has_problems` is True
when there is an error or a warning; that is what makes ``relunet doctor`` exit with 1.

Rules (``RULES`` maps each id to its one-line summary):

=====================================  =================================================
rule                                   fires when
=====================================  =================================================
classification-target-as-regression    MSE loss and a target of few integer / 0-1 values
regression-target-with-classifier      cross-entropy loss and a continuous target
softmax-single-unit                    softmax over one output unit (always 1)
log-softmax-single-unit                log_softmax over one output unit (always 0), e.g.
                                       ``--output log_softmax`` on two classes
softmax-with-mse                       softmax output trained with MSE
softmax-with-bce                       softmax output trained with binary cross-entropy
relu-output-classifier                 a ReLU-family (unbounded) output for classification
sigmoid-multiclass                     sigmoid outputs for single-label multi-class targets
output-loss-mismatch                   a cross-entropy loss on an output that is not a
                                       probability in (0, 1)
single-unit-relu-layer                 a hidden layer of one unit that can die (ReLU)
non-differentiable-activation          step/sign in a network trained by gradients
unscaled-inputs                        a feature with |mean| > 5 or std > 5 (or all tiny)
init-activation-mismatch               weight scale compounding away from the activation's
                                       initialisation (variance x3 or /3 through the layers)
dead-units                             ReLU-family units dead on every sample
saturated-units                        sigmoid/tanh-like units flat on every sample
vanishing-gradients                    first-layer relative gradient < 1e-3 x the last's
lr-diverges                            a 20-step probe of the learning rate: loss NaN or x2
lr-kills-units                         the probe leaves >= 25% more units dead
overfitting                            (with a training history holding val_loss) the
                                       validation loss rose >= 10% above its best while
                                       the training loss kept falling, and the gap grew
target-mismatch                        ``fit`` could not encode the targets for the output
=====================================  =================================================
"""

from __future__ import annotations

import copy
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from relunet.training import optimizers
from relunet.training.callbacks import Callback
from relunet.training.engine import Run
from relunet.training.minimizers import Minimizer
from relunet.insight.diagnostics import Diagnosis, can_die, diagnose, is_saturating
from relunet.errors import ConfigError, DivergenceError, RelunetError
from relunet.core.layers import ActivationLayer
from relunet.core.losses import POOR_PAIRS, log_of_non_probabilities
from relunet.core.network import MLP

__all__ = ["Finding", "RULES", "examine", "examine_trained", "check_overfitting", "has_problems",
           "format_findings", "target_kind"]

SEVERITIES = ("error", "warning", "info")

RULES: dict[str, str] = {
    "classification-target-as-regression": "class labels trained as regression (MSE)",
    "regression-target-with-classifier": "a continuous target given to a classifier",
    "softmax-single-unit": "softmax over a single output unit",
    "log-softmax-single-unit": "log_softmax over a single output unit (always 0)",
    "softmax-with-mse": "softmax output trained with mean squared error",
    "softmax-with-bce": "softmax output trained with binary cross-entropy",
    "relu-output-classifier": "a ReLU-family output activation in a classifier",
    "sigmoid-multiclass": "independent sigmoids for single-label multi-class targets",
    "output-loss-mismatch": "a cross-entropy loss on outputs that are not probabilities",
    "single-unit-relu-layer": "a hidden layer of a single unit that can die",
    "non-differentiable-activation": "step/sign activations trained by gradient descent",
    "unscaled-inputs": "input features far from mean 0 / std 1",
    "init-activation-mismatch": "weight initialisation that does not fit the activation",
    "dead-units": "ReLU units that output 0 for every sample",
    "saturated-units": "saturating units stuck in their flat region",
    "vanishing-gradients": "gradients orders of magnitude smaller in the first layers",
    "lr-diverges": "the learning rate makes the loss blow up in a short probe",
    "lr-kills-units": "the learning rate kills ReLU units within a few steps",
    "target-mismatch": "targets that do not fit the output layer and loss",
    "overfitting": "a growing gap between training and validation loss",
    "training-failed": "(relunet doctor) training stopped with an error",
}

#: at most this many distinct integer values make a target look like class labels
MAX_CLASSES = 20


@dataclass
class Finding:
    """One problem the doctor found.

    Attributes:
        rule: the rule id (a key of :data:`RULES`).
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        title: one line.
        explanation: one paragraph: what is wrong and why it hurts.
        fix: what to do instead, concretely (argument values where there are some).
        layer: the layer concerned (``"hidden 2"``, ``"output"``, ``"dense 1"``) or None.
        details: the measured numbers behind the finding (JSON-serialisable).
    """

    rule: str
    severity: str
    title: str
    explanation: str
    fix: str
    layer: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, width: int = 88) -> str:
        head = f"[{self.severity}] {self.rule}" + (f" ({self.layer})" if self.layer else "") + f": {self.title}"
        body = textwrap.fill(self.explanation, width, initial_indent="  ", subsequent_indent="  ")
        fix = textwrap.fill("fix: " + self.fix, width, initial_indent="  ", subsequent_indent="       ")
        return "\n".join([head, body, fix])


def has_problems(findings: list[Finding]) -> bool:
    """True when a finding is an error or a warning (``relunet doctor`` then exits with 1)."""
    return any(f.severity in ("error", "warning") for f in findings)


def format_findings(findings: list[Finding], width: int = 88) -> str:
    if not findings:
        return "(no findings)"
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return "\n\n".join(f.format(width) for f in sorted(findings, key=lambda f: order[f.severity]))


# ---------------------------------------------------------------------------
# The target
# ---------------------------------------------------------------------------


def target_kind(y: Any) -> dict[str, Any]:
    """What a target looks like: ``{"kind": "classification" | "regression", ...}``.

    Classification: strings or booleans; integer values (``1.0`` counts) with at most
    :data:`MAX_CLASSES` distinct values; a 0/1 matrix (``"one_hot"`` when each row has
    exactly one 1, else ``"multi_label"``). Anything else is regression. Also gives
    ``n_classes`` (classification) and ``single_label``.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.dtype.kind in "biuf" and np.isin(y, (0, 1)).all():
            one_hot = bool((y.sum(axis=1) == 1).all())
            return {"kind": "classification", "n_classes": int(y.shape[1]), "single_label": one_hot,
                    "form": "one_hot" if one_hot else "multi_label"}
        return {"kind": "regression", "n_targets": int(y.shape[1])}
    if y.dtype.kind in "USOb":
        try:
            n_classes = int(len(np.unique(y)))
        except TypeError:  # numbers and strings mixed in an object array
            from relunet.errors import TargetTypeError

            raise TargetTypeError("y mixes labels of different types (e.g. numbers and strings)") from None
        return {"kind": "classification", "n_classes": n_classes, "single_label": True, "form": "labels"}
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            return {"kind": "regression", "n_targets": 1, "distinct": int(len(np.unique(y)))}
    distinct = np.unique(y)
    if len(distinct) <= MAX_CLASSES:
        return {"kind": "classification", "n_classes": int(len(distinct)), "single_label": True,
                "form": "labels", "values": distinct[:MAX_CLASSES].tolist()}
    return {"kind": "regression", "n_targets": 1, "distinct": int(len(distinct))}


def _classifier_fix(n_classes: int) -> str:
    if n_classes <= 2:
        return ("use one sigmoid output unit with binary cross-entropy (output='sigmoid', "
                "loss='binary_cross_entropy'; on the command line --output sigmoid --loss bce), "
                "or two softmax units with cross-entropy (output='softmax', loss='cross_entropy')")
    return (f"use {n_classes} softmax output units with cross-entropy (output='softmax', "
            "loss='cross_entropy'; on the command line --output softmax --loss cross_entropy)")


# ---------------------------------------------------------------------------
# The rules before training
# ---------------------------------------------------------------------------


def _activation_layers(net: MLP) -> list[ActivationLayer]:
    return [l for l in net.layers if isinstance(l, ActivationLayer)]


def _layer_name(i: int, n_act: int) -> str:
    return "output" if i == n_act - 1 else f"hidden {i + 1}"


def _class_indices(net: MLP, y: Any) -> bool:
    """True when ``y`` holds integer labels ``0..K-1`` of a classifier with ``K`` outputs
    (more than :data:`MAX_CLASSES`: a vocabulary, say), which are classes, not a continuous target."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iuf" or len(y) == 0:
        return False
    if not (np.isfinite(y).all() and np.all(y == np.round(y))):
        return False
    return bool(y.min() >= 0 and y.max() < net.n_outputs and net.n_outputs > MAX_CLASSES)


def _check_target(net: MLP, y: Any) -> tuple[list[Finding], dict[str, Any]]:
    kind = target_kind(y)
    out: list[Finding] = []
    task = net.loss.task
    if task == "regression" and kind["kind"] == "classification":
        k = kind["n_classes"]
        out.append(Finding(
            "classification-target-as-regression", "warning",
            f"the target holds {k} distinct class values but the loss is {net.loss.name} (regression)",
            f"The target looks like class labels ({k} distinct integer or 0/1 values), yet the network "
            f"is trained to regress them with {net.loss.name}. Squared error treats labels as ordered "
            "numbers, punishes confident correct answers beyond the label, and through a squashing or "
            "rectifying output gives gradients that vanish exactly where the prediction is most wrong; "
            "the outputs are not probabilities either.",
            _classifier_fix(k),
            details=kind,
        ))
    if task == "classification" and kind["kind"] == "regression" and not _class_indices(net, y):
        out.append(Finding(
            "regression-target-with-classifier", "error",
            f"the target is continuous but the loss is {net.loss.name} (classification)",
            "The target holds real (non-integer) values, or more distinct values than a set of classes "
            f"would have, but the network is a classifier ({net.loss.name}): every distinct value would "
            "become its own class, with nothing learned about how close two values are.",
            "use a linear output with mean squared error (output='identity', loss='mse'; on the command "
            "line --output identity --loss mse), and standardise the target",
            details=kind,
        ))
    return out, kind


#: the doctor's explanation of each pair ``MLP.fit`` warns of (:data:`relunet.core.losses.POOR_PAIRS`,
#: by rule), and the command-line form its fix adds
_POOR_PAIR_TEXTS: dict[str, tuple[str, str]] = {
    "softmax-with-mse": (
        "Mean squared error on softmax probabilities passes the error through the softmax Jacobian "
        "s_i (delta_ij - s_j), which goes to 0 when a probability is near 0 or 1: a confidently "
        "wrong prediction gets almost no gradient. Cross-entropy fused with softmax gives the "
        "gradient p - y instead, large exactly when the prediction is wrong.",
        " (--loss cross_entropy)"),
    "softmax-with-bce": (
        "Binary cross-entropy scores every output as an independent yes/no probability, but "
        "softmax ties the outputs together (they sum to 1): the loss then also pushes down each "
        "wrong class separately, through the softmax Jacobian s_i (delta_ij - s_j), instead of "
        "the fused cross-entropy gradient p - y. One class per sample wants cross-entropy; "
        "several labels per sample want independent sigmoids.",
        ""),
}


def _check_output(net: MLP, kind: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    act = net.output_activation
    name = act.name
    k = net.n_outputs
    loss = net.loss
    classification = loss.task == "classification" or kind["kind"] == "classification"
    n_classes = kind.get("n_classes", max(k, 2))
    if name == "softmax" and k == 1:
        out.append(Finding(
            "softmax-single-unit", "error", "softmax over a single output unit",
            "Softmax normalises its inputs to sum to 1, so over one unit it outputs 1 for every input; "
            "its gradient is 0 and the network cannot learn anything.",
            _classifier_fix(2), layer="output",
        ))
    if name == "log_softmax" and k == 1:
        out.append(Finding(
            "log-softmax-single-unit", "error", "log_softmax over a single output unit: it is always 0",
            "Log-softmax subtracts the log-sum-exp of its inputs, so over one unit it outputs log 1 = 0 "
            "for every input; its gradient is 0 and the network cannot learn anything. Two classes get "
            "a single output unit unless the output is softmax.",
            _classifier_fix(2) if classification else
            "use a linear output (output='identity'; on the command line --output identity)",
            layer="output",
        ))
    # the pairs MLP.fit warns of (losses.POOR_PAIRS): their rule names and fixes from there
    pair = POOR_PAIRS.get((name, loss.name))
    if pair is not None:
        explanation, option = _POOR_PAIR_TEXTS[pair.rule]
        out.append(Finding(pair.rule, "warning", RULES[pair.rule], explanation, pair.fix + option,
                           layer="output"))
    unbounded = act.properties.output_range.replace(" ", "").endswith(("inf)", "inf]"))
    if classification and name != "identity" and unbounded and name != "softmax":
        out.append(Finding(
            "relu-output-classifier", "warning",
            f"{_article(name)} {name} output activation in a classifier",
            f"The output activation {name} is unbounded above (range {act.properties.output_range}), so "
            "its outputs are not probabilities and nothing keeps them comparable across classes"
            + ("; worse, a ReLU output unit whose input falls below 0 for every sample outputs 0 "
               "forever and gets no gradient, so the network can get stuck predicting one class"
               if can_die(act) else "")
            + ". A classifier needs a probability output and a likelihood loss.",
            _classifier_fix(n_classes), layer="output",
        ))
    if name == "sigmoid" and k > 1 and kind["kind"] == "classification" and kind.get("single_label") \
            and kind.get("n_classes", 0) > 2:
        out.append(Finding(
            "sigmoid-multiclass", "warning",
            f"{k} independent sigmoid outputs for {kind['n_classes']} mutually exclusive classes",
            "Each sample belongs to exactly one class, but independent sigmoids treat the classes as "
            "separate yes/no questions (multi-label): the probabilities need not sum to 1 and the "
            "classes do not compete.",
            _classifier_fix(kind["n_classes"]), layer="output",
        ))
    if loss.task == "classification" and name != loss.output and name not in ("softmax", "sigmoid"):
        rng = act.properties.output_range
        out.append(Finding(
            "output-loss-mismatch", "error" if log_of_non_probabilities(act, loss) else "warning",
            f"{loss.name} on {_article(name)} {name} output (range {rng})",
            f"{loss.name} takes the log of predicted probabilities, which must lie in (0, 1); {_article(name)} {name} "
            f"output ranges over {rng}, so the loss is clipped or undefined and its gradient meaningless.",
            f"use output='{loss.output}' with loss='{loss.name}'", layer="output",
        ))
    return out


def _article(name: str) -> str:
    """'an' before an activation's name that is read with a vowel sound first (an identity,
    an elu output), else 'a'."""
    return "an" if name[:1].lower() in "aeiou" else "a"


def _check_layers(net: MLP) -> list[Finding]:
    out: list[Finding] = []
    acts = _activation_layers(net)
    dense = net.dense_layers
    for i, layer in enumerate(acts):
        act = layer.activation
        is_out = i == len(acts) - 1
        lname = _layer_name(i, len(acts))
        if not act.differentiable and not (is_out and net.fused):
            out.append(Finding(
                "non-differentiable-activation", "error", f"{act.name} units trained by gradient descent",
                f"The {act.name} function has derivative 0 everywhere except at 0 (where it has none), so "
                "backpropagation passes no gradient through it and the layers before it never learn.",
                "use a differentiable activation: 'sigmoid' or 'tanh' (smooth versions of step/sign) or "
                "'relu'; step and sign units belong in the perceptron, trained by the perceptron rule "
                "(relunet train --model perceptron)", layer=lname,
            ))
        if not is_out and i < len(dense) and dense[i].n_out == 1 and can_die(act):
            out.append(Finding(
                "single-unit-relu-layer", "warning", f"a hidden layer of a single {act.name} unit",
                "Everything the network computes passes through this one unit. Where its input is <= 0 "
                "it outputs 0 with derivative 0, so for those samples the layers after it see a constant "
                "and the layers before it get no gradient; if its input goes negative for every sample "
                "the whole network is dead and stops learning for good.",
                "make the layer wider (e.g. 8 or more units) or use an activation that does not die "
                "(leaky_relu, elu)", layer=lname,
            ))
    return out


def _check_inputs(X: np.ndarray, tolerance: float = 5.0) -> list[Finding]:
    X64 = X.astype(np.float64)
    mean = X64.mean(axis=0)
    std = X64.std(axis=0)
    varying = std > 0
    if not varying.any():
        return []
    big_mean = np.abs(mean) > tolerance
    big_std = std > tolerance
    bad = np.flatnonzero(big_mean | big_std)
    details = {"max_abs_mean": float(np.abs(mean).max()), "max_std": float(std.max()),
               "min_std": float(std[varying].min())}
    fix = ("standardise each feature with the mean and std of the training set "
           "(relunet.preprocessing, or sklearn's StandardScaler), or divide raw pixels by their "
           "maximum (e.g. 255) to bring them into [0, 1]")
    if len(bad):
        worst = int(bad[np.argmax(np.maximum(np.abs(mean[bad]), std[bad]))])
        details.update({"features": bad[:20].tolist(), "n_features": int(len(bad)),
                        "worst_feature": worst, "worst_mean": float(mean[worst]), "worst_std": float(std[worst])})
        return [Finding(
            "unscaled-inputs", "warning",
            f"{len(bad)} of {X.shape[1]} input features are far from mean 0 / std 1 "
            f"(feature {worst}: mean {mean[worst]:.3g}, std {std[worst]:.3g})",
            "Weight initialisations assume inputs of about unit scale. Large inputs make the first "
            "layer's pre-activations huge, so sigmoid/tanh units saturate and ReLU units flip between "
            "dead and exploding; the gradient of the first layer is scaled by the inputs too, so one "
            "learning rate cannot suit all layers, and features on different scales are learned at "
            "different speeds.",
            fix, details=details,
        )]
    if std.max() < 1e-2:
        return [Finding(
            "unscaled-inputs", "warning",
            f"every input feature is tiny (largest std {std.max():.3g})",
            "The inputs vary over a range far below 1, so the first layer's pre-activations barely "
            "move with the input and its weights get tiny gradients: the network learns slowly or "
            "not at all.", fix, details=details,
        )]
    return []


def expected_std(scheme: str, n_in: int, n_out: int, negative_slope: float = 0.0) -> float:
    """The weight std an initialisation scheme gives (see :mod:`relunet.core.init`)."""
    if scheme == "he":
        return float(np.sqrt(2.0 / (1.0 + negative_slope**2) / n_in))
    if scheme == "xavier":
        return float(np.sqrt(2.0 / (n_in + n_out)))  # U(-l, l): std l / sqrt(3)
    return float(np.sqrt(1.0 / n_in))  # lecun


def _check_init(net: MLP, ratio: float = 3.0, min_weights: int = 50) -> list[Finding]:
    """Compare each hidden layer's weight std with the one its activation's scheme expects.

    The variance ratios multiply through the layers (each layer scales the signal's
    variance by it), so the cumulative product is what is compared with ``ratio``.
    Layers with fewer than ``min_weights`` weights are skipped: their sample std is too
    noisy to judge.
    """
    acts = _activation_layers(net)
    gain = 1.0
    per_layer = []
    worst: tuple[float, int] | None = None
    for i, (d, layer) in enumerate(zip(net.dense_layers, acts[:-1])):
        act = layer.activation
        if d.W.size < min_weights or not act.differentiable:
            continue
        slope = float(act.config().get("negative_slope", 0.0)) if act.init == "he" else 0.0
        exp = expected_std(act.init, d.n_in, d.n_out, slope)
        actual = float(np.sqrt(np.mean(d.W.astype(np.float64) ** 2)))
        r2 = (actual / exp) ** 2
        gain *= r2
        per_layer.append({"layer": f"hidden {i + 1}", "activation": act.name, "expects": act.init,
                          "expected_std": exp, "std": actual, "variance_ratio": r2,
                          "cumulative": gain})
        if gain > ratio or gain < 1 / ratio:
            if worst is None or abs(np.log(gain)) > abs(np.log(worst[0])):
                worst = (gain, i)
    if worst is None:
        return []
    gain, i = worst
    act = acts[i].activation
    grow = gain > 1
    stds = ", ".join(f"{p['std']:.3g} vs {p['expected_std']:.3g}" for p in per_layer)
    return [Finding(
        "init-activation-mismatch", "warning",
        f"weights {'too large' if grow else 'too small'} for {act.name}: the signal's variance is "
        f"x{gain:.3g} by hidden layer {i + 1}",
        f"Each {act.name} layer expects weights with the std of the '{act.init}' initialisation "
        f"(std by layer, actual vs expected: {stds}). "
        + ("Larger weights multiply the variance of the pre-activations layer after layer, driving "
           "saturating units into their flat region and making gradients explode."
           if grow else
           "Smaller weights shrink the variance of the pre-activations layer after layer (a ReLU "
           "halves it, which He initialisation compensates and Xavier does not), so deep layers see "
           "almost constant inputs and the gradients vanish."),
        f"use init='{act.init}' (or init=None, which follows each activation; on the command line "
        f"--init {act.init})", layer=f"hidden {i + 1}", details={"layers": per_layer},
    )]


#: the fix of dead hidden units, and of a dead output layer (no rectifier belongs there)
DEAD_HIDDEN_FIX = ("lower the learning rate, check input scaling and the initialisation (He for ReLU), or use "
                   "an activation that cannot die: leaky_relu (negative_slope), prelu, rrelu, elu or gelu")
DEAD_OUTPUT_FIX = ("give the output the activation and loss of the task, not a rectifier: sigmoid + "
                   "binary_cross_entropy or softmax + cross_entropy for classes, identity + mse for "
                   "regression (relunet explain, with no name, has the table)")


def _dead_findings(diag: Diagnosis, when: str, threshold: float, notes: bool = True) -> list[Finding]:
    """A finding per layer with dead units: a warning from ``threshold`` on, else info
    (only with ``notes``)."""
    out = []
    for l in diag.layers:
        if l.dead_fraction is None or not l.dead_units:
            continue
        severe = l.dead_fraction >= threshold
        if not severe and not notes:
            continue
        out.append(Finding(
            "dead-units", "warning" if severe else "info",
            f"{len(l.dead_units)} of {l.units} {l.activation} units dead {when} ({l.dead_fraction:.0%})",
            f"These units have a pre-activation <= 0 for every one of the {diag.n_samples} samples, so "
            f"they output a constant and their derivative is 0: backpropagation passes them no gradient "
            "and they will never recover (dying ReLU). Usual causes: a learning rate too large, a large "
            "negative bias, or unscaled inputs.",
            DEAD_OUTPUT_FIX if l.output else DEAD_HIDDEN_FIX,
            layer=l.name, details={"dead_fraction": l.dead_fraction, "dead_units": l.dead_units},
        ))
    return out


def _saturation_findings(diag: Diagnosis, net: MLP, when: str, threshold: float) -> list[Finding]:
    out = []
    for l in diag.layers:
        if l.saturated_fraction is None or not l.saturated_units:
            continue
        if l.output and net.fused:  # the fused loss's delta p - y does not pass through f'
            continue
        severe = l.saturated_fraction >= threshold
        out.append(Finding(
            "saturated-units", "warning" if severe else "info",
            f"{len(l.saturated_units)} of {l.units} {l.activation} units saturated {when} "
            f"({l.saturated_fraction:.0%})",
            f"These units have |f'(z)| < {diag.saturation_threshold:g} on at least "
            f"{diag.saturation_min_fraction:.0%} of the samples: they sit in the flat part of "
            f"{l.activation}, pass back a thousandth of the gradient or less, and learn (and let the "
            "layers before them learn) very slowly.",
            "scale the inputs, use the initialisation that fits the activation (Xavier for tanh and "
            "sigmoid), lower the learning rate, or use a non-saturating activation (relu, leaky_relu)",
            layer=l.name,
            details={"saturated_fraction": l.saturated_fraction, "saturated_units": l.saturated_units},
        ))
    return out


def _vanishing_findings(diag: Diagnosis, ratio: float = 1e-3) -> list[Finding]:
    rel = [d.relative_grad for d in diag.dense]
    if len(rel) < 3 or any(r is None for r in rel) or not rel[-1] or not np.isfinite(rel[-1]):
        return []
    if rel[0] < ratio * rel[-1]:
        return [Finding(
            "vanishing-gradients", "warning",
            f"the first layer's gradient is {rel[0] / rel[-1]:.2g} x the last layer's (relative to weights)",
            "Backpropagation multiplies the error by each layer's weights and activation derivatives; "
            "with saturating activations (derivative <= 0.25 for sigmoid) or weights that are too small "
            "that product shrinks geometrically, so the first layers hardly change while the last ones "
            "learn.",
            "use relu-family hidden activations with He initialisation, fewer layers, or inputs "
            "standardised to unit scale",
            layer="dense 1", details={"relative_grad": rel},
        )]
    return []


def _check_encoding(net: MLP, X: np.ndarray, y: np.ndarray) -> list[Finding]:
    """The targets must encode for the network's output and loss (as ``fit`` will do)."""
    if not hasattr(net, "encode_targets"):
        return []
    try:
        copy.deepcopy(net).encode_targets(y, len(X), fit=True)
    except RelunetError as exc:
        return [Finding(
            "target-mismatch", "error", "the targets do not fit the network's output and loss",
            f"fit would fail: {exc}.",
            "give the output layer as many units as the target has columns (classes for a "
            "classifier), or follow the other findings' advice on output and loss",
            layer="output",
        )]
    return []


def _subsample(X: np.ndarray, y: Any, n: int, seed: int) -> tuple[np.ndarray, Any]:
    if len(X) <= n:
        return X, y
    idx = np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))
    return X[idx], (None if y is None else np.asarray(y)[idx])


def _probe_steps(probe: Any, X: np.ndarray, Y: np.ndarray, opt: Any, bs: int,
                 steps: int) -> tuple[list[float], int | None]:
    """``(losses, diverged_at)``: the loss of each of ``steps`` engine steps on ``probe``,
    and the step at which training diverged (None when it did not)."""
    rows = np.arange(steps * bs) % len(X)
    losses: list[float] = []

    class _Losses(Callback):
        def on_batch_end(self, epoch, batch, loss, net):
            losses.append(loss)

    run = Run(probe, X[rows], Y[rows], opt, batch_size=bs, shuffle=False, callbacks=[_Losses()], metrics=False)
    run.start()
    try:
        run.epoch()
    except DivergenceError as exc:
        losses.append(float("nan"))  # the step that diverged
        return losses, exc.batch if exc.batch is not None else steps
    return losses, None


def _probe_lr(
    net: MLP, X: np.ndarray, y: Any, *, lr: float, batch_size: int | None, optimizer: Any,
    steps: int, rise: float, optimizer_params: dict[str, Any],
) -> list[Finding]:
    """Train a copy of ``net`` for ``steps`` steps on ``X`` and watch the loss.

    The steps are one epoch of the training engine (:class:`relunet.training.Run`, so the
    engine's divergence policy applies) over ``steps`` batches of ``batch_size`` rows taken
    from ``X`` in order, wrapping around.
    """
    probe = copy.deepcopy(net)
    try:
        Y = probe.encode_targets(y, len(X), fit=True)
        probe.check_trainable()
        if isinstance(optimizer, str):
            opt = optimizers.get(optimizer, lr=lr, **optimizer_params)
        else:  # an instance: a copy, so its state is not touched
            opt = copy.deepcopy(optimizer)
    except RelunetError:
        return []  # the target / activation rules already say why training cannot start
    if isinstance(opt, Minimizer):
        return []  # CG / L-BFGS choose their own step lengths: no learning rate to probe
    n = len(X)
    bs = n if batch_size is None else max(1, min(int(batch_size), n))
    dead_before = diagnose(probe, X).dead_fraction()
    probe.train()
    with np.errstate(all="ignore"):
        before = float(probe.loss_value(X, Y))
    losses, diverged_at = _probe_steps(probe, X, Y, opt, bs, steps)
    with np.errstate(all="ignore"):
        after = float(probe.loss_value(X, Y)) if diverged_at is None else float("nan")
    details = {"lr": lr, "steps": steps, "samples": n, "batch_size": bs, "loss_before": before,
               "loss_after": after if np.isfinite(after) else None,
               "losses": [v if np.isfinite(v) else None for v in losses]}
    out = []
    if diverged_at is not None or not np.isfinite(after) or after > rise * before:
        what = (f"became NaN/infinite at step {diverged_at}" if diverged_at is not None or not np.isfinite(after)
                else f"rose from {before:.4g} to {after:.4g} in {steps} steps")
        out.append(Finding(
            "lr-diverges", "warning", f"learning rate {lr:g} diverges: the loss {what}",
            f"A probe trained a copy of the network for {steps} steps (batch size {bs}) on {n} samples "
            f"with this learning rate, and the loss {what}. Steps this large overshoot the minimum along "
            "the steepest directions of the loss, so each update makes things worse.",
            f"lower the learning rate (try {lr / 10:g}), or use an adaptive optimizer (adam) or gradient "
            "clipping", details=details,
        ))
    elif dead_before is not None:
        with np.errstate(all="ignore"):
            dead_after = diagnose(probe, X).dead_fraction()
        if dead_after is not None and dead_after - dead_before >= 0.25:
            details.update({"dead_before": dead_before, "dead_after": dead_after})
            out.append(Finding(
                "lr-kills-units", "warning",
                f"learning rate {lr:g} kills ReLU units: {dead_before:.0%} -> {dead_after:.0%} dead "
                f"in {steps} steps",
                f"In a {steps}-step probe on a copy of the network, large updates pushed the biases and "
                "weights of many ReLU units so far that their pre-activation is <= 0 for every sample: "
                "they get no gradient any more and never recover.",
                f"lower the learning rate (try {lr / 10:g}) or use leaky_relu / elu, which cannot die",
                details=details,
            ))
    return out


def _check_settings(*, batch_size: Any, probe_steps: Any, probe_samples: Any, probe_rise: Any,
                    dead_threshold: Any) -> None:
    """Bad examine() settings are the caller's error (ConfigError), never an empty finding list."""
    def integer(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    def real(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)

    if batch_size is not None and not integer(batch_size):
        raise ConfigError(f"batch_size must be an integer >= 1 or None (full batch), got {batch_size!r}")
    for name, v in (("probe_steps", probe_steps), ("probe_samples", probe_samples)):
        if not integer(v):
            raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
    if not (real(probe_rise) and probe_rise > 0):
        raise ConfigError(f"probe_rise must be a number > 0 (the loss ratio that counts as diverging), got {probe_rise!r}")
    if not (real(dead_threshold) and 0 <= dead_threshold <= 1):
        raise ConfigError(f"dead_threshold must be a fraction in [0, 1], got {dead_threshold!r}")


def examine(
    net: MLP,
    X: Any,
    y: Any,
    *,
    lr: float = 0.01,
    batch_size: int | None = 32,
    optimizer: Any = "sgd",
    probe: bool = True,
    probe_steps: int = 20,
    probe_samples: int = 256,
    probe_rise: float = 2.0,
    dead_threshold: float = 0.5,
    seed: int = 0,
    **optimizer_params: Any,
) -> list[Finding]:
    """Inspect a network, its loss and data before training.

    Args:
        net: an (untrained) :class:`relunet.core.network.MLP`; it is not modified.
        X: inputs ``shape (n_samples, n_features)``.
        y: labels or targets, as given to ``fit``.
        lr, batch_size, optimizer, **optimizer_params: the training settings to probe.
        probe: run the learning-rate probe (a copy of the network trained ``probe_steps``
            steps on ``probe_samples`` samples; ``lr-diverges`` when the loss becomes NaN or
            ends above ``probe_rise`` times its start).
        dead_threshold: fraction of dead units in a layer (before training) that makes
            ``dead-units`` a warning rather than info.
        seed: seed of the subsampling.

    Returns:
        The findings, errors first; empty when nothing is wrong.

    Example:
        >>> net = MLP([2, 8, 1], activation="relu", output="relu", loss="mse")
        >>> [f.rule for f in examine(net, X_xor, y_xor, lr=0.5)]   # doctest: +SKIP
        ['classification-target-as-regression', 'relu-output-classifier']
    """
    _check_settings(batch_size=batch_size, probe_steps=probe_steps, probe_samples=probe_samples,
                    probe_rise=probe_rise, dead_threshold=dead_threshold)
    if probe:  # the probe trains with these settings: bad ones are the caller's error, not "no finding"
        optimizers.get(optimizer, lr=lr, **optimizer_params)
    X = net.check_X(X)
    y_arr = np.asarray(y)
    findings: list[Finding] = []
    target, kind = _check_target(net, y_arr)
    findings += target
    findings += _check_output(net, kind)
    findings += _check_layers(net)
    findings += _check_inputs(X)
    findings += _check_init(net)
    findings += _check_encoding(net, X, y_arr)
    Xs, ys = _subsample(X, y_arr, probe_samples, seed)
    with np.errstate(all="ignore"):
        diag = diagnose(net, Xs)
    # before training only what is severe: a few units dead on a sample of the data is normal
    findings += _dead_findings(diag, "before training", dead_threshold, notes=False)
    trainable = not any(f.severity == "error" for f in findings)
    if trainable:
        try:
            with np.errstate(all="ignore"):
                graddiag = diagnose(net, Xs, ys)
            findings += _vanishing_findings(graddiag)
        except RelunetError:
            pass
    if probe and trainable:
        findings += _probe_lr(net, Xs, ys, lr=lr, batch_size=batch_size, optimizer=optimizer,
                              steps=probe_steps, rise=probe_rise, optimizer_params=optimizer_params)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: order[f.severity])


def check_overfitting(history: Any, rise: float = 0.1, min_epochs: int = 5) -> list[Finding]:
    r"""The ``overfitting`` finding from a training history's ``loss`` and ``val_loss``.

    With ``e*`` the epoch of the lowest validation loss and ``T`` the last epoch, it fires
    when the model kept fitting the training set while getting worse on held-out data:

    .. math::
        \text{val}_T \ge (1 + \text{rise})\, \text{val}_{e^*}, \quad
        \text{train}_T < \text{train}_{e^*}, \quad
        \text{val}_T - \text{train}_T > \text{val}_{e^*} - \text{train}_{e^*}

    Args:
        history: a :class:`relunet.training.History` (or a list of its epoch records).
        rise: the relative rise of the validation loss above its best that counts.
        min_epochs: fewer epochs with a validation loss say nothing.
    """
    records = getattr(history, "records", history) or []
    pts = [(r["loss"], r["val_loss"]) for r in records
           if isinstance(r, dict) and np.isfinite(r.get("loss", np.nan)) and np.isfinite(r.get("val_loss", np.nan))]
    if len(pts) < min_epochs:
        return []
    best = int(np.argmin([v for _, v in pts]))
    (train_b, val_b), (train_t, val_t) = pts[best], pts[-1]
    if not (val_t >= (1 + rise) * val_b and train_t < train_b and val_t - train_t > val_b - train_b):
        return []
    return [Finding(
        "overfitting", "warning", "the network is overfitting: validation loss rises while training loss falls",
        f"The validation loss was lowest at epoch {best + 1} ({val_b:.4g}) and is {val_t:.4g} after epoch "
        f"{len(pts)} ({(val_t / val_b - 1) * 100:.0f}% higher), while the training loss fell from "
        f"{train_b:.4g} to {train_t:.4g}: the gap between them grew from {val_b - train_b:.4g} to "
        f"{val_t - train_t:.4g}. The network is memorising the training samples rather than learning "
        "what generalises.",
        "regularize: dropout (--dropout 0.2 to 0.5, MLP(dropout=...)), an L2 penalty (--l2 1e-4 to 0.1, "
        "MLP(l2=...)) or a max-norm cap (--max-norm 3); stop at the best epoch (--early-stopping, which "
        "keeps its weights); or train on more data",
        details={"best_epoch": best + 1, "best_val_loss": float(val_b), "final_val_loss": float(val_t),
                 "train_loss_at_best": float(train_b), "final_train_loss": float(train_t)},
    )]


def examine_trained(
    net: MLP,
    X: Any,
    y: Any = None,
    *,
    dead_threshold: float = 0.1,
    saturated_threshold: float = 0.1,
    history: Any = None,
    **diagnose_options: Any,
) -> list[Finding]:
    """Inspect a trained network on data: dead units, saturated units, vanishing gradients.

    Args:
        net: a trained network.
        X: ``shape (n_samples, n_features)`` (usually the training set).
        y: optional targets, for the gradient check.
        dead_threshold: a layer with at least this fraction of dead units is a warning
            (fewer dead units are reported as info).
        saturated_threshold: the same for saturated units.
        history: the training history (default: ``net.history_``): with validation losses
            it is checked for overfitting (:func:`check_overfitting`).
        **diagnose_options: ``saturation_threshold``, ``saturation_min_fraction``.
    """
    diag = diagnose(net, X, y, **diagnose_options)
    findings = _dead_findings(diag, "after training", dead_threshold)
    hist = history if history is not None else getattr(net, "history_", None)
    if hist is not None:
        findings += check_overfitting(hist)
    findings += _saturation_findings(diag, net, "after training", saturated_threshold)
    if y is not None:
        findings += _vanishing_findings(diag)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: order[f.severity])
