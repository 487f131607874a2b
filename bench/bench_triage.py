"""The cost of triage per 1,000 chunks: the rule packs (the flag stage's scan) beside the clause
scorer, on the same CUAD dev contracts cut into chunk-sized pieces, in one process.

    .venv/bin/python bench/bench_triage.py [--documents N] [--chunk-chars 1500]
"""

from __future__ import annotations

import argparse
import json
import time

from compliance.environment import DEV_DATA
from compliance.rules.loader import load_rules
from compliance.scoring.policy import resolve_scorer


def pieces(text: str, size: int) -> list[tuple[int, str]]:
    """(start, text) pieces of about `size` characters, cut at a space."""
    out, start = [], 0
    while start < len(text):
        end = text.rfind(" ", start, start + size) if start + size < len(text) else len(text)
        end = end if end > start else min(len(text), start + size)
        out.append((start, text[start:end]))
        start = end
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--chunk-chars", type=int, default=1500)
    args = parser.parse_args()
    records = [json.loads(line) for line in DEV_DATA.read_text().splitlines()][:args.documents]
    documents = [pieces(r["text"], args.chunk_chars) for r in records]
    chunks = sum(len(d) for d in documents)
    rules = load_rules()
    scorer = resolve_scorer(None)
    rules.scan("warm up the entity model once")
    started = time.perf_counter()
    hits = [[(start, text, rules.scan(text)) for start, text in document] for document in documents]
    rules_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for document in hits:
        scorer.score_document(document, max(s + len(t) for s, t, _ in document))
    scorer_seconds = time.perf_counter() - started
    print(f"{len(documents)} contracts, {chunks} chunks of ~{args.chunk_chars} characters")
    print(f"rule packs (flag stage scan): {rules_seconds / chunks * 1000:.1f} s per 1,000 chunks")
    print(f"clause scorer:                {scorer_seconds / chunks * 1000:.1f} s per 1,000 chunks "
          f"({scorer_seconds / rules_seconds:.2f}x the rules)")


if __name__ == "__main__":
    main()
