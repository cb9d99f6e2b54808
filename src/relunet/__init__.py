"""relunet: feed-forward neural networks with explicit, verified activations and gradients."""

from relunet.core import activations
from relunet.training import callbacks
from relunet.data import datasets
from relunet.core import losses
from relunet.training import optimizers
from relunet.training import schedules
from relunet.insight import diagnostics
from relunet.insight import doctor
from relunet.data import preprocessing
from relunet import training
from relunet.training.callbacks import EarlyStopping
from relunet.errors import RelunetError
from relunet.core.layers import ActivationLayer, Dense
from relunet.io.modelfile import load
from relunet.core.network import MLP, Network
from relunet.training.engine import History

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
    "diagnostics",
    "doctor",
    "preprocessing",
    "training",
    "__version__",
]
