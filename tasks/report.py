"""The end of a run: close its record, and read its summary and report back from the database.

What is printed and published is read back from what was stored, so it shows what a later
reader of the database will find; the report is masked before it leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from compliance.context import RunContext
from compliance.rules.masking import mask
from compliance.settings import PipelineParams
from compliance.store import db as database
from compliance.store.runs import RunCounts, close_run, new_run_id, open_run
from compliance.vocab import FAILED_STATUSES, NOT_FAILED, severity_rank, sql_list
from tasks.stage import as_task


def _triage_lines(cur: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The clause scorer's operating point and the audited recall estimate of the run."""
    row = cur.execute(
        "SELECT scorer_version, recall_target, scorer_threshold, expected_recall, "
        "expected_share, recall_estimate, recall_lower_bound, recall_status FROM runs "
        "WHERE run_id = ?", [run_id]).fetchone()
    if row is None or row[0] is None:
        return []
    version, target, threshold, expected, share, estimate, lower, status = row
    lines = [f"  scorer           {version}: threshold {threshold:.4f} for recall target "
             f"{target:.2f} (cross-validated recall {expected:.3f} at {share:.1%} of the text)"]
    audit = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'done') FROM escalation_windows "
        "WHERE run_id = ? AND purpose = 'audit'", [run_id]).fetchone()
    pooled = cur.execute("SELECT max(runs_pooled) FROM recall_estimates WHERE run_id = ?",
                         [run_id]).fetchone()[0]
    if estimate is not None:
        lines.append(f"  triage recall    estimate {estimate:.3f}, lower bound {lower:.3f} "
                     f"over {pooled} run(s) ({audit[1]} of {audit[0]} audit windows judged "
                     f"this run): {status}")
        if status == "below_target":
            lines.append(f"  WARNING          the recall lower bound {lower:.3f} is under the "
                         f"target {target:.2f}: triage may be missing risky clauses")
    else:
        lines.append(f"  triage recall    {status or 'no_audit'} ({audit[1]} of {audit[0]} "
                     "audit windows judged this run)")
    return lines


