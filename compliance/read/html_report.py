"""One self-contained HTML page of spend, escalation, savings, cache, findings and failures.

The page is read from the analyst views only (a read-only connection is enough) and carries
everything inline: CSS in a style element, charts as inline SVG, no scripts, fonts, images or
external addresses, and a Content-Security-Policy that would block any of them. Free text that
comes from documents (quotes, rationales, errors, paths) is masked unless asked otherwise.

`build_report_data` reads what the page shows into plain dataclasses; `render_page` draws it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from compliance.vocab import UNRESOLVED
from compliance.rules.masking import mask
from compliance.read.results import (
    SEVERITY_RANK,
    failed_documents,
    mask_quote,
    open_findings_by_severity,
    personal_data_rules,
    usd,
)

SEVERITIES = tuple(reversed(SEVERITY_RANK))  # most severe first
TOP_FINDINGS = 50
RUNS_SHOWN = 20
WINDOW_STATUSES = ("done", "sent", "pending", "deferred", "failed")

CHART_WIDTH = 960
CHART_HEIGHT = 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 88, 16, 24, 40
# Local calls cost fractions of a cent next to cloud calls: without a floor they vanish.
MIN_SEGMENT_PX = 3.0
MAX_BAR_WIDTH = 56.0
CLOUD_COLORS = ("#2f5fb3", "#7b4bb7", "#c2456e", "#d9822b", "#3f8f8a", "#8a6d3b")
LOCAL_COLORS = ("#5bb5a2", "#9cc97a", "#a0a7b4", "#e0b94f")
SEVERITY_COLORS = {"critical": "#9f1d20", "high": "#d0571c", "medium": "#b8860b", "low": "#3b6db3"}
SPENT_COLOR, SAVED_COLOR = "#2f5fb3", "#5bb5a2"


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

    @property
    def open_findings(self) -> int:
        """Findings open or confirmed, all severities."""
        return sum(self.open_by_severity.values())


# ---------------------------------------------------------------------------------------------
# Reading


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
        failed_documents=_failed_documents(conn, unmask))


# ---------------------------------------------------------------------------------------------
# Formatting


def plain_decimal(value: Decimal) -> str:
    """The exact decimal in positional notation (str() would write 1E-9)."""
    return f"{value:f}"


def percent(share: float | None) -> str:
    """A share as a percentage; a tiny non-zero share does not read as 0%."""
    if share is None:
        return "–"
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share:.1%}"


def _ratio(part: int | Decimal, whole: int | Decimal) -> float | None:
    return float(part) / float(whole) if whole else None


def _utc(moment: dt.datetime | None) -> str:
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: int) -> str:
    return f"{value:,}"


def _fmt_svg(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]],
           empty: str, attrs: str = "") -> str:
    """A table: headers are (label, css class); cells are already escaped HTML."""
    body = "".join("<tr>" + "".join(f'<td class="{cls}">{cell}</td>'
                                    for (_, cls), cell in zip(headers, row, strict=True))
                   + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f'<th class="{cls}">{_e(label)}</th>' for label, cls in headers)
    return f'<div class="table-wrap"><table{attrs}><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


# ---------------------------------------------------------------------------------------------
# The spend chart


@dataclass(frozen=True)
class Segment:
    """Where one spend row is drawn."""

    row: SpendRow
    x: float
    y: float
    width: float
    height: float
    color: str


@dataclass(frozen=True)
class ChartLayout:
    """The spend chart's geometry: day slots, segments and y-axis ticks (value, y)."""

    days: list[dt.date]
    slot: float
    segments: list[Segment]
    ticks: list[tuple[Decimal, float]]
    colors: dict[tuple[str, str], str]


def _nice_step(maximum: Decimal, steps: int = 4) -> Decimal:
    raw = maximum / steps
    base = Decimal(1).scaleb(raw.adjusted())
    for factor in (1, 2, 5):
        if base * factor >= raw:
            return base * factor
    return base * 10


def _series_key(row: SpendRow) -> tuple[bool, str, str]:
    # Cloud models at the bottom of each bar, where the eye compares heights.
    return (row.provider == "local", row.provider, row.model)


