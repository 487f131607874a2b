"""One run at a time per results database.

DuckDB allows one writing process per file. Two guards keep runs from overlapping, whoever
starts them: a Prefect global concurrency limit named after the database (one slot; runs of
any deployment on one Prefect server queue on it, visibly in the UI), and an exclusive file
lock beside the database (`<db>.lock`), which also covers runs that talk to another Prefect
server or an ephemeral one (the CLI). Both are taken in that order, so they cannot deadlock.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from compliance.store.db import DatabaseBusyError

POLL_SECONDS = 0.5


class DatabaseLockTimeoutError(TimeoutError):
    """Another run kept the results database longer than this run was told to wait."""


class DatabaseHeldError(DatabaseBusyError):
    """Another process holds the database's lock and the caller chose not to wait."""


def limit_name(db_path: Path | str) -> str:
    """The global concurrency limit of a database: its file stem and a hash of its path."""
    path = Path(db_path).expanduser().resolve()
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "db"
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return f"compliance-db-{stem}-{digest}"


def lock_path(db_path: Path | str) -> Path:
    """The lock file beside a database."""
    path = Path(db_path).expanduser().resolve()
    return path.with_name(path.name + ".lock")


def describe_holder(holder: dict[str, Any] | None) -> str:
    """Who holds a database, in words."""
    if not holder:
        return "another run"
    run = holder.get("run") or "a run"
    return (f"{run} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {holder.get('since', '?')})")


class DatabaseLock:
    """An exclusive lock file beside a results database (flock: released if the process dies)."""

    def __init__(self, db_path: Path | str) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self, run: str) -> bool:
        """Take the lock if it is free; record who holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        holder = {"run": run, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return True

    def acquire(self, run: str, timeout: float | None = None,
                on_wait: Callable[[dict[str, Any] | None], None] | None = None) -> None:
        """Take the lock, waiting for the holder (`on_wait` is told once); None waits forever."""
        if self.try_acquire(run):
            return
        if on_wait is not None:
            on_wait(self.holder())
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.try_acquire(run):
            if deadline is not None and time.monotonic() >= deadline:
                raise DatabaseLockTimeoutError(
                    f"gave up after {timeout:.0f} s waiting for {describe_holder(self.holder())} "
                    f"to finish with {self.path.with_suffix('')}")
            time.sleep(POLL_SECONDS)

    def release(self) -> None:
        """Let the next run in."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now, as recorded in the file (None if unknown)."""
        try:
            data = json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def hold_lock(db_path: Path | str, run: str, wait: bool,
              on_wait: Callable[[str], None] = lambda why: None) -> DatabaseLock:
    """The database's lock file, taken now or after waiting for its holder (on_wait is told who).

    With wait=False a holder raises DatabaseHeldError naming it, for commands that refuse.
    """
    lock = DatabaseLock(db_path)
    if lock.try_acquire(run):
        return lock
    held_by = f"{db_path} is being written by {describe_holder(lock.holder())}"
    if not wait:
        raise DatabaseHeldError(held_by)
    on_wait(held_by)
    lock.acquire(run)
    return lock


def ensure_concurrency_limit(name: str) -> None:
    """Create the one-slot global concurrency limit, or put it back to one active slot."""
    from prefect import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True))
            except ObjectAlreadyExists:
                pass
            return
        if limit.limit != 1 or not limit.active:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=1, active=True))


@contextmanager
def _concurrency_slot(name: str, flow_run_id: str | None, timeout: float | None,
                      on_wait: Callable[[str], None]) -> Iterator[None]:
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.concurrency.sync import concurrency

    holder = (ConcurrencyLeaseHolder(type="flow_run", id=flow_run_id) if flow_run_id else None)

    def slot(seconds: float | None) -> Any:
        # A lost lease renewal must not kill a long nightly run: the file lock still guards.
        return concurrency(name, occupy=1, timeout_seconds=seconds, strict=True, holder=holder,
                           raise_on_lease_renewal_failure=False)

    with ExitStack() as stack:
        try:
            stack.enter_context(slot(1.0))
        except TimeoutError:
            on_wait(f"another run holds the concurrency limit {name!r}")
            try:
                stack.enter_context(slot(timeout))
            except TimeoutError:
                raise DatabaseLockTimeoutError(
                    f"gave up after {timeout:.0f} s waiting for the concurrency limit {name!r} "
                    "(another run on the same results database)") from None
        yield


@contextmanager
def exclusive_run(db_path: Path | str, run: str, flow_run_id: str | None = None,
                  timeout: float | None = None, use_prefect: bool = True,
                  on_wait: Callable[[str], None] = lambda message: None) -> Iterator[None]:
    """Hold the database for one run: its Prefect concurrency slot, then its lock file."""
    started = time.monotonic()

    def left() -> float | None:
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))

    db = Path(db_path).expanduser().resolve()
    with ExitStack() as stack:
        if use_prefect:
            name = limit_name(db)
            ensure_concurrency_limit(name)
            stack.enter_context(_concurrency_slot(name, flow_run_id, timeout, on_wait))
        lock = DatabaseLock(db)
        lock.acquire(run, left(), on_wait=lambda holder: on_wait(
            f"{db} is being written by {describe_holder(holder)}"))
        stack.callback(lock.release)
        yield
