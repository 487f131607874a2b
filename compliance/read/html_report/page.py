"""The report page: header, cards, the sections with their tables, and the page around them.

Everything is inline: CSS in a style element (style.py), charts as inline SVG, no scripts,
fonts, images or external addresses, and a Content-Security-Policy that would block any of
them. Cells are escaped here; the text in them was masked when it was read (data.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from compliance.read.html_report.chart import MIN_SEGMENT_PX, render_legend, render_spend_chart
from compliance.read.html_report.data import ReportData, RunRow, build_report_data
from compliance.read.html_report.format import esc, num, percent, ratio, svg_num, utc_minute
from compliance.read.html_report.style import CSS
from compliance.read.results import usd

RUNS_SHOWN = 20
SEVERITY_COLORS = {"critical": "#9f1d20", "high": "#d0571c", "medium": "#b8860b", "low": "#3b6db3"}
SPENT_COLOR, SAVED_COLOR = "#2f5fb3", "#5bb5a2"


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]],
           empty: str, attrs: str = "") -> str:
    """A table: headers are (label, css class); cells are already escaped HTML."""
    body = "".join("<tr>" + "".join(f'<td class="{cls}">{cell}</td>'
                                    for (_, cls), cell in zip(headers, row, strict=True))
                   + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f'<th class="{cls}">{esc(label)}</th>' for label, cls in headers)
    return f'<div class="table-wrap"><table{attrs}><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def _card(label: str, value: str, detail: str, attrs: str = "") -> str:
    return (f'<div class="card"{attrs}><div class="card-label">{esc(label)}</div>'
            f'<div class="card-value">{value}</div><div class="card-detail">{detail}</div></div>')


def _meter(share: float | None, color: str = "#2f5fb3") -> str:
    width = 0.0 if share is None else max(0.0, min(share, 1.0)) * 100
    return (f'<span class="meter"><span style="width:{width:.1f}%;background:{color}">'
            "</span></span>")


def _run_label(run: RunRow) -> str:
    # Run ids start with their start time, shown beside them; the suffix tells runs apart.
    short = run.run_id.rsplit("-", 1)[-1] if "-" in run.run_id else run.run_id[:12]
    return f'<span class="mono" title="{esc(run.run_id)}">{esc(short)}</span>'


def _kpi(value: str, text: str, meter: str = "") -> str:
    return (f'<div class="kpi"><div class="big">{value}</div><div class="kpi-text">{text}</div>'
            f"{meter}</div>")


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill pill-{esc(kind)}">{esc(text)}</span>'


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
    sent_share = ratio(totals.chunks_escalated, totals.chunks_new)
    hit = ratio(totals.windows_cached, totals.windows_sent + totals.windows_cached)
    summary_hit = ratio(totals.summaries_cached, totals.summaries_done + totals.summaries_cached)
    saved_share = ratio(totals.saved, totals.naive_all)
    open_counts = data.open_by_severity
    return '<section class="cards">' + "".join([
        _card("Spend in period", esc(usd(totals.spend)),
              f"cloud {esc(usd(totals.cloud))} · local {esc(usd(totals.local))}"),
        _card("Sent to the cloud", esc(percent(sent_share)),
              f"{num(totals.chunks_escalated)} of {num(totals.chunks_new)} new chunks"),
        _card("Saved vs. naive", esc(usd(totals.saved) if totals.claimed else "–"),
              f"{esc(percent(saved_share))} of {esc(usd(totals.naive_all))} over "
              f"{len(totals.claimed)} run(s)" if totals.claimed else "no escalating run"),
        _card("Cache hit rate", esc(percent(hit)),
              f"escalations · summaries {esc(percent(summary_hit))}"),
        _card("Open findings", num(data.open_findings),
              f"{open_counts['critical']} critical · {open_counts['high']} high",
              ' data-open-findings="' + str(data.open_findings) + '"'),
        _card("Failed documents", num(len(data.failed_documents)), "could not be read"),
    ]) + "</section>"


def _spend_section(data: ReportData) -> str:
    rows = data.spend
    detail = _table(
        [("Day", ""), ("Provider", ""), ("Model", ""), ("Calls", "num"), ("Failed", "num"),
         ("Input tokens", "num"), ("Output tokens", "num"), ("Cache write", "num"),
         ("Cache read", "num"), ("Seconds", "num"), ("Cost", "num")],
        ([row.day.isoformat(), esc(row.provider), esc(row.model), num(row.calls),
          num(row.failed_calls), num(row.input_tokens), num(row.output_tokens),
          num(row.cache_write_tokens), num(row.cache_read_tokens), f"{row.seconds:,.1f}",
          esc(usd(row.cost_usd))] for row in rows),
        "No model calls in the period.")
    return (
        '<section id="spend"><h2>Spend per day and model</h2>'
        '<p class="lede">Ledger totals per UTC day, stacked by model (view '
        "<code>cost_by_day_and_model</code>). Heights are proportional to cost; segments below "
        f"{MIN_SEGMENT_PX:g} px are drawn at {MIN_SEGMENT_PX:g} px so that local calls, which "
        "cost fractions of a cent, stay visible. Hover a segment for its figures.</p>"
        f'<div class="chart-box">{render_spend_chart(rows)}{render_legend(rows)}</div>'
        f"<details><summary>Daily figures ({len(rows)} rows)</summary>{detail}</details>"
        "</section>")


def _escalation_section(data: ReportData, totals: _Totals) -> str:
    share = ratio(totals.chunks_escalated, totals.chunks_new)
    corpus_share = ratio(data.chunks_current_sent, data.chunks_current)
    runs = data.runs[:RUNS_SHOWN]
    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Status", ""), ("Mode", ""),
         ("New chunks", "num"), ("Flagged", "num"), ("Escalated", "num"),
         ("Share of new", "num"), ("Cloud calls", "num"), ("Cloud cost", "num"),
         ("Local calls", "num"), ("Local cost", "num")],
        ([_run_label(run), utc_minute(run.started_at), esc(run.status), esc(run.escalation_mode),
          num(run.chunks_new), num(run.chunks_flagged), num(run.chunks_escalated),
          esc(percent(ratio(run.chunks_escalated, run.chunks_new))), num(run.cloud_calls),
          esc(usd(run.cloud_cost_usd)), num(run.local_calls), esc(usd(run.local_cost_usd))]
         for run in runs),
        "No runs in the period.")
    windows = data.windows
    status_cells = "".join(
        f'<div class="stat"><div class="stat-value">{num(count)}</div>'
        f'<div class="stat-label">{esc(status)}</div></div>'
        for status, count in windows.by_status.items())
    return (
        '<section id="escalation"><h2>Escalation share</h2>'
        '<p class="lede">How much text went to the cloud model: chunks escalated by the '
        "period's runs against the chunks they created (views <code>cost_by_run</code>, "
        "<code>escalations</code>; table <code>runs</code>).</p>"
        '<div class="kpis">'
        + _kpi(esc(percent(share)), f"of the new chunks of these runs went to the cloud "
               f"({num(totals.chunks_escalated)} of {num(totals.chunks_new)})", _meter(share))
        + _kpi(esc(percent(corpus_share)), f"of the chunks of current documents have had a window "
               f"sent ({num(data.chunks_current_sent)} of {num(data.chunks_current)})",
               _meter(corpus_share))
        + "</div>"
        '<p class="muted">A run may escalate chunks an earlier run created (windows deferred, '
        "or waiting for a key), so its share of new chunks can read “–”.</p>"
        f"<h3>Latest runs</h3>{table}"
        f"<h3>Escalation windows of these runs</h3>"
        f'<div class="stats">{status_cells}'
        f'<div class="stat"><div class="stat-value">{num(windows.findings)}</div>'
        '<div class="stat-label">judged a finding</div></div>'
        f'<div class="stat"><div class="stat-value">{num(windows.dismissed)}</div>'
        '<div class="stat-label">judged harmless</div></div></div>'
        "</section>")


def _savings_bar(totals: _Totals) -> str:
    if totals.naive_all <= 0:
        return ""
    spent = min(max(totals.spend_claimed, Decimal(0)), totals.naive_all)
    width = 900.0
    spent_w = float(spent / totals.naive_all) * width
    rects = "".join(
        f'<rect class="saving" x="{svg_num(x)}" y="0" width="{svg_num(w)}" height="24" '
        f'fill="{color}"><title>{esc(label)}</title></rect>'
        for x, w, color, label in (
            (0.0, spent_w, SPENT_COLOR, f"Spent on the cloud: {usd(totals.spend_claimed)}"),
            (spent_w, width - spent_w, SAVED_COLOR, f"Saved: {usd(totals.saved)}")))
    return (f'<svg class="bar" viewBox="0 0 {width:g} 24" preserveAspectRatio="none" '
            f'role="img" aria-label="Spent and saved against sending everything">{rects}</svg>'
            '<ul class="legend">'
            f'<li><span class="swatch" style="background:{SPENT_COLOR}"></span>Spent on the '
            f'cloud <span class="muted">{esc(usd(totals.spend_claimed))}</span></li>'
            f'<li><span class="swatch" style="background:{SAVED_COLOR}"></span>Saved '
            f'<span class="muted">{esc(usd(totals.saved))} of {esc(usd(totals.naive_all))}'
            "</span></li></ul>")


def _savings_section(data: ReportData, totals: _Totals) -> str:
    def claimed(run: RunRow, value: str) -> str:
        return value if run.savings_claimed else '<span class="muted">not claimed</span>'

    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Mode", ""), ("Cloud model", ""),
         ("Spend", "num"), ("Naive (new)", "num"), ("Naive (all)", "num"),
         ("Dedupe", "num"), ("Routing", "num"), ("Cache", "num"), ("Saved", "num"),
         ("Saved share", "num")],
        ([_run_label(run), utc_minute(run.started_at), esc(run.escalation_mode),
          esc(run.cloud_model), esc(usd(run.spend_usd)), esc(usd(run.naive_new_usd)),
          esc(usd(run.naive_all_usd)),
          claimed(run, esc(usd(run.saved_by_dedupe_usd))),
          claimed(run, esc(usd(run.saved_by_routing_usd))),
          claimed(run, esc(usd(run.cache_saved_usd))),
          claimed(run, esc(usd(run.saved_total_usd))),
          claimed(run, esc(percent(run.saved_share)))]
         for run in data.runs[:RUNS_SHOWN]),
        "No runs in the period.")
    def total(attr: str) -> Decimal:
        return sum((getattr(run, attr) or Decimal(0) for run in totals.claimed), Decimal(0))

    mechanisms = (f"By mechanism: {esc(usd(total('saved_by_dedupe_usd')))} unchanged or "
                  f"duplicate files not sent again, {esc(usd(total('saved_by_routing_usd')))} "
                  f"text the rules kept local, {esc(usd(total('cache_saved_usd')))} answers "
                  "reused from the cache.")
    notes = "".join(f"<li>{_run_label(run)} {esc(run.note)}</li>"
                    for run in data.runs[:RUNS_SHOWN] if run.note)
    headline = (
        '<div class="kpis one">'
        + _kpi(esc(usd(totals.saved)),
               f"saved: {esc(usd(totals.spend_claimed))} spent where sending every chunk of "
               f"every current document would have cost {esc(usd(totals.naive_all))} "
               f"({esc(percent(ratio(totals.saved, totals.naive_all)))} saved, "
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
    summary_hit = ratio(totals.summaries_cached, totals.summaries_done + totals.summaries_cached)
    hit = ratio(totals.windows_cached, totals.windows_sent + totals.windows_cached)
    table = _table(
        [("Run", ""), ("Started (UTC)", "nowrap"), ("Summaries done", "num"),
         ("From cache", "num"), ("Summary hit rate", "num"), ("Windows sent", "num"),
         ("From cache", "num"), ("Escalation hit rate", "num"), ("Saved by cache", "num")],
        ([_run_label(run), utc_minute(run.started_at), num(run.summaries_done),
          num(run.summaries_cached), esc(percent(run.summary_hit_rate)),
          num(run.windows_sent), num(run.windows_cached),
          esc(percent(run.escalation_hit_rate)), esc(usd(run.cache_saved_usd))]
         for run in data.runs[:RUNS_SHOWN]),
        "No runs in the period.")
    return (
        '<section id="cache"><h2>Cache hit rate</h2>'
        '<p class="lede">Work answered from earlier results instead of recomputed: local '
        "summaries and cloud escalations (view <code>cache_efficiency</code>).</p>"
        '<div class="kpis">'
        + _kpi(esc(percent(hit)), f"of escalation windows answered from the cache "
               f"({num(totals.windows_cached)} of "
               f"{num(totals.windows_sent + totals.windows_cached)}), saving about "
               f"{esc(usd(totals.cache_saved))}", _meter(hit, SAVED_COLOR))
        + _kpi(esc(percent(summary_hit)), f"of local summaries reused "
               f"({num(totals.summaries_cached)} of "
               f"{num(totals.summaries_done + totals.summaries_cached)})",
               _meter(summary_hit, SAVED_COLOR))
        + "</div>"
        f"<h3>Per run</h3>{table}</section>")


def _findings_section(data: ReportData) -> str:
    counts = data.open_by_severity
    largest = max(counts.values(), default=0) or 1
    cards = "".join(
        f'<div class="sev sev-{severity}" data-severity="{severity}" data-count="{count}">'
        f'<div class="sev-count">{num(count)}</div><div class="sev-label">{severity}</div>'
        f"{_meter(count / largest, SEVERITY_COLORS[severity])}</div>"
        for severity, count in counts.items())
    table = _table(
        [("Severity", ""), ("Finding", "finding"), ("Document", "path"), ("Quote", "quote"),
         ("Seen", "num"), ("Review", "review")],
        ([_pill(f.severity, f.severity),
          f'{esc(f.category.replace("_", " "))}<div class="sub">{esc(f.detected_by)} '
          f'<span class="mono">{esc(f.detector)}</span></div>',
          f'<span class="mono">{esc(f.rel_path)}</span>'
          + (f'<div class="sub">page {f.page}</div>' if f.page else ""),
          f'<q>{esc(f.quote)}</q>', num(f.occurrences),
          f'{esc(f.disposition)}<div class="sub">'
          f'{esc(f.escalation_verdict.replace("_", " "))}</div>']
         for f in data.top_findings),
        "No open findings.", ' class="findings"')
    shown = (f"The {len(data.top_findings)} most severe of {num(data.open_findings)}"
             if data.open_findings > len(data.top_findings) else "All")
    return (
        '<section id="findings"><h2>Open findings by severity</h2>'
        '<p class="lede">Findings on the current version of each document that are open or '
        "confirmed by a reviewer (view <code>findings</code>); this is the state now, not "
        f'limited to the period.</p><div class="sevs">{cards}</div>'
        f"<h3>{esc(shown)} open findings</h3>{table}</section>")


def _recall_section(data: ReportData) -> str:
    rows = data.triage_recall
    table = _table(
        [("Category", ""), ("Estimated recall", "num"), ("Lower bound", "num"),
         ("Escalated findings", "num"), ("Audited", "num"), ("Audit findings", "num"),
         ("Status", "")],
        ([esc(row.category.replace("_", " ")), esc(percent(row.estimate)),
          esc(percent(row.lower_bound)), num(row.escalated_positives), num(row.audited),
          num(row.audited_positives),
          _pill(row.status.replace("_", " "),
                "failed" if row.status == "below_target" else "ok")]
         for row in rows),
        "No audit yet: runs with the clause scorer and escalation on estimate it.",
        ' class="recall"')
    overall = next((row for row in rows if row.category == "all"), None)
    lede = ('<p class="lede">What triage misses, estimated from the cloud judge\'s verdicts on '
            "escalated clauses and on a random sample of those it did not send (view "
            "<code>triage_recall</code>; the lower bound holds with the run's confidence "
            "level).</p>")
    warning = ""
    if overall is not None and overall.status == "below_target":
        warning = (f'<p class="warning">The recall lower bound '
                   f"{esc(percent(overall.lower_bound))} is under the target "
                   f"{esc(percent(overall.recall_target))}: triage may be missing risky "
                   "clauses.</p>")
    pooled = f" over {overall.runs_pooled} run(s)" if overall is not None else ""
    return (f'<section id="recall"><h2>Triage recall{esc(pooled)}</h2>{lede}{warning}'
            f"{table}</section>")


def _briefs_section(data: ReportData) -> str:
    table = _table(
        [("Document", "path"), ("Kind", ""), ("Title", ""), ("Parties / people", ""),
         ("Dates", ""), ("Governing law", ""), ("Open findings", "num")],
        ([f'<span class="mono">{esc(row.rel_path)}</span>', esc(row.kind), esc(row.title),
          "<br>".join(esc(p) for p in row.parties[:4]), "<br>".join(esc(d) for d in row.dates),
          esc(row.governing_law),
          (_pill(row.worst_severity, row.worst_severity) + " " if row.worst_severity else "")
          + num(row.open_findings)]
         for row in data.briefs),
        "No document briefed yet.", ' class="briefs"')
    return (
        '<section id="briefs"><h2>Document briefs</h2>'
        '<p class="lede">What each document is and whom it concerns, found by rule in its text '
        "(view <code>document_briefs</code>; <code>compliance summary PATH</code> shows one "
        "with its risks and where each field was found), the most at risk first.</p>"
        f"{table}</section>")


def _failed_section(data: ReportData) -> str:
    table = _table(
        [("Document", "path"), ("Version", "num"), ("Format", ""), ("Status", ""),
         ("Reason", "reason")],
        ([f'<span class="mono">{esc(doc.rel_path)}</span>', num(doc.version), esc(doc.format),
          _pill(doc.status, "failed"), esc(doc.error)] for doc in data.failed_documents),
        "Every current document was read.", ' class="failed"')
    return (
        '<section id="failed"><h2>Failed documents</h2>'
        '<p class="lede">Current documents that could not be read, with the reason (view '
        f"<code>document_status</code>).</p>{table}</section>")


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
        f"<title>Compliance report {esc(data.period_end or '')}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>Compliance report</h1><p>{esc(period)} · generated "
        f"{esc(utc_minute(data.generated_at))} UTC</p></header>{banner}<main>"
        f"{_cards(data, totals)}{_spend_section(data)}{_escalation_section(data, totals)}"
        f"{_savings_section(data, totals)}{_cache_section(data, totals)}"
        f"{_findings_section(data)}{_briefs_section(data)}{_recall_section(data)}"
        f"{_failed_section(data)}</main>"
        f"<footer>{esc(privacy)} Figures come from the results database’s views; money is "
        "USD from the price table, local compute included.</footer></body></html>\n")


def render_html_report(conn: duckdb.DuckDBPyConnection, unmask: bool = False,
                       days: int = 30) -> str:
    """The report page for the last `days` days with activity (conn may be read-only)."""
    return render_page(build_report_data(conn, unmask=unmask, days=days))
