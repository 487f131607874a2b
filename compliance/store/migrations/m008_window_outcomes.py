"""m008: a failed escalation window says why, and a document waiting on one is not "none".

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe, describe_column
from compliance.store.migrations.m003_findings_reviews_search import (
    DESCRIPTIONS as M003_DESCRIPTIONS,
)

COLUMNS: list[tuple[str, str, str, str]] = [
    ("escalation_windows", "status_reason", "VARCHAR",
     "Why the window is deferred or failed (budget reached, the API's error, the answer "
     "rejected), masked; NULL otherwise."),
    ("escalation_windows", "status_changed_at", "TIMESTAMPTZ",
     "When the status last changed (NULL for windows older than m008 never touched since)."),
]
REDESCRIBED: list[tuple[str, str, str]] = [
    ("escalation_windows", "status",
     "pending, deferred (over a budget), sent (in a batch), done (answered) or failed (its "
     "request failed or its answer was rejected: status_reason says why). Deferred and failed "
     "windows are sent again by the next run, before new ones."),
]


def m008_window_outcomes(conn: duckdb.DuckDBPyConnection) -> None:
    """A reason on deferred and failed windows; document_status counts failed windows as waiting."""
    for table, column, kind, _ in COLUMNS:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    for table, column, _, text in COLUMNS:
        describe_column(conn, table, column, text)
    for table, column, text in REDESCRIBED:
        describe_column(conn, table, column, text)
    conn.execute(
        """
        CREATE OR REPLACE VIEW document_status AS
        WITH per_doc AS (
            SELECT doc_id, count(*) AS findings,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')) AS open_findings,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'critical') AS open_critical,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'high') AS open_high,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'medium') AS open_medium,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'low') AS open_low,
                   max(severity_rank) FILTER (WHERE disposition IN ('open', 'confirmed'))
                       AS open_rank
            FROM findings GROUP BY doc_id
        ),
        per_chunk AS (
            SELECT c.doc_id, count(*) AS chunks,
                   count(*) FILTER (WHERE c.summary_status = 'done') AS chunks_summarized,
                   count(DISTINCT f.chunk_id) AS chunks_flagged
            FROM chunks c LEFT JOIN (SELECT DISTINCT chunk_id FROM flags) f USING (chunk_id)
            GROUP BY c.doc_id
        ),
        per_window AS (
            SELECT doc_id, count(*) AS windows,
                   count(*) FILTER (WHERE status = 'done') AS windows_judged,
                   count(*) FILTER (WHERE status IN ('pending', 'deferred', 'sent', 'failed'))
                       AS windows_waiting,
                   count(*) FILTER (WHERE status = 'failed') AS windows_failed
            FROM escalation_windows GROUP BY doc_id
        ),
        verdicts AS (
            SELECT d.doc_id,
                   CASE WHEN d.status NOT IN ('ok', 'partial') THEN NULL
                        WHEN coalesce(pd.open_rank, 0) = 4 THEN 'critical'
                        WHEN pd.open_rank = 3 THEN 'high'
                        WHEN pd.open_rank = 2 THEN 'medium'
                        WHEN pd.open_rank = 1 THEN 'low'
                        WHEN coalesce(pw.windows_waiting, 0) > 0 THEN 'awaiting_cloud'
                        ELSE 'none' END AS verdict
            FROM documents d LEFT JOIN per_doc pd USING (doc_id)
            LEFT JOIN per_window pw USING (doc_id)
        )
        SELECT d.doc_id, d.source_root, d.rel_path, d.version, d.format, d.status, d.error,
               d.page_count, d.language, d.size_bytes, d.duplicate_of,
               coalesce(pc.chunks, 0) AS chunks,
               coalesce(pc.chunks_summarized, 0) AS chunks_summarized,
               coalesce(pc.chunks_flagged, 0) AS chunks_flagged,
               coalesce(pw.windows, 0) AS windows_escalated,
               coalesce(pw.windows_judged, 0) AS windows_judged,
               coalesce(pw.windows_waiting, 0) AS windows_waiting,
               coalesce(pw.windows_failed, 0) AS windows_failed,
               ds.doc_id IS NOT NULL AS has_summary,
               coalesce(pd.findings, 0) AS findings, coalesce(pd.open_findings, 0) AS open_findings,
               coalesce(pd.open_critical, 0) AS open_critical,
               coalesce(pd.open_high, 0) AS open_high,
               coalesce(pd.open_medium, 0) AS open_medium, coalesce(pd.open_low, 0) AS open_low,
               CASE WHEN d.status = 'duplicate' THEN coalesce(orig.verdict, 'not_assessed')
                    ELSE coalesce(v.verdict, 'not_assessed') END AS risk_verdict,
               d.first_run_id, d.last_seen_run_id
        FROM documents d
        LEFT JOIN per_doc pd ON pd.doc_id = d.doc_id
        LEFT JOIN per_chunk pc ON pc.doc_id = d.doc_id
        LEFT JOIN per_window pw ON pw.doc_id = d.doc_id
        LEFT JOIN document_summaries ds ON ds.doc_id = d.doc_id
        LEFT JOIN verdicts v ON v.doc_id = d.doc_id
        LEFT JOIN verdicts orig ON orig.doc_id = d.duplicate_of
        WHERE d.is_current
        """
    )
    describe(conn, *DESCRIPTION)


# Replacing the view drops its comments, so m008 describes the whole view again: m003's frozen
# text, with the columns this migration changes or adds.
_, _, _MEANING, _COLUMNS = next(entry for entry in M003_DESCRIPTIONS
                                if entry[1] == "document_status")
DESCRIPTION: Description = ("VIEW", "document_status", _MEANING, {
    **_COLUMNS,
    "windows_waiting": "Windows pending, deferred, failed (to be sent again) or in flight.",
    "windows_failed": "Windows whose request failed or whose answer was rejected "
                      "(escalation_windows.status_reason says why).",
    "risk_verdict": "Highest unresolved severity; awaiting_cloud when there is none yet but "
                    "windows wait for the cloud model; none when nothing waits; not_assessed "
                    "when the file could not be read (a duplicate takes its original's verdict).",
})
