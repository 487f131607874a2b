"""Locate a labelled span in the text the pipeline stored, by its words rather than its offsets.

Stored text is not byte-identical to the labelled text (extraction drops control characters,
rejoins lines, and a PDF's text layer differs from the TXT transcript), so labels are matched
on a compact form: NFKC, case-folded, whitespace removed. Each compact character remembers the
offset of the stored character it came from.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass

PIECE_CHARS = 40


@dataclass(frozen=True)
class CompactText:
    """A text without whitespace, case-folded, with each character's offset in the original."""

    chars: str
    offsets: list[int]


def compact(text: str) -> CompactText:
    """The compact form of a text (see the module docstring)."""
    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        if char.isspace():
            continue
        folded = unicodedata.normalize("NFKC", char).casefold()
        for piece in folded:
            if not piece.isspace():
                chars.append(piece)
                offsets.append(index)
    return CompactText("".join(chars), offsets)


def _nearest(haystack: str, needle: str, expected: int) -> int:
    """Position of the occurrence of needle closest to expected, or -1."""
    best = -1
    position = haystack.find(needle)
    while position != -1:
        if best == -1 or abs(position - expected) < abs(best - expected):
            best = position
        if position > expected:
            break
        position = haystack.find(needle, position + 1)
    return best


def locate(label_text: str, stored: CompactText, expected_offset: int = 0) -> tuple[list[int], int]:
    """Offsets in the stored text of the label's characters that could be located.

    Returns (offsets, label_length) where label_length counts the label's compact characters.
    The whole label is looked up first (the occurrence nearest expected_offset wins); failing
    that, it is located piece by piece, so text the extraction lost or garbled counts as
    missing rather than making the whole label unfindable.
    """
    needle = compact(label_text).chars
    if not needle:
        return [], 0
    expected = bisect.bisect_left(stored.offsets, expected_offset)
    position = _nearest(stored.chars, needle, expected)
    if position != -1:
        return stored.offsets[position:position + len(needle)], len(needle)
    found: list[int] = []
    for start in range(0, len(needle), PIECE_CHARS):
        piece = needle[start:start + PIECE_CHARS]
        if len(piece) < 8:  # a short tail matches anywhere: it decides nothing
            continue
        position = _nearest(stored.chars, piece, expected)
        if position != -1:
            found.extend(stored.offsets[position:position + len(piece)])
            expected = position + len(piece)
        else:
            expected += len(piece)
    return found, len(needle)


def covered_fraction(offsets: list[int], label_length: int,
                     selected: list[tuple[int, int]]) -> float:
    """Share of a label's characters whose stored offsets lie inside selected [start, end)."""
    if not label_length:
        return 0.0
    starts = [s for s, _ in selected]
    inside = 0
    for offset in offsets:
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0 and offset < selected[index][1]:
            inside += 1
    return inside / label_length
