"""Weight initialisation schemes, each matched to the activations it was derived for.

Weights of a dense layer are ``shape (n_in, n_out)``; biases start at 0.

* ``he`` (Kaiming normal, fan-in): ``W ~ N(0, gain^2 / n_in)`` with ``gain = sqrt(2 / (1 + a^2))``
  for a (leaky) ReLU of negative slope ``a`` -- He et al., *Delving Deep into Rectifiers*, 2015.
* ``xavier`` (Glorot uniform): ``W ~ U(-l, l)``, ``l = sqrt(6 / (n_in + n_out))``
  -- Glorot & Bengio, *Understanding the difficulty of training deep FNNs*, 2010.
* ``lecun`` (LeCun normal): ``W ~ N(0, 1 / n_in)`` -- LeCun et al., *Efficient BackProp*, 1998;
  the initialisation SELU's self-normalisation assumes (Klambauer et al., 2017).
"""

from __future__ import annotations

import numpy as np

from collections.abc import Callable

from relunet.core.registry import Registry

#: a scheme draws ``shape (n_in, n_out)`` float64 weights: (n_in, n_out, rng, negative_slope) -> W
Scheme = Callable[[int, int, np.random.Generator, float], np.ndarray]


def he(n_in: int, n_out: int, rng: np.random.Generator, negative_slope: float = 0.0) -> np.ndarray:
    """Kaiming normal (fan-in): ``N(0, gain^2 / n_in)``, ``gain = sqrt(2 / (1 + a^2))``."""
    gain = np.sqrt(2.0 / (1.0 + negative_slope**2))
    return rng.standard_normal((n_in, n_out)) * (gain / np.sqrt(n_in))


def xavier(n_in: int, n_out: int, rng: np.random.Generator, negative_slope: float = 0.0) -> np.ndarray:
    """Glorot uniform: ``U(-l, l)``, ``l = sqrt(6 / (n_in + n_out))`` (the slope is not used)."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def lecun(n_in: int, n_out: int, rng: np.random.Generator, negative_slope: float = 0.0) -> np.ndarray:
    """LeCun normal: ``N(0, 1 / n_in)`` (the slope is not used)."""
    return rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)


#: the initialisation catalog's name table. Names are exact (no case folding): the
#: network compares the scheme with ``"he"`` to pass the activation's negative slope.
REGISTRY: Registry[Scheme] = Registry("initialisation", {"he": he, "xavier": xavier, "lecun": lecun},
                                      normalize=str)
INITS = tuple(REGISTRY.entries)


def initial_weights(
    scheme: str,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    dtype: np.dtype = np.float32,
    negative_slope: float = 0.0,
) -> np.ndarray:
    """Draw a weight matrix ``shape (n_in, n_out)`` for the given scheme.

    Raises:
        UnknownNameError: for a scheme not in :data:`INITS` (the message lists them).
    """
    draw = REGISTRY.lookup(scheme)
    return draw(n_in, n_out, rng, negative_slope).astype(dtype)
