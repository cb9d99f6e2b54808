"""Two classes: a sigmoid unit with BCE and a 2-unit softmax with cross-entropy decide alike.

For two classes, softmax([z0, z1])_1 = 1 / (1 + exp(-(z1 - z0))) = sigmoid(z1 - z0): a
2-unit softmax layer is a sigmoid unit on the difference of its two logits. So

1. any sigmoid network can be rewritten exactly as a softmax network (output weights
   [0, w], biases [0, b]): the probabilities agree to rounding, and so do the decisions;
2. trained separately on the same data, both reach the same accuracy (they fit the same
   family of models; the softmax one has one redundant set of output weights).

Run: python examples/sigmoid_vs_softmax.py
Expected output (what the test checks):

    rewritten: max |p_sigmoid - p_softmax| < 1e-6, decisions identical
    trained separately on moons: both accuracies >= 0.95 and within 0.02 of each other
"""

from __future__ import annotations

import numpy as np

import relunet
from relunet.data.datasets import load


def main() -> dict:
    data = load("moons", seed=0)
    sig = relunet.MLP([2, 16, 1], activation="tanh", output="sigmoid", dtype=np.float64, seed=0)
    sig.fit(data.X_train, data.y_train, epochs=200, batch_size=16, lr=0.2)

    # 1. the same network written with a 2-unit softmax output
    soft = relunet.MLP([2, 16, 2], activation="tanh", output="softmax", dtype=np.float64, seed=0)
    soft.dense_layers[0].W[...] = sig.dense_layers[0].W
    soft.dense_layers[0].b[...] = sig.dense_layers[0].b
    soft.dense_layers[1].W[...] = np.hstack([np.zeros_like(sig.dense_layers[1].W), sig.dense_layers[1].W])
    soft.dense_layers[1].b[...] = [0.0, sig.dense_layers[1].b[0]]
    soft.classes_ = sig.classes_
    p_sig = sig.predict_proba(data.X_test)
    p_soft = soft.predict_proba(data.X_test)
    gap = float(np.max(np.abs(p_sig - p_soft)))
    same = bool(np.array_equal(sig.predict(data.X_test), soft.predict(data.X_test)))
    print(f"rewritten: max |p_sigmoid - p_softmax| = {gap:.2e}, decisions identical: {same}")

    # 2. trained independently
    soft2 = relunet.MLP([2, 16, 2], activation="tanh", output="softmax", dtype=np.float64, seed=0)
    soft2.fit(data.X_train, data.y_train, epochs=200, batch_size=16, lr=0.2)
    acc_sig = sig.score(data.X_test, data.y_test)
    acc_soft = soft2.score(data.X_test, data.y_test)
    agree = float(np.mean(sig.predict(data.X_test) == soft2.predict(data.X_test)))
    print(f"trained separately on moons: sigmoid + BCE {acc_sig:.3f}, softmax + CE {acc_soft:.3f}, "
          f"same decision on {agree:.1%} of test points")
    return {"gap": gap, "same_decisions": same, "acc_sigmoid": acc_sig, "acc_softmax": acc_soft,
            "agreement": agree}


if __name__ == "__main__":
    main()
