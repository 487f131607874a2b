"""Where local model calls run: the flow's own thread pool, or Dask through prefect-dask.

On Dask (the run's cluster: tasks/workers.py), each call is a `summarize-text` task run that
gets its chunk text by value and returns plain data; the worker process loads the model once (one
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

from compliance.adapters.model_registry import ModelSpec
from compliance.rules.masking import install_log_masking
from compliance.settings import SummarizeSettings
from tasks.summarize.calls import BatchedCalls, ModelCall, PendingCall, call_local_model
from tasks.workers import task_runner, worker_threads


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


@contextmanager
def model_calls(params: SummarizeSettings, spec: ModelSpec, runner: Any = None
                ) -> Iterator[TaskRunnerCalls | BatchedCalls]:
    """Model calls on the task runner the parameters choose, for the length of a stage.

    runner: the run's Dask task runner, when it has one (tasks/workers.py); otherwise a
    'dask' run's stage starts its own for its length.
    """
    if params.task_runner == "threads" and params.local_batch_size > 1:
        yield BatchedCalls(spec, window=params.local_batch_size)
        return
    if params.task_runner == "threads":
        # One model per process, used under a lock: one call at a time is all threads give.
        yield TaskRunnerCalls(spec, window=1)
        return
    with ExitStack() as stack:
        if runner is None:
            runner = stack.enter_context(task_runner(params))
        # Two calls in flight per worker thread keep every worker busy between answers.
        yield TaskRunnerCalls(spec, window=2 * worker_threads(runner), runner=runner)
