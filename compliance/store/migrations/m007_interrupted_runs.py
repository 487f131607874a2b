"""m007: runs say which stage they are in, and a run killed midway is marked interrupted.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import describe_column

COLUMNS: list[tuple[str, str, str, str]] = [
    ("runs", "stage", "VARCHAR",
     "The stage the run is in, or was in when it ended (a Prefect task name)."),
    ("runs", "stage_started_at", "TIMESTAMPTZ",
     "When that stage started: for an interrupted run, the last time it was heard from."),
    ("runs", "interrupted_by", "VARCHAR",
     "For an interrupted run, the run that found it dead and marked it."),
]
REDESCRIBED: list[tuple[str, str, str]] = [
    ("runs", "status", "running, completed, failed or interrupted (its process died: killed, "
     "out of memory or a reboot; the next run marks it)."),
    ("runs", "error", "Why the run failed or was interrupted (masked), NULL otherwise."),
    ("runs", "spend_usd", "Cloud USD booked in the ledger by this run (for an interrupted run, "
     "summed when it was marked, reserved calls at their bound: what it may have been billed)."),
]


def m007_interrupted_runs(conn: duckdb.DuckDBPyConnection) -> None:
    """The run's current stage and when it started; who marked an interrupted run."""
    for table, column, kind, _ in COLUMNS:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    for table, column, _, text in COLUMNS:
        describe_column(conn, table, column, text)
    for table, column, text in REDESCRIBED:
        describe_column(conn, table, column, text)
