"""The chunk loop: summarize each distinct pending chunk text once, from the cache or the model."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

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


def pending_chunk_groups(cur: duckdb.DuckDBPyConnection, doc_ids: list[int] | None = None,
                         ) -> list[tuple[str, int, int, str]]:
    """Distinct pending chunk texts, riskiest and newest documents first (or of doc_ids only).

    Returns (chunk_hash, first chunk_id, doc_id, text) per distinct text.
    """
    rows = cur.execute(
        """
        WITH pending AS (
            SELECT c.chunk_hash, c.chunk_id, c.doc_id, c.char_start, c.char_end,
                   d.text_sha256, d.risk_hint_score, d.mtime,
                   row_number() OVER (PARTITION BY c.chunk_hash
                                      ORDER BY d.risk_hint_score DESC, d.mtime DESC NULLS LAST,
                                               c.chunk_id) AS rank
            FROM chunks c JOIN documents d USING (doc_id)
            WHERE c.summary_status = 'pending' AND d.is_current
              AND (? IS NULL OR list_contains(?, c.doc_id))
        )
        SELECT p.chunk_hash, p.chunk_id, p.doc_id,
               substring(t.text, p.char_start + 1, p.char_end - p.char_start) AS chunk_text
        FROM pending p JOIN texts t USING (text_sha256)
        WHERE p.rank = 1
        ORDER BY p.risk_hint_score DESC, p.mtime DESC NULLS LAST, p.doc_id, p.chunk_id
        """,
        [doc_ids, doc_ids],
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def summarize_chunks(db: Database, run_id: str, spec: ModelSpec, calls: ModelCalls,
                     budget: LocalBudget,
                     progress: Callable[[str], None] = lambda message: None,
                     doc_ids: list[int] | None = None) -> SummarizeResult:
    """Summarize each distinct pending chunk text once: from the cache, or the model in budget.

    Model calls go to `calls` with up to `calls.window` in flight; their answers are stored
    here, in submission order, as they arrive. The budget is checked before each call against
    the calls already answered, so it may be overrun by the calls still in flight.
    """
    result = SummarizeResult()
    with db.cursor() as cur:
        groups = pending_chunk_groups(cur, doc_ids)
    in_flight: deque[tuple[tuple[str, int, int, str], str, PendingCall]] = deque()

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

    def store(group: tuple[str, int, int, str], key: str, draft: SummaryDraft) -> None:
        chunk_hash, _, _, text = group
        result.methods[draft.method] += 1
        with db.transaction() as cur:
            store_summary(cur, key, "chunk", chunk_hash, spec, CHUNK_PROMPT_VERSION, draft,
                          len(text), run_id)
        mark_done(chunk_hash, key)

    def finish(group: tuple[str, int, int, str], key: str, pending: PendingCall) -> None:
        _, chunk_id, doc_id, text = group

        book = ledger_booker(db, result, run_id, spec, "chunk_summary", CHUNK_PROMPT_VERSION,
                             key, chunk_id=chunk_id, doc_id=doc_id)
        store(group, key, account_call(pending.result(), text, budget, book, result))

    handled = 0

    def advance() -> None:
        nonlocal handled
        handled += 1
        context.report(context.SUMMARIZE, handled, len(groups))
        if handled % 10 == 0:
            progress(f"summarized {handled}/{len(groups)} distinct chunks")

    for group in groups:
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
        while len(in_flight) >= max(1, calls.window):
            finish(*in_flight.popleft())
            advance()
        if budget.exhausted():
            result.budget_exhausted = True
            advance()
            continue  # over budget: stays pending, first in line next run
        in_flight.append((group, key, calls.submit(CHUNK_SYSTEM_PROMPT, text)))
    while in_flight:
        finish(*in_flight.popleft())
        advance()
    return result
