"""One run at a time per results database, and a dead run's hold taken over safely.

DuckDB allows one writing process per file. Two guards keep runs from overlapping, whoever
starts them: a Prefect global concurrency limit named after the database (one slot; runs of
any deployment on one Prefect server queue on it, visibly in the UI), and an exclusive file
lock beside the database (`<db>.lock`), which also covers runs that talk to another Prefect
server or an ephemeral one (the CLI). Both are taken in that order, so they cannot deadlock.

A killed run (kill -9, out of memory, a reboot) loses its flocks to the kernel, but its
concurrency slot stays taken on the Prefect server; with an ephemeral server (the CLI) the
slot's lease died with that server and would never expire. So the slot is taken under a claim
file (`<db>.slot`): a run flocks it before asking for the slot and records itself in it (pid,
host, process start, flow run, lease) until the slot is released. A run that holds the claim
and still finds the slot taken knows no live run on this host holds it; when the recorded
holder is provably gone (not running on this host, or its flow run has ended), the slot is
released, with a log line saying whose, and never while that holder lives.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
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
# How long a slot's lease lives without renewal: a holder renews it while it runs.
LEASE_SECONDS = 300.0

_log = logging.getLogger("compliance.runlock")


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


def claim_path(db_path: Path | str) -> Path:
    """The claim file of a database's concurrency slot."""
    path = Path(db_path).expanduser().resolve()
    return path.with_name(path.name + ".slot")


def describe_holder(holder: dict[str, Any] | None) -> str:
    """Who holds a database, in words."""
    if not holder:
        return "another run"
    run = holder.get("run") or "a run"
    return (f"{run} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {holder.get('since', '?')})")


