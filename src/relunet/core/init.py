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

from relunet.errors import UnknownNameError

INITS = ("he", "xavier", "lecun")


def initial_weights(
    scheme: str,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    dtype: np.dtype = np.float32,
    negative_slope: float = 0.0,
) -> np.ndarray:
    """Draw a weight matrix ``shape (n_in, n_out)`` for the given scheme."""
    if scheme == "he":
        gain = np.sqrt(2.0 / (1.0 + negative_slope**2))
        w = rng.standard_normal((n_in, n_out)) * (gain / np.sqrt(n_in))
    elif scheme == "xavier":
        limit = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-limit, limit, size=(n_in, n_out))
    elif scheme == "lecun":
        w = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
    else:
        raise UnknownNameError("initialisation", scheme, INITS)
    return w.astype(dtype)
