"""Run a function over many inputs in worker processes, with a timeout and crash isolation each.

A parser that hangs or crashes on one hostile file must cost that file only: the worker running
it is killed and replaced, the item is reported as timed out or crashed, and the rest go on.
A worker's address space can be capped: an item that needs more raises MemoryError there (or
kills the worker), is reported as over the memory limit, and the worker is replaced.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

# Workers are forked from a server process that has imported the parsers once (and nothing of
# the caller: no Prefect, no CLI), so a new or replacing worker starts in milliseconds instead
# of importing them again (~0.7 s, per worker and per attachment level, with "spawn"). The
# server is single-threaded, so forking it is safe while the caller runs threads.
_CTX = mp.get_context("forkserver")
_CTX.set_forkserver_preload(["compliance.extract.preload"])


@dataclass
class Outcome:
    """The result of one item: its value, or why there is none."""

    key: Any
    value: Any = None
    error: str | None = None
    timed_out: bool = False
    crashed: bool = False
    memory_exceeded: bool = False
    seconds: float = 0.0


def _limit_memory(memory_mb: int | None) -> None:
    """Cap this process's address space (the soft limit: lowering it needs no privilege)."""
    if not memory_mb:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_loop(func: Callable[[Any], Any], conn: Connection, memory_mb: int | None) -> None:
    _limit_memory(memory_mb)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            conn.send(("ok", func(message)))
        except MemoryError:
            # The heap may be left fragmented near the cap: report, then let a fresh worker go on.
            conn.send(("memory", "MemoryError"))
            return
        except Exception as exc:  # the parent reports it per item
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            conn.send(("error", detail))


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


class _Worker:
    def __init__(self, func: Callable[[Any], Any], memory_mb: int | None = None) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_worker_loop, args=(func, child, memory_mb),
                                    daemon=True)
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

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass

    def reap(self) -> None:
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


def run_isolated(
    func: Callable[[Any], Any],
    items: list[tuple[Any, Any]],
    workers: int,
    timeout_seconds: float,
    memory_mb: int | None = None,
) -> Iterator[Outcome]:
    """Yield an Outcome per (key, item), as they finish; `func` must be importable (picklable).

    memory_mb caps each worker's address space (None: no cap).
    """
    pending = list(reversed(items))
    pool: list[_Worker] = []
    busy: dict[Connection, _Worker] = {}
    idle: list[_Worker] = []

    def replace(worker: _Worker) -> None:
        worker.kill()
        pool.remove(worker)
        replacement = _Worker(func, memory_mb)
        pool.append(replacement)
        idle.append(replacement)

    def dispatch() -> None:
        """Give every idle worker its next item."""
        while pending and idle:
            worker = idle.pop()
            key, item = pending.pop()
            worker.send(key, item)
            busy[worker.conn] = worker

    # A worker is given its next item before its outcome is yielded: the caller stores an
    # outcome (a transaction per document) while the workers parse the next ones, instead of
    # the workers waiting on the caller (bench/bench_ingest.py measures the stage against raw
    # pypdf).
    try:
        for _ in range(max(1, min(workers, len(items)))):
            pool.append(_Worker(func, memory_mb))
        idle.extend(pool)
        while pending or busy:
            dispatch()
            now = time.monotonic()
            next_deadline = min(w.started + timeout_seconds for w in busy.values())
            ready = wait(list(busy), timeout=max(0.0, next_deadline - now))
            for conn in ready:
                worker = busy.pop(conn)  # type: ignore[arg-type]
                key = worker.key  # dispatch() gives this worker its next item before the yield
                elapsed = time.monotonic() - worker.started
                try:
                    kind, payload = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(5)  # reap it, so its exit code is known
                    code = worker.process.exitcode
                    replace(worker)
                    dispatch()
                    yield Outcome(key, error=f"parser process died "
                                  f"({_death(code)})", crashed=True, seconds=elapsed)
                    continue
                if kind == "memory":
                    replace(worker)
                    dispatch()
                    limit = f"the {memory_mb:,} MB memory limit" if memory_mb else "memory"
                    yield Outcome(key, memory_exceeded=True, seconds=elapsed,
                                  error=f"parsing needed more than {limit}")
                    continue
                idle.append(worker)
                dispatch()
                if kind == "ok":
                    yield Outcome(key, value=payload, seconds=elapsed)
                else:
                    yield Outcome(key, error=payload, seconds=elapsed)
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if now - worker.started >= timeout_seconds:
                    del busy[conn]
                    replace(worker)
                    dispatch()
                    yield Outcome(worker.key, timed_out=True, seconds=now - worker.started,
                                  error=f"parsing took longer than {timeout_seconds:g} s")
    finally:
        # Every worker told first, then waited for: they exit (~0.7 s each) side by side.
        stopping = []
        for worker in pool:
            if worker.conn in busy:
                worker.kill()
            else:
                worker.ask_to_stop()
                stopping.append(worker)
        for worker in stopping:
            worker.reap()
