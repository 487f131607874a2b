"""Judging a model's answer: parse its JSON, reject an unusable summary, and the extractive
summary that stands in when the model's answer is rejected (or no model is called)."""

from __future__ import annotations

import json
import re
from collections import Counter

from compliance.briefs.facts import invented_facts
from compliance.textnorm import words
from tasks.summarize.results import SummaryDraft

_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def extractive_summary(text: str, max_fraction: float = 0.35, max_chars: int = 320) -> str:
    """The most representative sentences, in document order, well under the input's length."""
    if len(text.strip()) < 4:
        return ""  # nothing shorter is worth saying
    sentences = [s.strip() for s in _SENTENCES.split(" ".join(text.split())) if s.strip()]
    # Section numbers and fragments ("3.", "a)") are not sentences worth choosing.
    sentences = [s for s in sentences if len(words(s)) >= 3] or sentences
    limit = max(1, min(max_chars, int(len(text) * max_fraction)))
    if not sentences:
        return text[: min(limit, max(1, len(text) // 2))].strip()
    frequency = Counter(w for w in words(text) if len(w) > 3)
    scored = sorted(
        range(len(sentences)),
        key=lambda i: (-sum(frequency[w] for w in set(words(sentences[i])) if len(w) > 3)
                       / (len(words(sentences[i])) ** 0.5 + 1), i),
    )
    chosen: list[int] = []
    used = 0
    for index in scored:
        length = len(sentences[index]) + 1
        if used + length > limit:
            continue
        chosen.append(index)
        used += length
    if not chosen:
        first = sentences[scored[0]]
        cut = first[:limit].rsplit(" ", 1)[0]
        return (cut or first[:limit]).rstrip(",;:") + "…"
    return " ".join(sentences[i] for i in sorted(chosen))


# A summary copies its input when over COPY_SHARE of its SHINGLE-word sequences are the input's.
COPY_SHARE = 0.6
SHINGLE = 6


def _shingles(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + size]) for i in range(max(0, len(tokens) - size + 1))}


def copies_input(summary_words: list[str], source_words: list[str]) -> bool:
    """Whether most of the summary's 6-word sequences are taken from its input."""
    shingles = _shingles(summary_words, SHINGLE)
    return bool(shingles) and (len(shingles & _shingles(source_words, SHINGLE)) / len(shingles)
                               > COPY_SHARE)


def judge_summary(summary: str, source: str) -> str | None:
    """Why a model summary is unusable (None when it is fine): too long, a copy, noise, or a
    number, date or name its input does not hold (compliance.briefs.facts)."""
    summary_words = words(summary)
    source_words = words(source)
    if len(summary_words) < 5:
        return "too short"
    if len(summary) >= 0.8 * len(source):
        return "not shorter than its input"
    letters = sum(ch.isalpha() or ch.isspace() for ch in summary)
    if letters < 0.8 * len(summary):
        return "mostly symbols"
    if copies_input(summary_words, source_words):
        return "copies its input"
    vocabulary = set(source_words)
    content = [w for w in summary_words if len(w) > 3]
    if content and sum(w in vocabulary for w in content) / len(content) < 0.3:
        return "not grounded in its input"
    invented = invented_facts(summary, source)
    if invented:
        return "states what its input does not: " + ", ".join(invented[:3])
    return None


def parse_model_json(content: str) -> SummaryDraft | None:
    """The model's JSON answer as a draft, or None if it is not valid."""
    try:
        data = json.loads(content)
        summary = " ".join(str(data["summary"]).split())
        key_points = [" ".join(str(p).split()) for p in data.get("key_points", [])][:3]
        risk_signals = [" ".join(str(p).split()) for p in data.get("risk_signals", [])][:3]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return SummaryDraft(summary, [p for p in key_points if p], [r for r in risk_signals if r],
                        "llm")
