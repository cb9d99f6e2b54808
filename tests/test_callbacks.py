"""relunet.training.callbacks: early stopping and user callbacks."""

import numpy as np
import pytest

import relunet
from relunet import errors
from relunet.errors import ConfigError, ModelFileError
from relunet.training.callbacks import EarlyStopping

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("kwargs", [{"patience": "a"}, {"patience": 2.5}, {"monitor": None}, {"min_delta": "x"}])
def test_early_stopping_argument_types(kwargs):
    with pytest.raises(errors.ConfigError):
        relunet.callbacks.EarlyStopping(**kwargs)


def _net():
    return relunet.MLP([2, 4, 1], output="sigmoid", seed=0)


def _fit(net, epochs, **kw):
    return net.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.5, batch_size=2, **kw)


@pytest.mark.parametrize("kw", [{"min_delta": float("inf")}, {"min_delta": True}, {"min_delta": "0.1"},
                                {"restore_best_weights": "no"}])
def test_early_stopping_settings_are_checked(kw):
    with pytest.raises(ConfigError):
        EarlyStopping(monitor="loss", **kw)


def test_early_stopping_state_of_another_network_is_named():
    es = EarlyStopping(monitor="loss")
    es.load_state_dict({"best": 0.5, "best_epoch": 1, "wait": 0, "stopped_epoch": 0,
                        "best_weights": [np.zeros(3, np.float32)]})
    with pytest.raises(ModelFileError, match="do not fit"):
        es.on_train_end(_net(), None)


def test_function_callback_returning_an_array_is_named():
    def cb(epoch, record, net):
        return np.array([1, 2])

    with pytest.raises(ConfigError, match="'cb' returned ndarray"):
        _fit(_net(), 2, callbacks=[cb])
