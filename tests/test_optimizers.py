"""Optimizers: the same numbers as torch.optim, checkpointable state, dtypes, convergence."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from relunet.training import optimizers
from relunet.errors import ConfigError, UnknownNameError

torch = pytest.importorskip("torch")

SHAPES = [(5, 4), (4,), (4, 3), (3,)]
N_STEPS = 20

# (relunet name, torch class name, hyper-parameters passed to both)
CASES = [
    ("sgd", "SGD", {"lr": 0.1}),
    ("sgd", "SGD", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    ("adagrad", "Adagrad", {}),
    ("adagrad", "Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                            "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop", "RMSprop", {"lr": 0.003, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1,
                            "momentum": 0.7, "centered": True}),
    ("rmsprop", "RMSprop", {"lr": 0.003, "centered": True}),
    ("adam", "Adam", {}),
    ("adam", "Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1,
                      "amsgrad": True}),
    ("adamw", "AdamW", {}),
    ("adamw", "AdamW", {"lr": 0.02, "betas": (0.85, 0.995), "weight_decay": 0.3, "amsgrad": True}),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


def _problem(seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(N_STEPS)]
    return params, grads


def _torch_run(cls_name, hyper, params, grads, lrs=None, max_norm=None):
    ts = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = getattr(torch.optim, cls_name)(ts, **hyper)
    for k, gs in enumerate(grads):
        for t, g in zip(ts, gs):
            t.grad = torch.tensor(g.copy())
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(ts, max_norm)
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[k]
        opt.step()
    return [t.detach().numpy() for t in ts]


def _ours_run(name, hyper, params, grads, lrs=None, opt=None, **extra):
    opt = opt or optimizers.get(name, **hyper, **extra)
    ps = [p.copy() for p in params]
    for k, gs in enumerate(grads):
        if lrs is not None:
            opt.lr = lrs[k]
        opt.step(ps, [g.copy() for g in gs])
    return ps, opt


def _assert_close(ours, ref, rtol=1e-10):
    for a, b in zip(ours, ref):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("name, torch_cls, hyper", CASES, ids=IDS)
def test_twenty_steps_equal_torch(name, torch_cls, hyper):
    params, grads = _problem()
    ours, _ = _ours_run(name, hyper, params, grads)
    ref = _torch_run(torch_cls, hyper, params, grads)
    _assert_close(ours, ref)
    # the parameters did move (a no-op optimizer would pass the comparison otherwise only by luck)
    assert max(np.abs(a - p).max() for a, p in zip(ours, params)) > 1e-3


@pytest.mark.parametrize("name, torch_cls, hyper", CASES[::3], ids=IDS[::3])
def test_lr_changed_between_steps_equals_torch(name, torch_cls, hyper):
    params, grads = _problem(1)
    lrs = [0.02 * 0.9**k for k in range(N_STEPS)]
    ours, _ = _ours_run(name, hyper, params, grads, lrs=lrs)
    _assert_close(ours, _torch_run(torch_cls, hyper, params, grads, lrs=lrs))


@pytest.mark.parametrize("name, torch_cls, hyper", [CASES[2], CASES[7], CASES[10]], ids=["sgd", "rmsprop", "adam"])
def test_max_grad_norm_equals_torch_clip_then_step(name, torch_cls, hyper):
    params, grads = _problem(2)
    ours, _ = _ours_run(name, hyper, params, grads, max_grad_norm=1.5)
    _assert_close(ours, _torch_run(torch_cls, hyper, params, grads, max_norm=1.5))


@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf), (2.0, 1.0)])
def test_clip_grad_norm_equals_torch(max_norm, norm_type):
    _, grads = _problem(3)
    gs = [g * 3 for g in grads[0]]
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for t, g in zip(ts, gs):
        t.grad = torch.tensor(g.copy())
    ref_total = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    total = optimizers.clip_grad_norm(gs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ref_total), rel=1e-12)
    _assert_close(gs, [t.grad.numpy() for t in ts], rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone():
    g = [np.array([0.3, -0.4])]
    assert optimizers.clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g[0], [0.3, -0.4])


def _flatten(d):
    """A state dict as .npz does it: flat names, arrays, no pickle."""
    flat = {"lr": np.float64(d["lr"]), "step": np.int64(d["step"])}
    for k, arrays in d["state"].items():
        for i, a in enumerate(arrays):
            flat[f"state/{k}/{i}"] = a
    return flat


def _unflatten(flat):
    state: dict[str, list] = {}
    keys = sorted((k for k in flat if k.startswith("state/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    for k in keys:
        state.setdefault(k.split("/")[1], []).append(flat[k])
    return {"lr": float(flat["lr"]), "step": int(flat["step"]), "state": state}


@pytest.mark.parametrize("name, torch_cls, hyper", CASES, ids=IDS)
def test_state_dict_round_trip_through_npz_continues_identically(name, torch_cls, hyper, tmp_path):
    params, grads = _problem(4)
    straight, _ = _ours_run(name, hyper, params, grads)
    half, opt = _ours_run(name, hyper, params, grads[:10])
    d = opt.state_dict()
    # plain scalars and numpy arrays only
    assert isinstance(d["lr"], float) and isinstance(d["step"], int) and d["step"] == 10
    assert all(isinstance(a, np.ndarray) for v in d["state"].values() for a in v)
    path = tmp_path / "opt.npz"
    np.savez(path, **_flatten(d))
    with np.load(path, allow_pickle=False) as f:
        loaded = _unflatten(dict(f))
    fresh = optimizers.get(name, **hyper)
    fresh.load_state_dict(loaded)
    resumed, _ = _ours_run(name, hyper, half, grads[10:], opt=fresh)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy():
    params, grads = _problem()
    _, opt = _ours_run("adam", {}, params, grads[:3])
    d = opt.state_dict()
    before = d["state"]["exp_avg"][0].copy()
    opt.step([p.copy() for p in params], grads[3])
    np.testing.assert_array_equal(d["state"]["exp_avg"][0], before)
    json.dumps({"lr": d["lr"], "step": d["step"]})  # the scalars are JSON-ready


def test_load_state_dict_rejects_a_foreign_state():
    params, grads = _problem()
    _, adam = _ours_run("adam", {}, params, grads[:2])
    sgd = optimizers.get("sgd", lr=0.1, momentum=0.9)
    with pytest.raises(ConfigError, match="momentum_buffer"):
        sgd.load_state_dict(adam.state_dict())
    with pytest.raises(ConfigError, match="'lr', 'step'"):
        sgd.load_state_dict({"state": {}})
    other = optimizers.get("adam")
    other.load_state_dict(adam.state_dict())
    with pytest.raises(ConfigError, match="shape"):
        other.step([np.zeros((2, 2))] * 4, [np.zeros((2, 2))] * 4)


@pytest.mark.parametrize("name, torch_cls, hyper", CASES, ids=IDS)
def test_float32_params_stay_float32_and_match_torch(name, torch_cls, hyper):
    params, grads = _problem(5, np.float32)
    ours, opt = _ours_run(name, hyper, params, grads)
    assert all(p.dtype == np.float32 for p in ours)
    assert all(a.dtype == np.float32 for v in opt.state.values() for a in v)
    _assert_close(ours, _torch_run(torch_cls, hyper, params, grads), rtol=2e-5)


def test_plain_sgd_updates_in_place_including_non_contiguous_arrays():
    rng = np.random.default_rng(6)
    base = rng.standard_normal((6, 8))
    big = rng.standard_normal((130, 101)).astype(np.float32)  # > 8192: axpy in chunks
    params = [base.copy(), np.asfortranarray(base), base.copy()[:, ::2], base.astype(np.float32), big]
    grads = [np.ones_like(p) for p in params]
    grads[4] = rng.standard_normal(big.shape).astype(np.float32)
    grads[2] = np.ones((6, 8))[:, ::2]  # a strided gradient too
    expected = [p - 0.25 * g for p, g in zip(params, grads)]
    ids = [id(p) for p in params]
    optimizers.SGD(lr=0.25).step(params, grads)
    assert [id(p) for p in params] == ids
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-6, atol=1e-6)
    assert params[3].dtype == params[4].dtype == np.float32


def test_mismatched_params_and_grads_raise_config_error():
    with pytest.raises(ConfigError, match="gradients"):
        optimizers.SGD(lr=0.1).step([np.zeros(3)], [np.zeros(4)])
    with pytest.raises(ConfigError, match="gradients"):
        optimizers.Adam().step([np.zeros(3)], [])


# -- convergence (optax style: one table, every optimizer) ----------------------------

A = np.array([1.0, 3.0, 0.5])
C = np.array([1.0, -2.0, 0.5])

CONVERGENCE = [
    ("sgd", {"lr": 0.1}, 500),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, 500),
    ("adagrad", {"lr": 0.5}, 1000),
    ("rmsprop", {"lr": 0.01}, 1000),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5}, 1000),
    ("adam", {"lr": 0.05}, 1000),
    ("adam", {"lr": 0.05, "amsgrad": True}, 1000),
    ("adamw", {"lr": 0.05, "weight_decay": 0.0}, 1000),
]


@pytest.mark.parametrize("name, hyper, steps", CONVERGENCE, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CONVERGENCE)])
def test_reaches_the_minimum_of_a_quadratic(name, hyper, steps):
    # f(x) = 1/2 sum a_i (x_i - c_i)^2, minimum at c
    x = [np.zeros(3)]
    opt = optimizers.get(name, **hyper)
    for _ in range(steps):
        opt.step(x, [A * (x[0] - C)])
    np.testing.assert_allclose(x[0], C, atol=1e-4)


def test_coupled_weight_decay_reaches_the_l2_regularised_minimum():
    # f(x) + wd/2 |x|^2 has its minimum at a c / (a + wd)
    x = [np.zeros(3)]
    opt = optimizers.get("sgd", lr=0.1, momentum=0.5, weight_decay=0.5)
    for _ in range(500):
        opt.step(x, [A * (x[0] - C)])
    np.testing.assert_allclose(x[0], A * C / (A + 0.5), atol=1e-8)


def _rosenbrock_grad(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


@pytest.mark.parametrize("name, hyper, steps", [
    ("adam", {"lr": 0.02}, 3000),
    ("rmsprop", {"lr": 0.001, "momentum": 0.9}, 3000),
    ("sgd", {"lr": 0.001, "momentum": 0.9}, 5000),
])
def test_reaches_the_minimum_of_rosenbrock(name, hyper, steps):
    x = [np.array([-1.0, 1.0])]
    opt = optimizers.get(name, **hyper)
    for _ in range(steps):
        opt.step(x, [_rosenbrock_grad(x[0])])
    np.testing.assert_allclose(x[0], [1.0, 1.0], atol=2e-3)


# -- registry and errors -----------------------------------------------------------


def test_registry_names_and_the_full_batch_minimizers():
    from relunet.training.minimizers import Minimizer

    assert optimizers.names() == sorted(["sgd", "adagrad", "rmsprop", "adam", "adamw", "cg", "lbfgs"])
    for n in optimizers.names():
        opt = optimizers.get(n, lr=0.01)
        # cg / lbfgs are minimizers (minimize over the whole data set), not optimizers with a step
        assert isinstance(opt, Minimizer) == (n in ("cg", "lbfgs"))
        assert isinstance(opt, optimizers.Optimizer) == (n not in ("cg", "lbfgs"))
        assert hasattr(opt, "step") == (n not in ("cg", "lbfgs"))
    assert isinstance(optimizers.get("L-BFGS"), optimizers.LBFGS)


def test_defaults_are_torchs():
    assert optimizers.get("adam").lr == 1e-3 and optimizers.get("adam").config()["betas"] == (0.9, 0.999)
    assert optimizers.get("adamw").weight_decay == 0.01
    assert optimizers.get("rmsprop").config()["alpha"] == 0.99 and optimizers.get("rmsprop").lr == 0.01
    assert optimizers.get("adagrad").eps == 1e-10
    assert optimizers.get("adam", b1=0.5, b2=0.6).config()["betas"] == (0.5, 0.6)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="adamw.*sgd"):
        optimizers.get("adamm")


@pytest.mark.parametrize("name, hyper, match", [
    ("sgd", {"lr": 0}, "lr"),
    ("sgd", {"lr": -1}, "lr"),
    ("sgd", {"lr": "fast"}, "lr must be a number"),
    ("sgd", {"lr": float("nan")}, "lr"),
    ("sgd", {"momentum": -0.1}, "momentum"),
    ("sgd", {"nesterov": True}, "Nesterov"),
    ("sgd", {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov"),
    ("sgd", {"nesterov": "yes"}, "nesterov"),
    ("sgd", {"beta": 0.9}, "unexpected keyword"),
    ("adam", {"betas": (0.9, 1.0)}, "beta2"),
    ("adam", {"betas": 0.9}, "betas"),
    ("adam", {"eps": -1e-8}, "eps"),
    ("adamw", {"weight_decay": -0.01}, "weight_decay"),
    ("rmsprop", {"alpha": 1.5}, "alpha"),
    ("adagrad", {"lr_decay": -1}, "lr_decay"),
    ("adam", {"max_grad_norm": 0}, "max_grad_norm"),
    ("lbfgs", {"max_iter": 0}, "max_iter"),
    ("cg", {"max_grad_norm": 1.0}, "max_grad_norm"),
])
def test_invalid_hyper_parameters_raise_config_error(name, hyper, match):
    with pytest.raises(ConfigError, match=match):
        optimizers.get(name, **hyper)


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "adagrad"])
@pytest.mark.parametrize("eps", [0.0, 1e-300, 1e-40])
def test_eps_too_small_for_a_zero_gradient_is_refused(name, eps):
    """eps = 0 (or 0 in float32) made a parameter whose gradient is 0 step by 0 / 0: NaN
    weights on the first batch, reported as 'a floating-point overflow ... the learning
    rate is probably too large'."""
    with pytest.raises(ConfigError, match=r"eps must be at least 1.18e-38.*divide 0 by 0"):
        optimizers.get(name, eps=eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "adagrad"])
