"""relunet: feed-forward neural networks with explicit, verified activations and gradients."""

from . import activations, callbacks, datasets, losses, optimizers, schedules
from . import diagnostics, doctor  # issue 5: relunet.diagnostics.diagnose, relunet.doctor.examine
from .callbacks import EarlyStopping
from .errors import RelunetError
from .layers import ActivationLayer, Dense
from .modelfile import load
from .network import MLP, Network
from .training import History

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "Network",
    "Dense",
    "ActivationLayer",
    "History",
    "EarlyStopping",
    "RelunetError",
    "load",
    "activations",
    "callbacks",
    "datasets",
    "losses",
    "optimizers",
    "schedules",
    "__version__",
]
