"""Dying ReLU made visible, and fixed with Leaky ReLU, PReLU and RReLU.

A ReLU unit whose input is <= 0 for every sample outputs 0 and has derivative 0 on every
sample: no gradient ever reaches its weights, so it never recovers ("dead"). Here the
hidden biases of a digits network start at -1 (a deliberately bad start; a too-large
learning rate does the same during training). With ReLU most hidden units are dead and stay
dead; with Leaky ReLU (slope 0.01 below 0), PReLU (a learned slope, starting at 0.25) or
RReLU (a random slope drawn from U(1/8, 1/3) in every training pass, their mean 11/48 in
evaluation) the same units still pass a small gradient, climb out, and the network learns.

Run: python examples/dying_relu.py
Expected output (the test checks: ReLU > 50% dead before and after, chance accuracy;
leaky ReLU, PReLU and RReLU none dead, and they learn):

    activation       dead before dead after z<=0 after test accuracy
    relu                     72%        72%        72%         0.100
    leaky_relu                0%         0%        40%         0.864
    leaky_relu(0.1)           0%         0%        38%         0.964
    prelu                     0%         0%        20%         0.964
    rrelu                     0%         0%        26%         0.962

A larger negative slope (Caffe's ``negative_slope``) lets the units recover faster.
"""

from __future__ import annotations

import numpy as np

import relunet
from relunet.insight.diagnostics import diagnose

BIAS = -1.0


def dead_fraction_relu_style(net: relunet.MLP, X: np.ndarray) -> float:
    """Fraction of hidden units whose input is <= 0 on every sample (whatever the activation)."""
    Xc = net.check_X(X)
    a, dead, total = Xc, 0, 0
    for layer in net.layers[:-2]:
        a = layer.forward(a)
        if isinstance(layer, relunet.Dense):
            dead += int(np.sum(np.all(a <= 0, axis=0)))
            total += a.shape[1]
    return dead / total


def run(activation, data, epochs: int = 30) -> dict:
    net = relunet.MLP([64, 64, 64, 10], activation=activation, output="softmax", seed=0)
    for dense in net.dense_layers[:-1]:
        dense.b[:] = BIAS
    before = diagnose(net, data.X_train).dead_fraction()
    below_before = dead_fraction_relu_style(net, data.X_train)
    net.fit(data.X_train, data.y_train, epochs=epochs, batch_size=32, lr=0.1)
    after = diagnose(net, data.X_train).dead_fraction()
    return {
        "dead_before": before or 0.0,
        "dead_after": after or 0.0,
        "inactive_before": below_before,
        "inactive_after": dead_fraction_relu_style(net, data.X_train),
        "test_accuracy": net.score(data.X_test, data.y_test),
    }


def main(epochs: int = 30) -> dict[str, dict]:
    data = relunet.datasets.load("digits", seed=0)
    results = {}
    print(f"hidden biases start at {BIAS}; digits, 64-64-64-10, SGD lr 0.1, {epochs} epochs\n")
    print(f"{'activation':<16} {'dead before':>11} {'dead after':>10} {'z<=0 after':>10} {'test accuracy':>13}")
    for name, spec in [("relu", "relu"), ("leaky_relu", "leaky_relu"),
                       ("leaky_relu(0.1)", ("leaky_relu", {"negative_slope": 0.1})),
                       ("prelu", ("prelu", {"num_parameters": "per_unit"})), ("rrelu", "rrelu")]:
        r = run(spec, data, epochs)
        results[name] = r
        print(f"{name:<16} {r['dead_before']:>11.0%} {r['dead_after']:>10.0%} "
              f"{r['inactive_after']:>10.0%} {r['test_accuracy']:>13.3f}")
    print("\n'dead' counts units of the ReLU family that pass no gradient on any sample (z <= 0")
    print("everywhere and f'(z) = 0); leaky ReLU, PReLU and RReLU units with z <= 0 still pass a gradient")
    print("(the slope), so they cannot die and recover from the bad start.")
    return results


if __name__ == "__main__":
    main()
