"""What the HTML report shows, read from the analyst views into plain dataclasses.

Nothing here knows HTML: the page (page.py) and the chart (chart.py) draw these rows. Free
text that comes from documents (paths, notes, quotes, errors) is masked here, when it is read,
unless the caller unmasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from compliance.read.briefs import PERSONAL_FIELDS
from compliance.read.results import (
    failed_documents,
    mask_quote,
    open_findings_by_severity,
    personal_data_rules,
)
from compliance.rules.masking import mask
from compliance.vocab import SEVERITIES, UNRESOLVED, WindowStatus

SEVERITY_ORDER = tuple(reversed(SEVERITIES))  # most severe first
TOP_FINDINGS = 50
# The order the report lists window states in: settled first, then still waiting.
WINDOW_STATUSES = tuple(WindowStatus[name].value
                        for name in ("DONE", "SENT", "PENDING", "DEFERRED", "FAILED"))


@dataclass(frozen=True)
class SpendRow:
    """One (UTC day, provider, model) row of cost_by_day_and_model: one bar segment."""

    day: dt.date
    provider: str
    model: str
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    seconds: float
    cost_usd: Decimal


@dataclass(frozen=True)
class RunRow:
    """One run in the period: its chunks, calls, spend, counterfactuals and cache hits."""

    run_id: str
    started_at: dt.datetime
    status: str
    escalation_mode: str
    cloud_model: str
    chunks_new: int
    chunks_flagged: int
    chunks_escalated: int
    local_calls: int
    local_cost_usd: Decimal
    cloud_calls: int
    cloud_cost_usd: Decimal
    spend_usd: Decimal
    naive_new_usd: Decimal | None
    naive_all_usd: Decimal | None
    cache_saved_usd: Decimal
    saved_by_dedupe_usd: Decimal | None
    saved_by_routing_usd: Decimal | None
    saved_total_usd: Decimal | None
    saved_share: float | None
    savings_claimed: bool
    summaries_done: int
    summaries_cached: int
    summary_hit_rate: float | None
    windows_sent: int
    windows_cached: int
    escalation_hit_rate: float | None
    note: str


@dataclass(frozen=True)
class WindowCounts:
    """Escalation windows of the period's runs, by status and by the model's verdict."""

    by_status: dict[str, int]
    findings: int
    dismissed: int

    @property
    def total(self) -> int:
        """All windows counted."""
        return sum(self.by_status.values())


@dataclass(frozen=True)
class FindingRow:
    """One unresolved finding for the table (text already masked where asked)."""

    finding_id: int | None
    severity: str
    category: str
    detected_by: str
    detector: str
    rel_path: str
    page: int | None
    quote: str
    occurrences: int
    escalation_verdict: str
    disposition: str


@dataclass(frozen=True)
class FailedDocument:
    """A current document that could not be read, and why (masked where asked)."""

    rel_path: str
    version: int
    format: str
    status: str
    error: str


@dataclass(frozen=True)
class RecallRow:
    """The latest audited recall estimate of one category (or 'all')."""

    category: str
    estimate: float | None
    lower_bound: float | None
    escalated_positives: int
    audited: int
    audited_positives: int
    runs_pooled: int
    recall_target: float | None
    status: str


@dataclass(frozen=True)
class BriefRow:
    """One current document's brief, as the report lists it."""

    rel_path: str
    kind: str
    title: str
    parties: list[str]
    dates: list[str]
    governing_law: str
    open_findings: int
    worst_severity: str


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows."""

    generated_at: dt.datetime
    days: int
    period_start: dt.date | None
    period_end: dt.date | None
    unmasked: bool
    spend: list[SpendRow]
    runs: list[RunRow]
    windows: WindowCounts
    chunks_current: int
    chunks_current_sent: int
    open_by_severity: dict[str, int]
    top_findings: list[FindingRow]
    failed_documents: list[FailedDocument]
    triage_recall: list[RecallRow] = field(default_factory=list)
    briefs: list[BriefRow] = field(default_factory=list)

    @property
    def open_findings(self) -> int:
        """Findings open or confirmed, all severities."""
        return sum(self.open_by_severity.values())


def _records(conn: duckdb.DuckDBPyConnection, sql: str,
             params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, list(params))
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _private(text: Any, unmask: bool) -> str:
    """Free text from documents: masked (person names too) unless the caller unmasks."""
    if text is None:
        return ""
    return str(text) if unmask else mask(str(text), names=True)


_RUN_DAY = "CAST(timezone('UTC', started_at) AS DATE)"


def report_period(conn: duckdb.DuckDBPyConnection,
                  days: int) -> tuple[dt.date | None, dt.date | None]:
    """The `days` UTC days ending on the latest day with a model call or a run start."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    last_call = conn.execute("SELECT max(day) FROM cost_by_day_and_model").fetchone()[0]
    last_run = conn.execute(f"SELECT max({_RUN_DAY}) FROM cost_by_run").fetchone()[0]
    known = [day for day in (last_call, last_run) if day is not None]
    if not known:
        return None, None
    end = max(known)
    return end - dt.timedelta(days=days - 1), end


