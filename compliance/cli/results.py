"""The analyst and reviewer commands: report, findings, review, sql, export, summary, search.

They read the database read-only (review writes one audit row under the run lock) and never
call a model, except `summary` for a document whose summary was never computed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compliance.environment import DEFAULT_DB_PATH

if TYPE_CHECKING:
    import duckdb
    from rich.console import Console

    from compliance.read.results import Table
    from tasks.summarize.on_demand import DocumentRef

results_app = typer.Typer()

_DB = typer.Option("--db", help="DuckDB results file.")
_UNMASK = typer.Option(help="Show personal data as stored (masked by default).")


class Severity(StrEnum):
    """Finding severities, least to most severe."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Disposition(StrEnum):
    """Review dispositions."""

    open = "open"
    confirmed = "confirmed"
    false_positive = "false_positive"
    resolved = "resolved"


class ExportFormat(StrEnum):
    """File formats of `compliance export`."""

    parquet = "parquet"
    csv = "csv"


class OutputFormat(StrEnum):
    """How `compliance sql` prints rows."""

    table = "table"
    csv = "csv"
    json = "json"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _reading(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, or a one-line error (missing, busy, older schema)."""
    from compliance.read.results import ResultsUnavailableError, open_results

    try:
        conn = open_results(db)
    except ResultsUnavailableError as exc:
        raise _fail(str(exc)) from None
    try:
        yield conn
    finally:
        conn.close()


def _cell(value: Any) -> str:
    from compliance.read.results import usd

    if value is None:
        return ""
    if isinstance(value, Decimal):
        return usd(value)
    if isinstance(value, float):
        return f"{value:.3f}" if value % 1 else f"{value:.0f}"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    text = " ".join(str(value).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _console(width: int = 160) -> Console:
    """The terminal, or a console wide enough that a pipe or file gets whole columns."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=width)


def _print_table(table: Table, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    shown = RichTable(title=title, title_justify="left", show_lines=False)
    for column in table.columns:
        shown.add_column(column, overflow="fold")
    for row in table.rows:
        shown.add_row(*(_cell(value) for value in row))
    console = Console()
    if not console.is_terminal:  # a pipe or a file: wide enough that no column is cut
        widths = [max([len(c), *(len(_cell(r[i])) for r in table.rows)])
                  for i, c in enumerate(table.columns)]
        console = _console(min(max(80, sum(widths) + 3 * len(widths) + 1), 1000))
    console.print(shown)


@results_app.command()
def report(
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history.")] = 7,
    html: Annotated[Path | None, typer.Option(
        help="Also write a self-contained HTML report (charts, savings, findings; the last "
             "30 days) here.")] = None,
    unmask: Annotated[bool, _UNMASK] = False,
) -> None:
    """The last run and the last 7 days: spend, savings, open findings, failed documents."""
    from rich.table import Table as RichTable

    from compliance.read.results import overview, usd

    with _reading(db) as conn:
        seen = overview(conn, days=days, unmask=unmask)
        if html is not None:
            from compliance.read.html_report import render_html_report

            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html_report(conn, unmask=unmask), encoding="utf-8")
    console = _console()
    run = seen.last_run
    if run is None:
        console.print("No runs yet: `compliance run SOURCE` first.")
    else:
        last = RichTable(title=f"Last run {run['run_id']}", title_justify="left",
                         show_header=False)
        last.add_column("what")
        last.add_column("value")
        started = _cell(run["started_at"])
        last.add_row("status", f"{run['status']} ({run['orchestrator']}), started {started}, "
                               f"{run['wall_seconds'] or 0:.1f} s")
        last.add_row("files", f"{run['files_seen'] or 0} seen: {run['docs_new'] or 0} new, "
                              f"{run['docs_changed'] or 0} changed, {run['docs_unchanged'] or 0} "
                              f"unchanged, {run['docs_failed'] or 0} failed")
        last.add_row("chunks", f"{run['chunks_new'] or 0} new, {run['chunks_flagged'] or 0} "
                               f"flagged, {run['chunks_escalated'] or 0} escalated, "
                               f"{run['chunks_deferred'] or 0} deferred")
        last.add_row("local model", f"{run['local_calls']} calls, {run['local_seconds']:.1f} s, "
                                    f"{usd(run['local_cost_usd'])}")
        last.add_row("cloud", f"{run['cloud_calls']} calls ({run['cloud_failed_calls']} failed),"
                              f" {usd(run['cloud_cost_usd'])}")
        last.add_row("naive pipelines", f"{usd(run['naive_new_usd'])} (new versions), "
                                        f"{usd(run['naive_all_usd'])} (everything again); "
                                        f"saved {usd(run['saved_total_usd'])}")
        if run["escalation_note"]:
            last.add_row("note", run["escalation_note"])
        if run["error"]:
            last.add_row("error", run["error"])
        console.print(last)
    daily = RichTable(title=f"Last {days} days (UTC)", title_justify="left")
    for column in ("day", "runs", "failed runs", "docs read", "docs failed", "local calls",
                   "cloud calls", "local USD", "cloud USD", "naive USD"):
        daily.add_column(column, justify="left" if column == "day" else "right")
    for row in seen.days.rows:
        daily.add_row(str(row[0]), *(str(v) for v in row[1:7]), *(usd(v) for v in row[7:]))
    console.print(daily)
    console.print("Open findings: " + ", ".join(
        f"{count} {severity}" for severity, count in seen.open_by_severity.items()))
    if seen.failed_documents.rows:
        _print_table(seen.failed_documents, title="Documents that could not be read")
    if html is not None:
        console.print(f"wrote {html}")


@results_app.command()
def findings(
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    severity: Annotated[Severity | None, typer.Option(
        help="Only this severity or worse.")] = None,
    since: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Only findings first seen on or after this UTC date.")] = None,
    status: Annotated[Disposition | None, typer.Option(help="Only this disposition.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most rows to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    unmask: Annotated[bool, _UNMASK] = False,
) -> None:
    """Findings on the current documents, most severe first (ids for `compliance review`)."""
    from compliance.read.results import FindingFilter, list_findings

    chosen = FindingFilter(severity.value if severity else None,
                           since.date() if since else None, status.value if status else None,
                           limit)
    with _reading(db) as conn:
        table = list_findings(conn, chosen, unmask=unmask)
    if as_json:
        for record in table.records():
            typer.echo(json.dumps(record, default=str))
        return
    if not table.rows:
        typer.echo("No findings match.")
        return
    _print_table(table, title=f"{len(table.rows)} findings")


@results_app.command()
def review(
    finding_id: Annotated[int, typer.Argument(help="Finding id (from `compliance findings`).")],
    disposition: Annotated[Disposition, typer.Option(help="The decision.")],
    reviewer: Annotated[str, typer.Option(help="Who decides (recorded in the audit trail).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    wait: Annotated[bool, typer.Option(
        help="Wait while a run writes the database (default: refuse at once).")] = False,
) -> None:
    """Set a finding's disposition; every change is an append-only audit row."""
    from compliance.read.results import ResultsUnavailableError, open_results
    from compliance.store import db as database
    from compliance.store.reviews import ReviewError, review_finding, review_history
    from compliance.store.runlock import DatabaseHeldError, hold_lock

    try:
        open_results(db).close()  # missing file or older schema: say so before locking
        lock = hold_lock(db, f"compliance review {finding_id} by {reviewer}", wait,
                         on_wait=lambda held_by: typer.echo(f"waiting: {held_by}", err=True))
    except ResultsUnavailableError as exc:
        raise _fail(str(exc)) from None
    except DatabaseHeldError as exc:
        raise _fail(f"{exc}; try again when it has finished (or --wait)") from None
    try:
        writer = database.writer(db)
        with writer.transaction() as cur:
            done = review_finding(cur, finding_id, disposition.value, reviewer, note)
            history = review_history(cur, finding_id)
    except ReviewError as exc:
        raise _fail(str(exc), code=1) from None
    except database.DatabaseBusyError as exc:
        raise _fail(str(exc)) from None
    finally:
        database.close_writer(db)
        lock.release()
    typer.echo(f"finding {finding_id}: {done.from_disposition} -> {done.to_disposition} "
               f"by {done.reviewer} (review {done.review_id})")
    for past in history:
        typer.echo(f"  {_cell(past.reviewed_at)}  {past.from_disposition} -> "
                   f"{past.to_disposition}  {past.reviewer}" + (f": {past.note}" if past.note
                                                                 else ""))


@results_app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SQL query (read-only).")],
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    output: Annotated[OutputFormat, typer.Option("--format", help="How to print rows.")] = (
        OutputFormat.table),
) -> None:
    """Run a read-only SQL query on the results (views: see docs/schema.md)."""
    import csv
    import sys

    import duckdb

    from compliance.read.results import run_readonly_sql

    with _reading(db) as conn:
        try:
            table = run_readonly_sql(conn, query)
        except duckdb.Error as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _fail(f"{first_line} (the database is opened read-only; views and columns "
                        "are listed in docs/schema.md)", code=1) from None
    if output is OutputFormat.csv:
        out = csv.writer(sys.stdout)
        out.writerow(table.columns)
        out.writerows(table.rows)
    elif output is OutputFormat.json:
        for record in table.records():
            typer.echo(json.dumps(record, default=str))
    else:
        _print_table(table)


@results_app.command()
def export(
    to: Annotated[Path, typer.Option(help="Folder to write one file per view into.")],
    output: Annotated[ExportFormat, typer.Option("--format", help="parquet or csv.")] = (
        ExportFormat.parquet),
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    unmask: Annotated[bool, _UNMASK] = False,
) -> None:
    """Export the analyst views, the ledger, runs and reviews (personal data masked)."""
    from compliance.read.results import export_views

    with _reading(db) as conn:
        written = export_views(conn, output.value, to, unmask=unmask)
    for view, rows in written.items():
        typer.echo(f"{to / f'{view}.{output.value}'}  {rows} rows")
    if not unmask:
        typer.echo("personal data masked (--unmask to export it as stored)")


@results_app.command()
def summary(
    document: Annotated[str, typer.Argument(
        help="doc_id, or the document's path (absolute or relative to its source folder).")],
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    model: Annotated[str | None, typer.Option(
        help="Local model if the summary must be computed (manifest name or .gguf).")] = None,
    compute: Annotated[bool, typer.Option(
        help="Compute a missing summary with the local model (--no-compute: only read).")] = True,
    wait_seconds: Annotated[float, typer.Option(
        min=0, help="How long to wait while the database is being written.")] = 900.0,
    unmask: Annotated[bool, _UNMASK] = False,
) -> None:
    """A document's brief and summary: stored ones at once; a missing summary computed once."""
    from compliance.cli.progress_bars import progress_bars
    from compliance.read.results import ResultsUnavailableError
    from compliance.store import db as database
    from tasks.summarize.on_demand import (
        DocumentNotFoundError,
        NotSummarizableError,
        read_summary,
        summarize_now,
    )

    def waiting(why: str) -> None:
        typer.echo(f"waiting: {why}", err=True)

    try:
        document, found = read_summary(db, document, wait_seconds=wait_seconds, on_wait=waiting)
    except ResultsUnavailableError as exc:
        raise _fail(str(exc)) from None
    except DocumentNotFoundError as exc:
        raise _fail(str(exc), code=1) from None
    if found is None:
        if not compute:
            _echo_brief(db, document, unmask)
            raise _fail(f"{document.rel_path} has no stored summary yet (run without "
                        "--no-compute to compute it)", code=1)
        typer.echo(f"{document.rel_path}: no stored summary, computing it with the local model",
                   err=True)
        try:
            with progress_bars():
                found = summarize_now(db, document, model=model, on_wait=waiting)
        except NotSummarizableError as exc:
            raise _fail(str(exc), code=1) from None
        except database.DatabaseBusyError as exc:
            raise _fail(str(exc)) from None
    _echo_brief(db, document, unmask)
    typer.echo("")
    typer.echo("Abstract")
    typer.echo(found.summary)
    if found.key_points:
        typer.echo("")
        for point in found.key_points:
            typer.echo(f"- {point}")
    origin = (f"computed now: {found.model_calls} model calls, {found.seconds:.1f} s"
              if found.computed_now else f"stored by run {found.run_id}")
    typer.echo(f"\n({found.method}; {origin})", err=True)


def _echo_brief(db: Path, document: DocumentRef, unmask: bool) -> None:
    """Print which document this is, then its brief (fields, then risks), read-only."""
    from compliance.read.briefs import format_brief, read_brief

    typer.echo(f"{document.rel_path} (doc {document.doc_id}, version {document.version})")
    typer.echo("")
    with _reading(db) as conn:
        for line in format_brief(read_brief(conn, document.doc_id, unmask=unmask)):
            typer.echo(line)


@results_app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to look for.")],
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Most hits to show.")] = 10,
    kind: Annotated[str | None, typer.Option(
        help="Only 'chunk' or 'summary' hits.")] = None,
    unmask: Annotated[bool, _UNMASK] = False,
) -> None:
    """Ranked keyword search (BM25) over chunks and summaries; no model is called."""
    from compliance.read import search as searching
    from compliance.read.results import mask_value

    with _reading(db) as conn:
        try:
            hits = searching.search(conn, text, limit=limit, kind=kind)
        except ValueError as exc:
            raise _fail(str(exc), code=1) from None
        missing = searching.unindexed_count(conn)
    if not hits:
        typer.echo("No matches.")
    for rank, hit in enumerate(hits, 1):
        where = hit.rel_path + (f" p.{hit.page}" if hit.page else "")
        snippet = hit.snippet if unmask else mask_value(hit.snippet, True)
        path = where if unmask else mask_value(where, False)
        typer.echo(f"{rank:>3}. {hit.score:7.3f}  {hit.kind:<7} {path} (doc {hit.doc_id})")
        typer.echo(f"      {snippet}")
    if missing:
        typer.echo(f"note: {missing} items are not indexed yet: the next `compliance run` "
                   "indexes them", err=True)
