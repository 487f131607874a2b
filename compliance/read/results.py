"""Reading the results database for analysts: reports, findings, read-only SQL and exports.

Everything here opens the file read-only, so it never competes with the pipeline for the write
lock; while a run holds the file, DuckDB refuses readers too, and the caller gets a clear
ResultsUnavailableError naming the run instead of a stack trace.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from compliance.rules import masking
from compliance.store import db as database
from compliance.store.migrations import MIGRATIONS
from compliance.store.runlock import DatabaseLock, describe_holder
from compliance.vocab import ANALYST_VIEWS, DISPOSITIONS, NOT_FAILED, SEVERITIES, UNRESOLVED

EXPORTED = (*ANALYST_VIEWS, "runs", "llm_calls", "finding_reviews")
# Columns that can carry personal data, masked in exports and reports unless unmasked; True
# also masks person names (spaCy), which is slower and only worth it for free text.
PERSONAL_COLUMNS: dict[str, dict[str, bool]] = {
    "findings": {"rel_path": True, "quote": True, "rationale": True,
                 "recommended_action": True},
    "escalations": {"rel_path": True, "rationale": True, "recommended_action": True},
    "document_status": {"rel_path": True, "error": True},
    "runs": {"error": True, "escalation_note": True},
    "llm_calls": {"error": True},
    "finding_reviews": {"note": True},
    "document_briefs": {"rel_path": True, "value": True},
}
FORMATS = ("parquet", "csv")


class ResultsUnavailableError(RuntimeError):
    """The database cannot be read now: missing, held by a run, or from an older version."""


class ResultsBusyError(ResultsUnavailableError):
    """A run (or a review, or a summary being computed) is writing the database."""


def open_results(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a migrated results database, or a clear error."""
    db_path = Path(db_path)
    try:
        conn = database.reader(db_path)
    except FileNotFoundError as exc:
        raise ResultsUnavailableError(str(exc)) from None
    except database.DatabaseBusyError:
        holder = DatabaseLock(db_path).holder()
        raise ResultsBusyError(
            f"{db_path} is being written by {describe_holder(holder)}; DuckDB lets no reader in "
            "while a run writes. Try again when that run has finished.") from None
    try:
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations").fetchall()}
    except duckdb.CatalogException:
        applied = set()
    missing = [name for name, _ in MIGRATIONS if name not in applied]
    if missing:
        conn.close()
        raise ResultsUnavailableError(
            f"{db_path} was written by an older version (missing {', '.join(missing)}): run "
            "`compliance run` once to upgrade it")
    return conn


@dataclass(frozen=True)
class Table:
    """Column names and rows of a query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def query(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Table:
    """Run one query and keep its column names."""
    cur = conn.execute(sql, params or [])
    return Table([d[0] for d in cur.description or []], cur.fetchall())


def run_readonly_sql(conn: duckdb.DuckDBPyConnection, sql: str) -> Table:
    """An analyst's query: no writes (read-only file), no files read or written, no ATTACH."""
    if not conn.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    return query(conn, sql)


def mask_value(value: Any, names: bool) -> Any:
    """A text value with personal data masked; other values unchanged."""
    return masking.mask(value, names=names) if isinstance(value, str) else value


def personal_data_rules() -> dict[str, str]:
    """Rule id to placeholder, for rules whose whole match is personal data (redact_as)."""
    from compliance.rules.loader import RulePackError, load_rules

    try:
        return {rule.id: rule.redact_as for rule in load_rules().rules if rule.redact_as}
    except (RulePackError, OSError):  # runs stop on a broken pack; readers still mask text
        return {}


def mask_quote(quote: str | None, detected_by: str | None, detector: str | None,
               personal: dict[str, str], unmask: bool = False) -> str:
    """A finding's quote as shown: a personal-data rule's whole match becomes its placeholder.

    A date of birth quoted without its cue ("14 March 1991") no longer looks like one to
    mask(): the rule that found it says what it is.
    """
    if quote is None:
        return ""
    if unmask:
        return quote
    if detected_by == "rule" and detector in personal:
        return f"[{personal[detector]}]"
    return masking.mask(quote, names=True)