def _spend_rows(conn: duckdb.DuckDBPyConnection, start: dt.date,
                end: dt.date) -> list[SpendRow]:
    rows = _records(conn, "SELECT * FROM cost_by_day_and_model WHERE day BETWEEN ? AND ? "
                          "ORDER BY day, provider, model", [start, end])
    return [SpendRow(day=r["day"], provider=str(r["provider"]), model=str(r["model"]),
                     calls=_int(r["calls"]), failed_calls=_int(r["failed_calls"]),
                     input_tokens=_int(r["input_tokens"]),
                     output_tokens=_int(r["output_tokens"]),
                     cache_write_tokens=_int(r["cache_write_tokens"]),
                     cache_read_tokens=_int(r["cache_read_tokens"]),
                     seconds=float(r["seconds"] or 0), cost_usd=_dec(r["cost_usd"]))
            for r in rows]


def _by_run(conn: duckdb.DuckDBPyConnection, source: str, start: dt.date,
            end: dt.date) -> dict[str, dict[str, Any]]:
    rows = _records(conn, f"SELECT * FROM {source} WHERE {_RUN_DAY} BETWEEN ? AND ?",
                    [start, end])
    return {str(r["run_id"]): r for r in rows}


def _run_rows(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date,
              unmask: bool) -> list[RunRow]:
    costs = _by_run(conn, "cost_by_run", start, end)
    savings = _by_run(conn, "savings_by_run", start, end)
    caches = _by_run(conn, "cache_efficiency", start, end)
    counts = {str(r["run_id"]): r for r in _records(
        conn, f"SELECT run_id, chunks_new, chunks_flagged, chunks_escalated, escalation_note "
              f"FROM runs WHERE {_RUN_DAY} BETWEEN ? AND ?", [start, end])}
    runs = []
    for run_id, cost in costs.items():
        saving, cache, count = savings.get(run_id, {}), caches.get(run_id, {}), counts[run_id]
        spend = _dec(saving.get("spend_usd"))
        naive_all = _opt_dec(saving.get("naive_all_usd"))
        # The view's rule, as in the run summary: when nothing went out (no key, key rejected,
        # escalation off) the counterfactuals are estimates of work not done, not savings.
        claimed = bool(saving.get("savings_claimed"))
        share = saving.get("saved_share")
        runs.append(RunRow(
            run_id=run_id, started_at=cost["started_at"], status=str(cost["status"] or ""),
            escalation_mode=str(cost["escalation_mode"] or "off"),
            cloud_model=str(saving.get("cloud_model") or ""),
            chunks_new=_int(count["chunks_new"]), chunks_flagged=_int(count["chunks_flagged"]),
            chunks_escalated=_int(count["chunks_escalated"]),
            local_calls=_int(cost["local_calls"]), local_cost_usd=_dec(cost["local_cost_usd"]),
            cloud_calls=_int(cost["cloud_calls"]), cloud_cost_usd=_dec(cost["cloud_cost_usd"]),
            spend_usd=spend, naive_new_usd=_opt_dec(saving.get("naive_new_usd")),
            naive_all_usd=naive_all, cache_saved_usd=_dec(saving.get("cache_saved_usd")),
            saved_by_dedupe_usd=_opt_dec(saving.get("saved_by_dedupe_usd")),
            saved_by_routing_usd=_opt_dec(saving.get("saved_by_routing_usd")),
            saved_total_usd=_opt_dec(saving.get("saved_total_usd")),
            saved_share=None if share is None else float(share), savings_claimed=claimed,
            summaries_done=_int(cache.get("summaries_done")),
            summaries_cached=_int(cache.get("summaries_cached")),
            summary_hit_rate=cache.get("summary_hit_rate"),
            windows_sent=_int(cache.get("escalation_windows_sent")),
            windows_cached=_int(cache.get("escalation_windows_cached")),
            escalation_hit_rate=cache.get("escalation_hit_rate"),
            note=_private(count["escalation_note"], unmask)))
    runs.sort(key=lambda run: run.started_at, reverse=True)
    return runs