def model_colors(rows: Iterable[SpendRow]) -> dict[tuple[str, str], str]:
    """A stable color per (provider, model), cloud and local from separate palettes."""
    colors: dict[tuple[str, str], str] = {}
    cloud = local = 0
    for key in sorted({_series_key(row) for row in rows}):
        if key[0]:
            colors[key[1:]] = LOCAL_COLORS[local % len(LOCAL_COLORS)]
            local += 1
        else:
            colors[key[1:]] = CLOUD_COLORS[cloud % len(CLOUD_COLORS)]
            cloud += 1
    return colors


def layout_chart(rows: Sequence[SpendRow]) -> ChartLayout:
    """Place one stacked bar per UTC day (first to last day with data, gaps kept)."""
    colors = model_colors(rows)
    if not rows:
        return ChartLayout([], 0.0, [], [], colors)
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    per_day: dict[dt.date, list[SpendRow]] = {}
    for row in sorted(rows, key=_series_key):
        per_day.setdefault(row.day, []).append(row)
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    baseline = MARGIN_TOP + plot_h
    highest = max(sum((r.cost_usd for r in day_rows), Decimal(0))
                  for day_rows in per_day.values())
    if highest > 0:
        step = _nice_step(highest)
        top = step * math.ceil(highest / step)
        ticks_at = [step * i for i in range(int(top / step) + 1)]
    else:
        top, ticks_at = Decimal(0), [Decimal(0)]
    # Leave room for every floored segment, so the tallest stack still fits the plot.
    most_segments = max(len(day_rows) for day_rows in per_day.values())
    usable = max(plot_h - MIN_SEGMENT_PX * most_segments, plot_h / 2)
    scale = usable / float(top) if top > 0 else 0.0
    slot = plot_w / len(days)
    width = min(slot * 0.62, MAX_BAR_WIDTH)
    segments = []
    for index, day in enumerate(days):
        x = MARGIN_LEFT + index * slot + (slot - width) / 2
        y = float(baseline)
        for row in per_day.get(day, []):
            height = max(float(row.cost_usd) * scale, MIN_SEGMENT_PX)
            y -= height
            segments.append(Segment(row, x, y, width, height,
                                    colors[(row.provider, row.model)]))
    ticks = [(value, baseline - float(value) * scale) for value in ticks_at]
    return ChartLayout(days, slot, segments, ticks, colors)


def _day_label(day: dt.date, single: bool) -> str:
    return day.isoformat() if single else f"{day:%b} {day.day}"


