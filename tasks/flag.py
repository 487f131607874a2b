"""Flag chunks with the rule packs, decide per chunk whether to escalate, cut redacted windows."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from compliance.context import RunContext
from compliance.rules.matching import Hit, RuleSet, WholeDocument, merge_spans, severity_weight
from compliance.scoring.policy import TriagePolicy
from compliance.scoring.units import CLAUSE_END
from compliance.settings import TriageSettings
from compliance.store.db import Database
from compliance.store.texts import texts_for
from compliance.textnorm import sha256_text
from compliance.vocab import readable_current
from tasks.stage import as_task
from tasks.workers import in_order, worker_label, worker_threads

_CLAUSE_END = CLAUSE_END
SCORER_RULE_ID = "clause-scorer"

# Chunks scanned together: spaCy pipes them in one go, and the scan's working copies of their
# texts stay this many chunks long however long the document is.
SCAN_BATCH = 256


def scorer_rule_id(category: str) -> str:
    """The rule id a scorer window carries for the judge: the scorer and the category."""
    return f"{SCORER_RULE_ID}.{category}"
MAX_CLAUSE_CHARS = 1500


@dataclass
class FlagResult:
    """What flagging and triage did."""

    chunks_scanned: int = 0
    chunks_flagged: int = 0
    chunks_escalate: int = 0
    windows: int = 0
    flags_by_category: Counter = field(default_factory=Counter)
    workers: Counter = field(default_factory=Counter)  # documents scanned per process


def documents_to_flag(cur: duckdb.DuckDBPyConnection, rules_version: str
                      ) -> list[tuple[int, str]]:
    """(doc_id, text_sha256) of current documents with chunks not triaged for this version."""
    return cur.execute(
        f"""
        SELECT d.doc_id, d.text_sha256 FROM documents d
        WHERE {readable_current("d")}
          AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id
                      AND NOT EXISTS (SELECT 1 FROM triage r WHERE r.chunk_id = c.chunk_id
                                      AND r.rules_version = ?))
        ORDER BY d.doc_id
        """,
        [rules_version],
    ).fetchall()


def chunks_to_flag(cur: duckdb.DuckDBPyConnection, doc_id: int, rules_version: str
                   ) -> list[tuple[int, int, int]]:
    """(chunk_id, char_start, char_end) of one document's chunks not triaged for this version.

    Offsets only: the text is sliced from the document's text, fetched once. SQL substring()
    counts characters from the start of the text on every call, quadratic in its size. The
    triage rows are read by the range of the document's chunk ids, which DuckDB's zone maps
    narrow to a few row groups: a NOT EXISTS join would scan the whole triage table for every
    document, a cost that grows with the database.
    """
    chunks = cur.execute(
        "SELECT chunk_id, char_start, char_end FROM chunks WHERE doc_id = ? ORDER BY chunk_id",
        [doc_id],
    ).fetchall()
    if not chunks:
        return []
    triaged = {row[0] for row in cur.execute(
        "SELECT chunk_id FROM triage WHERE rules_version = ? AND chunk_id BETWEEN ? AND ?",
        [rules_version, chunks[0][0], chunks[-1][0]],
    ).fetchall()}
    return [(chunk_id, start, end) for chunk_id, start, end in chunks
            if chunk_id not in triaged]


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: from the previous clause end to the next one."""
    floor = max(0, start - MAX_CLAUSE_CHARS)
    before = [m.end() for m in _CLAUSE_END.finditer(text, floor, start)]
    after = _CLAUSE_END.search(text, end, min(len(text), end + MAX_CLAUSE_CHARS))
    return (before[-1] if before else floor,
            after.start() if after else min(len(text), end + MAX_CLAUSE_CHARS))


def _widen(text: str, start: int, end: int, min_chars: int) -> tuple[int, int]:
    """Add the next clause, then the previous one, while the window is under min_chars.

    A heading ("4. Exclusivity.") or a list lead-in is a clause of its own; the obligation a
    reviewer needs is in the clause beside it.
    """
    if end - start < min_chars and end < len(text):
        end = clause_bounds(text, end + 1, end + 1)[1]
    if end - start < min_chars and start > 0:
        start = clause_bounds(text, start - 1, start - 1)[0]
    return start, end