def _window_counts(conn: duckdb.DuckDBPyConnection, run_ids: list[str]) -> WindowCounts:
    rows = _records(
        conn,
        """
        SELECT status, count(*) AS windows,
               count(*) FILTER (WHERE status = 'done' AND is_finding) AS findings,
               count(*) FILTER (WHERE status = 'done' AND NOT is_finding) AS dismissed
        FROM escalations
        WHERE list_contains(?, run_id) OR list_contains(?, answered_in_run_id)
        GROUP BY status
        """,
        [run_ids, run_ids])
    by_status = {status: 0 for status in WINDOW_STATUSES}
    for row in rows:
        by_status[str(row["status"])] = by_status.get(str(row["status"]), 0) + row["windows"]
    # Not escalations.answered_from_cache: it also marks windows that waited for a later run
    # and were answered by a new call there; the runs' own cache counts are the ones shown.
    return WindowCounts(by_status=by_status,
                        findings=sum(_int(r["findings"]) for r in rows),
                        dismissed=sum(_int(r["dismissed"]) for r in rows))


def _corpus_chunks(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    total = conn.execute("SELECT coalesce(sum(chunks), 0) FROM document_status").fetchone()[0]
    sent = conn.execute("SELECT count(DISTINCT chunk_id) FROM escalations "
                        "WHERE is_current AND status IN ('sent', 'done')").fetchone()[0]
    return int(total), int(sent)


def _top_findings(conn: duckdb.DuckDBPyConnection, unmask: bool) -> list[FindingRow]:
    rows = _records(conn, "SELECT * FROM findings WHERE disposition IN (?, ?) "
                          "ORDER BY severity_rank DESC, occurrences DESC, rel_path, finding_id "
                          "LIMIT ?", [*UNRESOLVED, TOP_FINDINGS])
    personal = personal_data_rules()
    return [FindingRow(finding_id=r["finding_id"], severity=str(r["severity"] or ""),
                       category=str(r["category"] or ""),
                       detected_by=str(r["detected_by"] or ""),
                       detector=str(r["detector"] or ""),
                       rel_path=_private(r["rel_path"], unmask), page=r["page"],
                       quote=mask_quote(r["quote"], r["detected_by"], r["detector"], personal,
                                        unmask),
                       occurrences=_int(r["occurrences"]),
                       escalation_verdict=str(r["escalation_verdict"] or ""),
                       disposition=str(r["disposition"] or ""))
            for r in rows]


def _failed_documents(conn: duckdb.DuckDBPyConnection, unmask: bool) -> list[FailedDocument]:
    return [FailedDocument(rel_path=_private(r["rel_path"], unmask), version=_int(r["version"]),
                           format=str(r["format"] or ""), status=str(r["status"] or ""),
                           error=_private(r["error"], unmask))
            for r in failed_documents(conn).records()]


def _triage_recall(conn: duckdb.DuckDBPyConnection) -> list[RecallRow]:
    rows = _records(conn, "SELECT category, estimate, lower_bound, escalated_positives, "
                          "audited, audited_positives, runs_pooled, recall_target, status "
                          "FROM triage_recall ORDER BY category = 'all' DESC, category")
    return [RecallRow(**row) for row in rows]


# Documents listed with their briefs: the most at risk first.
TOP_BRIEFS = 50
_DATE_FIELDS = {"agreement_date": "agreed", "effective_date": "effective",
                "document_date": "dated", "sent_date": "sent"}


def _briefs(conn: duckdb.DuckDBPyConnection, unmask: bool) -> list[BriefRow]:
    docs = _records(conn, """
        SELECT d.doc_id, d.rel_path,
               count(f.finding_id) FILTER (WHERE f.disposition IN (?, ?)) AS open_findings,
               max(f.severity_rank) FILTER (WHERE f.disposition IN (?, ?)) AS worst_rank,
               arg_max(f.severity, f.severity_rank)
                   FILTER (WHERE f.disposition IN (?, ?)) AS worst
        FROM documents d LEFT JOIN findings f USING (doc_id)
        WHERE d.is_current AND d.doc_id IN (SELECT doc_id FROM document_briefs)
        GROUP BY d.doc_id, d.rel_path
        ORDER BY worst_rank DESC NULLS LAST, open_findings DESC, d.rel_path
        LIMIT ?""", [*UNRESOLVED, *UNRESOLVED, *UNRESOLVED, TOP_BRIEFS])
    if not docs:
        return []
    fields: dict[int, list[tuple[str, str]]] = {}
    for doc_id, name, value in conn.execute(
            "SELECT doc_id, field, value FROM document_briefs "
            "WHERE doc_id IN (SELECT unnest(?::BIGINT[])) ORDER BY doc_id, field, seq",
            [[d["doc_id"] for d in docs]]).fetchall():
        fields.setdefault(doc_id, []).append((name, value))
    rows = []
    for doc in docs:
        found = fields.get(doc["doc_id"], [])
        first = {name: value for name, value in reversed(found)}
        people = [value for name, value in found if name in PERSONAL_FIELDS]
        rows.append(BriefRow(
            rel_path=_private(doc["rel_path"], unmask), kind=first.get("kind", ""),
            title=_private(first.get("title", ""), unmask),
            parties=[_private(person, unmask) for person in people],
            dates=[f"{label} {first[name]}" for name, label in _DATE_FIELDS.items()
                   if name in first],
            governing_law=first.get("governing_law", ""),
            open_findings=_int(doc["open_findings"]), worst_severity=str(doc["worst"] or "")))
    return rows


def build_report_data(conn: duckdb.DuckDBPyConnection, unmask: bool = False,
                      days: int = 30) -> ReportData:
    """Read what the page shows from the analyst views."""
    start, end = report_period(conn, days)
    spend = _spend_rows(conn, start, end) if start and end else []
    runs = _run_rows(conn, start, end, unmask) if start and end else []
    chunks_current, chunks_current_sent = _corpus_chunks(conn)
    return ReportData(
        generated_at=dt.datetime.now(dt.UTC), days=days, period_start=start, period_end=end,
        unmasked=unmask, spend=spend, runs=runs,
        windows=_window_counts(conn, [run.run_id for run in runs]),
        chunks_current=chunks_current, chunks_current_sent=chunks_current_sent,
        open_by_severity=open_findings_by_severity(conn), top_findings=_top_findings(conn, unmask),
        failed_documents=_failed_documents(conn, unmask), triage_recall=_triage_recall(conn),
        briefs=_briefs(conn, unmask))
