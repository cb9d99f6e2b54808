"""The real MNIST (and Fashion-MNIST, where installed): verified loading and a quick accuracy check.

The full runs (3x500 ReLU to >= 98% on MNIST) take minutes and live in docs/results-data.md;
here a small network on a 10k-sample subset must still clear 90% on the official test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from relunet.data import datasets
from relunet.cli import main

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason=f"MNIST not found in {MNIST_DIR}"
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)

#: published per-class counts of the MNIST training set (digits 0..9)
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def mnist():
    return datasets.load("mnist", data_dir=MNIST_DIR)


@needs_mnist
def test_mnist_loads_verified(mnist):
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.X_train.dtype == np.float32
    assert mnist.X_train.min() == 0.0 and mnist.X_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(mnist.y_train), MNIST_TRAIN_COUNTS)
    assert mnist.info["verified"] == "md5"


@needs_mnist
def test_small_network_on_10k_mnist_subset_clears_90_percent(capsys):
    rc = main(["train", "--data", "mnist", "--data-dir", str(MNIST_DIR), "--train-samples", "10000",
               "--hidden", "128", "--epochs", "2", "--batch-size", "32", "--lr", "0.1", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sizes"] == [784, 128, 10] and out["loss"] == "cross_entropy"
    assert out["test_accuracy"] >= 0.90  # on the official 10k test set


@needs_mnist
def test_mnist_found_through_relunet_data(monkeypatch, tmp_path):
    monkeypatch.setenv("RELUNET_DATA", str(MNIST_DIR))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.find_files("mnist")["train_images"].parent == MNIST_DIR


@needs_fashion
def test_fashion_mnist_from_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.delenv("RELUNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache: the system copy is used
    ds = datasets.load("fashion-mnist", train_samples=10000)
    assert ds.info["files"]["train_images"].startswith(str(FASHION_DIR))
    assert ds.X_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(ds.y_test), [1000] * 10)
    from relunet.core.network import MLP

    net = MLP([784, 64, 10], seed=0)
    net.fit(ds.X_train, ds.y_train, epochs=3, batch_size=32, lr=0.05)
    assert net.score(ds.X_test, ds.y_test) >= 0.75  # measured 0.82 (a 10k subset, 3 epochs)


@needs_fashion
def test_fashion_mnist_hflip_mirrors_the_clothing_and_keeps_the_test_set():
    plain = datasets.load("fashion-mnist", data_dir=FASHION_DIR, train_samples=500)
    aug = datasets.load("fashion-mnist", data_dir=FASHION_DIR, train_samples=500, augment="hflip")
    assert aug.X_train.shape == (1000, 784) and aug.info["augment"] == "hflip"
    mirrored = aug.X_train[500:].reshape(-1, 28, 28)
    np.testing.assert_array_equal(mirrored[:, :, ::-1], plain.X_train.reshape(-1, 28, 28))
    assert not np.array_equal(mirrored, plain.X_train.reshape(-1, 28, 28))  # clothing is not symmetric pixel by pixel
    np.testing.assert_array_equal(aug.X_test, plain.X_test)
