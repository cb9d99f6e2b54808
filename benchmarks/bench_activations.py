"""Time forward + backward of every activation on a float32 batch, next to torch (CPU).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_activations.py [--rows 256 --cols 512]``

Prints, per activation, the median time of ``forward(x)`` and of ``backward(g)`` in
microseconds, and torch's forward+backward for the same tensor (one thread), as a yardstick.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from relunet.core import activations as A

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only a test dependency
    torch = None

TORCH = {
    "identity": lambda x: x * 1, "sigmoid": torch.sigmoid if torch else None,
    "tanh": torch.tanh if torch else None,
}
if torch is not None:
    TORCH.update({
        "relu": F.relu, "relu6": F.relu6, "leaky_relu": F.leaky_relu, "elu": F.elu,
        "selu": F.selu, "celu": F.celu, "gelu": F.gelu, "silu": F.silu, "mish": F.mish,
        "softplus": F.softplus, "softsign": F.softsign, "hardtanh": F.hardtanh,
        "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "logsigmoid": F.logsigmoid,
        "softmax": lambda x: F.softmax(x, -1), "log_softmax": lambda x: F.log_softmax(x, -1),
        "rrelu": lambda x: F.rrelu(x, training=True),
        "prelu": lambda x: F.prelu(x, torch.full((1,), 0.25)),
    })


def _median_us(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((args.rows, args.cols)) * 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"float32 batch {x.shape}; median of {args.repeat} runs, microseconds")
    print(f"{'activation':<12} {'forward':>9} {'backward':>9} {'fwd+bwd':>9} {'torch f+b':>10}")
    for name in A.names():
        act = A.get(name, rng=np.random.default_rng(0)) if name == "rrelu" else A.get(name)
        act.astype(np.float32)
        fwd = _median_us(lambda: act.forward(x), args.repeat)
        if act.differentiable:
            act.forward(x)
            bwd = _median_us(lambda: act.backward(g), args.repeat)
        else:
            bwd = float("nan")
        ref = float("nan")
        if torch is not None and TORCH.get(name) is not None:
            tf = TORCH[name]
            gt = torch.from_numpy(g)

            def run():
                xt = torch.from_numpy(x).requires_grad_(True)
                tf(xt).backward(gt)
            ref = _median_us(run, args.repeat)
        print(f"{name:<12} {fwd:9.0f} {bwd:9.0f} {fwd + bwd:9.0f} {ref:10.0f}")


if __name__ == "__main__":
    main()