def scored_clauses(text: str, hits: list[Hit]) -> list[tuple[int, int, int]]:
    """(start, end, score) of each clause holding escalating hits; overlapping clauses merge.

    A clause scores the summed severity weights of the distinct rules that hit it, so a word
    repeated in a clause counts once and two different weak cues add up.
    """
    groups: list[tuple[int, int, dict[str, int]]] = []
    for hit in sorted((h for h in hits if h.action == "escalate"),
                      key=lambda h: (h.start, h.end)):
        start, end = clause_bounds(text, hit.start, hit.end)
        weight = {hit.rule_id: severity_weight(hit.severity)}
        if groups and start < groups[-1][1]:
            last_start, last_end, rules = groups[-1]
            groups[-1] = (last_start, max(last_end, end), rules | weight)
        else:
            groups.append((start, end, weight))
    return [(start, end, sum(rules.values())) for start, end, rules in groups]


@dataclass(frozen=True)
class Decision:
    """Triage of one chunk: its score, the decision and the windows to send (chunk offsets)."""

    score: int
    decision: str
    reasons: list[str]
    windows: list[tuple[int, int]]
    # (rule id, category) of the hits elsewhere in the document that sent this chunk whole.
    because: tuple[tuple[str, str], ...] = ()
    # The clause scorer's units that reached its threshold: (start, end, score, category).
    scored: tuple[tuple[int, int, float, str], ...] = ()
    # The chunk's best unit score (None when no scorer ran).
    scorer_score: float | None = None
    # Every unit the scorer scored: (start, end, score, category).
    units: tuple[tuple[int, int, float, str], ...] = ()


def _reads_as_contract(chunks: list[tuple[str, list[Hit]]], policy: TriagePolicy) -> bool:
    """Whether the scorer should decide this document: some rule of the packs it reads (the
    contract pack) hit it. The scorer learned contracts; on a mail or a leaflet it would send a
    quarter of the text for nothing, so those stay with their own rule packs."""
    scorer = policy.scorer
    if scorer is None or scorer.stage_two is None:
        return scorer is not None
    wanted = set(scorer.stage_two.rule_categories)
    return any(hit.category in wanted for _, hits in chunks for hit in hits)


def scored_units(chunks: list[tuple[str, list[Hit]]], policy: TriagePolicy,
                 offsets: list[int] | None = None, length: int | None = None
                 ) -> list[list[tuple[int, int, float, str]]]:
    """Every unit of every chunk of one document, with its score and category (chunk offsets).

    The scorer reads a unit in its document (neighbours, rank, rule hits), so a document is
    scored whole. offsets: each chunk's start in the document (default: chunks back to back).
    """
    if policy.scorer is None or not _reads_as_contract(chunks, policy):
        return [[] for _ in chunks]
    if offsets is None:
        offsets = [sum(len(text) for text, _ in chunks[:i]) for i in range(len(chunks))]
    if length is None:
        length = max((o + len(t) for o, (t, _) in zip(offsets, chunks, strict=True)), default=0)
    return policy.scorer.score_document(
        [(offset, text, hits) for offset, (text, hits) in zip(offsets, chunks, strict=True)],
        length)


def decide(text: str, hits: list[Hit], settings: TriageSettings,
           policy: TriagePolicy | None = None,
           units: list[tuple[int, int, float, str]] | None = None) -> Decision:
    """Escalate the units the clause scorer rates at its threshold, and the clauses whose rules
    weigh at least the rule threshold; the chunk scores its best clause.

    Rules of the categories the scorer decides add no windows of their own (their hits stay
    recorded as flags): the scorer was trained to do better on exactly those.
    """
    policy = policy or TriagePolicy("")
    covered = policy.categories
    escalating = [h for h in hits if h.action == "escalate" and h.category not in covered]
    clauses = scored_clauses(text, escalating)
    reasons = sorted({h.rule_id for h in escalating})
    score = max((score for _, _, score in clauses), default=0)
    windows = [_widen(text, start, end, settings.min_window_chars)
               for start, end, clause_score in clauses if clause_score >= settings.triage_threshold]
    if units is None:
        units = scored_units([(text, hits)], policy)[0]
    best = max((unit[2] for unit in units), default=None)
    scored: tuple[tuple[int, int, float, str], ...] = ()
    if policy.point is not None:
        scored = tuple(u for u in units if u[2] >= policy.point.threshold)
    if scored:
        reasons = sorted({*reasons, SCORER_RULE_ID})
        windows += [(start, end) for start, end, _, _ in scored]
    if not windows:
        return Decision(score, "routine", reasons, [], scorer_score=best, units=tuple(units))
    return Decision(score, "escalate", reasons, merge_spans(windows), scored=scored,
                    scorer_score=best, units=tuple(units))


