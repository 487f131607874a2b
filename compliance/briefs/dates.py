"""Dates written out in documents: found by pattern, checked and normalized by dateutil.

A date may be partial: contracts are often signed "as of March ___, 1999", and CUAD writes that
as 3/[]/1999. A `FoundDate` keeps which parts the text gave, so a partial date is never padded
with an invented day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

from dateutil import parser as date_parser

_MONTH_NAMES = [name for name in calendar.month_name if name]
_MONTH = (r"(?P<month>" + "|".join(_MONTH_NAMES) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov"
          r"|Dec)\.?")
_DAY = r"(?P<day>[0-3]?\d)\s*(?:st|nd|rd|th|t\s?h|d)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_BLANK = r"(?:_{2,}|\[\s*\*?\s*\]|-{2,})"
PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    rf"\b{_DAY}\s+day\s+of\s+{_MONTH}\s*,?\s*(?:A\.?D\.?\s*)?{_YEAR}\b",
    rf"(?<![A-Za-z]){_MONTH}\s+{_DAY}\s*,?\s*{_YEAR}\b",
    rf"\b{_DAY}\s+{_MONTH}\s*,?\s*{_YEAR}\b",
    r"\b(?P<month>[01]?\d)/(?P<day>[0-3]?\d)/(?P<year>(?:19|20)\d\d|\d\d)\b",
    r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b",
    rf"{_BLANK}\s*(?:st|nd|rd|th)?\s*day\s+of\s+{_MONTH}\s*,?\s*{_YEAR}\b",
    rf"(?<![A-Za-z]){_MONTH}\s*{_BLANK}?\s*,?\s*{_YEAR}\b",
    rf"(?:(?<=day of)|(?<=as of)|(?<=dated))\s*,\s*{_YEAR}\b",
    rf"{_BLANK}\s*(?:day\s+of\s+)?{_BLANK}?\s*,?\s*{_YEAR}\b",
))


@dataclass(frozen=True)
class FoundDate:
    """A date in a text: year always, month and day only when the text gives them."""

    year: int
    month: int | None
    day: int | None
    start: int
    end: int

    @property
    def iso(self) -> str:
        """2006-03-06, or 1999-03 / 1999 when the text leaves parts blank."""
        parts = [f"{self.year:04d}"]
        if self.month:
            parts.append(f"{self.month:02d}")
            if self.day:
                parts.append(f"{self.day:02d}")
        return "-".join(parts)


def _month_number(word: str) -> int:
    """1-12 for a month name or abbreviation (dateutil reads it)."""
    return date_parser.parse(f"1 {word.rstrip('.')} 2000").month


def _checked(year: int, month: int | None, day: int | None) -> bool:
    """Whether the parts make a real calendar date (dateutil refuses 31 April)."""
    if month is None:
        return 1900 <= year <= 2100
    try:
        date_parser.parse(f"{year:04d}-{month:02d}-{(day or 1):02d}")
    except (ValueError, OverflowError):
        return False
    return True


def find_dates(text: str) -> list[FoundDate]:
    """Every date in `text`, in order; where patterns overlap the earliest, longest wins."""
    found: list[FoundDate] = []
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            year = int(groups["year"])
            if year < 100:
                year += 1900 if year >= 30 else 2000
            month_text = groups.get("month")
            if month_text is None:
                month = None
            elif month_text.isdigit():
                month = int(month_text)
            else:
                month = _month_number(month_text)
            day_text = groups.get("day")
            day = int(day_text) if day_text else None
            if _checked(year, month, day):
                found.append(FoundDate(year, month, day, match.start(), match.end()))
    found.sort(key=lambda d: (d.start, -(d.end - d.start)))
    kept: list[FoundDate] = []
    for date in found:
        if not kept or date.start >= kept[-1].end:
            kept.append(date)
    return kept


def parse_answer(answer: str) -> tuple[int, int | None, int | None] | None:
    """CUAD's m/d/yy answer ('3/6/06', '[]/[]/1996') as (year, month, day); None if empty."""
    match = re.fullmatch(r"\s*(\[\]|\d{1,2})/(\[\]|\d{1,2})/(\d{2,4})\s*", answer)
    if not match:
        return None
    month, day, year = (None if part == "[]" else int(part) for part in match.groups())
    assert year is not None
    if year < 100:
        year += 1900 if year >= 30 else 2000
    return year, month, day
