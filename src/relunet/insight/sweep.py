"""Parallel sweeps: many independent trainings, run locally with joblib or on a Dask cluster.

A sweep is a list of configurations (plain dicts) and one function ``fn(config) -> result``.
:func:`run_sweep` calls ``fn`` once per configuration and returns the results in the
order of the configurations, whichever backend ran them:

* ``jobs=1``: in this process, one after the other;
* default: joblib's ``loky`` backend on the local cores (``jobs`` worker processes);
* ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``): the tasks of a Dask
  distributed cluster.

Same configurations, same numbers: every result depends only on its configuration (all
randomness comes from seeds inside it, see :mod:`relunet.core.network`), and each call runs
with BLAS limited to one thread, so no backend changes the order of a floating-point sum.
Local workers run the matrix products on this process's BLAS library
(:func:`relunet.core.blas.backend`, even one chosen with ``blas.use``); a Dask cluster's
workers choose their own, so set the same ``RELUNET_BLAS`` there.
``fn`` must be picklable (a module-level function) for the process-based backends, and a
Dask cluster's workers need relunet (the same version) importable.

:func:`grid` builds the configurations of a hyper-parameter grid; any picklable function of
one configuration can be swept, e.g. the comparison's training run::

    from relunet.insight import compare
    from relunet.insight import sweep
    configs = sweep.grid({"lr": [0.05, 0.1, 0.2], "seed": [0, 1, 2]},
                         data="digits", activation="relu", hidden=[64], epochs=20)
    results = sweep.run_sweep(configs, compare.trial, jobs=2)   # or scheduler="tcp://..."
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from relunet.core import blas
from relunet.errors import ClusterError, ConfigError

__all__ = ["grid", "run_sweep", "call_single_threaded"]

#: seconds to wait for a Dask scheduler before giving up
DEFAULT_TIMEOUT = 5.0


def grid(space: "Mapping[str, Iterable[Any]] | Sequence[Mapping[str, Iterable[Any]]]",
         **fixed: Any) -> list[dict[str, Any]]:
    """The configurations of a hyper-parameter grid (the Cartesian product of the values).

    Args:
        space: ``{name: values}``, e.g. ``{"lr": [0.1, 0.01], "activation": ["relu", "tanh"]}``,
            or a list of such dicts (the union of their grids, in order).
        **fixed: settings shared by every configuration (overridden by ``space``).

    Returns:
        One dict per point, the first key varying slowest:
        ``grid({"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 1, "b": 4},
        {"a": 2, "b": 3}, {"a": 2, "b": 4}]``.
    """
    if isinstance(space, Mapping):
        spaces: Sequence[Mapping[str, Iterable[Any]]] = [space]
    elif isinstance(space, Sequence) and not isinstance(space, (str, bytes)):
        spaces = space
    else:
        raise ConfigError(f"a grid is a dict of name -> values or a list of them, not {type(space).__name__}")
    out: list[dict[str, Any]] = []
    for sub in spaces:
        if not isinstance(sub, Mapping):
            raise ConfigError(f"a grid is a dict of name -> values, not {type(sub).__name__}")
        keys = list(sub)
        values = []
        for k in keys:
            v = sub[k]
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                raise ConfigError(
                    f"grid values for {k!r} must be a list of values, got {v!r} "
                    f"(write [{v!r}] for a single value)"
                )
            v = list(v)
            if not v:
                raise ConfigError(f"grid values for {k!r} are empty")
            values.append(v)
        for point in itertools.product(*values):
            out.append({**fixed, **dict(zip(keys, point))})
    return out


def call_single_threaded(fn: Callable[[Any], Any], config: Any, library: str | None = None) -> Any:
    """``fn(config)`` with BLAS/OpenMP limited to one thread (the unit of work of a sweep),
    its matrix products on the BLAS ``library`` (None: this process's own choice, see
    :func:`relunet.core.blas.backend`), loaded before the limit so that it covers MKL."""
    from threadpoolctl import threadpool_limits

    chosen = blas.backend()  # loads the library now, so that the limit below covers MKL
    if library is not None and chosen.name != library:
        blas.use(library)
    with threadpool_limits(limits=1):
        return fn(config)


def _n_jobs(jobs: int | None, n_tasks: int) -> int:
    if jobs is None or jobs == -1:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"jobs must be a positive integer (or None/-1 for all cores), got {jobs!r}")
    return max(1, min(jobs, n_tasks))


def run_sweep(
    configs: Sequence[Any],
    fn: Callable[[Any], Any],
    jobs: int | None = None,
    scheduler: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Any]:
    """Run ``fn(config)`` for every configuration, in parallel; results in ``configs`` order.

    Args:
        configs: the configurations (each one task).
        fn: a picklable function of one configuration.
        jobs: local worker processes (joblib, loky backend); None or -1 = all cores,
            1 = run here, sequentially. Ignored when ``scheduler`` is given.
        scheduler: a Dask scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; None runs locally.
        timeout: seconds to wait for the scheduler before raising :class:`ClusterError`.

    Raises:
        ClusterError: Dask is not installed, or the scheduler cannot be reached
            (the message names the address).
    """
    configs = list(configs)
    if not callable(fn):
        raise ConfigError(f"fn must be callable, got {type(fn).__name__}")
    if not configs:
        return []
    if scheduler is not None:
        return _run_dask(configs, fn, scheduler, timeout)
    n = _n_jobs(jobs, len(configs))
    if n == 1:
        return [call_single_threaded(fn, c) for c in configs]
    from joblib import Parallel, delayed

    library = blas.backend().name  # the workers' products on this process's library, as with jobs=1
    return list(Parallel(n_jobs=n, backend="loky")(delayed(call_single_threaded)(fn, c, library) for c in configs))


def _check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return float(timeout)


def _probe(address: str, timeout: float) -> None:
    """Connect to ``address``, shake hands and ask its identity, all within ``timeout`` seconds.

    ``distributed.Client`` bounds only the TCP connect: a server that accepts the connection
    but is no Dask scheduler (the dashboard's port 8787, a web server, a proxy) made it wait
    forever for the handshake, or read garbage as a frame length (MemoryError). The probe
    runs its own event loop in a helper thread (so it also works where a loop is already
    running, e.g. in Jupyter).
    """
    import asyncio
    import concurrent.futures

    from distributed.comm import connect

    async def identify() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def run() -> Any:
        return asyncio.run(asyncio.wait_for(identify(), timeout + 0.5))  # connect() names its own failure first

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="relunet-dask-probe")
    try:
        reply = pool.submit(run).result(timeout + 2.0)
    except (concurrent.futures.TimeoutError, TimeoutError, asyncio.TimeoutError):
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s (no answer); "
            "is it running and the address right (the scheduler's port, e.g. 8786, not the dashboard's)?"
        ) from None
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}); is it running and the address right?"
        ) from None
    except Exception as exc:  # garbage from a server that is not Dask (MemoryError, decode errors, ...)
        raise ClusterError(
            f"{address} answered, but not as a Dask scheduler ({type(exc).__name__}); "
            "give the scheduler's address (e.g. tcp://host:8786, not the dashboard's port)"
        ) from None
    finally:
        pool.shutdown(wait=False)
    if not isinstance(reply, dict):
        raise ClusterError(f"{address} answered, but not as a Dask scheduler; "
                           "give the scheduler's address (e.g. tcp://host:8786)")


def _run_dask(configs: list[Any], fn: Callable[[Any], Any], scheduler: Any, timeout: float) -> list[Any]:
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            f"--scheduler {scheduler} needs Dask distributed, which is not installed: "
            "pip install 'relunet[dask]' (or dask[distributed])"
        ) from None
    if isinstance(scheduler, distributed.Client):
        client, own = scheduler, False
    elif isinstance(scheduler, str):
        if not scheduler.strip():
            raise ConfigError("the scheduler address is empty; give e.g. tcp://host:8786")
        timeout = _check_timeout(timeout)
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import get_backend

        try:  # a malformed address fails here, before a Client exists (its cleanup would hang until a timeout)
            scheme, location = parse_address(scheduler)
            get_backend(scheme)  # http://... : an unknown scheme
            if scheme in ("tcp", "tls", "ws", "wss"):
                parse_host_port(location)
        except ValueError as exc:
            raise ConfigError(f"bad scheduler address {scheduler!r} ({exc}); give e.g. tcp://host:8786") from None
        _probe(scheduler, timeout)
        try:
            client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                f"({type(exc).__name__}: {exc}); is it running and the address right?"
            ) from None
        own = True
    else:
        raise ConfigError(
            f"scheduler must be an address like tcp://host:8786 or a distributed.Client, "
            f"not {type(scheduler).__name__}"
        )
    try:
        futures = client.map(call_single_threaded, [fn] * len(configs), configs, pure=False)
        return list(client.gather(futures))
    finally:
        if own:
            client.close()
