"""Values as the report writes them: escaped text, counts, shares, times and SVG coordinates.

Shared by the chart and the page, so that both escape and round alike. Dollars are written by
`compliance.read.results.usd`, as in the terminal report.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Any


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


def ratio(part: int | Decimal, whole: int | Decimal) -> float | None:
    """part / whole, or None when there is no whole to share."""
    return float(part) / float(whole) if whole else None


def utc_minute(moment: dt.datetime | None) -> str:
    """A moment in UTC to the minute; a naive one is taken to be UTC already."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def esc(value: Any) -> str:
    """Text (None as empty) escaped for HTML content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def num(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def svg_num(value: float) -> str:
    """An SVG coordinate to two decimals, trailing zeros dropped."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