def test_smallest_eps_leaves_a_zero_gradient_parameter_unchanged(name, dtype):
    opt = optimizers.get(name, lr=0.1, eps=optimizers.MIN_EPS, weight_decay=0.0)
    p, g = np.ones(3, dtype), np.array([0.0, 1.0, -1.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for _ in range(3):
            opt.step([p], [g])
    assert p[0] == 1 and np.isfinite(p).all() and p[1] < 1 < p[2]


def test_rmsprop_alpha_one_is_refused():
    """alpha = 1 keeps the average of g^2 at 0: every step was lr g / eps (1e8 lr g)."""
    with pytest.raises(ConfigError, match=r"alpha must be a number in \[0, 1\).*lr g / eps"):
        optimizers.get("rmsprop", alpha=1.0)
    assert optimizers.get("rmsprop", alpha=0.0).alpha == 0.0


def test_clip_grad_norm_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="max_norm"):
        optimizers.clip_grad_norm([np.ones(2)], -1.0)
    with pytest.raises(ConfigError, match="norm_type"):
        optimizers.clip_grad_norm([np.ones(2)], 1.0, norm_type=0)


# -- no parameter-sized temporaries per step; scratch follows the parameters ----------

NO_ALLOC_CASES = [
    ("adam", {}),
    ("adam", {"weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"weight_decay": 0.1}),
    ("rmsprop", {}),
    ("rmsprop", {"weight_decay": 0.1, "momentum": 0.7, "centered": True}),
    ("adagrad", {"weight_decay": 0.1, "lr_decay": 0.01}),
    ("sgd", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("name, hyper", NO_ALLOC_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(NO_ALLOC_CASES)])
def test_step_allocates_no_parameter_sized_temporaries(name, hyper):
    import tracemalloc

    rng = np.random.default_rng(7)
    params = [rng.standard_normal((1000, 1000)).astype(np.float32), rng.standard_normal(1000).astype(np.float32)]
    grads = [(rng.standard_normal(p.shape) * 1e-2).astype(np.float32) for p in params]
    grads_before = [g.copy() for g in grads]
    opt = optimizers.get(name, **hyper)
    opt.step(params, grads)  # warm-up: creates the state and the scratch arrays
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        opt.step(params, grads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    nbytes = sum(p.nbytes for p in params)
    assert peak - base < 0.1 * nbytes, f"{name} step allocated {peak - base} bytes for {nbytes} bytes of parameters"
    # the network's gradients are read, never written; everything stays float32
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)
    assert all(p.dtype == np.float32 for p in params)
    assert all(a.dtype == np.float32 for v in opt.state.values() for a in v)
    assert all(w.dtype == np.float32 for ws in opt._work for w in ws)


@pytest.mark.parametrize("name, torch_cls, hyper", CASES, ids=IDS)
def test_scratch_is_not_state_and_follows_the_parameters(name, torch_cls, hyper):
    import copy

    params, grads = _problem(8)
    _, opt = _ours_run(name, hyper, params, grads[:3])
    names_before = set(opt.state)
    d = opt.state_dict()
    assert set(d["state"]) == names_before  # no scratch in the checkpoint
    clone = copy.deepcopy(opt)
    assert clone._work == []  # scratch is never deep-copied...
    a, _ = _ours_run(name, hyper, params, grads[3:], opt=opt)
    b, _ = _ours_run(name, hyper, params, grads[3:], opt=clone)
    for x, y in zip(a, b):  # ...and re-created on the next step
        np.testing.assert_array_equal(x, y)
    # the same state continued on float32 parameters: state and scratch follow the dtype
    f32 = optimizers.get(name, **hyper)
    f32.load_state_dict(d)
    ps32, _ = _ours_run(name, hyper, [p.astype(np.float32) for p in params],
                        [[g.astype(np.float32) for g in gs] for gs in grads[3:6]], opt=f32)
    assert all(p.dtype == np.float32 for p in ps32)
    assert all(a.dtype == np.float32 for v in f32.state.values() for a in v)
    assert all(w.dtype == np.float32 for ws in f32._work for w in ws)
    # other shapes (a fresh state): the scratch is re-made for them
    f32.load_state_dict({"lr": d["lr"], "step": 0, "state": {}})
    shapes = [(3, 2), (2,)]
    f32.step([np.ones(s) for s in shapes], [np.ones(s) for s in shapes])
    assert all(ws[0].shape == s and ws[0].dtype == np.float64 for ws, s in zip(f32._work, shapes))


# -- fused_sgd_lr: the optimizer says whether its update can be fused into backward ----------


def test_only_plain_sgd_fuses_and_a_fused_step_is_counted():
    plain = optimizers.SGD(lr=0.25)
    assert plain.fused_sgd_lr() == 0.25
    assert plain.n_steps == 1  # the caller makes this step: counted as step() counts
    for opt in (optimizers.SGD(lr=0.1, momentum=0.9), optimizers.SGD(lr=0.1, weight_decay=1e-3),
                optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True),
                optimizers.SGD(lr=0.1, max_grad_norm=1.0), optimizers.get("adam", lr=0.1)):
        assert opt.fused_sgd_lr() is None
        assert opt.n_steps == 0

    class Halved(optimizers.SGD):  # a subclass that changes the update is never fused
        def _update(self, params, grads):
            super()._update(params, [g / 2 for g in grads])

    assert Halved(lr=0.1).fused_sgd_lr() is None


@pytest.mark.parametrize("hyper", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}])
@pytest.mark.parametrize("how", ["flag", "memmap"])
def test_a_read_only_parameter_is_refused_before_anything_changes(hyper, how, tmp_path):
    """A read-only parameter (a model memory-mapped with mmap_mode='r', a frozen array) is a
    ConfigError naming it, raised before any parameter or momentum buffer changes: BLAS's
    axpy would write through its pointer (into a read-only map: a segmentation fault)."""
    rng = np.random.default_rng(13)
    frozen = rng.standard_normal((100, 90)).astype(np.float32)  # above kernels.COMPILED_MIN
    if how == "memmap":
        np.save(tmp_path / "w.npy", frozen)
        ro = np.load(tmp_path / "w.npy", mmap_mode="r")
    else:
        ro = frozen.copy()
        ro.setflags(write=False)
    params = [rng.standard_normal(50).astype(np.float32), ro]
    grads = [np.ones_like(params[0]), np.ones_like(frozen)]
    opt = optimizers.SGD(lr=0.1, **hyper)
    opt.step([p.copy() for p in params], grads)  # writable copies: the state exists
    state = {k: [a.copy() for a in v] for k, v in opt.state.items()}
    before = params[0].copy()
    with pytest.raises(ConfigError, match=r"parameter 1 .*read-only"):
        opt.step(params, grads)
    np.testing.assert_array_equal(params[0], before)
    np.testing.assert_array_equal(np.asarray(ro), frozen)
    for k, v in state.items():
        for a, b in zip(opt.state[k], v):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,hyper,names", [
    ("rmsprop", {"momentum": 0.9, "centered": True}, ("square_avg", "grad_avg", "momentum_buffer")),
    ("adam", {}, ("exp_avg", "exp_avg_sq")),
    ("sgd", {"momentum": 0.9}, ("momentum_buffer",)),
])
def test_running_averages_are_flushed_of_subnormal_numbers(name, hyper, names):
    """A state that a zero gradient decays into the subnormal range becomes a zero of its
    sign (kernels.flush_subnormal), in every optimizer that keeps running averages."""
    tiny = np.finfo(np.float32).tiny
    p = np.ones(6, np.float32)
    opt = optimizers.get(name, lr=0.01, **hyper)
    opt.step([p], [np.ones_like(p)])
    for key in names:
        opt.state[key][0][:] = [tiny / 2, -tiny / 2, tiny / 1e3, 1e-3, 2 * tiny, 0.5]
    opt.step([p], [np.zeros_like(p)])
    for key in names:
        x = opt.state[key][0]
        assert not ((x != 0) & (np.abs(x) < tiny)).any(), (key, x)
        assert x[3] != 0 and x[5] != 0, (key, x)  # normal values stay
    assert np.isfinite(p).all()
