"""Run a function over many inputs in worker processes, with a timeout and crash isolation each.

A parser that hangs or crashes on one hostile file must cost that file only: the worker running
it is killed and replaced, the item is reported as timed out or crashed, and the rest go on.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

_CTX = mp.get_context("spawn")


@dataclass
class Outcome:
    """The result of one item: its value, or why there is none."""

    key: Any
    value: Any = None
    error: str | None = None
    timed_out: bool = False
    crashed: bool = False
    seconds: float = 0.0


def _worker_loop(func: Callable[[Any], Any], conn: Connection) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            conn.send(("ok", func(message)))
        except Exception as exc:  # the parent reports it per item
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            conn.send(("error", detail))


class _Worker:
    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_worker_loop, args=(func, child), daemon=True)
        self.process.start()
        child.close()
        self.key: Any = None
        self.started = 0.0

    def send(self, key: Any, item: Any) -> None:
        self.key, self.started = key, time.monotonic()
        self.conn.send(item)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


def run_isolated(
    func: Callable[[Any], Any],
    items: list[tuple[Any, Any]],
    workers: int,
    timeout_seconds: float,
) -> Iterator[Outcome]:
    """Yield an Outcome per (key, item), as they finish; `func` must be importable (picklable)."""
    pending = list(reversed(items))
    pool: list[_Worker] = []
    busy: dict[Connection, _Worker] = {}
    try:
        for _ in range(max(1, min(workers, len(items)))):
            pool.append(_Worker(func))
        idle = list(pool)
        while pending or busy:
            while pending and idle:
                worker = idle.pop()
                key, item = pending.pop()
                worker.send(key, item)
                busy[worker.conn] = worker
            now = time.monotonic()
            next_deadline = min(w.started + timeout_seconds for w in busy.values())
            ready = wait(list(busy), timeout=max(0.0, next_deadline - now))
            for conn in ready:
                worker = busy.pop(conn)  # type: ignore[arg-type]
                elapsed = time.monotonic() - worker.started
                try:
                    kind, payload = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(5)  # reap it, so its exit code is known
                    code = worker.process.exitcode
                    worker.kill()
                    pool.remove(worker)
                    replacement = _Worker(func)
                    pool.append(replacement)
                    idle.append(replacement)
                    yield Outcome(worker.key, error=f"parser process died (exit code {code})",
                                  crashed=True, seconds=elapsed)
                    continue
                idle.append(worker)
                if kind == "ok":
                    yield Outcome(worker.key, value=payload, seconds=elapsed)
                else:
                    yield Outcome(worker.key, error=payload, seconds=elapsed)
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if now - worker.started >= timeout_seconds:
                    del busy[conn]
                    worker.kill()
                    pool.remove(worker)
                    replacement = _Worker(func)
                    pool.append(replacement)
                    idle.append(replacement)
                    yield Outcome(worker.key, timed_out=True, seconds=now - worker.started,
                                  error=f"parsing took longer than {timeout_seconds:g} s")
    finally:
        for worker in pool:
            if worker.conn in busy:
                worker.kill()
            else:
                worker.stop()
