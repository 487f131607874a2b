"""Progress bars on the terminal: one per stage, following the stages' progress reports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from compliance.context import listening


@contextmanager
def progress_bars(stream: TextIO | None = None, force: bool = False) -> Iterator[None]:
    """Draw one bar per stage (count, total, rate, time left) on a terminal while the block runs.

    Nothing is drawn when the stream is not a terminal (logs of scheduled runs), unless forced.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    stream = stream or sys.stderr
    if not force and not stream.isatty():
        yield
        return

    class RateColumn(ProgressColumn):
        """Items per second, averaged by rich over the last seconds."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")

    console = Console(file=stream, force_terminal=force or None)
    bars = Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False)
    tasks: dict[str, int] = {}

    def draw(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=max(total, 0))
        bars.update(tasks[stage], completed=done, total=max(total, done))

    with bars, listening(draw):
        yield