def decide_document(chunks: list[tuple[str, list[Hit]]], settings: TriageSettings,
                    whole_document: list[WholeDocument],
                    policy: TriagePolicy | None = None, offsets: list[int] | None = None,
                    length: int | None = None) -> list[Decision]:
    """Decide each chunk of one document; a pack's whole-document policy can send them all.

    Promotional copy phrases its claims too freely for patterns, so a short document where
    several different rules of such a pack hit is judged whole rather than clause by clause.
    """
    units = scored_units(chunks, policy or TriagePolicy(""), offsets, length)
    verdicts = [decide(text, hits, settings, policy, chunk_units)
                for (text, hits), chunk_units in zip(chunks, units, strict=True)]
    for policy in whole_document:
        because = tuple(sorted({(h.rule_id, h.category) for _, hits in chunks for h in hits
                                if h.pack == policy.pack and h.action == "escalate"}))
        if (len(chunks) <= policy.max_chunks
                and len({rule for rule, _ in because}) >= policy.min_distinct_rules):
            reason = f"whole document: {len(because)} rules of {policy.pack}"
            return [Decision(verdict.score, "escalate", [*verdict.reasons, reason],
                             [(0, len(text))], because, verdict.scored, verdict.scorer_score,
                             verdict.units)
                    for verdict, (text, _) in zip(verdicts, chunks, strict=True)]
    return verdicts


def window_reasons(verdict: Decision, hits: list[Hit], start: int, end: int
                   ) -> tuple[set[str], set[str]]:
    """Rule ids and categories that put text[start:end] in escalation.

    They are its own escalating hits, the scorer's units in it with their categories and, for a
    document sent whole, the hits elsewhere in it.
    """
    inside = [h for h in hits if h.action == "escalate" and h.start < end and h.end > start]
    units = [u for u in verdict.scored if u[0] < end and u[1] > start]
    return ({h.rule_id for h in inside} | {rule for rule, _ in verdict.because}
            | {scorer_rule_id(u[3]) for u in units},
            {h.category for h in inside} | {category for _, category in verdict.because}
            | {u[3] for u in units})


def known_personal_data(scanned: Iterable[tuple[str, list[Hit]]]) -> set[tuple[str, str, str]]:
    """(kind, value, rule id) of every personal-data hit of a document's (text, hits) chunks."""
    return {(hit.redact_as, text[hit.start:hit.end], hit.rule_id)
            for text, hits in scanned for hit in hits if hit.redact_as}


def _also_known(text: str, start: int, end: int,
                known: Iterable[tuple[str, str, str]]) -> list[Hit]:
    """Hits for personal data found elsewhere in the document that recurs in text[start:end].

    The entity model can tag a name in one sentence and miss it in another ("Cc: Tobias ..."
    in a mail header); a value found once is redacted wherever it recurs.
    """
    extra = []
    for kind, value, rule_id in known:
        if len(value) < 3:
            continue
        for match in re.finditer(re.escape(value), text[start:end]):
            extra.append(Hit(rule_id, "personal_data", "high", "record", start + match.start(),
                             start + match.end(), "", "", kind))
    return extra


def redact(text: str, start: int, end: int, hits: list[Hit],
           known: Iterable[tuple[str, str, str]] = ()
           ) -> tuple[str, list[tuple[str, str, str]]]:
    """Replace personal data in text[start:end] with typed placeholders like [EMAIL_1].

    Returns the redacted text and (placeholder, original, rule_id) for the local mapping. A
    personal-data span cut by the window edge is still replaced whole; `known` personal data
    found elsewhere in the document is replaced where it recurs.
    """
    hits = [*hits, *_also_known(text, start, end, known)]
    pii = sorted((h for h in hits if h.redact_as and h.end > start and h.start < end),
                 key=lambda h: (h.start, -h.end))
    numbers: dict[str, int] = {}
    placeholders: dict[tuple[str, str], str] = {}
    mapping: list[tuple[str, str, str]] = []
    pieces: list[str] = []
    cursor = start
    for hit in pii:
        if hit.start < cursor:
            continue  # nested in a span already replaced
        original = text[hit.start:hit.end]
        key = (hit.redact_as or "PII", original)
        if key not in placeholders:
            numbers[key[0]] = numbers.get(key[0], 0) + 1
            placeholders[key] = f"[{key[0]}_{numbers[key[0]]}]"
            mapping.append((placeholders[key], original, hit.rule_id))
        pieces.append(text[cursor:max(cursor, hit.start)])
        pieces.append(placeholders[key])
        cursor = hit.end
    if cursor < end:
        pieces.append(text[cursor:end])
    return "".join(pieces).strip(), mapping


