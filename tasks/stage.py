"""How a stage becomes a Prefect task: one thin wrapper, the same options for every stage.

A stage's logic is a plain typed function `(ctx, settings) -> Result`; `as_task` wraps it so a
flow shows it as a task run. Our cross-run cache lives in DuckDB, keyed by content hashes;
Prefect's own task cache (keyed by run id) would never hit across runs, so it is off, and
nothing is persisted by Prefect. Retries are for stages that only read I/O that may blink (a
file share, the Prefect API); stages that write the database are not re-run blindly, and the
cloud model's retries are the SDK's own.

The Prefect task is built on first use: importing a stage module does not import Prefect (about
1.5 s), so the CLI's no-change check and the parser worker processes, which import stage modules
for their plain functions, start in a fraction of a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from prefect import Task

R = TypeVar("R")

IO_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 5}


class StageTask(Generic[R]):
    """A stage function as a Prefect task: call it, or `with_options(...)` it, as a Task."""

    def __init__(self, fn: Callable[..., R], name: str, retries: bool) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name
        self.options: dict[str, Any] = {"name": name, "persist_result": False,
                                        **(IO_RETRIES if retries else {})}
        self._task: Task[..., R] | None = None

    @property
    def task(self) -> Task[..., R]:
        """The Prefect task (built, and Prefect imported, the first time it is needed)."""
        if self._task is None:
            from prefect import task
            from prefect.cache_policies import NO_CACHE

            self._task = task(self.fn, cache_policy=NO_CACHE, **self.options)
        return self._task

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.task(*args, **kwargs)

    def with_options(self, **options: Any) -> Task[..., R]:
        """The Prefect task with other options (the flow sets the stage timeout this way)."""
        return self.task.with_options(**options)


def as_task(name: str, retries: bool = False) -> Callable[[Callable[..., R]], StageTask[R]]:
    """A decorator that makes a stage function a Prefect task named `name`."""
    return lambda fn: StageTask(fn, name, retries)
