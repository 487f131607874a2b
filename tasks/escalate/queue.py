"""The escalation queue: which windows wait for the cloud model, and where each one stands."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import duckdb

from compliance.adapters.cloud import BudgetExceededError, BudgetGuard
from compliance.store.db import Database
from compliance.vocab import WindowStatus
from tasks.escalate.result import EscalationResult

# A window's stored reason: enough for the API's error sentence, never a whole body.
REASON_CHARS = 500


# A window still to send: pending, deferred, or failed fewer than max_window_failures times
# (the parameter, twice; 0 is no limit). tasks.inventory's no-change check uses it too.
RESENDABLE = ("(w.status IN ('pending', 'deferred') OR (w.status = 'failed' "
              "AND (? = 0 OR w.failures < ?)))")


def open_windows(cur: duckdb.DuckDBPyConnection, rules_version: str,
                 max_failures: int = 0) -> list[tuple]:
    """Windows still to judge: deferred and failed ones first (they waited), then the riskiest.

    A window that failed max_failures times is left out: a request that always fails (an
    answer always rejected) would otherwise be paid for every night.
    """
    return cur.execute(
        f"""
        SELECT w.window_id, w.redacted_text, w.rule_ids, w.purpose
        FROM escalation_windows w JOIN documents d USING (doc_id)
        WHERE d.is_current AND w.rules_version = ? AND {RESENDABLE}
        ORDER BY (w.status IN ('deferred', 'failed')) DESC, d.risk_hint_score DESC, w.window_id
        """,
        [rules_version, max_failures, max_failures],
    ).fetchall()


def given_up_windows(cur: duckdb.DuckDBPyConnection, rules_version: str,
                     max_failures: int) -> int:
    """Failed windows no longer sent: they failed max_failures times."""
    if max_failures == 0:
        return 0
    return cur.execute(
        """
        SELECT count(*) FROM escalation_windows w JOIN documents d USING (doc_id)
        WHERE d.is_current AND w.rules_version = ? AND w.status = 'failed'
          AND w.failures >= ?
        """, [rules_version, max_failures]).fetchone()[0]


def set_status(db: Database, window_ids: list[int], status: WindowStatus,
               batch_id: str | None = None, custom_id: str | None = None,
               reason: str | None = None) -> None:
    """Move windows to a status, with why (deferred, failed); a batch's ids stick once set."""
    if window_ids:
        with db.cursor() as cur:
            cur.execute(
                "UPDATE escalation_windows SET status = ?, status_reason = ?, "
                "status_changed_at = now(), batch_id = coalesce(?, batch_id), "
                "custom_id = coalesce(?, custom_id) WHERE window_id IN (SELECT unnest(?))",
                [status, reason[:REASON_CHARS] if reason else None, batch_id, custom_id,
                 window_ids],
            )


def fail(db: Database, window_ids: list[int], reason: str, result: EscalationResult,
         attempted: bool = True) -> None:
    """Windows whose request failed: marked failed with the reason, sent again by the next run
    (until max_window_failures). `attempted`: the request was made (not counted otherwise)."""
    result.failed_windows += len(window_ids)
    set_status(db, window_ids, WindowStatus.FAILED, reason=reason)
    if attempted and window_ids:
        with db.cursor() as cur:
            cur.execute("UPDATE escalation_windows SET failures = failures + 1 "
                        "WHERE window_id IN (SELECT unnest(?))", [window_ids])


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
    except BudgetExceededError as exc:
        set_status(db, window_ids, WindowStatus.DEFERRED, reason=str(exc))
        result.deferred += len(window_ids)
        return False
    return True


def requeue_rejected(db: Database, groups: dict[str, list[int]], rejected: dict[str, str],
                     result: EscalationResult, log: Callable[[str], None]) -> None:
    """Windows whose answer was rejected fail with the reason and wait for the next run."""
    for key, reason in rejected.items():
        result.rejected_answers += 1
        result.errors.append(reason)
        log(f"answer rejected, window re-queued: {reason}")
        fail(db, groups[key], f"answer rejected: {reason}", result)


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
    result.note = (f"{' and '.join(parts)}{last}: {result.failed_windows} window(s) marked "
                   "failed, sent again by the next run")
