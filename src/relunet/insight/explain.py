"""Plain-language explanations of activations and losses, and the output-layer guide.

Everything printed comes from the catalog's data (:class:`relunet.activations.Properties`
and the loss classes), so the explanation cannot drift from the code.
"""

from __future__ import annotations

import inspect

from relunet.core import activations
from relunet.core import losses
from relunet.errors import UnknownNameError

#: target type -> (output activation, output units, loss, why)
OUTPUT_GUIDE: list[tuple[str, str, str, str, str]] = [
    ("binary class (0/1), e.g. XOR", "sigmoid", "1", "binary_cross_entropy",
     "p = P(class 1); BCE from logits gives delta = (p - y) / N"),
    ("binary class, as two classes", "softmax", "2", "cross_entropy",
     "same decision as sigmoid + BCE (softmax over 2 = sigmoid of the difference)"),
    ("one of K classes (K > 2)", "softmax", "K", "cross_entropy",
     "probabilities sum to 1; delta = (p - y) / N"),
    ("several labels at once (multi-label)", "sigmoid", "K", "binary_cross_entropy",
     "one independent probability per label; delta = (p - y) / (N K)"),
    ("real value(s): regression", "identity", "1 or K", "mse",
     "unbounded output; delta = 2 (y_hat - y) / (N K)"),
]


def output_guide() -> str:
    """The table that answers "which activation at the output, and which loss?"."""
    header = ("target", "output activation", "units", "loss", "why")
    rows = [header] + OUTPUT_GUIDE
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["Which output activation and loss? (hidden layers: relu / leaky_relu / gelu ...)", ""]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    lines += [
        "",
        "XOR is a classification problem (two classes): use sigmoid + binary cross-entropy, or a",
        "2-unit softmax + cross-entropy. ReLU or softmax outputs with MSE train poorly for classes;",
        "`relunet doctor` warns about such pairings.",
    ]
    return "\n".join(lines) + "\n"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def explain_activation(name: str) -> str:
    """A full description of one activation from its catalog entry."""
    cls = activations.ACTIVATIONS[activations.canonical_name(name)]
    p = cls.properties
    inst = cls()
    cfg = inst.config()
    lines = [
        f"{cls.name}" + (f"  (aliases: {', '.join(cls.aliases)})" if cls.aliases else ""),
        "",
        f"  definition      f(x)  = {p.formula}",
        f"  derivative      f'(x) = {p.derivative}",
        f"  at the kink     {p.kink or 'none: f is differentiable everywhere'}",
        f"  output range    {p.output_range}",
        f"  saturating      {_yes(p.saturating)}",
        f"  zero-centred    {_yes(p.zero_centred)}",
        f"  monotonic       {_yes(p.monotonic)}",
        f"  smooth          {_yes(p.smooth)}",
        f"  typical use     {p.use}",
        f"  known problems  {p.problems or '-'}",
        (f"  initialisation  {cls.init} (what relunet uses with it by default)" if cls.differentiable else
         "  initialisation  - (the perceptron starts from zero weights)"),
        f"  parameters      {', '.join(f'{k}={v!r}' for k, v in cfg.items()) or '-'}",
        f"  reference       {p.reference}",
    ]
    if not cls.differentiable:
        lines.append("  training        not by gradient descent (derivative 0 almost everywhere): "
                     "use the perceptron rule (relunet train --model perceptron)")
    if p.kink and cls.differentiable and not p.smooth:
        # (a smooth entry with a kink text, ELU: differentiable with the default parameters,
        # the kink line already says for which ones it is not)
        lines.append("")
        lines.append("  Why that value at the kink? f is not differentiable there, so any value in the")
        lines.append("  subdifferential would do; relunet uses PyTorch's choice so gradients agree")
        lines.append("  with torch autograd there too (to rounding), and a unit sitting exactly at the")
        lines.append("  kink is rare in floating point anyway.")
    return "\n".join(lines) + "\n"


def explain_loss(name: str) -> str:
    """A description of one loss: formula, natural output, fused gradient."""
    loss = losses.get(name)
    doc = inspect.getdoc(type(loss)) or ""
    first = doc.splitlines()[0] if doc else ""
    fused = {
        "cross_entropy": "(softmax(z) - y) / N",
        "binary_cross_entropy": "(sigmoid(z) - y) / (N K)",
        "mse": "2 (y_hat - y) / (N K)",
        "poisson": "(exp(z) - y) / (N K)",
    }[loss.name]
    lines = [
        f"{loss.name}: {first}",
        "",
        f"  formula          L = {loss.formula}",
        f"  task             {loss.task}",
        f"  natural output   {loss.output}",
        f"  gradient         dL/dz = {fused}  (z: the output layer's logits; valid with {loss.output} only)",
        "  with another output the gradient dL/dy_hat is passed back through that output's",
        "  derivative, which is correct but usually learns slowly (relunet doctor warns).",
    ]
    return "\n".join(lines) + "\n"


def explain(name: str | None = None) -> str:
    """Explain an activation or a loss by name, or, with no name, the output-layer guide."""
    if name is None:
        return output_guide()
    try:
        return explain_activation(name)
    except UnknownNameError:
        pass
    try:
        return explain_loss(name)
    except UnknownNameError:
        raise UnknownNameError("activation or loss name", name, activations.names() + losses.names()) from None
