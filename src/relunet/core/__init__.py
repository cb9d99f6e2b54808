"""The mathematics: activations with their derivatives, layers, losses, initialisation, the
BLAS calls of the hot path, and the network that chains them (forward and backward).

Imports nothing from the other subpackages."""
