"""Where local model calls run: the flow's own thread pool, or Dask through prefect-dask.

Summarization is what spreads out. Each call is a `summarize-text` task run that gets its
chunk text by value and returns plain data; the worker process loads the model once (one
instance per process, behind a lock) and never touches the database: every write stays in
the flow process. A Dask worker needs this project importable, the model file at the same
path with the same sha256 (it is checked once per process), and the Prefect API reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL, temporary_settings

from compliance.adapters.model_registry import ModelSpec
from compliance.rules.masking import install_log_masking
from compliance.settings import SummarizeSettings
from tasks.summarize.calls import BatchedCalls, ModelCall, PendingCall, call_local_model


@task(name="summarize-text", cache_policy=NO_CACHE, persist_result=False)
def summarize_text(spec: ModelSpec, system_prompt: str, text: str,
                   deadline_seconds: float | None = None) -> ModelCall:
    """Run one local model call on a text sent by value, with this process's model."""
    install_log_masking()
    return call_local_model(spec, system_prompt, text, deadline_seconds)


class TaskRunnerCalls:
    """Model calls as `summarize-text` task runs on a Prefect task runner."""

    def __init__(self, spec: ModelSpec, window: int, runner: Any = None) -> None:
        self.spec = spec
        self.window = window
        self.runner = runner  # None: the flow's own task runner (threads)

    def submit(self, system_prompt: str, text: str,
               deadline_seconds: float | None = None) -> PendingCall:
        """Submit one call; the future's result() is its ModelCall."""
        parameters = {"spec": self.spec, "system_prompt": system_prompt, "text": text,
                      "deadline_seconds": deadline_seconds}
        if self.runner is None:
            return summarize_text.submit(**parameters)
        return self.runner.submit(summarize_text, parameters)


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
    context = FlowRunContext.get()
    url = str(context.client.api_url) if context and context.client else ""
    if PREFECT_API_URL.value() or not url.startswith("http"):
        yield
        return
    with temporary_settings({PREFECT_API_URL: url.rstrip("/")}):
        yield


@contextmanager
def model_calls(params: SummarizeSettings, spec: ModelSpec
                ) -> Iterator[TaskRunnerCalls | BatchedCalls]:
    """Model calls on the task runner the parameters choose, for the length of a stage."""
    if params.task_runner == "threads" and params.local_batch_size > 1:
        yield BatchedCalls(spec, window=params.local_batch_size)
        return
    if params.task_runner == "threads":
        # One model per process, used under a lock: one call at a time is all threads give.
        yield TaskRunnerCalls(spec, window=1)
        return
    with ExitStack() as stack:
        if not params.dask_address:
            stack.enter_context(_api_reachable_from_workers())
        runner = stack.enter_context(dask_runner(params))
        threads = sum(runner.client.nthreads().values()) or 1
        # Two calls in flight per worker thread keep every worker busy between answers.
        yield TaskRunnerCalls(spec, window=2 * threads, runner=runner)
