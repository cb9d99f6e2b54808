"""relunet.core.registry: the one name table behind every catalog."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from relunet.core import activations, init, losses
from relunet.core.registry import Registry, kebab_case, snake_case
from relunet.data import datasets, preprocessing
from relunet.errors import ConfigError, UnknownNameError
from relunet.training import optimizers, schedules


class Shape:
    name = "shape"


class Circle(Shape):
    name = "circle"

    def __init__(self, radius: float = 1.0):
        self.radius = radius


class Square(Shape):
    name = "square"


def shapes(**options) -> Registry:
    return Registry("shape", {"circle": Circle, "square": Square}, aliases={"round": "circle"},
                    base=Shape, **options)


# -- the Registry itself ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["circle", "Circle", "  CIRCLE ", "round", "ROUND"])
def test_get_by_name_or_alias_in_any_case(name):
    reg = shapes()
    obj = reg.get(name, radius=2.0)
    assert type(obj) is Circle and obj.radius == 2.0
    assert reg.canonical_name(name) == "circle" and name in reg


def test_get_returns_a_fresh_object_each_time():
    reg = shapes()
    assert reg.get("circle") is not reg.get("circle")


def test_unknown_name_raises_and_lists_the_known_names_and_aliases():
    with pytest.raises(UnknownNameError) as exc:
        shapes().get("triangle")
    assert exc.value.known == ["circle", "round", "square"]
    assert str(exc.value) == "unknown shape 'triangle'; known shapes: circle, round, square"
    assert "triangle" not in shapes()


def test_unknown_name_lists_only_names_when_aliases_are_not_listed():
    with pytest.raises(UnknownNameError) as exc:
        shapes(list_aliases=False).canonical_name("triangle")
    assert exc.value.known == ["circle", "square"]


def test_instance_passes_through_but_not_with_parameters():
    reg = shapes()
    c = Circle(3.0)
    assert reg.get(c) is c
    with pytest.raises(ConfigError, match="cannot pass parameters together with a Shape instance"):
        reg.get(c, radius=1.0)


def test_class_is_instantiated_only_where_the_catalog_allows():
    assert type(shapes(classes=True).get(Circle, radius=4.0)) is Circle
    with pytest.raises(ConfigError, match="a shape is a name or a Shape instance, not type"):
        shapes().get(Circle)


@pytest.mark.parametrize("value", [None, 3, 2.5, ["circle"]])
def test_other_values_raise(value):
    with pytest.raises(ConfigError, match="a shape is a name or a Shape instance"):
        shapes().get(value)
    with pytest.raises(UnknownNameError, match="known shapes"):
        shapes(others_unknown=True).get(value)
    with pytest.raises(UnknownNameError):
        shapes().canonical_name(value)


def test_a_parameter_the_entry_does_not_take_is_a_config_error():
    with pytest.raises(ConfigError, match="shape 'circle' got an unexpected keyword argument 'side'"):
        shapes().get("circle", side=2)


@pytest.mark.parametrize("get, name, bad, takes", [
    (shapes().get, "circle", "side", "its parameters: radius"),
    (shapes().get, "square", "side", "it takes no parameters"),
    (activations.get, "leaky_relu", "slope", "its parameters: negative_slope"),
    (activations.get, "relu", "alpha", "it takes no parameters"),
    (optimizers.get, "sgd", "beta", "its parameters: lr, momentum"),
])
def test_a_parameter_the_entry_does_not_take_is_named_with_those_it_takes(get, name, bad, takes):
    """The message names the catalog entry and lists its parameters, not Python's
    ``Class.__init__()``."""
    with pytest.raises(ConfigError) as info:
        get(name, **{bad: 1})
    assert f"unexpected keyword argument '{bad}'" in str(info.value) and takes in str(info.value)
    assert "__init__" not in str(info.value)


def test_names_listing_and_lookup():
    reg = shapes()
    assert reg.parameters("round") == ["radius"] and reg.parameters("square") == []
    assert reg.names() == ["circle", "square"] == list(reg) and len(reg) == 2
    assert reg.lookup("ROUND") is Circle
    assert "circle" in repr(reg)


def test_register_and_aliases_are_checked():
    reg = shapes()
    reg.register("oval", Circle, aliases=("ellipse",))
    assert reg.canonical_name("Ellipse") == "oval"
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("circle", Circle)
    with pytest.raises(ConfigError, match="not a registered shape"):
        reg.add_alias("box", "cube")
    with pytest.raises(ConfigError, match="already the name"):
        reg.add_alias("square", "circle")


def test_the_registry_holds_the_mapping_it_is_given():
    table = {"circle": Circle}
    reg = Registry("shape", table)
    table["square"] = Square
    assert reg.names() == ["circle", "square"]


def test_normalizers():
    assert snake_case(" Leaky-ReLU ") == "leaky_relu"
    assert kebab_case(" Fashion_MNIST ") == "fashion-mnist"
    exact = Registry("scheme", {"he": 1}, normalize=str)
    assert "he" in exact and "He" not in exact


def test_unknown_name_error_survives_pickling():
    err = shapes().unknown("triangle")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err)


# -- every catalog goes through a Registry ------------------------------------------------

CATALOGS = [
    pytest.param(activations, activations.ACTIVATIONS, "relu", id="activations"),
    pytest.param(losses, losses.LOSSES, "mse", id="losses"),
    pytest.param(optimizers, optimizers.OPTIMIZERS, "sgd", id="optimizers"),
    pytest.param(schedules, schedules.SCHEDULES, "constant", id="schedules"),
    pytest.param(datasets, datasets.LOADERS, "xor", id="datasets"),
]


@pytest.mark.parametrize("module, table, example", CATALOGS)
def test_each_catalog_uses_a_registry_over_its_public_table(module, table, example):
    reg = module.REGISTRY
    assert isinstance(reg, Registry)
    assert reg.entries is table  # one table: the public dict is the registry's
    assert module.names() == reg.names() == sorted(table)
    assert example in reg
    with pytest.raises(UnknownNameError) as exc:
        reg.canonical_name("no_such_thing")
    assert set(module.names()) <= set(exc.value.known)


@pytest.mark.parametrize("module", [activations, losses, optimizers, schedules])
def test_each_catalog_get_is_strict(module):
    with pytest.raises(UnknownNameError) as exc:
        module.get("no_such_thing")
    assert set(module.names()) <= set(exc.value.known)
    for name in [*module.REGISTRY.names(), *module.REGISTRY.aliases]:
        if module is schedules:
            params = {"step": {"step_size": 2}, "exponential": {"gamma": 0.9},
                      "cosine": {"T_max": 3}}.get(module.canonical_name(name), {})
            obj = module.get(name, **params)
        else:
            obj = module.get(name)
        assert type(obj) is module.REGISTRY.lookup(name), name


@pytest.mark.parametrize("module, cls, params", [
    (activations, activations.LeakyReLU, {"negative_slope": 0.2}),
    (losses, losses.MeanSquaredError, {}),
    (optimizers, optimizers.Adam, {"lr": 0.01}),
    (schedules, schedules.Cosine, {"T_max": 5}),
])
def test_each_catalog_get_takes_an_instance_or_a_class(module, cls, params):
    obj = module.get(cls, **params)
    assert type(obj) is cls
    assert module.get(obj) is obj


def test_each_catalog_canonical_name():
    assert activations.canonical_name("Swish") == "silu"
    assert losses.canonical_name("CE") == "cross_entropy"
    assert optimizers.canonical_name("L-BFGS") == "lbfgs"
    assert schedules.canonical_name("plateau") == "reduce_on_plateau"
    assert datasets.REGISTRY.canonical_name("Fashion_MNIST") == "fashion-mnist"


def test_optimizer_instance_ignores_the_loops_learning_rate():
    opt = optimizers.SGD(lr=0.5)
    assert optimizers.get(opt, lr=0.1) is opt and opt.lr == 0.5


def test_initialisations_registry():
    assert isinstance(init.REGISTRY, Registry) and init.INITS == ("he", "xavier", "lecun")
    rng = np.random.default_rng(0)
    for name in init.INITS:
        w = init.initial_weights(name, 3, 4, rng, np.float64)
        assert w.shape == (3, 4) and w.dtype == np.float64
    with pytest.raises(UnknownNameError, match="unknown initialisation 'He'.*he, lecun, xavier"):
        init.initial_weights("He", 3, 4, rng)  # exact names: the network compares with "he"


def test_initialisations_draw_what_they_did():
    a = init.initial_weights("he", 5, 2, np.random.default_rng(1), np.float64, negative_slope=0.1)
    b = np.random.default_rng(1).standard_normal((5, 2)) * (math.sqrt(2 / 1.01) / math.sqrt(5))
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("name, expected", [
    ("standard", preprocessing.Standardizer), (" MinMax ", preprocessing.MinMaxScaler),
    ("none", type(None)), ("NONE", type(None)), (None, type(None)),
])
def test_scalers_registry(name, expected):
    assert isinstance(preprocessing.REGISTRY, Registry)
    assert type(preprocessing.get_scaler(name)) is expected


def test_unknown_scaler_lists_none_too():
    with pytest.raises(UnknownNameError) as exc:
        preprocessing.get_scaler("robust")
    assert exc.value.known == ["minmax", "none", "standard"]


def test_unknown_dataset_lists_the_datasets():
    with pytest.raises(UnknownNameError, match="known datasets: .*xor"):
        datasets.load("no-such-set")



def test_an_unknown_name_megabytes_long_is_shortened_in_the_message():
    # a model file naming its init with 10**6 characters printed all of them
    with pytest.raises(UnknownNameError) as info:
        activations.get("x" * 10**6)
    message = str(info.value)
    assert len(message) < 1000 and "... (1000002 characters)" in message and info.value.name == "x" * 10**6
