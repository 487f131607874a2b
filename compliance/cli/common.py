"""What every command shares: quiet libraries, and waiting for (or refusing) a busy database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the database modules load when a command needs them: `--help` stays quick
    from compliance.store.runlock import DatabaseLock

WAIT = typer.Option(help="Wait while another run writes the same database (--no-wait: refuse "
                    "and exit 2).")


def quiet_libraries() -> None:
    """No notices, analytics pings or chatty Prefect logs on the terminal."""
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def hold_database(db: Path, wait: bool, run: str) -> DatabaseLock:
    """The database's lock for this command, waiting (and saying so) while another run has it."""
    from compliance.store.runlock import DatabaseHeldError, hold_lock

    waited = []

    def say_waiting(held_by: str) -> None:
        waited.append(held_by)
        typer.echo(f"waiting: {held_by}; this run starts when that one has finished (Ctrl-C to "
                   "give up; --no-wait refuses instead)", err=True)

    try:
        lock = hold_lock(db, run, wait, on_wait=say_waiting)
    except DatabaseHeldError as exc:
        typer.echo(f"error: {exc}; not waiting (--no-wait). Try again when that run has "
                   "finished.", err=True)
        raise typer.Exit(2) from None
    if waited:
        typer.echo(f"{db} is free: starting", err=True)
    return lock