def flag_stored_chunks(db: Database, run_id: str, rules: RuleSet, settings: TriageSettings,
                       policy: TriagePolicy | None = None, runner: Any = None) -> FlagResult:
    """Scan every untriaged chunk; store flags, the decision and redacted windows.

    A document is decided and stored in one transaction, so none is ever half triaged and a
    whole-document policy always sees all of its chunks. runner: a Dask task runner to scan
    on (tasks/workers.py); deciding and storing stay here.
    """
    policy = policy or TriagePolicy(rules.version)
    result = FlagResult()
    # One document at a time is scanned: its text, its chunks' slices and their hits (the
    # scorer and the whole-document policy read a document whole); the texts are read a
    # bounded page at a time, never the run's texts at once, and never one lookup each.
    with db.cursor() as reader:
        documents = documents_to_flag(reader, policy.version)
        pieces = _pieces_to_scan(db, texts_for(reader, documents), policy.version)
        if runner is None:
            scanned = (((doc_id, chunks, texts), scan_pieces(rules, texts))
                       for doc_id, chunks, texts in pieces)
        else:
            # A few documents per worker in flight: the texts held here stay bounded.
            scanned = in_order(runner, SCAN_ON_WORKER.task,
                               (((doc_id, chunks, texts), {"rules": rules, "pieces": texts})
                                for doc_id, chunks, texts in pieces),
                               window=2 * worker_threads(runner))
        for (doc_id, chunks, texts), (hits, worker) in scanned:
            result.workers[worker] += 1
            _store_document(db, run_id, rules, settings, policy, result, doc_id, chunks,
                            list(zip(texts, hits, strict=True)))
    return result


def _pieces_to_scan(db: Database, texts: Iterable[tuple[int, str | None]], version: str
                    ) -> Iterator[tuple[int, list[tuple[int, int, int]], list[str]]]:
    """Each document's untriaged chunks and their texts, cut from the document's text."""
    for doc_id, text in texts:
        with db.cursor() as cur:
            chunks = chunks_to_flag(cur, doc_id, version)
        yield doc_id, chunks, [(text or "")[start:end] for _, start, end in chunks]


def scan_pieces(rules: RuleSet, pieces: list[str]) -> tuple[list[list[Hit]], str]:
    """Every rule's hits in each chunk text (SCAN_BATCH texts per entity pass), and the
    process that found them."""
    hits: list[list[Hit]] = []
    for first in range(0, len(pieces), SCAN_BATCH):
        hits += rules.scan_many(pieces[first:first + SCAN_BATCH])
    return hits, worker_label()


# The scan as a task run on a Dask worker: the rule packs travel by value (~23 KB).
SCAN_ON_WORKER = as_task("scan-chunks")(scan_pieces)


def _store_document(db: Database, run_id: str, rules: RuleSet, settings: TriageSettings,
                    policy: TriagePolicy, result: FlagResult, doc_id: int,
                    chunks: list[tuple[int, int, int]], scanned: list[tuple[str, list[Hit]]]
                    ) -> None:
    """Decide and store one document's scanned chunks in one transaction."""
    verdicts = decide_document(scanned, settings, rules.whole_document, policy,
                               [start for _, start, _ in chunks])
    known = known_personal_data(scanned)
    with db.transaction() as cur:
        for (chunk_id, chunk_start, _end), (chunk_text, hits), verdict in zip(
                chunks, scanned, verdicts, strict=True):
            _store_chunk(cur, run_id, policy, settings, result, chunk_id, doc_id,
                         chunk_start, chunk_text, hits, verdict, known)


