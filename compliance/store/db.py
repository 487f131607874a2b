"""The DuckDB results database: one writer per file, readers open it read-only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from compliance.store.migrations import MIGRATIONS


class DatabaseBusyError(RuntimeError):
    """Another process holds the database file for writing."""


_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if any(marker in str(exc) for marker in _LOCK_MARKERS):
            raise DatabaseBusyError(
                f"{path} is in use by another process (a pipeline run holds it); "
                "try again when that run has finished"
            ) from None
        raise


def apply_migrations(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded, in order; return the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, migration in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            migration(conn)
            conn.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


class Database:
    """The writer's connection to one results file, shared by the threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _open(self.path, read_only=False)
        self.lock = threading.RLock()
        with self.lock:
            apply_migrations(self._conn)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one unit of work; the lock keeps writes from interleaving."""
        with self.lock:
            cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction: all of it is stored, or none of it."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint and release the file."""
        with self.lock:
            self._conn.close()


_databases: dict[Path, Database] = {}
_registry_lock = threading.Lock()


def writer(path: Path | str) -> Database:
    """The process's single writer for a database file, opened (and migrated) on first use."""
    key = Path(path).resolve()
    with _registry_lock:
        db = _databases.get(key)
        if db is None:
            db = _databases[key] = Database(key)
        return db


def close_writer(path: Path | str) -> None:
    """Close the process's writer for a file, so other processes may open it."""
    key = Path(path).resolve()
    with _registry_lock:
        db = _databases.pop(key, None)
    if db is not None:
        db.close()


def reader(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts and reports."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results database at {path}: run `compliance run` first")
    return _open(path, read_only=True)
