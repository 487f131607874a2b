"""The cost of triage per 1,000 chunks: the rule packs (the flag stage's scan) with its parts
(the patterns, spaCy's entity pass) beside the clause scorer, on the same CUAD dev contracts cut
into chunk-sized pieces, in one process. The entity pass is also timed as it ran before
(spaCy's whole pipeline less the lemmatizer, one chunk at a time), with the PERSON spans
compared, so its speed-up is a ratio measured here and now.

    .venv/bin/python bench/bench_triage.py [--documents N] [--chunk-chars 1500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from compliance.environment import DEV_DATA
from compliance.rules.loader import load_rules
from compliance.rules.matching import RuleSet, find_entities_many
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


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and spread (max - min) of `repeats` timings, in seconds."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), max(seconds) - min(seconds)


def entities_as_before(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    """The entity pass before it was cut down: the whole pipeline, one text at a time."""
    import spacy

    from compliance.adapters.offline_nlp import OFFLINE_SPACY_PACKAGE

    nlp = spacy.load(OFFLINE_SPACY_PACKAGE, exclude=["lemmatizer"])
    return [[(e.label_, e.start_char, e.end_char) for e in nlp(text).ents] for text in texts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--chunk-chars", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    records = [json.loads(line) for line in DEV_DATA.read_text().splitlines()][:args.documents]
    documents = [pieces(r["text"], args.chunk_chars) for r in records]
    chunks = sum(len(d) for d in documents)
    rules = load_rules()
    scorer = resolve_scorer(None)
    rules.scan("warm up the entity model once")
    started = time.perf_counter()
    hits = [[(start, text, hits) for (start, text), hits in
             zip(document, rules.scan_many([text for _, text in document]), strict=True)]
            for document in documents]
    rules_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for document in hits:
        scorer.score_document(document, max(s + len(t) for s, t, _ in document))
    scorer_seconds = time.perf_counter() - started
    texts = [text for document in documents for _, text in document]
    patterns = RuleSet([r for r in rules.rules if not r.entities], rules.pack_versions,
                       rules.whole_document)
    per_1000 = 1000 / chunks
    pattern_s, pattern_spread = timed(lambda: patterns.scan_many(texts), args.repeats)
    entity_s, entity_spread = timed(lambda: find_entities_many(texts), args.repeats)
    before = entities_as_before(texts[:1])  # load it outside the timing
    before_s, before_spread = timed(lambda: entities_as_before(texts), args.repeats)
    before = entities_as_before(texts)
    now = find_entities_many(texts)
    people = [({e for e in b if e[0] == "PERSON"}, {e for e in n if e[0] == "PERSON"})
              for b, n in zip(before, now, strict=True)]
    differing = sum(len(b ^ n) for b, n in people)
    print(f"{len(documents)} contracts, {chunks} chunks of ~{args.chunk_chars} characters; "
          f"median of {args.repeats} (spread) in s per 1,000 chunks")
    print(f"rule packs (flag stage scan): {rules_seconds * per_1000:.1f}")
    print(f"  patterns alone:             {pattern_s * per_1000:.1f} "
          f"({pattern_spread * per_1000:.1f})")
    print(f"  entity pass, NER alone, piped: {entity_s * per_1000:.1f} "
          f"({entity_spread * per_1000:.1f})")
    print(f"  entity pass as before (whole pipeline, one chunk at a time): "
          f"{before_s * per_1000:.1f} ({before_spread * per_1000:.1f}): "
          f"{before_s / entity_s:.2f}x the time; PERSON spans differing: {differing} of "
          f"{sum(len(b) for b, _ in people)}")
    print(f"clause scorer:                {scorer_seconds * per_1000:.1f} "
          f"({scorer_seconds / rules_seconds:.2f}x the rules)")


if __name__ == "__main__":
    main()
