"""How a stage becomes a Prefect task: one thin wrapper, the same options for every stage.

A stage's logic is a plain typed function `run(ctx, settings)`; `as_task` wraps it so a flow
shows it as a task run. Our cross-run cache lives in DuckDB, keyed by content hashes; Prefect's
own task cache (keyed by run id) would never hit across runs, so it is off, and nothing is
persisted by Prefect. Retries are for stages that only read I/O that may blink (a file share);
stages that write the database are not re-run blindly, and the cloud model's retries are the
SDK's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

F = TypeVar("F", bound=Callable[..., Any])

IO_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 5}


def as_task(name: str, retries: bool = False) -> Callable[[F], Any]:
    """A decorator that makes a stage's `run` a Prefect task named `name`."""
    options: dict[str, Any] = {"name": name, "cache_policy": NO_CACHE, "persist_result": False}
    if retries:
        options |= IO_RETRIES
    return task(**options)