def _store_chunk(cur: duckdb.DuckDBPyConnection, run_id: str, policy: TriagePolicy,
                 settings: TriageSettings, result: FlagResult, chunk_id: int, doc_id: int,
                 chunk_start: int, text: str, hits: list[Hit], verdict: Decision,
                 known: set[tuple[str, str, str]]) -> None:
    """Write one chunk's flags, its triage row and its redacted escalation windows."""
    result.chunks_scanned += 1
    for hit in hits:
        cur.execute(
            """
            INSERT INTO flags (chunk_id, doc_id, rule_id, category, severity, action,
                char_start, char_end, matched_text, pack, pack_version, rules_version, run_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [chunk_id, doc_id, hit.rule_id, hit.category, hit.severity, hit.action,
             chunk_start + hit.start, chunk_start + hit.end, text[hit.start:hit.end],
             hit.pack, hit.pack_version, policy.version, run_id],
        )
        result.flags_by_category[hit.category] += 1
    cur.execute(
        """
        INSERT INTO triage (chunk_id, rules_version, score, decision, reasons, escalation_status,
            run_id, scorer_version, scorer_score, scorer_threshold)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [chunk_id, policy.version, verdict.score, verdict.decision, json.dumps(verdict.reasons),
         "pending" if verdict.decision == "escalate" else "not_needed", run_id,
         policy.scorer.version if policy.scorer else None, verdict.scorer_score,
         policy.point.threshold if policy.point else None],
    )
    if verdict.units:
        threshold = policy.point.threshold if policy.point else float("inf")
        # One statement per chunk: row-by-row inserts are DuckDB's slow path.
        cur.execute(
            "INSERT INTO triage_units VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(verdict.units)),
            [value for start, end, score, category in verdict.units
             for value in (chunk_id, doc_id, policy.version, chunk_start + start,
                           chunk_start + end, score, category, score >= threshold, run_id)])
    if hits:
        result.chunks_flagged += 1
    if verdict.decision != "escalate":
        return
    result.chunks_escalate += 1
    for start, end in verdict.windows:
        rule_ids, categories = window_reasons(verdict, hits, start, end)
        if settings.redact_personal_data:
            redacted, mapping = redact(text, start, end, hits, known)
        else:
            redacted, mapping = text[start:end].strip(), []
        window_id = cur.execute(
            """
            INSERT INTO escalation_windows (chunk_id, doc_id, rules_version, char_start,
                char_end, rule_ids, categories, redacted_text, redacted_sha256, status, run_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) RETURNING window_id
            """,
            [chunk_id, doc_id, policy.version, chunk_start + start, chunk_start + end,
             json.dumps(sorted(rule_ids)), json.dumps(sorted(categories)), redacted,
             sha256_text(redacted), run_id],
        ).fetchone()[0]
        for placeholder, original, rule_id in mapping:
            cur.execute("INSERT INTO redactions VALUES (?, ?, ?, ?)",
                        [window_id, placeholder, original, rule_id])
        result.windows += 1


def record_operating_point(db: Database, run_id: str, policy: TriagePolicy) -> None:
    """Store the scorer, its threshold and what cross-validation expects of it with the run."""
    assert policy.scorer is not None and policy.point is not None
    with db.transaction() as cur:
        cur.execute(
            "UPDATE runs SET triage_version = ?, scorer_version = ?, recall_target = ?, "
            "scorer_threshold = ?, expected_recall = ?, expected_share = ? WHERE run_id = ?",
            [policy.version, policy.scorer.version, policy.point.recall_target,
             policy.point.threshold, policy.point.expected_recall, policy.point.expected_share,
             run_id])


@as_task("flag-chunks")
def flag_chunks(ctx: RunContext, settings: TriageSettings) -> FlagResult:
    """Apply the rule packs to untriaged chunks and decide what to escalate."""
    result = flag_stored_chunks(ctx.db, ctx.run_id, ctx.rules, settings, ctx.policy,
                                ctx.runner)
    if ctx.policy.point is not None:
        record_operating_point(ctx.db, ctx.run_id, ctx.policy)
    ctx.counts.chunks_flagged = result.chunks_flagged
    ctx.log.info("%d chunks scanned, %d flagged, %d to escalate (%d windows)",
                 result.chunks_scanned, result.chunks_flagged, result.chunks_escalate,
                 result.windows)
    return result