def render_spend_chart(rows: Sequence[SpendRow]) -> str:
    """The stacked bar chart of spend per UTC day and model, as inline SVG."""
    chart = layout_chart(rows)
    if not chart.segments:
        return '<p class="empty">No model calls in the period.</p>'
    baseline = CHART_HEIGHT - MARGIN_BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
             f'aria-label="Spend per UTC day, stacked by model">']
    for value, y in chart.ticks:
        parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - MARGIN_RIGHT}" '
                     f'y1="{_fmt_svg(y)}" y2="{_fmt_svg(y)}"/>')
        parts.append(f'<text class="tick" x="{MARGIN_LEFT - 8}" y="{_fmt_svg(y + 4)}" '
                     f'text-anchor="end">{_e(usd(value))}</text>')
    every = max(1, math.ceil(len(chart.days) / 12))
    single = len(chart.days) == 1
    totals: dict[dt.date, Decimal] = {}
    tops: dict[dt.date, float] = {}
    for segment in chart.segments:
        day = segment.row.day
        totals[day] = totals.get(day, Decimal(0)) + segment.row.cost_usd
        tops[day] = min(tops.get(day, float(baseline)), segment.y)
    for index, day in enumerate(chart.days):
        center = MARGIN_LEFT + (index + 0.5) * chart.slot
        if index % every == 0 or index == len(chart.days) - 1:
            parts.append(f'<text class="day" x="{_fmt_svg(center)}" y="{baseline + 20}" '
                         f'text-anchor="middle">{_e(_day_label(day, single))}</text>')
        if day in totals and chart.slot >= 64:
            parts.append(f'<text class="total" x="{_fmt_svg(center)}" '
                         f'y="{_fmt_svg(tops[day] - 6)}" text-anchor="middle">'
                         f"{_e(usd(totals[day]))}</text>")
    for segment in chart.segments:
        row = segment.row
        tip = (f"{row.day.isoformat()} · {row.model} ({row.provider}): {usd(row.cost_usd)} · "
               f"{_num(row.calls)} calls ({_num(row.failed_calls)} failed) · "
               f"{_num(row.input_tokens)} in / {_num(row.output_tokens)} out tokens · "
               f"{row.seconds:,.1f} s")
        parts.append(
            f'<rect class="mark" x="{_fmt_svg(segment.x)}" y="{_fmt_svg(segment.y)}" '
            f'width="{_fmt_svg(segment.width)}" height="{_fmt_svg(segment.height)}" '
            f'fill="{segment.color}" data-day="{row.day.isoformat()}" '
            f'data-provider="{_e(row.provider)}" data-model="{_e(row.model)}" '
            f'data-usd="{plain_decimal(row.cost_usd)}"><title>{_e(tip)}</title></rect>')
    parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - MARGIN_RIGHT}" '
                 f'y1="{baseline}" y2="{baseline}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(rows: Sequence[SpendRow]) -> str:
    colors = model_colors(rows)
    totals: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for row in rows:
        cost, calls = totals.get((row.provider, row.model), (Decimal(0), 0))
        totals[(row.provider, row.model)] = (cost + row.cost_usd, calls + row.calls)
    items = []
    for (provider, model), color in colors.items():
        cost, calls = totals[(provider, model)]
        items.append(f'<li><span class="swatch" style="background:{color}"></span>'
                     f'<span class="model">{_e(model)}</span> <span class="muted">'
                     f"{_e(provider)} · {_e(usd(cost))} · {_num(calls)} calls</span></li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


# ---------------------------------------------------------------------------------------------
# Sections


def _card(label: str, value: str, detail: str, attrs: str = "") -> str:
    return (f'<div class="card"{attrs}><div class="card-label">{_e(label)}</div>'
            f'<div class="card-value">{value}</div><div class="card-detail">{detail}</div></div>')


def _meter(share: float | None, color: str = "#2f5fb3") -> str:
    width = 0.0 if share is None else max(0.0, min(share, 1.0)) * 100
    return (f'<span class="meter"><span style="width:{width:.1f}%;background:{color}">'
            "</span></span>")


def _run_label(run: RunRow) -> str:
    # Run ids start with their start time, shown beside them; the suffix tells runs apart.
    short = run.run_id.rsplit("-", 1)[-1] if "-" in run.run_id else run.run_id[:12]
    return f'<span class="mono" title="{_e(run.run_id)}">{_e(short)}</span>'


def _kpi(value: str, text: str, meter: str = "") -> str:
    return (f'<div class="kpi"><div class="big">{value}</div><div class="kpi-text">{text}</div>'
            f"{meter}</div>")


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill pill-{_e(kind)}">{_e(text)}</span>'


@dataclass(frozen=True)
class _Totals:
    spend: Decimal
    cloud: Decimal
    local: Decimal
    chunks_new: int
    chunks_escalated: int
    claimed: list[RunRow]
    spend_claimed: Decimal
    naive_all: Decimal
    saved: Decimal
    summaries_done: int
    summaries_cached: int
    windows_sent: int
    windows_cached: int
    cache_saved: Decimal


def _totals(data: ReportData) -> _Totals:
    claimed = [run for run in data.runs if run.savings_claimed]
    return _Totals(
        spend=sum((row.cost_usd for row in data.spend), Decimal(0)),
        cloud=sum((row.cost_usd for row in data.spend if row.provider != "local"), Decimal(0)),
        local=sum((row.cost_usd for row in data.spend if row.provider == "local"), Decimal(0)),
        chunks_new=sum(run.chunks_new for run in data.runs),
        chunks_escalated=sum(run.chunks_escalated for run in data.runs),
        claimed=claimed,
        spend_claimed=sum((run.spend_usd for run in claimed), Decimal(0)),
        naive_all=sum((run.naive_all_usd or Decimal(0) for run in claimed), Decimal(0)),
        saved=sum((run.saved_total_usd or Decimal(0) for run in claimed), Decimal(0)),
        summaries_done=sum(run.summaries_done for run in data.runs),
        summaries_cached=sum(run.summaries_cached for run in data.runs),
        windows_sent=sum(run.windows_sent for run in data.runs),
        windows_cached=sum(run.windows_cached for run in data.runs),
        cache_saved=sum((run.cache_saved_usd for run in data.runs), Decimal(0)))


def _cards(data: ReportData, totals: _Totals) -> str:
    sent_share = _ratio(totals.chunks_escalated, totals.chunks_new)
    hit = _ratio(totals.windows_cached, totals.windows_sent + totals.windows_cached)
    summary_hit = _ratio(totals.summaries_cached, totals.summaries_done + totals.summaries_cached)
    saved_share = _ratio(totals.saved, totals.naive_all)
    open_counts = data.open_by_severity
    return '<section class="cards">' + "".join([
        _card("Spend in period", _e(usd(totals.spend)),
              f"cloud {_e(usd(totals.cloud))} · local {_e(usd(totals.local))}"),
        _card("Sent to the cloud", _e(percent(sent_share)),
              f"{_num(totals.chunks_escalated)} of {_num(totals.chunks_new)} new chunks"),
        _card("Saved vs. naive", _e(usd(totals.saved) if totals.claimed else "–"),
              f"{_e(percent(saved_share))} of {_e(usd(totals.naive_all))} over "
              f"{len(totals.claimed)} run(s)" if totals.claimed else "no escalating run"),
        _card("Cache hit rate", _e(percent(hit)),
              f"escalations · summaries {_e(percent(summary_hit))}"),
        _card("Open findings", _num(data.open_findings),
              f"{open_counts['critical']} critical · {open_counts['high']} high",
              ' data-open-findings="' + str(data.open_findings) + '"'),
        _card("Failed documents", _num(len(data.failed_documents)), "could not be read"),
    ]) + "</section>"


def _spend_section(data: ReportData) -> str:
    rows = data.spend
    detail = _table(
        [("Day", ""), ("Provider", ""), ("Model", ""), ("Calls", "num"), ("Failed", "num"),
         ("Input tokens", "num"), ("Output tokens", "num"), ("Cache write", "num"),
         ("Cache read", "num"), ("Seconds", "num"), ("Cost", "num")],
        ([row.day.isoformat(), _e(row.provider), _e(row.model), _num(row.calls),
          _num(row.failed_calls), _num(row.input_tokens), _num(row.output_tokens),
          _num(row.cache_write_tokens), _num(row.cache_read_tokens), f"{row.seconds:,.1f}",
          _e(usd(row.cost_usd))] for row in rows),
        "No model calls in the period.")
    return (
        '<section id="spend"><h2>Spend per day and model</h2>'
        '<p class="lede">Ledger totals per UTC day, stacked by model (view '
        "<code>cost_by_day_and_model</code>). Heights are proportional to cost; segments below "
        f"{MIN_SEGMENT_PX:g} px are drawn at {MIN_SEGMENT_PX:g} px so that local calls, which "
        "cost fractions of a cent, stay visible. Hover a segment for its figures.</p>"
        f'<div class="chart-box">{render_spend_chart(rows)}{_legend(rows)}</div>'
        f"<details><summary>Daily figures ({len(rows)} rows)</summary>{detail}</details>"
        "</section>")


def _escalation_section(data: ReportData, totals: _Totals) -> str:
    share = _ratio(totals.chunks_escalated, totals.chunks_new)
    corpus_share = _ratio(data.chunks_current_sent, data.chunks_current)
    runs = data.runs[:RUNS_SHOWN]
    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Status", ""), ("Mode", ""),
         ("New chunks", "num"), ("Flagged", "num"), ("Escalated", "num"),
         ("Share of new", "num"), ("Cloud calls", "num"), ("Cloud cost", "num"),
         ("Local calls", "num"), ("Local cost", "num")],
        ([_run_label(run), _utc(run.started_at), _e(run.status), _e(run.escalation_mode),
          _num(run.chunks_new), _num(run.chunks_flagged), _num(run.chunks_escalated),
          _e(percent(_ratio(run.chunks_escalated, run.chunks_new))), _num(run.cloud_calls),
          _e(usd(run.cloud_cost_usd)), _num(run.local_calls), _e(usd(run.local_cost_usd))]
         for run in runs),
        "No runs in the period.")
    windows = data.windows
    status_cells = "".join(
        f'<div class="stat"><div class="stat-value">{_num(count)}</div>'
        f'<div class="stat-label">{_e(status)}</div></div>'
        for status, count in windows.by_status.items())
    return (
        '<section id="escalation"><h2>Escalation share</h2>'
        '<p class="lede">How much text went to the cloud model: chunks escalated by the '
        "period's runs against the chunks they created (views <code>cost_by_run</code>, "
        "<code>escalations</code>; table <code>runs</code>).</p>"
        '<div class="kpis">'
        + _kpi(_e(percent(share)), f"of the new chunks of these runs went to the cloud "
               f"({_num(totals.chunks_escalated)} of {_num(totals.chunks_new)})", _meter(share))
        + _kpi(_e(percent(corpus_share)), f"of the chunks of current documents have had a window "
               f"sent ({_num(data.chunks_current_sent)} of {_num(data.chunks_current)})",
               _meter(corpus_share))
        + "</div>"
        '<p class="muted">A run may escalate chunks an earlier run created (windows deferred, '
        "or waiting for a key), so its share of new chunks can read “–”.</p>"
        f"<h3>Latest runs</h3>{table}"
        f"<h3>Escalation windows of these runs</h3>"
        f'<div class="stats">{status_cells}'
        f'<div class="stat"><div class="stat-value">{_num(windows.findings)}</div>'
        '<div class="stat-label">judged a finding</div></div>'
        f'<div class="stat"><div class="stat-value">{_num(windows.dismissed)}</div>'
        '<div class="stat-label">judged harmless</div></div></div>'
        "</section>")


