"""Facts a summary states that its input does not: numbers, dates and names.

A small model paraphrases by inventing: a date ("13th December"), a figure, a company. Each
number, month and capitalized word of a summary must appear in its input (case aside); what
does not is an invented fact. Spelled-out numbers ("ninety") are not checked, and a sentence's
first word is not a name.
"""

from __future__ import annotations

import calendar
import re

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[-*•]\s+|\"\s*)$")
_MONTHS = {m.lower() for m in calendar.month_name if m} | {
    m.lower() for m in calendar.month_abbr if m}
# Capitalized words that name no fact: pronouns and words a summary starts a clause with.
_COMMON = {"i", "a", "an", "the", "this", "that", "these", "those", "it", "its", "they", "we",
           "he", "she", "and", "or", "but", "if", "in", "on", "of", "for", "to", "by", "with",
           "as", "at", "is", "are", "was", "be", "also", "key", "summary", "document",
           "section", "clause", "note", "points"}


def _number(text: str) -> str:
    """1,000 and 1000 alike; 12.50 and 12.5 alike."""
    plain = text.replace(",", "")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return plain.lstrip("0") or "0"


def invented_facts(summary: str, source: str) -> list[str]:
    """The numbers, months and names in `summary` that `source` does not contain, in order."""
    source_numbers = {_number(n) for n in _NUMBER.findall(source)}
    source_words = {w.lower() for w in _WORD.findall(source)}
    invented: list[str] = []
    for match in _NUMBER.finditer(summary):
        if _number(match.group()) not in source_numbers:
            invented.append(match.group())
    for match in _WORD.finditer(summary):
        word = match.group()
        lower = word.lower()
        if lower in source_words or lower.rstrip("s") in source_words:
            continue
        if lower in _MONTHS:
            invented.append(word)
        elif (word[0].isupper() and lower not in _COMMON
              and not _SENTENCE_START.search(summary[:match.start()])):
            invented.append(word)
    return invented
