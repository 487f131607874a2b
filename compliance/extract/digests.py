"""The hashes and counts the ingest stage stores with a text, computed where it was parsed.

A parser worker computes them beside the text, so the one process that writes the database
spends its time writing, not normalizing every paragraph (bench/bench_ingest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from compliance.extract.model import Segment
from compliance.rules.risk_hints import risk_hint_score
from compliance.textnorm import normalized_text_hash, sha256_text, words


@dataclass(frozen=True)
class TextDigests:
    """A text's identities, its risk-term count, and each segment's words' hash and count."""

    text_sha256: str
    text_hash: str
    risk_hints: int
    segment_keys: list[str]
    segment_words: list[int]


def digest_text(text: str, segments: list[Segment]) -> TextDigests:
    """The digests of a text and its segments (tasks.chunk.paragraph_hash is the same hash)."""
    keys, counts = [], []
    for seg in segments:
        tokens = words(text[seg.start:seg.end])
        keys.append(sha256_text(" ".join(tokens)))
        counts.append(len(tokens))
    return TextDigests(sha256_text(text), normalized_text_hash(text), risk_hint_score(text),
                       keys, counts)
