"""XOR four ways: which output activation and loss, and why the ReLU + MSE net fails.

XOR is a classification problem with two classes. This script trains it four ways over
several seeds and counts how often each reaches 100% accuracy:

1. 2-8-1, leaky ReLU hidden, sigmoid output + binary cross-entropy   (the textbook answer)
2. 2-8-2, leaky ReLU hidden, softmax output + cross-entropy          (same decision)
3. 2-8-1, tanh hidden, linear output + MSE, thresholded at 0.5       (regression on labels)
4. 2-30-1, ReLU hidden AND ReLU output, MSE, plain gradient descent  (a net people post
   asking "why does it sometimes not learn?")

Way 4 fails for some seeds: the output is a ReLU, so whenever the output unit's input is
<= 0 for a pattern its derivative is 0 and that pattern sends back no gradient at all; a
run where the output unit (or the hidden units feeding it) goes dark early stays stuck.
The fix is the right output for the task: sigmoid + BCE, or softmax + CE.

Run: python examples/xor_four_ways.py [--seeds 20]
Expected output (20 seeds; the counts are what the test checks):

    sigmoid + BCE (2-8-1, leaky_relu)       20/20 seeds reach 100%
    softmax + CE (2-8-2, leaky_relu)        20/20 seeds reach 100%
    linear + MSE (2-8-1, tanh)              20/20 seeds reach 100%
    relu + MSE (2-30-1, relu, plain GD)     2/20 seeds reach 100%
                                            18 failed, 18 of them stuck (loss flat over the last
                                            200 epochs); in 18 the output ReLU is off (z <= 0) ...
"""

from __future__ import annotations

import argparse

import numpy as np

import relunet

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([0, 1, 1, 0])


def _accuracy(net: relunet.MLP) -> float:
    if net.task == "regression":
        return float(np.mean((net.predict(X) > 0.5).astype(int) == Y))
    return net.score(X, Y)


WAYS = {
    "sigmoid + BCE (2-8-1, leaky_relu)": dict(sizes=[2, 8, 1], activation="leaky_relu", output="sigmoid",
                                              epochs=2000, lr=1.0),
    "softmax + CE (2-8-2, leaky_relu)": dict(sizes=[2, 8, 2], activation="leaky_relu", output="softmax",
                                             epochs=2000, lr=1.0),
    "linear + MSE (2-8-1, tanh)": dict(sizes=[2, 8, 1], activation="tanh", output="identity",
                                       epochs=2000, lr=0.2),
    "relu + MSE (2-30-1, relu, plain GD)": dict(sizes=[2, 30, 1], activation="relu", output="relu",
                                                loss="mse", epochs=2000, lr=0.1),
}


def run_way(cfg: dict, seed: int) -> tuple[float, relunet.MLP, bool]:
    """Train one way with one seed: (accuracy, network, stuck: loss flat over the last 200 epochs)."""
    cfg = dict(cfg)
    epochs, lr = cfg.pop("epochs"), cfg.pop("lr")
    sizes = cfg.pop("sizes")
    net = relunet.MLP(sizes, seed=seed, **cfg)
    y = Y.astype(float) if net.task == "regression" else Y
    history = net.fit(X, y, epochs=epochs, batch_size=4, lr=lr)
    stuck = abs(history["loss"][-1] - history["loss"][-200]) < 1e-6
    return _accuracy(net), net, stuck


def main(seeds: int = 20) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, cfg in WAYS.items():
        wins, stuck, dead_output = 0, 0, 0
        for seed in range(seeds):
            acc, net, flat = run_way(cfg, seed)
            wins += acc == 1.0
            if acc < 1.0:
                stuck += flat
                if net.output_activation.name == "relu":
                    z = net.logits(net.check_X(X))[:, 0]
                    dead_output += int(np.any(z <= 0))
        results[name] = {"wins": wins, "seeds": seeds, "stuck": stuck, "dead_output_runs": dead_output}
        line = f"{name:<40}{wins}/{seeds} seeds reach 100%"
        if wins < seeds:
            line += (f"\n{'':<40}{seeds - wins} failed, {stuck} of them stuck (loss flat over the last "
                     f"200 epochs); in {dead_output} the output ReLU is off (z <= 0) for some pattern, "
                     "which then sends back no gradient")
        print(line)
    print("\nXOR is classification: use sigmoid + binary cross-entropy (or a 2-unit softmax + "
          "cross-entropy).")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    main(ap.parse_args().seeds)