def process_start(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (None where /proc cannot say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


def _this_process() -> dict[str, Any]:
    """This process as a holder record names it."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": process_start(os.getpid()),
            "since": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def process_gone(pid: int, started: int | None = None) -> bool:
    """True when no process `pid` runs on this host any more (a zombie, or a new process that
    reuses the pid, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc: os.kill says it runs
    if stat[stat.rfind(")") + 2:].split()[:1] == ["Z"]:
        return True
    return started is not None and process_start(pid) not in (None, started)


def _flow_run_ended(flow_run_id: str) -> str | None:
    """The final state of a flow run (Completed, Crashed, ...), or None while it may still run."""
    from prefect import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
    except Exception:  # an unknown or unreadable run proves nothing
        return None
    return state.name if state is not None and state.is_final() else None


def holder_gone(holder: dict[str, Any] | None) -> str | None:
    """Why a recorded holder provably holds nothing any more, or None when it may still live.

    Gone: its process no longer runs on this host; for a holder on another host, its flow run
    has ended. A live process on this host is never gone, whatever its flow run's state says.
    """
    if not holder:
        return None
    pid, host = holder.get("pid"), holder.get("host")
    if host == socket.gethostname():
        if isinstance(pid, int) and process_gone(pid, holder.get("started")):
            return f"process {pid} is no longer running on {host}"
        return None
    flow_run_id = holder.get("flow_run_id")
    if flow_run_id:
        state = _flow_run_ended(str(flow_run_id))
        if state is not None:
            return f"its flow run {flow_run_id} is {state}"
    return None


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class _FileLock:
    """An exclusive flock on one file, with a JSON record of its holder in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def _try_flock(self) -> int | None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _write(self, fd: int, record: dict[str, Any]) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)

    def is_free(self) -> bool:
        """True when nobody holds the lock now (it is taken and dropped at once to find out)."""
        if not self.path.exists():
            return True
        fd = self._try_flock()
        if fd is None:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return True

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now, or held it last without releasing it, as the file records."""
        return _read_record(self.path)

    def release(self, clear: bool = True) -> None:
        """Clear the record (unless told to keep it) and drop the lock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if clear:
                os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class DatabaseLock(_FileLock):
    """An exclusive lock file beside a results database (flock: released if the process dies)."""

    def __init__(self, db_path: Path | str) -> None:
        super().__init__(lock_path(db_path))

    def try_acquire(self, run: str) -> bool:
        """Take the lock if it is free; record who holds it."""
        fd = self._try_flock()
        if fd is None:
            return False
        self._write(fd, {"run": run, **_this_process()})
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


class SlotClaim(_FileLock):
    """The claim on a database's concurrency slot: flocked by whoever asks for or holds the slot.

    The record it keeps outlives a killed holder (the kernel drops the flock, not the text): it
    names the run that held the slot last without releasing it.
    """

    def __init__(self, db_path: Path | str) -> None:
        super().__init__(claim_path(db_path))
        self.previous: dict[str, Any] | None = None

    def try_acquire(self) -> bool:
        """Take the claim if it is free, keeping what the last holder recorded in `previous`."""
        fd = self._try_flock()
        if fd is None:
            return False
        self._fd = fd
        self.previous = self.holder()
        return True

    def record(self, holder: dict[str, Any]) -> None:
        """Say who holds (or is about to hold) the slot."""
        if self._fd is None:
            raise RuntimeError(f"{self.path} is not held by this object")
        self._write(self._fd, holder)


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


def release_dead_slot(name: str, holder: dict[str, Any], why: str) -> str | None:
    """Free the slot a provably gone holder left taken; say what was done (None: nothing yet).

    Its lease is released first, where the server still has it (exactly once: the server drops
    the lease with the slot). A lease the server does not know lived in the dead run's own
    ephemeral server and died with it: then the slot is given back by hand, which only an
    ephemeral server's caller can know is safe; on a real server the lease expires by itself.
    """
    from uuid import UUID

    from prefect import get_client
    from prefect.client.base import ServerType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    whose = f"{describe_holder(holder)}: {why}"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
        before = limit.active_slots
        if before < limit.limit:  # freed meanwhile (its lease expired): nothing to take over
            return None
        lease_id = holder.get("lease_id")
        if lease_id:
            client.release_concurrency_slots_with_lease(UUID(str(lease_id)))
        after = client.read_global_concurrency_limit_by_name(name).active_slots
        if after < before:
            done = f"released the concurrency slot {name!r} of {whose}"
        elif client.server_type == ServerType.EPHEMERAL:
            client.release_concurrency_slots([name], 1, occupancy_seconds=1.0)
            done = f"released the concurrency slot {name!r} of {whose}"
        else:
            return None
        flow_run_id = holder.get("flow_run_id")
        if flow_run_id:
            try:  # the UI would show the dead run as running for ever
                state = client.read_flow_run(flow_run_id).state
                if state is not None and state.type == StateType.RUNNING:
                    client.set_flow_run_state(flow_run_id, Crashed(
                        message=f"its process died ({why}); the next run on its database "
                        "took over"), force=True)
            except Exception as exc:  # the slot is what matters; the state is for people
                _log.warning("could not mark flow run %s crashed: %s", flow_run_id, exc)
    return done


@contextmanager
def _leased_slot(name: str, holder: Any, timeout: float | None) -> Iterator[str]:
    """Hold one slot of the limit for the block, its lease renewed; yield the lease id.

    What prefect.concurrency.sync.concurrency does, with the lease id kept: a run records it so
    that the next run can release this run's slot if it dies.
    """
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import (
        acquire_concurrency_slots_with_lease,
        release_concurrency_slots_with_lease,
    )

    response = acquire_concurrency_slots_with_lease(
        [name], 1, timeout_seconds=timeout, lease_duration=LEASE_SECONDS, strict=True,
        holder=holder)
    try:
        # A lost lease renewal must not kill a long nightly run: the file lock still guards.
        with maintain_concurrency_lease(response.lease_id, LEASE_SECONDS,
                                        raise_on_lease_renewal_failure=False):
            yield str(response.lease_id)
    finally:
        release_concurrency_slots_with_lease(response.lease_id)


@contextmanager
def _concurrency_slot(db: Path, name: str, run: str, flow_run_id: str | None,
                      timeout: float | None, on_wait: Callable[[str], None],
                      on_takeover: Callable[[str], None]) -> Iterator[None]:
    """Hold the database's concurrency slot under its claim file, taking over a dead holder's."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder

    started = time.monotonic()
    lease_holder = (ConcurrencyLeaseHolder(type="flow_run", id=flow_run_id)
                    if flow_run_id else None)

    def left() -> float | None:
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))

    def gave_up() -> DatabaseLockTimeoutError:
        return DatabaseLockTimeoutError(
            f"gave up after {timeout:.0f} s waiting for the concurrency limit {name!r} "
            "(another run on the same results database)")

    claim = SlotClaim(db)
    told = False
    while not claim.try_acquire():  # a live run on this host holds the slot, or asks for it
        if not told:
            on_wait(f"another run holds the concurrency limit {name!r}: "
                    f"{describe_holder(claim.holder())}")
            told = True
        if left() == 0.0:
            raise gave_up()
        time.sleep(POLL_SECONDS)
    holding = False

    def let_go() -> None:
        if not holding and claim.previous:  # never ours: the record names the slot's holder
            claim.record(claim.previous)
        claim.release(clear=holding or not claim.previous)

    with ExitStack() as stack:
        stack.callback(let_go)
        # Whoever left a record without a live claim died holding it; before the claim file
        # existed (an older version), the lock file's record names the last holder.
        previous = claim.previous or (DatabaseLock(db).holder() if DatabaseLock(db).is_free()
                                      else None)
        # Recorded before asking: should this process die once the slot is granted, the next
        # run knows whose slot it was.
        me = {"run": run, **_this_process(), "flow_run_id": flow_run_id}
        claim.record(me)
        try:
            lease_id = stack.enter_context(_leased_slot(name, lease_holder, 1.0))
        except TimeoutError:
            why = holder_gone(previous)
            released = release_dead_slot(name, previous, why) if previous and why else None
            if released:
                on_takeover(released)
            elif why:
                on_wait(f"another run holds the concurrency limit {name!r}: "
                        f"{describe_holder(previous)}, which is gone ({why}); its lease on the "
                        f"server expires within {LEASE_SECONDS:.0f} s")
            elif not told:
                on_wait(f"another run holds the concurrency limit {name!r}")
            try:
                lease_id = stack.enter_context(_leased_slot(name, lease_holder, left()))
            except TimeoutError:
                raise gave_up() from None
        holding = True
        claim.record({**me, "lease_id": lease_id})
        yield


@contextmanager
def exclusive_run(db_path: Path | str, run: str, flow_run_id: str | None = None,
                  timeout: float | None = None, use_prefect: bool = True,
                  on_wait: Callable[[str], None] = lambda message: None,
                  on_takeover: Callable[[str], None] = _log.warning) -> Iterator[None]:
    """Hold the database for one run: its Prefect concurrency slot, then its lock file.

    A slot left taken by a run that provably died is released first (`on_takeover` says whose).
    """
    started = time.monotonic()

    def left() -> float | None:
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))

    db = Path(db_path).expanduser().resolve()
    with ExitStack() as stack:
        if use_prefect:
            name = limit_name(db)
            ensure_concurrency_limit(name)
            stack.enter_context(_concurrency_slot(db, name, run, flow_run_id, timeout, on_wait,
                                                  on_takeover))
        lock = DatabaseLock(db)
        lock.acquire(run, left(), on_wait=lambda holder: on_wait(
            f"{db} is being written by {describe_holder(holder)}"))
        stack.callback(lock.release)
        yield
