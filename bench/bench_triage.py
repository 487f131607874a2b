"""The cost of triage per 1,000 chunks: the rule packs (the flag stage's scan) with its parts
(the patterns, spaCy's entity pass) beside the clause scorer, on the same CUAD dev contracts cut
into chunk-sized pieces, in one process. The entity pass is also timed as it ran before
(spaCy's whole pipeline less the lemmatizer, one chunk at a time), with the PERSON spans
compared, so its speed-up is a ratio measured here and now.

The flag stage itself (`tasks.flag.flag_stored_chunks`: the texts read from DuckDB, the scan,
the scorer, the decision and every row it stores) is timed on the same contracts ingested and
chunked by the pipeline into a real database file, a fresh copy per repetition; its database
part is what is left after the scan and the scorer.

    .venv/bin/python bench/bench_triage.py [--documents N] [--chunk-chars 1500] [--repeats 3]
        [--json F]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from compliance.environment import DEV_DATA
from compliance.rules.loader import load_rules
from compliance.rules.matching import RuleSet, find_entities_many
from compliance.scoring.policy import resolve_scorer, triage_policy
from compliance.settings import ChunkSettings, IngestSettings, TriageSettings


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


def flag_stage_seconds(records: list[dict], repeats: int) -> tuple[list[float], int]:
    """Seconds of the flag stage over `records` ingested and chunked into a fresh database,
    per repetition, and the chunks it flagged."""
    from compliance.adapters.local_llm import get_local_model
    from compliance.adapters.model_registry import resolve_model
    from compliance.store.db import Database
    from compliance.store.texts import texts_for
    from tasks.chunk import chunk_document, documents_to_chunk
    from tasks.discover import discover_files
    from tasks.flag import flag_stored_chunks
    from tasks.ingest import ingest_files

    work = Path(tempfile.mkdtemp(prefix="bench-flag-"))
    try:
        inbox = work / "inbox"
        inbox.mkdir()
        for number, record in enumerate(records):
            (inbox / f"contract-{number:03d}.txt").write_text(record["text"])
        template = work / "template.duckdb"
        db = Database(template)
        ingest_files(db, "bench", inbox, discover_files(inbox, ["*"], []), [],
                     IngestSettings())
        model = get_local_model(resolve_model())
        with db.cursor() as reader:
            for doc_id, text in texts_for(reader, documents_to_chunk(reader)):
                chunk_document(db, "bench", doc_id, text or "", model.count_tokens,
                               ChunkSettings().max_chunk_tokens, set())
        with db.cursor() as cur:
            chunks = cur.execute("SELECT count(*) FROM chunks").fetchone()[0]
        db.close()
        rules = load_rules()
        settings = TriageSettings()
        policy = triage_policy(rules.version, resolve_scorer(None), settings.recall_target)
        seconds = []
        for repeat in range(repeats):
            copy = work / f"flag-{repeat}.duckdb"
            shutil.copy(template, copy)
            db = Database(copy)
            started = time.perf_counter()
            flag_stored_chunks(db, "bench", rules, settings, policy)
            seconds.append(time.perf_counter() - started)
            db.close()
        return seconds, chunks
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--chunk-chars", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
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
    stage_seconds, stage_chunks = flag_stage_seconds(records, args.repeats)
    stage_s = statistics.median(stage_seconds)
    stage_per_1000 = 1000 / stage_chunks
    database_s = max(0.0, stage_s * stage_per_1000 - (rules_seconds + scorer_seconds) * per_1000)
    print(f"flag stage (pipeline chunks: {stage_chunks}): {stage_s * stage_per_1000:.1f} "
          f"({(max(stage_seconds) - min(stage_seconds)) * stage_per_1000:.1f}); the database "
          f"and the decisions, what is left after the scan and the scorer: {database_s:.1f}")
    if args.json:
        figures = {
            "contracts": len(documents), "bench_chunks": chunks, "stage_chunks": stage_chunks,
            "flag_ms_per_1000_chunks": round(stage_s * stage_per_1000 * 1000, 1),
            "flag_spread_ms_per_1000_chunks": round(
                (max(stage_seconds) - min(stage_seconds)) * stage_per_1000 * 1000, 1),
            "parts_s_per_1000_chunks": {
                "rule_packs": round(rules_seconds * per_1000, 2),
                "patterns": round(pattern_s * per_1000, 2),
                "entity_pass": round(entity_s * per_1000, 2),
                "entity_pass_before": round(before_s * per_1000, 2),
                "clause_scorer": round(scorer_seconds * per_1000, 2),
                "database_and_decisions": round(database_s, 2)},
            "entity_pass_speedup": round(before_s / entity_s, 2),
            "person_spans_differing": differing,
            "repeats": args.repeats,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