def mask_table(view: str, table: Table) -> Table:
    """Mask the personal-data columns of a view's rows (a finding's quote by its rule)."""
    personal = PERSONAL_COLUMNS.get(view, {})
    if not personal:
        return table
    at = {column: i for i, column in enumerate(table.columns)}
    by_rule = (personal_data_rules()
               if view == "findings" and {"quote", "detected_by", "detector"} <= at.keys()
               else None)

    def masked(row: tuple[Any, ...], column: str, value: Any) -> Any:
        if column not in personal:
            return value
        if by_rule is not None and column == "quote":
            return mask_quote(value, row[at["detected_by"]], row[at["detector"]], by_rule)
        return mask_value(value, personal[column])

    rows = [tuple(masked(row, column, value)
                  for column, value in zip(table.columns, row, strict=True))
            for row in table.rows]
    return Table(table.columns, rows)


@dataclass(frozen=True)
class FindingFilter:
    """Which findings to list."""

    min_severity: str | None = None
    since: dt.date | None = None
    disposition: str | None = None
    limit: int = 50


def list_findings(conn: duckdb.DuckDBPyConnection, chosen: FindingFilter,
                  unmask: bool = False) -> Table:
    """Findings on current documents, most severe and newest first."""
    if chosen.min_severity is not None and chosen.min_severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    if chosen.disposition is not None and chosen.disposition not in DISPOSITIONS:
        raise ValueError(f"status must be one of {', '.join(DISPOSITIONS)}")
    table = query(
        conn,
        """
        SELECT finding_id, severity, category, detected_by, detector, disposition,
               escalation_verdict, rel_path, page, occurrences, quote, rationale,
               first_seen_at
        FROM findings
        WHERE severity_rank >= ? AND (? IS NULL OR first_seen_at >= ?)
          AND (? IS NULL OR disposition = ?)
        ORDER BY severity_rank DESC, first_seen_at DESC, finding_id
        LIMIT ?
        """,
        [SEVERITIES.get(chosen.min_severity or "low", 1), chosen.since, chosen.since,
         chosen.disposition, chosen.disposition, chosen.limit],
    )
    return table if unmask else mask_table("findings", table)