def _savings_bar(totals: _Totals) -> str:
    if totals.naive_all <= 0:
        return ""
    spent = min(max(totals.spend_claimed, Decimal(0)), totals.naive_all)
    width = 900.0
    spent_w = float(spent / totals.naive_all) * width
    rects = "".join(
        f'<rect class="saving" x="{_fmt_svg(x)}" y="0" width="{_fmt_svg(w)}" height="24" '
        f'fill="{color}"><title>{_e(label)}</title></rect>'
        for x, w, color, label in (
            (0.0, spent_w, SPENT_COLOR, f"Spent on the cloud: {usd(totals.spend_claimed)}"),
            (spent_w, width - spent_w, SAVED_COLOR, f"Saved: {usd(totals.saved)}")))
    return (f'<svg class="bar" viewBox="0 0 {width:g} 24" preserveAspectRatio="none" '
            f'role="img" aria-label="Spent and saved against sending everything">{rects}</svg>'
            '<ul class="legend">'
            f'<li><span class="swatch" style="background:{SPENT_COLOR}"></span>Spent on the '
            f'cloud <span class="muted">{_e(usd(totals.spend_claimed))}</span></li>'
            f'<li><span class="swatch" style="background:{SAVED_COLOR}"></span>Saved '
            f'<span class="muted">{_e(usd(totals.saved))} of {_e(usd(totals.naive_all))}'
            "</span></li></ul>")


