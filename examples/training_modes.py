"""Online, mini-batch, full-batch gradient descent and conjugate gradient on one problem.

One epoch = one pass over the training set. What differs is how many updates an epoch makes
and how noisy each is:

* online (batch_size=1): one update per pattern, the textbook ``w += lr * delta * f'(e) * x``
  (there ``delta`` is the error ``target - output``, which carries gradient descent's minus
  sign; relunet's delta, ``dL/dz`` in ``relunet trace``, has the opposite sign and already
  includes ``f'(e)``); many cheap, noisy steps per epoch;
* mini-batch (batch_size=B): one update per B patterns, the gradient averaged over them;
* full batch: one exact-gradient update per epoch;
* conjugate gradient (Polak-Ribiere) and L-BFGS: full-batch methods that choose each step's
  direction from previous gradients and its length by a line search (no learning rate).

The same 2-16-1 tanh network (sigmoid + BCE) on the moons problem, the same start.
Run: python examples/training_modes.py
Expected output (the test checks: every mode reaches the target accuracy; online needs
fewer epochs than full batch, and CG/L-BFGS need fewer iterations than full-batch GD; and
that the epochs and test accuracies are the ones below):

    mode                     epochs to 97%   updates  gradients   test acc
    online (batch 1)                    27      8100       8100      0.990
    mini-batch (batch 16)               43       817        817      0.990
    full batch                         160       160        160      0.980
    conjugate gradient                  17        17        406      0.970
    L-BFGS                              15        15         40      0.970

(CG's whole-run count of gradients depends on the last bits of the matrix products: 406 on
OpenBLAS, 306 on Intel MKL.)
"""

from __future__ import annotations

import numpy as np

import relunet
from relunet.data.datasets import load

TARGET = 0.97

MODES = [
    ("online (batch 1)", dict(batch_size=1, lr=0.05, optimizer="sgd", epochs=60)),
    ("mini-batch (batch 16)", dict(batch_size=16, lr=0.5, optimizer="sgd", epochs=150)),
    ("full batch", dict(batch_size=None, lr=2.0, optimizer="sgd", epochs=1000)),
    ("conjugate gradient", dict(optimizer="cg", epochs=200)),
    ("L-BFGS", dict(optimizer="lbfgs", epochs=200)),
]


def main() -> dict[str, dict]:
    data = load("moons", seed=0)
    n = len(data.X_train)
    results = {}
    print(f"moons: {n} training samples; 2-16-1 tanh, sigmoid + BCE, float64, same initial weights\n")
    print(f"{'mode':<24}{'epochs to ' + format(TARGET, '.0%'):>14}{'updates':>10}{'gradients':>11}"
          f"{'test acc':>11}")
    for name, cfg in MODES:
        net = relunet.MLP([2, 16, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
        hist = net.fit(data.X_train, data.y_train, **cfg)
        acc = hist["accuracy"]
        reached = next((i + 1 for i, a in enumerate(acc) if a is not None and a >= TARGET), None)
        if cfg["optimizer"] in ("cg", "lbfgs"):
            updates = hist.info.get("nit", len(acc)) if reached is None else reached
            gradients = hist.info.get("nfev")
        else:
            per_epoch = -(-n // (cfg["batch_size"] or n))
            updates = (reached or len(acc)) * per_epoch
            gradients = updates
        results[name] = {"epochs_to_target": reached, "updates": updates, "gradients": gradients,
                         "test_accuracy": net.score(data.X_test, data.y_test)}
        print(f"{name:<24}{str(reached):>14}{updates:>10}{str(gradients):>11}"
              f"{results[name]['test_accuracy']:>11.3f}")
    print("\n'updates' counts weight updates until the target (CG/L-BFGS: iterations); 'gradients'")
    print("counts full or batch gradient evaluations (CG/L-BFGS: for the whole run, line searches included).")
    return results


if __name__ == "__main__":
    main()
