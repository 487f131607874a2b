"""Dates as contracts write them, partial ones kept partial, CUAD's answers read alike."""

from __future__ import annotations

import pytest

from compliance.briefs.dates import find_dates, parse_answer


@pytest.mark.parametrize(("text", "iso"), [
    ("made as of the 6t h day of March, 2006 (the", "2006-03-06"),  # OCR's broken "6th"
    ("as of March 29, 1999, by and between", "1999-03-29"),
    ("this 21st day of January 2003 by", "2003-01-21"),
    ("effective as of _Dec. 8, 2005 (hereinafter", "2005-12-08"),
    ("made on 15 April 2024 (the", "2024-04-15"),
    ("Date:  12/5/96", "1996-12-05"),
    ("signed 2020-02-29 at noon", "2020-02-29"),
    ("entered into as of  March ___, 1999 (the", "1999-03"),
    ("the ____ day of ______, 1996", "1996"),
    ("dated as of , 2006 by", "2006"),
])
def test_a_date_is_found_with_the_parts_the_text_gives(text: str, iso: str) -> None:
    assert [d.iso for d in find_dates(text)] == [iso]


def test_no_invented_dates_from_impossible_ones_or_plain_numbers() -> None:
    assert find_dates("on April 31, 2020 and section 12.3 of 1,000 units") == []
    assert find_dates("2/30/2001") == []


def test_spans_point_at_the_date_in_order() -> None:
    text = "Signed March 1, 2001; amended 4 May 2002."
    found = find_dates(text)
    assert [text[d.start:d.end] for d in found] == ["March 1, 2001", "4 May 2002"]


@pytest.mark.parametrize(("answer", "parts"), [
    ("3/6/06", (2006, 3, 6)), ("12/14/97", (1997, 12, 14)), ("[]/[]/1996", (1996, None, None)),
    ("11/[]/2006", (2006, 11, None)), ("", None), ("perpetual", None),
])
def test_cuad_answers_are_read_as_year_month_day(answer: str, parts: tuple | None) -> None:
    assert parse_answer(answer) == parts
