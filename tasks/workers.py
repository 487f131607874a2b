"""Where the work that spreads out runs: this process, or Dask workers through prefect-dask.

Three stages spread out when a run's task runner is 'dask': parsing (files by batch), the rule
scan of flagging (a document's chunk texts at a time) and the local model calls. Each sends
plain data by value and gets plain data back; every database write stays in the flow process.
One cluster serves the whole run: it is started (or joined) once, before the first stage.

A Dask worker needs this project importable at the same path, the model file with the same
sha256 (checked once per process), the source folder at the same path (parsers open files by
path) and the Prefect API reachable. Parsing on a worker still runs each file in a parser
process of its own with the run's time and memory limits, so a worker must be allowed to start
processes: a local cluster's workers are started that way; an existing cluster's workers need
`distributed.worker.daemon: false` in their Dask configuration.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from compliance.settings import SummarizeSettings

K = TypeVar("K")


def worker_label() -> str:
    """Which process ran a piece of work: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dask_runner(params: SummarizeSettings) -> Any:
    """A DaskTaskRunner for an existing cluster's scheduler, or for a local cluster."""
    from prefect_dask import DaskTaskRunner

    if params.dask_address:
        return DaskTaskRunner(address=params.dask_address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": params.dask_workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None,
    })


@contextmanager
def _api_reachable_from_workers() -> Iterator[None]:
    """Give task runs on local Dask workers the flow's API address.

    An ephemeral API (the CLI without a server) has no PREFECT_API_URL: workers would each
    start their own. The flow process's ephemeral server listens on loopback, which local
    workers reach.
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = FlowRunContext.get()
    url = str(context.client.api_url) if context and context.client else ""
    if PREFECT_API_URL.value() or not url.startswith("http"):
        yield
        return
    with temporary_settings({PREFECT_API_URL: url.rstrip("/")}):
        yield


@contextmanager
def task_runner(params: SummarizeSettings) -> Iterator[Any]:
    """The run's Dask task runner, started (or connected) for the length of the run; None
    when the run's task runner is 'threads'."""
    if params.task_runner != "dask":
        yield None
        return
    import dask

    with ExitStack() as stack:
        if not params.dask_address:
            stack.enter_context(_api_reachable_from_workers())
            # Parsing on a worker starts parser processes: a daemonic process may not.
            stack.enter_context(dask.config.set({"distributed.worker.daemon": False}))
        yield stack.enter_context(dask_runner(params))


def worker_threads(runner: Any) -> int:
    """How many tasks the runner's cluster runs at once."""
    return sum(runner.client.nthreads().values()) or 1


def in_order(runner: Any, task: Any, work: Iterable[tuple[K, dict[str, Any]]],
             window: int) -> Iterator[tuple[K, Any]]:
    """Submit `task` once per (key, parameters), at most `window` in flight, and yield each
    key with its result in submission order (so what the flow stores, it stores in the order
    a local run would)."""
    in_flight: deque[tuple[K, Any]] = deque()
    for key, parameters in work:
        in_flight.append((key, runner.submit(task, parameters)))
        if len(in_flight) >= window:
            done, future = in_flight.popleft()
            yield done, future.result()
    while in_flight:
        done, future = in_flight.popleft()
        yield done, future.result()
