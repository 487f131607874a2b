"""Rows of the `runs` table: opened at the start of a run, closed with its typed counts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from compliance.store.db import Database


@dataclass
class RunCounts:
    """What one run did, as the `runs` table stores it: the stages fill it in as they go.

    A field left None was not measured by this kind of run (a re-triage reads no file) and is
    stored as NULL. Each field is a column of `runs` (docs/schema.md says what it means).
    """

    files_seen: int | None = None
    docs_new: int | None = None
    docs_changed: int | None = None
    docs_unchanged: int | None = None
    docs_duplicate: int | None = None
    docs_failed: int | None = None
    docs_removed: int | None = None
    chunks_new: int | None = None
    summaries_done: int | None = None
    summaries_cached: int | None = None
    summaries_pending: int | None = None
    model_calls: int | None = None
    local_model_seconds: float | None = None
    chunks_flagged: int | None = None
    chunks_escalated: int | None = None
    chunks_deferred: int | None = None
    escalation_mode: str | None = None
    cloud_model: str | None = None
    escalation_note: str | None = None
    escalation_windows_cached: int | None = None
    escalation_windows_sent: int | None = None
    cache_saved_usd: Decimal | None = None
    spend_usd: Decimal | None = None
    naive_new_usd: Decimal | None = None
    naive_all_usd: Decimal | None = None

    def as_dict(self) -> dict[str, object]:
        """The counts by column name."""
        return dataclasses.asdict(self)


COUNT_COLUMNS = tuple(field.name for field in dataclasses.fields(RunCounts))


def new_run_id() -> str:
    """A sortable, unique run id."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def open_run(db: Database, run_id: str, source_root: str, params_json: str, orchestrator: str,
             flow_run_id: str | None = None) -> None:
    """Record that a run started, and mark interrupted every run still marked running.

    Every caller holds the database alone (its writer and its run lock), so a run still marked
    running has no process left: it was killed, ran out of memory or lost its machine.
    """
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO runs (run_id, flow_run_id, orchestrator, source_root, params, started_at,
                              status)
            VALUES (?, ?, ?, ?, ?, now(), 'running')
            """,
            [run_id, flow_run_id, orchestrator, source_root, params_json],
        )
        mark_interrupted(cur, run_id)


# A run's cloud spend as its ledger says: settled calls at their cost, reserved ones at their
# bound (compliance.adapters.ledger.cloud_spend reads the same sum for one run).
LEDGER_SPEND = ("(SELECT coalesce(sum(c.cost_usd), 0) FROM llm_calls c "
                "WHERE c.run_id = runs.run_id AND c.provider <> 'local')")


def refresh_spend(cur: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Set a finished run's stored spend to its ledger's sum (its calls settled since)."""
    cur.execute(f"UPDATE runs SET spend_usd = {LEDGER_SPEND} "
                "WHERE run_id = ? AND spend_usd IS NOT NULL", [run_id])


def mark_interrupted(cur: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Mark the runs still marked running, other than `run_id`, interrupted; return their ids.

    Each keeps what it stored and where it stopped (`stage`, `stage_started_at`); its ledger
    rows are left as they are, a reserved call staying reserved (it may have been billed), and
    its spend is the ledger's sum, reservations at their bound.
    """
    rows = cur.execute(
        f"""
        UPDATE runs SET status = 'interrupted', interrupted_by = ?,
            spend_usd = {LEDGER_SPEND},
            error = 'interrupted in ' || coalesce('stage ' || stage, 'an unknown stage')
                || coalesce(' (started ' || strftime(timezone('UTC', stage_started_at),
                                                     '%Y-%m-%dT%H:%M:%SZ') || ')', '')
                || ': its process died (killed, out of memory or a reboot); found by run '
                || ? || '. What it stored is kept; its reserved cloud calls may have been '
                || 'billed.'
        WHERE status = 'running' AND run_id <> ?
        RETURNING run_id
        """,
        [run_id, run_id, run_id],
    ).fetchall()
    return sorted(row[0] for row in rows)


def note_stage(db: Database, run_id: str, stage: str) -> None:
    """Record the stage a run is entering: where it stopped, should it die."""
    with db.cursor() as cur:
        cur.execute("UPDATE runs SET stage = ?, stage_started_at = now() WHERE run_id = ?",
                    [stage, run_id])


def interrupted_runs(cur: duckdb.DuckDBPyConnection, by_run_id: str) -> list[tuple[str, str]]:
    """The runs a run found dead and marked interrupted: (run id, error) each."""
    return [(row[0], row[1]) for row in cur.execute(
        "SELECT run_id, error FROM runs WHERE interrupted_by = ? ORDER BY started_at",
        [by_run_id]).fetchall()]


_CLOSE_WITH_COUNTS = f"""
    UPDATE runs SET status = ?, error = ?, finished_at = now(),
        wall_seconds = epoch(now() - started_at),
        {", ".join(f"{column} = ?" for column in COUNT_COLUMNS)}
    WHERE run_id = ?
"""
_CLOSE = """
    UPDATE runs SET status = ?, error = ?, finished_at = now(),
        wall_seconds = epoch(now() - started_at)
    WHERE run_id = ?
"""


def close_run(db: Database, run_id: str, status: str, counts: RunCounts | None = None,
              error: str | None = None) -> None:
    """Record how a run ended, with its counts (a failed run keeps what it had stored)."""
    with db.cursor() as cur:
        if counts is None:
            cur.execute(_CLOSE, [status, error, run_id])
            return
        values = [getattr(counts, column) for column in COUNT_COLUMNS]
        cur.execute(_CLOSE_WITH_COUNTS, [status, error, *values, run_id])