def run_summary(cur: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """A plain-text report of one run and the state of the database after it."""
    run = cur.execute(
        """
        SELECT run_id, status, source_root, files_seen, docs_new, docs_changed, docs_unchanged,
               docs_duplicate, docs_failed, docs_removed, chunks_new, summaries_done,
               summaries_cached, summaries_pending, model_calls, local_model_seconds,
               wall_seconds, orchestrator, error, chunks_flagged, chunks_escalated,
               chunks_deferred, escalation_mode, cloud_model, spend_usd, naive_new_usd,
               naive_all_usd, escalation_note
        FROM runs WHERE run_id = ?
        """,
        [run_id],
    ).fetchone()
    if run is None:
        return f"run {run_id} not found"
    (rid, status, root, seen, new, changed, unchanged, duplicate, failed, removed, chunks,
     done, cached, pending, calls, model_seconds, wall, orchestrator, error, flagged,
     escalated, deferred, mode, cloud_model, spend, naive_new, naive_all, note) = run
    lines = [
        f"Run {rid}: {status} in {wall or 0:.1f} s ({orchestrator})",
        f"  source           {root}",
        f"  files            {seen or 0} seen: {new or 0} new, {changed or 0} changed, "
        f"{unchanged or 0} unchanged, {duplicate or 0} duplicate, {failed or 0} failed, "
        f"{removed or 0} removed",
        f"  chunks           {chunks or 0} new",
        f"  summaries        {done or 0} chunks done ({cached or 0} from cache), "
        f"{pending or 0} pending",
        f"  local model      {calls or 0} calls, {model_seconds or 0:.1f} s",
    ]
    cloud_calls = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'reserved') FROM llm_calls "
        "WHERE run_id = ? AND provider <> 'local'", [run_id]).fetchone()
    lines.append(f"  triage           {flagged or 0} chunks flagged, {escalated or 0} escalated, "
                 f"{deferred or 0} deferred (escalation {mode or 'off'}, {cloud_model or '-'})")
    lines += _triage_lines(cur, run_id)
    lines.append(f"  cloud spend      ${spend or 0:.6f} in {cloud_calls[0]} ledger rows"
                 + (f" ({cloud_calls[1]} still reserved)" if cloud_calls[1] else ""))
    if naive_new is not None and note and not spend:
        # Nothing went out (no key, key rejected, or escalation off): no saving to claim.
        lines.append(f"  counterfactual   naive_new ${naive_new:.6f}, naive_all ${naive_all:.6f} "
                     "(no savings claimed: flagged text was not escalated)")
    elif naive_new is not None:
        saved_new = 1 - (spend or 0) / naive_new if naive_new else 0
        saved_all = 1 - (spend or 0) / naive_all if naive_all else 0
        lines.append(f"  counterfactual   naive_new ${naive_new:.6f} (saved {saved_new:.1%}), "
                     f"naive_all ${naive_all:.6f} (saved {saved_all:.1%})")
    if note:
        lines.append(f"  note             {note}")
    if error:
        lines.append(f"  error            {error}")
    statuses = cur.execute(
        """
        SELECT status, count(*) FROM documents WHERE source_root = ? AND is_current
        GROUP BY 1 ORDER BY 2 DESC
        """,
        [root],
    ).fetchall()
    lines.append("  documents now    " + ", ".join(f"{s} {n}" for s, n in statuses))
    methods = cur.execute(
        """
        SELECT s.method, count(*) FROM chunks c JOIN summaries s USING (summary_key)
        JOIN documents d USING (doc_id)
        WHERE d.is_current AND d.source_root = ? GROUP BY 1 ORDER BY 2 DESC
        """,
        [root],
    ).fetchall()
    total = sum(n for _, n in methods)
    if total:
        lines.append("  summary methods  " + ", ".join(
            f"{m} {n / total:.0%}" for m, n in methods) + f" of {total} summarized chunks")
    links = cur.execute(
        """
        SELECT count(*) FILTER (WHERE duplicate_of IS NOT NULL),
               count(*) FILTER (WHERE same_text_as IS NOT NULL)
        FROM documents WHERE source_root = ? AND is_current
        """,
        [root],
    ).fetchone()
    near = cur.execute(
        """
        SELECT count(*) FROM near_duplicates n JOIN documents d ON d.doc_id = n.doc_id
        WHERE d.source_root = ? AND d.is_current
        """,
        [root],
    ).fetchone()[0]
    repeated = cur.execute(
        """
        SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
        WHERE d.source_root = ? AND d.is_current AND c.duplicate_of_chunk IS NOT NULL
        """,
        [root],
    ).fetchone()[0]
    lines.append(f"  dedupe           {links[0]} byte-identical, {links[1]} same text, "
                 f"{near} near-duplicate, {repeated} repeated chunks")
    failures = cur.execute(
        f"""
        SELECT rel_path, status, error, count(*) OVER () FROM documents
        WHERE source_root = ? AND is_current
          AND status NOT IN {sql_list(NOT_FAILED)}
        ORDER BY rel_path LIMIT {SHOWN_FAILURES}
        """,
        [root],
    ).fetchall()
    for rel_path, doc_status, reason, _ in failures:
        lines.append(f"  ! {doc_status:<11} {rel_path}: {shorten(reason or '', REASON_CHARS)}")
    if failures and failures[0][3] > len(failures):
        lines.append(f"  ! … and {failures[0][3] - len(failures)} more: SELECT rel_path, status, "
                     "error FROM document_status")
    return "\n".join(lines)


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut at a word with an ellipsis when longer than limit."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


SEVERITY_ORDER = severity_rank("r.severity")
# The run summary lists this many failed files, each reason cut at a word past this length; the
# document_status view holds every one in full.
SHOWN_FAILURES = 20
REASON_CHARS = 300


def run_counts(cur: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, object]:
    """One run's stored counts, spend, counterfactuals and savings, by name."""
    row = cur.execute(
        """
        SELECT run_id, status, source_root, error, docs_new, docs_changed, docs_unchanged,
               docs_duplicate, docs_failed, docs_removed, chunks_new, summaries_cached,
               summaries_done, summaries_pending, model_calls, local_model_seconds,
               chunks_flagged, chunks_escalated, chunks_deferred, escalation_mode,
               cloud_model, spend_usd, naive_new_usd, naive_all_usd, escalation_note,
               wall_seconds
        FROM runs WHERE run_id = ?
        """,
        [run_id],
    ).fetchone()
    if row is None:
        return {}
    names = [d[0] for d in cur.description]
    counts = dict(zip(names, row, strict=True))
    spend = float(counts["spend_usd"] or 0)
    for name in ("naive_new", "naive_all"):
        naive = counts[f"{name}_usd"]
        counts[f"saved_vs_{name}"] = (
            None if naive is None or not naive or (counts["escalation_note"] and not spend)
            else round(1 - spend / float(naive), 4))
    return counts


def failed_documents(cur: duckdb.DuckDBPyConnection, run_id: str,
                     limit: int = 200) -> list[tuple[str, str, str]]:
    """Documents this run found unreadable: (path, status, reason)."""
    placeholders = ", ".join("?" for _ in FAILED_STATUSES)
    return cur.execute(
        f"""
        SELECT rel_path, status, coalesce(error, '') FROM documents
        WHERE first_run_id = ? AND status IN ({placeholders})
        ORDER BY rel_path LIMIT ?
        """,
        [run_id, *FAILED_STATUSES, limit],
    ).fetchall()


