"""Scoring units: the clauses a document is cut into, each scored and escalated on its own.

The scorer is trained and applied on the same units, so this cut is part of the model: a
change here changes the scorer's version.
"""

from __future__ import annotations

import re

# A clause ends at sentence punctuation or ';'/':' (list items), or at a blank line before
# what starts a paragraph. A line break alone does not end one (contracts are hard-wrapped
# mid-sentence), nor does a blank line before a lower-case word (a page break in a PDF).
CLAUSE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n(?=\s*[^\sa-z])")
# Short clauses (headings, list lead-ins) join the next one until a unit holds this much text:
# a reviewer, and the cloud judge, need the obligation, not the heading alone.
MIN_UNIT_CHARS = 200
# A longer clause is split at a space, so that one unit never sends a page.
MAX_UNIT_CHARS = 800


def clauses(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Non-blank clauses of text[start:end], as offsets into text."""
    end = len(text) if end is None else end
    bounds = [start, *(m.end() for m in CLAUSE_END.finditer(text, start, end)), end]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False)
            if b > a and not text[a:b].isspace()]


def cut_units(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Units of text[start:end]: clauses joined up to MIN_UNIT_CHARS, split past MAX_UNIT_CHARS."""
    units: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for a, b in clauses(text, start, end):
        while b - a > MAX_UNIT_CHARS:
            cut = text.rfind(" ", a, a + MAX_UNIT_CHARS)
            cut = cut if cut > a + MAX_UNIT_CHARS // 2 else a + MAX_UNIT_CHARS
            if pending is not None:
                units.append(pending)
                pending = None
            units.append((a, cut))
            a = cut
        pending = (a, b) if pending is None else (pending[0], b)
        if pending[1] - pending[0] >= MIN_UNIT_CHARS:
            units.append(pending)
            pending = None
    if pending is not None:
        units.append(pending)
    return units