def open_findings_by_severity(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Unresolved (open or confirmed) findings per severity, most severe first, zeros kept."""
    counts = dict(conn.execute(
        "SELECT severity, count(*) FROM findings WHERE list_contains(?, disposition) "
        "GROUP BY severity", [list(UNRESOLVED)]).fetchall())
    return {severity: int(counts.get(severity, 0)) for severity in reversed(SEVERITIES)}


def failed_documents(conn: duckdb.DuckDBPyConnection) -> Table:
    """Current documents that could not be read, with the reason (removed files are not)."""
    return query(conn, "SELECT rel_path, version, format, status, error FROM document_status "
                       "WHERE NOT list_contains(?, status) ORDER BY rel_path, version",
                 [list(NOT_FAILED)])


@dataclass(frozen=True)
class Overview:
    """What `compliance report` shows: the last run, the last days, open findings."""

    last_run: dict[str, Any] | None
    days: Table
    open_by_severity: dict[str, int]
    failed_documents: Table


def overview(conn: duckdb.DuckDBPyConnection, days: int = 7, unmask: bool = False) -> Overview:
    """The last run and the last `days` UTC days, from the views."""
    last = query(
        conn,
        """
        SELECT r.run_id, r.started_at, r.status, r.orchestrator, r.wall_seconds, r.files_seen,
               r.docs_new, r.docs_changed, r.docs_unchanged, r.docs_failed, r.chunks_new,
               r.chunks_flagged, r.chunks_escalated, r.chunks_deferred, r.summaries_done,
               r.summaries_cached, c.local_calls, c.local_seconds, c.cloud_calls,
               c.cloud_failed_calls, c.local_cost_usd, c.cloud_cost_usd, s.naive_new_usd,
               s.naive_all_usd, s.saved_total_usd, r.escalation_note, r.error
        FROM runs r JOIN cost_by_run c USING (run_id) JOIN savings_by_run s USING (run_id)
        ORDER BY r.started_at DESC LIMIT 1
        """,
    ).records()
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
    per_day = query(
        conn,
        """
        WITH spend AS (
            SELECT day, sum(calls) FILTER (WHERE provider = 'local') AS local_calls,
                   sum(calls) FILTER (WHERE provider <> 'local') AS cloud_calls,
                   sum(cost_usd) FILTER (WHERE provider = 'local') AS local_usd,
                   sum(cost_usd) FILTER (WHERE provider <> 'local') AS cloud_usd
            FROM cost_by_day_and_model WHERE day >= ? GROUP BY day
        ),
        work AS (
            SELECT CAST(timezone('UTC', started_at) AS DATE) AS day, count(*) AS runs,
                   count(*) FILTER (WHERE status = 'failed') AS failed_runs,
                   sum(coalesce(docs_new, 0) + coalesce(docs_changed, 0)) AS docs_read,
                   sum(docs_failed) AS docs_failed, sum(naive_all_usd) AS naive_all_usd
            FROM runs WHERE CAST(timezone('UTC', started_at) AS DATE) >= ? GROUP BY 1
        )
        SELECT day, coalesce(runs, 0) AS runs, coalesce(failed_runs, 0) AS failed_runs,
               coalesce(docs_read, 0) AS docs_read, coalesce(docs_failed, 0) AS docs_failed,
               coalesce(local_calls, 0) AS local_calls, coalesce(cloud_calls, 0) AS cloud_calls,
               coalesce(local_usd, 0) AS local_usd, coalesce(cloud_usd, 0) AS cloud_usd,
               coalesce(naive_all_usd, 0) AS naive_all_usd
        FROM work FULL JOIN spend USING (day)
        ORDER BY day DESC
        """,
        [since, since],
    )
    failed = failed_documents(conn)
    return Overview(
        last_run=last[0] if last else None,
        days=per_day,
        open_by_severity=open_findings_by_severity(conn),
        failed_documents=failed if unmask else mask_table("document_status", failed),
    )


def export_views(conn: duckdb.DuckDBPyConnection, fmt: str, to: Path,
                 unmask: bool = False) -> dict[str, int]:
    """Write each analyst view (and the ledger, runs and reviews) to `to`; rows per file."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    to.mkdir(parents=True, exist_ok=True)
    if not unmask:
        personal = personal_data_rules()
        conn.create_function("mask_personal_0", _mask_data, ["VARCHAR"], "VARCHAR")
        conn.create_function("mask_personal_1", _mask_data_and_names, ["VARCHAR"], "VARCHAR")
        conn.create_function(
            "mask_finding_quote",
            lambda quote, detected_by, detector: mask_quote(quote, detected_by, detector,
                                                            personal),
            ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
    written: dict[str, int] = {}
    for view in EXPORTED:
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = "
            "'main' ORDER BY column_index", [view]).fetchall()]
        personal = {} if unmask else PERSONAL_COLUMNS.get(view, {})
        select = ", ".join(_exported_column(view, c, personal) for c in columns)
        target = to / f"{view}.{fmt}"
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
        conn.execute(f"COPY (SELECT {select} FROM {view}) TO '{_sql_path(target)}' ({options})")
        written[view] = conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
    return written


def _exported_column(view: str, column: str, personal: dict[str, bool]) -> str:
    if column not in personal:
        return f'"{column}"'
    if view == "findings" and column == "quote":
        return 'mask_finding_quote("quote", "detected_by", "detector") AS "quote"'
    return f'mask_personal_{int(personal[column])}("{column}") AS "{column}"'


def _mask_data(text: str) -> str:
    return masking.mask(text)


def _mask_data_and_names(text: str) -> str:
    return masking.mask(text, names=True)


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def usd(value: Decimal | None) -> str:
    """Dollars from a Decimal, with enough decimals that a sub-cent amount is never $0.00."""
    if value is None:
        return "–"
    if value == 0:
        return "$0.00"
    sign = "−" if value < 0 else ""
    amount = abs(value)
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    # Three significant digits, at least two decimals: $0.50, $0.0123, $0.000000412.
    places = max(2, 2 - amount.adjusted())
    text = f"{amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):f}"
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{decimals}"
