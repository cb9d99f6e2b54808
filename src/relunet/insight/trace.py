"""A step-by-step backpropagation trace with the real numbers of a network.

``trace_steps(net, X, y, lr, steps)`` runs ``steps`` plain gradient-descent updates on
the batch ``X`` and records, for each step, exactly what the training code computes:

Forward, layer by layer::

    z_l = a_{l-1} W_l + b_l          (a_0 = x)
    a_l = f_l(z_l)

Loss, then backward::

    delta_L = dL/dz_L                    p - y (softmax + CE, sigmoid + BCE, over N),
                                         2 (y_hat - y)/NK for identity + MSE,
                                         (dL/dy_hat) * f'(z_L) for any other pair
    dL/dW_l = a_{l-1}^T delta_l          (a sum of outer products, one per sample)
    dL/db_l = sum_n delta_l
    delta_{l-1} = (delta_l W_l^T) * f'_{l-1}(z_{l-1})

With dropout (training only) after a layer's activation, the next layer takes
``a_l * m_l`` (the mask ``m_l`` holds 0 or ``1/(1-p)``, drawn from the network's
generator) and the backward multiplies by the same mask:
``delta_l = ((delta_{l+1} W_{l+1}^T) * m_l) * f'_l(z_l)``; the trace shows each mask.

Update (SGD)::

    W_l <- W_l - lr * dL/dW_l            per weight: w_ij += lr * (-delta_j) * a_i

This is the textbook per-pattern rule ``w += lr * delta * f'(e) * input`` with the
textbook's sign and names: its ``delta`` is the error ``-dL/da_j`` (``target - output`` for
``E = 1/2 (t - y)^2``; relunet's ``mse``, the mean of ``(y_hat - y)^2``, gives
``2 (t - y) / (N K)``), and relunet's ``delta_j = dL/dz_j = dL/da_j * f'(z_j)`` already holds
the ``f'(e)`` and the minus sign (:data:`TEXTBOOK_RULE`, printed with every update).

The forward and backward numbers are what the network's own pass computes, read through
its ``record=`` lists (``Network.logits``, ``Network.loss_and_delta``, ``Network.backward``:
the same layer calls and the same fused loss as the training step); the update is
applied by ``Network.train_step`` with plain SGD -- the call ``fit`` makes per batch --
and recorded as the actual change of each parameter (a test checks it equals a real
``fit`` step bit for bit, and ``-lr * dL/dW`` to rounding).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from relunet.training import optimizers
from relunet.errors import DivergenceError
from relunet.core.layers import Dense, Dropout
from relunet.core.network import MLP
from relunet.core.tree import target_indices

_WHY_DELTA = {
    ("softmax", "cross_entropy"): (
        "delta = (p - y) / N: for softmax + cross-entropy the softmax Jacobian and the "
        "derivative of -log p cancel, leaving prediction minus target"
    ),
    ("sigmoid", "binary_cross_entropy"): (
        "delta = (p - y) / (N K): for sigmoid + binary cross-entropy, sigma'(z) = p(1-p) cancels "
        "the 1/(p(1-p)) of the loss's derivative"
    ),
    ("identity", "mse"): "delta = 2 (y_hat - y) / (N K): MSE's derivative times identity' = 1",
    ("hierarchical_softmax", "hierarchical_nll"): (
        "delta_j = -t sigma(-t z_j) / N on the target's tree path (t = +1 left, -1 right), 0 on every "
        "other node: the derivative of -log sigma(t z_j), summed over the path's decisions"
    ),
}


#: how the printed update is the textbook rule (shown under each step's update)
TEXTBOOK_RULE = (
    "per weight: w_ij += lr * (-delta_j) * a_i. This is the textbook rule w += lr * delta * f'(e) * input: "
    "the textbook's delta is the error -dL/da_j (target-output for E = (t-y)^2/2; relunet's mse, "
    "mean((y_hat-y)^2), gives 2(t-y)/(NK)), and relunet's delta_j = dL/dz_j = dL/da_j * f'(z_j) "
    "already holds f'(e) and the minus sign."
)


@dataclass
class LayerTrace:
    """One dense layer and its activation in one step (arrays as nested lists)."""

    index: int
    shape: tuple[int, int]
    activation: str
    input: list
    z: list
    a: list
    derivative: list | None = None  # f'(z), element-wise activations
    delta: list | None = None  # dL/dz
    grad_W: list | None = None
    grad_b: list | None = None
    update_W: list | None = None  # -lr * grad_W
    update_b: list | None = None
    W_before: list | None = None
    b_before: list | None = None
    #: dropout after the activation: the scaled mask m (0 or 1/(1-p)) and a * m, the next input
    mask: list | None = None
    dropped: list | None = None
    #: input dropout before the first layer: its mask (``input`` is then the dropped input)
    input_mask: list | None = None


@dataclass
class StepTrace:
    step: int
    loss: float
    target: list
    output: list
    delta_rule: str
    layers: list[LayerTrace] = field(default_factory=list)
    #: a hierarchical softmax: per sample, the target's path (node, t, z, sigma(t z), delta)
    paths: list | None = None


@dataclass
class Trace:
    """The whole trace: one :class:`StepTrace` per update."""

    lr: float
    loss_name: str
    steps: list[StepTrace] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trace_steps(net: MLP, X: Any, y: Any, lr: float = 0.1, steps: int = 1) -> Trace:
    """Apply ``steps`` SGD updates of ``net`` on the batch ``(X, y)`` and record every number.

    The network is updated in place (as ``fit`` with ``batch_size=len(X)``,
    ``shuffle=False`` and plain SGD would).
    """
    X = net.check_X(X)
    Y = net.encode_targets(y, len(X), fit=net.classes_ is None)
    net.check_trainable()
    net.train()
    out_act = net.output_activation
    pair = (out_act.name, net.loss.name)
    rule = _WHY_DELTA.get(pair) if net.fused else None
    if rule is None:
        rule = (f"delta = dL/dy_hat * f'(z): {out_act.name} is not the natural output for "
                f"{net.loss.name}, so the loss gradient passes through the output activation")
    trace = Trace(lr=float(lr), loss_name=net.loss.name)
    dense_layers = net.dense_layers
    for step in range(1, steps + 1):
        rng_before = net.rng.bit_generator.state
        records, value = _traced_pass(net, X, Y)
        # the update: the real training step (plain SGD through Network.train_step, the
        # call fit makes per batch), replayed from the same random state so that random
        # activations (RReLU) draw the same slopes as in the pass recorded above
        rng_state = net.rng.bit_generator.state
        net.rng.bit_generator.state = rng_before
        net.train_step(X, Y, optimizers.SGD(lr=lr))
        if net.rng.bit_generator.state != rng_state:  # the replay drew differently: say so
            raise RuntimeError("trace: the training step consumed the random generator differently "
                               "from the traced pass; the recorded numbers would not be the step's")
        if not all(np.isfinite(p).all() for p in net.parameters()):
            raise DivergenceError(
                f"trace: step {step} made the weights infinite or NaN (loss before it {float(value):.4g}): "
                f"the learning rate {lr:g} is too large; trace with a smaller one"
            )
        for rec, dense in zip(records, dense_layers):  # W_before holds the exact old values
            rec.update_W = (dense.W - np.asarray(rec.W_before, dtype=dense.W.dtype)).tolist()
            rec.update_b = (dense.b - np.asarray(rec.b_before, dtype=dense.b.dtype)).tolist()
        trace.steps.append(StepTrace(step=step, loss=float(value), target=Y.tolist(),
                                     output=records[-1].a, delta_rule=rule, layers=records,
                                     paths=_tree_paths(net, records[-1], Y)))
    net.eval()
    return trace


def _traced_pass(net: MLP, X: np.ndarray, Y: np.ndarray) -> tuple[list[LayerTrace], float]:
    """One forward and backward pass through the network's own path, recorded per dense layer.

    The forward (:meth:`Network.logits`), the loss and output delta
    (:meth:`Network.loss_and_delta`, the fused form where the loss is fused with the
    output) and the backward (:meth:`Network.backward`) are the network's; their
    ``record`` lists give every layer's output and every gradient flowing back.
    """
    outputs: list[np.ndarray] = []
    z_last = net.logits(X, record=outputs)
    records: list[LayerTrace] = []
    a, z = X, None
    input_mask = None
    for layer, out in zip(net.layers[:-1], outputs):
        if isinstance(layer, Dense):
            records.append(LayerTrace(index=len(records) + 1, shape=(layer.n_in, layer.n_out),
                                      activation="", input=a.tolist(), z=out.tolist(), a=[],
                                      W_before=layer.W.tolist(), b_before=layer.b.tolist(),
                                      input_mask=input_mask))
            input_mask = None
            z = out
        elif isinstance(layer, Dropout):
            mask = (layer.mask.tolist() if layer.mask is not None and layer.p
                    else np.ones_like(out).tolist())
            if records:
                records[-1].mask, records[-1].dropped = mask, out.tolist()
            else:
                input_mask = mask
        else:
            act = layer.activation
            records[-1].activation = act.name
            if act.elementwise:
                records[-1].derivative = act.derivative(z).tolist()
            records[-1].a = out.tolist()
        a = out
    out_act = net.output_activation
    last = records[-1]
    last.activation = out_act.name
    y_pred: list[np.ndarray] = []
    value, delta = net.loss_and_delta(z_last, Y, record=y_pred)
    last.a = y_pred[0].tolist()
    if out_act.elementwise and last.derivative is None:
        last.derivative = out_act.derivative(z_last).tolist()
    grads: list[np.ndarray] = []
    net.backward(delta, record=grads)
    dense = [layer for layer in reversed(net.layers[:-1]) if isinstance(layer, Dense)]
    deltas = [g for layer, g in zip(reversed(net.layers[:-1]), grads) if isinstance(layer, Dense)]
    for rec, layer, g in zip(reversed(records), dense, deltas):
        rec.delta = g.tolist()
        rec.grad_W = layer.dW.tolist()
        rec.grad_b = layer.db.tolist()
    return records, value


def _tree_paths(net: MLP, last: LayerTrace, Y: np.ndarray) -> list | None:
    """For a hierarchical softmax: each sample's target path, one row per decision:
    ``[node, t, z_j, sigma(t z_j), delta_j]`` (read from the recorded scores and delta)."""
    tree = net.tree
    if tree is None:
        return None
    z, delta = np.asarray(last.z), np.asarray(last.delta)
    paths = []
    for n, c in enumerate(target_indices(Y, tree.n_classes)):
        rows = []
        for j, t in zip(tree.nodes[c], tree.signs[c]):
            if t != 0:
                u = t * z[n, j]
                rows.append([int(j), int(t), float(z[n, j]), float(1 / (1 + np.exp(-u))), float(delta[n, j])])
        paths.append({"class": int(c), "decisions": rows})
    return paths


# -- rendering -------------------------------------------------------------------
def _fmt(values: Any, precision: int) -> str:
    arr = np.asarray(values, dtype=float)
    return np.array2string(arr, precision=precision, suppress_small=True, floatmode="fixed",
                           max_line_width=100, separator=" ")


def render_text(trace: Trace, precision: int = 4, markdown: bool = False) -> str:
    """The trace as aligned text (or Markdown with headings and code blocks)."""
    lines: list[str] = []
    h = (lambda s: f"\n## {s}\n") if markdown else (lambda s: f"\n=== {s} ===")
    code_open, code_close = ("```", "```") if markdown else ("", "")

    def block(label: str, values: Any) -> None:
        arr = np.asarray(values, dtype=float)
        text = _fmt(arr, precision)
        shape = "x".join(str(s) for s in arr.shape)
        first, *rest = text.splitlines()
        prefix = f"  {label:<24} {'(' + shape + ')':<8} "
        lines.append(prefix + first)
        lines.extend(" " * len(prefix) + r for r in rest)

    for st in trace.steps:
        lines.append(h(f"step {st.step}: forward"))
        if code_open:
            lines.append(code_open)
        for rec in st.layers:
            l = rec.index
            lines.append(f"layer {l}: Dense {rec.shape[0]} -> {rec.shape[1]}, activation {rec.activation}")
            if rec.input_mask is not None:
                block("input dropout mask m0", rec.input_mask)
                block(f"a{l-1} = x * m0 (input)", rec.input)
            elif l > 1 and st.layers[l - 2].mask is not None:
                block(f"a{l-1} * m{l-1} (input)", rec.input)
            else:
                block(f"a{l-1} (input)", rec.input)
            block(f"W{l}", rec.W_before)
            block(f"b{l}", rec.b_before)
            block(f"z{l} = a{l-1} W{l} + b{l}", rec.z)
            block(f"a{l} = {rec.activation}(z{l})", rec.a)
            if rec.mask is not None:
                block(f"dropout mask m{l}", rec.mask)
                block(f"a{l} * m{l} (to layer {l + 1})", rec.dropped)
        if code_close:
            lines.append(code_close)
        lines.append(h(f"step {st.step}: loss"))
        lines.append(f"  {trace.loss_name} = {st.loss:.{precision}f}")
        block("target y", st.target)
        for i, path in enumerate(st.paths or []):
            lines.append(f"  sample {i}: class {path['class']}'s tree path "
                         "(node, t, z_j, sigma(t z_j), delta_j = -t sigma(-t z_j) / N)")
            for j, t, zj, p, d in path["decisions"]:
                lines.append(f"    node {j:>4}  t = {t:+d}  z = {zj:+.{precision}f}  sigma = {p:.{precision}f}"
                             f"  delta = {d:+.{precision}f}")
            prob = float(np.prod([row[3] for row in path["decisions"]]))
            lines.append(f"    p(class {path['class']}) = product of the sigmas = {prob:.{precision}f}")
        lines.append(h(f"step {st.step}: backward"))
        lines.append(f"  output: {st.delta_rule}")
        if code_open:
            lines.append(code_open)
        for rec in reversed(st.layers):
            l = rec.index
            if l != len(st.layers) and rec.derivative is not None:
                note = ""
                if rec.activation in ("relu", "relu6"):
                    note = "  (0 where the unit is off: no gradient flows there)"
                elif rec.activation in ("leaky_relu", "prelu", "rrelu"):
                    note = "  (the slope where z < 0: a small gradient still flows)"
                masked = f" * m{l}" if rec.mask is not None else ""
                lines.append(f"layer {l}: delta{l} = (delta{l+1} W{l+1}^T{masked}) * f'(z{l}){note}")
                block(f"f'(z{l})", rec.derivative)
            else:
                lines.append(f"layer {l}: output delta")
            block(f"delta{l} = dL/dz{l}", rec.delta)
            block(f"dL/dW{l} = a{l-1}^T delta{l}", rec.grad_W)
            block(f"dL/db{l} = sum delta{l}", rec.grad_b)
        if code_close:
            lines.append(code_close)
        lines.append(h(f"step {st.step}: update (SGD, lr = {trace.lr:g})"))
        lines.extend(textwrap.wrap(TEXTBOOK_RULE, 92, initial_indent="  ", subsequent_indent="  "))
        if code_open:
            lines.append(code_open)
        for rec in st.layers:
            block(f"W{rec.index} += -lr dL/dW{rec.index}", rec.update_W)
            block(f"b{rec.index} += -lr dL/db{rec.index}", rec.update_b)
        if code_close:
            lines.append(code_close)
    return "\n".join(lines).lstrip("\n") + "\n"


def render(trace: Trace, fmt: str = "text", precision: int = 4) -> str:
    """Render as ``text``, ``markdown`` or ``json``."""
    if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or not 0 <= precision <= 12:
        from relunet.errors import ConfigError

        raise ConfigError(f"precision (decimals shown) must be an integer from 0 to 12, got {precision!r}")
    if fmt == "json":
        return json.dumps(trace.to_dict()) + "\n"
    if fmt == "markdown":
        return render_text(trace, precision, markdown=True)
    if fmt == "text":
        return render_text(trace, precision)
    from relunet.errors import UnknownNameError

    raise UnknownNameError("trace format", fmt, ["text", "markdown", "json"])
