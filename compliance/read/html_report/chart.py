"""The spend chart: one stacked bar per UTC day, a segment per model, as inline SVG.

Pure functions of the spend rows (no database): `layout_chart` computes the geometry,
`render_spend_chart` draws it and `render_legend` names the models' colors.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from compliance.read.html_report.data import SpendRow
from compliance.read.html_report.format import esc, num, plain_decimal, svg_num
from compliance.read.results import usd

CHART_WIDTH = 960
CHART_HEIGHT = 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 88, 16, 24, 40
# Local calls cost fractions of a cent next to cloud calls: without a floor they vanish.
MIN_SEGMENT_PX = 3.0
MAX_BAR_WIDTH = 56.0
CLOUD_COLORS = ("#2f5fb3", "#7b4bb7", "#c2456e", "#d9822b", "#3f8f8a", "#8a6d3b")
LOCAL_COLORS = ("#5bb5a2", "#9cc97a", "#a0a7b4", "#e0b94f")


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
                     f'y1="{svg_num(y)}" y2="{svg_num(y)}"/>')
        parts.append(f'<text class="tick" x="{MARGIN_LEFT - 8}" y="{svg_num(y + 4)}" '
                     f'text-anchor="end">{esc(usd(value))}</text>')
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
            parts.append(f'<text class="day" x="{svg_num(center)}" y="{baseline + 20}" '
                         f'text-anchor="middle">{esc(_day_label(day, single))}</text>')
        if day in totals and chart.slot >= 64:
            parts.append(f'<text class="total" x="{svg_num(center)}" '
                         f'y="{svg_num(tops[day] - 6)}" text-anchor="middle">'
                         f"{esc(usd(totals[day]))}</text>")
    for segment in chart.segments:
        row = segment.row
        tip = (f"{row.day.isoformat()} · {row.model} ({row.provider}): {usd(row.cost_usd)} · "
               f"{num(row.calls)} calls ({num(row.failed_calls)} failed) · "
               f"{num(row.input_tokens)} in / {num(row.output_tokens)} out tokens · "
               f"{row.seconds:,.1f} s")
        parts.append(
            f'<rect class="mark" x="{svg_num(segment.x)}" y="{svg_num(segment.y)}" '
            f'width="{svg_num(segment.width)}" height="{svg_num(segment.height)}" '
            f'fill="{segment.color}" data-day="{row.day.isoformat()}" '
            f'data-provider="{esc(row.provider)}" data-model="{esc(row.model)}" '
            f'data-usd="{plain_decimal(row.cost_usd)}"><title>{esc(tip)}</title></rect>')
    parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - MARGIN_RIGHT}" '
                 f'y1="{baseline}" y2="{baseline}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_legend(rows: Sequence[SpendRow]) -> str:
    """The chart's key: each model's color, provider, spend and calls in the period."""
    colors = model_colors(rows)
    totals: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for row in rows:
        cost, calls = totals.get((row.provider, row.model), (Decimal(0), 0))
        totals[(row.provider, row.model)] = (cost + row.cost_usd, calls + row.calls)
    items = []
    for (provider, model), color in colors.items():
        cost, calls = totals[(provider, model)]
        items.append(f'<li><span class="swatch" style="background:{color}"></span>'
                     f'<span class="model">{esc(model)}</span> <span class="muted">'
                     f"{esc(provider)} · {esc(usd(cost))} · {num(calls)} calls</span></li>")
    return f'<ul class="legend">{"".join(items)}</ul>'
