"""The escalation queue: which windows wait for the cloud model, and where each one stands."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import duckdb

from compliance.adapters.cloud import BudgetExceededError, BudgetGuard
from compliance.store.db import Database
from compliance.vocab import WindowStatus
from tasks.escalate.result import EscalationResult


def open_windows(cur: duckdb.DuckDBPyConnection, rules_version: str) -> list[tuple]:
    """Windows still to judge: deferred ones first (they waited), then riskiest documents."""
    return cur.execute(
        """
        SELECT w.window_id, w.redacted_text, w.rule_ids, w.purpose
        FROM escalation_windows w JOIN documents d USING (doc_id)
        WHERE d.is_current AND w.rules_version = ? AND w.status IN ('pending', 'deferred')
        ORDER BY (w.status = 'deferred') DESC, d.risk_hint_score DESC, w.window_id
        """,
        [rules_version],
    ).fetchall()


def set_status(db: Database, window_ids: list[int], status: WindowStatus,
               batch_id: str | None = None, custom_id: str | None = None) -> None:
    """Move windows to a status; a batch's id and entry stick once set."""
    if window_ids:
        with db.cursor() as cur:
            cur.execute(
                "UPDATE escalation_windows SET status = ?, batch_id = coalesce(?, batch_id), "
                "custom_id = coalesce(?, custom_id) WHERE window_id IN (SELECT unnest(?))",
                [status, batch_id, custom_id, window_ids],
            )


def refresh_chunk_statuses(db: Database, rules_version: str) -> None:
    """A chunk's escalation status summarizes its windows'."""
    with db.cursor() as cur:
        cur.execute(
            """
            UPDATE triage SET escalation_status = s.status FROM (
                SELECT chunk_id, CASE
                    WHEN bool_and(status = 'done') THEN 'done'
                    WHEN bool_or(status = 'deferred') THEN 'deferred'
                    WHEN bool_or(status = 'sent') THEN 'sent'
                    ELSE 'pending' END AS status
                FROM escalation_windows WHERE rules_version = ? GROUP BY chunk_id
            ) s
            WHERE triage.chunk_id = s.chunk_id AND triage.rules_version = ?
              AND triage.decision = 'escalate'
            """,
            [rules_version, rules_version],
        )


def reserve_or_defer(db: Database, guard: BudgetGuard, bound: Decimal, window_ids: list[int],
                     result: EscalationResult) -> bool:
    """Reserve a request's bound; when a budget has no room, its windows wait for the next run."""
    try:
        guard.reserve(bound)
    except BudgetExceededError:
        set_status(db, window_ids, WindowStatus.DEFERRED)
        result.deferred += len(window_ids)
        return False
    return True


def requeue_rejected(db: Database, groups: dict[str, list[int]], rejected: dict[str, str],
                     result: EscalationResult, log: Callable[[str], None]) -> None:
    """Windows whose answer was rejected wait for the next run, with the reason logged."""
    for key, reason in rejected.items():
        result.rejected_answers += 1
        result.errors.append(reason)
        log(f"answer rejected, window re-queued: {reason}")
        set_status(db, groups[key], WindowStatus.PENDING)


def note_failures(result: EscalationResult) -> None:
    """The run's escalation note says when requests failed or answers were rejected, and why."""
    if result.note or not (result.failed_requests or result.rejected_answers):
        return
    parts = []
    if result.failed_requests:
        parts.append(f"{result.failed_requests} cloud request(s) failed")
    if result.rejected_answers:
        parts.append(f"{result.rejected_answers} answer(s) rejected")
    last = f" (last: {result.errors[-1][:200]})" if result.errors else ""
    result.note = f"{' and '.join(parts)}{last}: their windows stay pending for the next run"