def _savings_section(data: ReportData, totals: _Totals) -> str:
    def claimed(run: RunRow, value: str) -> str:
        return value if run.savings_claimed else '<span class="muted">not claimed</span>'

    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Mode", ""), ("Cloud model", ""),
         ("Spend", "num"), ("Naive (new)", "num"), ("Naive (all)", "num"),
         ("Dedupe", "num"), ("Routing", "num"), ("Cache", "num"), ("Saved", "num"),
         ("Saved share", "num")],
        ([_run_label(run), _utc(run.started_at), _e(run.escalation_mode), _e(run.cloud_model),
          _e(usd(run.spend_usd)), _e(usd(run.naive_new_usd)), _e(usd(run.naive_all_usd)),
          claimed(run, _e(usd(run.saved_by_dedupe_usd))),
          claimed(run, _e(usd(run.saved_by_routing_usd))),
          claimed(run, _e(usd(run.cache_saved_usd))),
          claimed(run, _e(usd(run.saved_total_usd))),
          claimed(run, _e(percent(run.saved_share)))]
         for run in data.runs[:RUNS_SHOWN]),
        "No runs in the period.")
    def total(attr: str) -> Decimal:
        return sum((getattr(run, attr) or Decimal(0) for run in totals.claimed), Decimal(0))

    mechanisms = (f"By mechanism: {_e(usd(total('saved_by_dedupe_usd')))} unchanged or "
                  f"duplicate files not sent again, {_e(usd(total('saved_by_routing_usd')))} "
                  f"text the rules kept local, {_e(usd(total('cache_saved_usd')))} answers "
                  "reused from the cache.")
    notes = "".join(f"<li>{_run_label(run)} {_e(run.note)}</li>"
                    for run in data.runs[:RUNS_SHOWN] if run.note)
    headline = (
        '<div class="kpis one">'
        + _kpi(_e(usd(totals.saved)),
               f"saved: {_e(usd(totals.spend_claimed))} spent where sending every chunk of "
               f"every current document would have cost {_e(usd(totals.naive_all))} "
               f"({_e(percent(_ratio(totals.saved, totals.naive_all)))} saved, "
               f"{len(totals.claimed)} escalating run(s))")
        + f'</div>{_savings_bar(totals)}<p class="muted">{mechanisms}</p>'
        if totals.claimed else
        '<p class="empty">No run in the period sent anything to the cloud, so no saving is '
        "claimed (the counterfactuals below are estimates of work not done).</p>")
    return (
        '<section id="savings"><h2>Savings against the counterfactuals</h2>'
        '<p class="lede">Each run’s cloud spend next to what naive pipelines would have paid: '
        "sending every chunk of the new versions (naive new) or of every current document "
        "(naive all). Dedupe, routing and cache say which mechanism saved how much (view "
        "<code>savings_by_run</code>). Runs that sent nothing (no key, escalation off) claim "
        f"no saving.</p>{headline}<h3>Per run</h3>{table}"
        + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</section>")


def _cache_section(data: ReportData, totals: _Totals) -> str:
    summary_hit = _ratio(totals.summaries_cached, totals.summaries_done + totals.summaries_cached)
    hit = _ratio(totals.windows_cached, totals.windows_sent + totals.windows_cached)
    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Summaries done", "num"),
         ("From cache", "num"), ("Summary hit rate", "num"), ("Windows sent", "num"),
         ("From cache", "num"), ("Escalation hit rate", "num"), ("Saved by cache", "num")],
        ([_run_label(run), _utc(run.started_at), _num(run.summaries_done),
          _num(run.summaries_cached), _e(percent(run.summary_hit_rate)),
          _num(run.windows_sent), _num(run.windows_cached),
          _e(percent(run.escalation_hit_rate)), _e(usd(run.cache_saved_usd))]
         for run in data.runs[:RUNS_SHOWN]),
        "No runs in the period.")
    return (
        '<section id="cache"><h2>Cache hit rate</h2>'
        '<p class="lede">Work answered from earlier results instead of recomputed: local '
        "summaries and cloud escalations (view <code>cache_efficiency</code>).</p>"
        '<div class="kpis">'
        + _kpi(_e(percent(hit)), f"of escalation windows answered from the cache "
               f"({_num(totals.windows_cached)} of "
               f"{_num(totals.windows_sent + totals.windows_cached)}), saving about "
               f"{_e(usd(totals.cache_saved))}", _meter(hit, SAVED_COLOR))
        + _kpi(_e(percent(summary_hit)), f"of local summaries reused "
               f"({_num(totals.summaries_cached)} of "
               f"{_num(totals.summaries_done + totals.summaries_cached)})",
               _meter(summary_hit, SAVED_COLOR))
        + "</div>"
        f"<h3>Per run</h3>{table}</section>")


