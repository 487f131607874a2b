"""Worker functions for compliance.extract.isolation tests.

They live in an importable module (not a test file) because run_isolated starts its workers
with the 'spawn' method: each worker imports the function by name.
"""

from __future__ import annotations

import os
import time


def square(value: int) -> int:
    return value * value


def sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def exit_hard(code: int) -> None:
    os._exit(code)


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def dispatch(job: tuple[str, object]) -> object:
    """One worker function for mixed items: ('square', 3), ('exit', 3), ('raise', 'msg')..."""
    kind, argument = job
    if kind == "square":
        return square(argument)  # type: ignore[arg-type]
    if kind == "sleep":
        return sleep_then_return(argument)  # type: ignore[arg-type]
    if kind == "exit":
        return exit_hard(argument)  # type: ignore[arg-type]
    if kind == "raise":
        return raise_value_error(argument)  # type: ignore[arg-type]
    raise KeyError(kind)