def top_findings(cur: duckdb.DuckDBPyConnection, source_root: str,
                 limit: int = 10) -> list[tuple[str, str, str, str, str]]:
    """The cloud model's most severe findings in the current documents of a source folder.

    Returns (path, category, severity, rationale, quote); quotes are of redacted text.
    """
    rows = cur.execute(
        f"""
        SELECT DISTINCT d.rel_path, r.category, r.severity, r.rationale, r.quote,
               {SEVERITY_ORDER} AS weight
        FROM escalation_windows w JOIN escalation_results r USING (cache_key)
        JOIN documents d ON d.doc_id = w.doc_id
        WHERE r.is_finding AND d.is_current AND d.source_root = ?
        ORDER BY weight DESC, d.rel_path, r.category LIMIT ?
        """,
        [source_root, limit],
    ).fetchall()
    return [tuple(row[:5]) for row in rows]


def _plain(value: Any) -> Any:
    """A JSON-friendly cell: Decimals and other numbers as numbers, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


@dataclass
class RunReport:
    """Everything the artifacts show, read back from the database and already masked."""

    run_id: str
    status: str
    source: str
    db_path: str
    counts: dict[str, Any]
    failed: list[dict[str, str]] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)
    summary: str = ""
    error: str | None = None
    note: str | None = None


def build_report(run_id: str, source: str, db_path: str, counts: dict[str, Any],
                 failed: list[tuple[str, str, str]],
                 findings: list[tuple[str, str, str, str, str]], summary: str) -> RunReport:
    """Mask what is stored into a report (free text also loses person names)."""
    return RunReport(
        run_id=run_id,
        status=str(counts.get("status") or "unknown"),
        source=mask(source),
        db_path=mask(db_path),
        counts={key: _plain(value) for key, value in counts.items()
                if key not in ("error", "escalation_note", "source_root")},
        failed=[{"path": mask(path), "status": status, "reason": mask(reason, names=True)}
                for path, status, reason in failed],
        findings=[{"path": mask(path), "category": category or "", "severity": severity or "",
                   "rationale": mask(rationale or "", names=True),
                   "quote": mask(quote or "", names=True)}
                  for path, category, severity, rationale, quote in findings],
        summary=mask(summary),
        error=mask(str(counts["error"]), names=True) if counts.get("error") else None,
        note=mask(str(counts["escalation_note"])) if counts.get("escalation_note") else None,
    )


def read_report(ctx: RunContext, db_path: str, summary: str) -> RunReport:
    """The run's report from what the database stored, masked for the Prefect server."""
    with ctx.db.cursor() as cur:
        counts = run_counts(cur, ctx.run_id)
        failed = failed_documents(cur, ctx.run_id)
        findings = top_findings(cur, str(ctx.source))
    return build_report(ctx.run_id, str(ctx.source), db_path, counts, failed, findings, summary)


@as_task("close-run")
def close_run_record(ctx: RunContext) -> str:
    """Record the run's counts and return its printed summary."""
    with ctx.db.cursor() as cur:
        ctx.counts.summaries_pending = cur.execute(
            "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE d.is_current AND c.summary_status = 'pending'"
        ).fetchone()[0]
    return finish_run(ctx)


def finish_run(ctx: RunContext) -> str:
    """Store the run's counts as completed and return its printed summary."""
    close_run(ctx.db, ctx.run_id, "completed", ctx.counts)
    with ctx.db.cursor() as cur:
        return run_summary(cur, ctx.run_id)


def record_failure(ctx: RunContext, error: str) -> str:
    """Mark the run failed (what it stored is kept) and return its summary."""
    close_run(ctx.db, ctx.run_id, "failed", error=error)
    with ctx.db.cursor() as cur:
        return run_summary(cur, ctx.run_id)


def record_unchanged_run(params: PipelineParams, files: int, wall_seconds: float) -> str:
    """Record a run that found nothing to do (no flow was started) and return its summary."""
    db = database.writer(params.db_path)
    try:
        run_id = new_run_id()
        open_run(db, run_id, params.source, params.model_dump_json(),
                 orchestrator="cli (no changes)")
        close_run(db, run_id, "completed", RunCounts(
            files_seen=files, docs_new=0, docs_changed=0, docs_unchanged=files,
            docs_duplicate=0, docs_failed=0, docs_removed=0, chunks_new=0, summaries_done=0,
            summaries_cached=0, summaries_pending=0, model_calls=0, local_model_seconds=0.0,
            chunks_flagged=0, chunks_escalated=0, chunks_deferred=0,
            escalation_mode=params.escalation, cloud_model=params.cloud_model,
            spend_usd=Decimal(0)))
        with db.cursor() as cur:
            cur.execute("UPDATE runs SET wall_seconds = ? WHERE run_id = ?",
                        [wall_seconds, run_id])
            return run_summary(cur, run_id)
    finally:
        database.close_writer(params.db_path)