def _findings_section(data: ReportData) -> str:
    counts = data.open_by_severity
    largest = max(counts.values(), default=0) or 1
    cards = "".join(
        f'<div class="sev sev-{severity}" data-severity="{severity}" data-count="{count}">'
        f'<div class="sev-count">{_num(count)}</div><div class="sev-label">{severity}</div>'
        f"{_meter(count / largest, SEVERITY_COLORS[severity])}</div>"
        for severity, count in counts.items())
    table = _table(
        [("Severity", ""), ("Finding", "finding"), ("Document", "path"), ("Quote", "quote"),
         ("Seen", "num"), ("Review", "review")],
        ([_pill(f.severity, f.severity),
          f'{_e(f.category.replace("_", " "))}<div class="sub">{_e(f.detected_by)} '
          f'<span class="mono">{_e(f.detector)}</span></div>',
          f'<span class="mono">{_e(f.rel_path)}</span>'
          + (f'<div class="sub">page {f.page}</div>' if f.page else ""),
          f'<q>{_e(f.quote)}</q>', _num(f.occurrences),
          f'{_e(f.disposition)}<div class="sub">'
          f'{_e(f.escalation_verdict.replace("_", " "))}</div>']
         for f in data.top_findings),
        "No open findings.", ' class="findings"')
    shown = (f"The {len(data.top_findings)} most severe of {_num(data.open_findings)}"
             if data.open_findings > len(data.top_findings) else "All")
    return (
        '<section id="findings"><h2>Open findings by severity</h2>'
        '<p class="lede">Findings on the current version of each document that are open or '
        "confirmed by a reviewer (view <code>findings</code>); this is the state now, not "
        f'limited to the period.</p><div class="sevs">{cards}</div>'
        f"<h3>{_e(shown)} open findings</h3>{table}</section>")


