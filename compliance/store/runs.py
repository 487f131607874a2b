"""Rows of the `runs` table: opened at the start of a run, closed with its counts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from compliance.store.db import Database


def new_run_id() -> str:
    """A sortable, unique run id."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def open_run(db: Database, run_id: str, source_root: str, params_json: str, orchestrator: str,
             flow_run_id: str | None = None) -> None:
    """Record that a run started."""
    with db.cursor() as cur:
        cur.execute(
            """
            INSERT INTO runs (run_id, flow_run_id, orchestrator, source_root, params, started_at,
                              status)
            VALUES (?, ?, ?, ?, ?, now(), 'running')
            """,
            [run_id, flow_run_id, orchestrator, source_root, params_json],
        )


def close_run(db: Database, run_id: str, status: str, counts: dict[str, Any],
              error: str | None = None) -> None:
    """Record how a run ended, with its counts."""
    assignments = ", ".join(f"{name} = ?" for name in counts)
    with db.cursor() as cur:
        cur.execute(
            f"""
            UPDATE runs SET status = ?, error = ?, finished_at = now(),
                wall_seconds = epoch(now() - started_at){", " + assignments if counts else ""}
            WHERE run_id = ?
            """,
            [status, error, *counts.values(), run_id],
        )
