"""Plain-language explanations of activations and losses, and the output-layer guide.

Everything printed comes from the catalog's data (:class:`relunet.activations.Properties`
and the loss classes), so the explanation cannot drift from the code.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from relunet.core import activations
from relunet.core import losses
from relunet.core.tree import Tree
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
    ("one of very many classes (words)", "hierarchical_softmax", "K", "hierarchical_nll",
     "~log2 K sigmoid decisions along a tree path; training costs O(d log K), not O(d K)"),
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
    if cls.name == "hierarchical_softmax":
        lines += ["", explain_tree()]
    return "\n".join(lines) + "\n"


def _draw_tree(tree: Tree, labels: list[str], node: int = 0, prefix: str = "") -> list[str]:
    """The tree as indented lines: each inner node with its left (+1) and right (-1) child."""
    out = []
    for k, side in ((0, "L +1"), (1, "R -1")):
        child = int(tree.children[node, k])
        if child >= 0:
            out.append(f"{prefix}{side}: node {child}")
            out += _draw_tree(tree, labels, child, prefix + "    ")
        else:
            out.append(f"{prefix}{side}: class {-child - 1} {labels[-child - 1]!r}")
    return out


def explain_tree(n_classes: int = 8, hidden: int = 4, target: int = 5, seed: int = 0) -> str:
    """A worked example of the hierarchical softmax: a balanced tree over ``n_classes``
    words, node scores ``s_j = h . w_j`` for a hidden vector ``h`` of ``hidden`` units, the
    target's path with each decision's probability, the exact NLL and its gradient, and the
    cost of one training step against the full softmax."""
    words = ["the", "and", "to", "of", "a", "king", "lord", "love", "thou", "thee", "sir", "good"]
    labels = [words[i] if i < len(words) else f"w{i}" for i in range(n_classes)]
    tree = Tree.balanced(n_classes)
    rng = np.random.default_rng(seed)
    h = np.round(rng.uniform(0, 1, hidden), 2)
    W = np.round(rng.normal(0, 1, (tree.n_nodes, hidden)), 2)
    s = W @ h
    lines = [f"Worked example: a balanced tree over {n_classes} words ({tree.n_nodes} inner nodes),",
             f"hidden vector h = {h.tolist()}; node j scores s_j = h . w_j (+ b_j, here 0).", "",
             "  root: node 0"]
    lines += ["    " + line for line in _draw_tree(tree, labels)]
    path = [(int(j), int(t)) for j, t in zip(tree.nodes[target], tree.signs[target]) if t != 0]
    lines += ["", f"  path to class {target} {labels[target]!r} (t = +1 left, -1 right):"]
    logp = 0.0
    for j, t in path:
        p = 1 / (1 + math.exp(-t * s[j]))
        logp += math.log(p)
        lines.append(f"    node {j}: s = {s[j]:+.3f}, t = {t:+d}, sigma(t s) = {p:.4f}, "
                     f"dL/ds = -t sigma(-t s) = {-t * (1 - p):+.4f}")
    probs = np.exp(tree.log_proba(s[None, :]))[0]
    lines += [f"  p({labels[target]!r}) = product = {math.exp(logp):.4f};  L = -log p = {-logp:.4f}",
              f"  all {n_classes} exact probabilities sum to {probs.sum():.6f}: "
              + ", ".join(f"{labels[c]}={probs[c]:.3f}" for c in range(n_classes)), "",
              "  gradient: dL/dw_j = (dL/ds_j) h and dL/dh = sum_j (dL/ds_j) w_j, for the path's",
              "  nodes only (every other node vector gets 0); divided by N over a batch.", "",
              "  cost of one training step per sample (d hidden units; multiply-adds in the output layer):",
              "     classes K   full softmax d K   tree path d ceil(log2 K)   ratio"]
    for k in (1000, 10_000, 50_000):
        depth = math.ceil(math.log2(k))
        lines.append(f"    {k:>10}   {128 * k:>16}   {128 * depth:>22}   {k / depth:>5.0f}x  (d = 128)")
    lines += ["  (forward, plus the same again twice in backward; a Huffman tree makes frequent",
              "  classes' paths shorter still). Prediction needs every class: O(d K), computed exactly."]
    return "\n".join(lines)


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
        "hierarchical_nll": "-t sigma(-t z_j) / N on the target's path, 0 elsewhere",
    }[loss.name]
    numerics = {
        "cross_entropy": "from the logits, never log(softmax(z)): L_n = logsumexp(z_n) - z_n,y with the "
                         "max logit shifted out (every exponent <= 0), so logits up to 1e30 give a finite "
                         "loss and delta, in float32 too",
        "binary_cross_entropy": "from the logits, never log(sigmoid(z)): L = max(z, 0) - z y + log(1 + "
                                "exp(-|z|)), so logits up to 1e30 give a finite loss and delta",
    }.get(loss.name)
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
    if numerics:
        lines.insert(-2, f"  numerics         {numerics}")
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