def _failed_section(data: ReportData) -> str:
    table = _table(
        [("Document", "path"), ("Version", "num"), ("Format", ""), ("Status", ""),
         ("Reason", "reason")],
        ([f'<span class="mono">{_e(doc.rel_path)}</span>', _num(doc.version), _e(doc.format),
          _pill(doc.status, "failed"), _e(doc.error)] for doc in data.failed_documents),
        "Every current document was read.", ' class="failed"')
    return (
        '<section id="failed"><h2>Failed documents</h2>'
        '<p class="lede">Current documents that could not be read, with the reason (view '
        f"<code>document_status</code>).</p>{table}</section>")


_CSS = """
:root{--ink:#1f2733;--muted:#5f6b7a;--line:#e3e7ee;--bg:#f5f7fa;--panel:#fff;--accent:#2f5fb3}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#1d2b45;color:#fff;padding:28px 40px 24px}
header h1{margin:0 0 4px;font-size:24px;font-weight:650;letter-spacing:.2px}
header p{margin:0;color:#c6d0e0}
.banner{background:#9f1d20;color:#fff;padding:10px 40px;font-weight:600}
main{max-width:1240px;margin:0 auto;padding:24px 32px 48px}
section{background:var(--panel);border:1px solid var(--line);border-radius:10px;
 padding:20px 24px;margin:0 0 20px}
h2{margin:0 0 4px;font-size:18px}
h3{margin:20px 0 8px;font-size:14px;color:var(--muted);text-transform:uppercase;
 letter-spacing:.6px}
.lede{margin:0 0 16px;color:var(--muted);max-width:900px}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;background:none;border:0;
 padding:0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
.card-value{font-size:24px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.card-detail{font-size:12px;color:var(--muted)}
.chart-box{border:1px solid var(--line);border-radius:8px;padding:12px 12px 4px}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid{stroke:#e8ecf2;stroke-width:1}
svg.chart .axis{stroke:#9aa5b5;stroke-width:1}
svg.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
 fill:var(--muted)}
svg.chart text.total{fill:var(--ink);font-weight:600}
svg.chart rect.mark{stroke:#fff;stroke-width:.5}
svg.chart rect.mark:hover{opacity:.8}
svg.bar{width:100%;height:28px;display:block;border-radius:6px;margin:12px 0 4px}
.legend{list-style:none;margin:8px 0;padding:0;display:flex;flex-wrap:wrap;gap:6px 22px}
.legend li{display:flex;align-items:center;gap:6px}
.legend .model{font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px}
details{margin-top:12px}
summary{cursor:pointer;color:var(--accent)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid
 var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
tbody tr:nth-child(even){background:#fafbfd}
.num{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
.sub{font-size:12px;color:var(--muted);margin-top:2px}
table.findings td.finding{min-width:200px;text-transform:none}
table.findings td.quote{width:44%;overflow-wrap:anywhere}
table.findings td.quote q{display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical;
 overflow:hidden}
td.path{overflow-wrap:anywhere;min-width:230px;max-width:300px}
td.review{white-space:nowrap}
td.reason{overflow-wrap:anywhere;white-space:pre-wrap;max-width:520px}
.notes{margin:8px 0 0;padding-left:18px;color:var(--muted);font-size:12px}
q{quotes:"“" "”"}
.kpis{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin:4px 0 8px}
.kpis.one{grid-template-columns:1fr}
.kpi{border-left:3px solid var(--line);padding:2px 0 2px 14px}
.big{font-size:26px;font-weight:700;color:var(--ink);line-height:1.2}
.kpi-text{margin:2px 0 8px}
.meter{display:block;width:100%;max-width:320px;height:8px;background:#e8ecf2;
 border-radius:4px;overflow:hidden}
.meter span{display:block;height:100%}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:110px}
.stat-value{font-size:20px;font-weight:650}
.stat-label{font-size:12px;color:var(--muted)}
.sevs{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.sev{border:1px solid var(--line);border-left-width:5px;border-radius:8px;padding:10px 14px}
.sev .meter{max-width:none}
.sev-count{font-size:26px;font-weight:700}
.sev-label{text-transform:capitalize;color:var(--muted);margin-bottom:6px}
.sev-critical{border-left-color:#9f1d20}.sev-high{border-left-color:#d0571c}
.sev-medium{border-left-color:#b8860b}.sev-low{border-left-color:#3b6db3}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 color:#fff;background:#6b7686;text-transform:capitalize}
.pill-critical{background:#9f1d20}.pill-high{background:#d0571c}
.pill-medium{background:#b8860b}.pill-low{background:#3b6db3}.pill-failed{background:#6b7686}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 40px 32px}
@media (max-width:1000px){.cards{grid-template-columns:repeat(3,1fr)}
 .sevs{grid-template-columns:repeat(2,1fr)}.kpis{grid-template-columns:1fr}}
"""
# Nothing but inline styles and data: addresses may load; anything else would be a bug.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_page(data: ReportData) -> str:
    """The report as one self-contained HTML page."""
    totals = _totals(data)
    if data.period_start and data.period_end:
        period = (f"{data.period_start.isoformat()} to {data.period_end.isoformat()} (UTC), "
                  f"the last {data.days} day(s) up to the latest activity")
    else:
        period = "no runs or model calls recorded yet"
    banner = ('<div class="banner">Unmasked: this page shows personal data from the documents. '
              "Do not share it.</div>" if data.unmasked else "")
    privacy = ("Personal data is shown unmasked." if data.unmasked else
               "Quotes, rationales, error texts and paths are masked (personal data and names "
               "replaced by typed placeholders).")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Compliance report {_e(data.period_end or '')}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>Compliance report</h1><p>{_e(period)} · generated "
        f"{_e(_utc(data.generated_at))} UTC</p></header>{banner}<main>"
        f"{_cards(data, totals)}{_spend_section(data)}{_escalation_section(data, totals)}"
        f"{_savings_section(data, totals)}{_cache_section(data, totals)}"
        f"{_findings_section(data)}{_failed_section(data)}</main>"
        f"<footer>{_e(privacy)} Figures come from the results database’s views; money is "
        "USD from the price table, local compute included.</footer></body></html>\n")


def render_html_report(conn: duckdb.DuckDBPyConnection, unmask: bool = False,
                       days: int = 30) -> str:
    """The report page for the last `days` days with activity (conn may be read-only)."""
    return render_page(build_report_data(conn, unmask=unmask, days=days))
