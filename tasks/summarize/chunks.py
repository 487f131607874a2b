"""The chunk loop: summarize each distinct pending chunk text once, from the cache or the model."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

import duckdb

from compliance import context
from compliance.adapters.model_registry import ModelSpec
from compliance.store.db import Database
from tasks.summarize.booking import account_call, ledger_booker
from tasks.summarize.cache import cached_summary, store_summary, summary_key
from tasks.summarize.calls import ModelCalls, PendingCall
from tasks.summarize.judge import extractive_summary
from tasks.summarize.prompts import CHUNK_PROMPT_VERSION, CHUNK_SYSTEM_PROMPT, MIN_CHARS_FOR_MODEL
from tasks.summarize.results import LocalBudget, SummarizeResult, SummaryDraft

# Current documents with a finding a reviewer has not closed.
WITH_OPEN_FINDINGS = ("SELECT DISTINCT doc_id FROM findings "
                      "WHERE disposition IN ('open', 'confirmed')")


def documents_with_open_findings(cur: duckdb.DuckDBPyConnection) -> list[int]:
    """doc_id of every document with an open or confirmed finding."""
    return [row[0] for row in cur.execute(WITH_OPEN_FINDINGS + " ORDER BY 1").fetchall()]


# (chunk_hash, first chunk_id, doc_id, text_sha256, char_start, char_end) of a pending text.
PendingGroup = tuple[str, int, int, str | None, int, int]


def pending_chunk_groups(cur: duckdb.DuckDBPyConnection, doc_ids: list[int] | None = None,
                         ) -> list[PendingGroup]:
    """Distinct pending chunk texts, of documents with open findings first, then the riskiest
    and newest (or of doc_ids only): when the local budget runs out, what a reviewer reads
    first is summarized.

    Offsets, not texts: `with_texts` slices them from each document's text, fetched once. SQL
    substring() counts characters from the start of the text on every call, quadratic in a
    long document, and the run's texts would all be in memory at once.
    """
    rows = cur.execute(
        """
        WITH with_findings AS ("""
        + WITH_OPEN_FINDINGS + """
        ),
        pending AS (
            SELECT c.chunk_hash, c.chunk_id, c.doc_id, c.char_start, c.char_end,
                   d.text_sha256, d.risk_hint_score, d.mtime,
                   w.doc_id IS NOT NULL AS has_findings,
                   row_number() OVER (PARTITION BY c.chunk_hash
                                      ORDER BY w.doc_id IS NOT NULL DESC, d.risk_hint_score DESC,
                                               d.mtime DESC NULLS LAST, c.chunk_id) AS rank
            FROM chunks c JOIN documents d USING (doc_id)
            LEFT JOIN with_findings w ON w.doc_id = c.doc_id
            WHERE c.summary_status = 'pending' AND d.is_current
              AND (? IS NULL OR list_contains(?, c.doc_id))
        )
        SELECT p.chunk_hash, p.chunk_id, p.doc_id, p.text_sha256, p.char_start, p.char_end
        FROM pending p
        WHERE p.rank = 1
        ORDER BY p.has_findings DESC, p.risk_hint_score DESC, p.mtime DESC NULLS LAST, p.doc_id,
                 p.chunk_id
        """,
        [doc_ids, doc_ids],
    ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def with_texts(db: Database, groups: Iterable[PendingGroup]
               ) -> Iterator[tuple[str, int, int, str]]:
    """(chunk_hash, first chunk_id, doc_id, text) of each group, in order.

    Groups come document by document, so only the current document's text is held; a
    document met again later is fetched again.
    """
    sha: str | None = None
    text = ""
    for chunk_hash, chunk_id, doc_id, text_sha, start, end in groups:
        if text_sha != sha:
            sha = text_sha
            with db.cursor() as cur:
                row = cur.execute("SELECT text FROM texts WHERE text_sha256 = ?",
                                  [text_sha]).fetchone()
            text = row[0] if row else ""
        yield chunk_hash, chunk_id, doc_id, text[start:end]


def summarize_chunks(db: Database, run_id: str, spec: ModelSpec, calls: ModelCalls,
                     budget: LocalBudget,
                     progress: Callable[[str], None] = lambda message: None,
                     doc_ids: list[int] | None = None) -> SummarizeResult:
    """Summarize each distinct pending chunk text once: from the cache, or the model in budget.

    Model calls go to `calls` with up to `calls.window` in flight; their answers are stored
    here, in submission order, as they arrive. Each call is allotted its share of the budget
    left before it starts and stops when that is used (see `LocalBudget`); a call stopped so
    leaves its chunk pending. A call starts only with an allotment of at least the mean cost
    of the calls so far (while calls are in flight it waits for them first).
    """
    result = SummarizeResult()
    with db.cursor() as cur:
        pending = pending_chunk_groups(cur, doc_ids)
    total = len(pending)
    in_flight: deque[tuple[tuple[str, int, int, str], str, PendingCall, float | None]] = deque()

    def mark_done(chunk_hash: str, key: str) -> None:
        with db.cursor() as cur:
            done = cur.execute(
                """
                UPDATE chunks SET summary_status = 'done', summary_key = ?
                WHERE chunk_hash = ? AND summary_status = 'pending'
                """,
                [key, chunk_hash],
            ).fetchone()
        result.chunks_done += int(done[0]) if done else 0

    def store(group: tuple[str, int, int, str], key: str, draft: SummaryDraft | None) -> None:
        if draft is None:  # stopped at the local budget: stays pending
            return
        chunk_hash, _, _, text = group
        result.methods[draft.method] += 1
        with db.transaction() as cur:
            store_summary(cur, key, "chunk", chunk_hash, spec, CHUNK_PROMPT_VERSION, draft,
                          len(text), run_id)
        mark_done(chunk_hash, key)

    def finish(group: tuple[str, int, int, str], key: str, pending: PendingCall,
               allotted: float | None) -> None:
        _, chunk_id, doc_id, text = group

        book = ledger_booker(db, result, run_id, spec, "chunk_summary", CHUNK_PROMPT_VERSION,
                             key, chunk_id=chunk_id, doc_id=doc_id)
        store(group, key, account_call(pending.result(), text, budget, book, result, allotted))

    def mean_call() -> float:
        return result.model_seconds / result.model_calls if result.model_calls else 0.0

    def allotment() -> float | None:
        """The budget left, shared by the free slots of the window it can pay for."""
        free = max(1, calls.window) - len(in_flight)
        left = budget.allotment()
        if left is not None and mean_call() > 0:
            free = min(free, max(1, int(left // mean_call())))
        return budget.allotment(free)

    def too_little(seconds: float | None) -> bool:
        return seconds is not None and (seconds <= 0 or seconds < mean_call())

    handled = 0

    def advance() -> None:
        nonlocal handled
        handled += 1
        context.report(context.SUMMARIZE, handled, total)
        if handled % 10 == 0:
            progress(f"summarized {handled}/{total} distinct chunks")

    for group in with_texts(db, pending):
        chunk_hash, _, _, text = group
        key = summary_key("chunk", chunk_hash, spec, CHUNK_PROMPT_VERSION)
        if cached_summary(db, key) is not None:
            result.cache_hits += 1
            mark_done(chunk_hash, key)
            advance()
            continue
        if len(text) < MIN_CHARS_FOR_MODEL:
            store(group, key, SummaryDraft(extractive_summary(text), [], [], "extractive_short"))
            advance()
            continue
        # A full window waits for its first answer; so does a call whose share of the budget
        # left would be less than a call costs, as answers give back what they did not use.
        while in_flight and (len(in_flight) >= max(1, calls.window)
                             or too_little(allotment())):
            finish(*in_flight.popleft())
            advance()
        seconds = allotment()
        if budget.exhausted() or too_little(seconds):
            result.budget_exhausted = True
            advance()
            continue  # over budget: stays pending, first in line next run
        allotted = budget.allot(seconds)
        in_flight.append((group, key, calls.submit(CHUNK_SYSTEM_PROMPT, text, allotted),
                          allotted))
    while in_flight:
        finish(*in_flight.popleft())
        advance()
    return result
