"""The document reduce: chunk summaries combined into one summary per fully summarized document."""

from __future__ import annotations

from compliance.adapters.model_registry import ModelSpec
from compliance.store.db import Database
from compliance.textnorm import sha256_text
from compliance.vocab import readable_current
from tasks.summarize.booking import account_call, ledger_booker
from tasks.summarize.cache import cached_summary, store_summary, summary_key
from tasks.summarize.calls import ModelCalls
from tasks.summarize.judge import extractive_summary
from tasks.summarize.prompts import (
    DOCUMENT_PROMPT_VERSION,
    DOCUMENT_SYSTEM_PROMPT,
    MIN_CHARS_FOR_MODEL,
)
from tasks.summarize.results import LocalBudget, SummarizeResult, SummaryDraft

REDUCE_INPUT_TOKENS = 900


def summarize_documents(db: Database, run_id: str, spec: ModelSpec, calls: ModelCalls,
                        budget: LocalBudget, result: SummarizeResult,
                        doc_ids: list[int] | None = None) -> None:
    """Reduce chunk summaries into one summary per fully summarized document (or of doc_ids)."""
    with db.cursor() as cur:
        docs = cur.execute(
            f"""
            SELECT d.doc_id FROM documents d
            WHERE {readable_current("d")}
              AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
              AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id
                              AND c.summary_status = 'pending')
              AND NOT EXISTS (SELECT 1 FROM document_summaries s WHERE s.doc_id = d.doc_id)
              AND (? IS NULL OR list_contains(?, d.doc_id))
            ORDER BY d.risk_hint_score DESC, d.doc_id
            """,
            [doc_ids, doc_ids],
        ).fetchall()
    for (doc_id,) in docs:
        with db.cursor() as cur:
            parts = cur.execute(
                """
                SELECT s.summary, s.summary_key FROM chunks c
                JOIN summaries s ON s.summary_key = c.summary_key
                WHERE c.doc_id = ? ORDER BY c.seq
                """,
                [doc_id],
            ).fetchall()
        if len(parts) == 1:
            key = parts[0][1]  # a one-chunk document: its chunk summary is its summary
        else:
            key = _reduce(db, run_id, spec, calls, budget, result, doc_id,
                          [summary for summary, _ in parts])
            if key is None:
                result.budget_exhausted = True
                continue
        with db.cursor() as cur:
            cur.execute("INSERT INTO document_summaries VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [doc_id, key, run_id])
        result.documents_done += 1


def _reduce(db: Database, run_id: str, spec: ModelSpec, calls: ModelCalls, budget: LocalBudget,
            result: SummarizeResult, doc_id: int, summaries: list[str]) -> str | None:
    """Tree-reduce summaries until they fit one call; return the final summary's key."""
    level = summaries
    while True:
        groups: list[list[str]] = [[]]
        # ~4 characters per token: keep each reduce call's input near REDUCE_INPUT_TOKENS.
        for item in level:
            if groups[-1] and sum(len(x) for x in groups[-1]) + len(item) > REDUCE_INPUT_TOKENS * 4:
                groups.append([])
            groups[-1].append(item)
        next_level = []
        key = None
        for group in groups:
            text = "\n".join(f"- {s}" for s in group)
            input_hash = sha256_text(text)
            key = summary_key("document", input_hash, spec, DOCUMENT_PROMPT_VERSION)
            cached = cached_summary(db, key)
            if cached is not None:
                result.cache_hits += 1
                next_level.append(cached)
                continue

            book = ledger_booker(db, result, run_id, spec, "document_summary",
                                 DOCUMENT_PROMPT_VERSION, key, doc_id=doc_id)
            if len(text) < MIN_CHARS_FOR_MODEL:
                draft = SummaryDraft(extractive_summary(text), [], [], "extractive_short")
            elif budget.exhausted() or budget.allotment() == 0:
                return None
            else:
                allotted = budget.allot(budget.allotment())
                draft = account_call(
                    calls.submit(DOCUMENT_SYSTEM_PROMPT, text, allotted).result(), text,
                    budget, book, result, allotted)
                if draft is None:  # stopped at the local budget: the document stays pending
                    return None
            result.methods[draft.method] += 1
            with db.transaction() as cur:
                store_summary(cur, key, "document", input_hash, spec, DOCUMENT_PROMPT_VERSION,
                              draft, len(text), run_id)
            next_level.append(draft.summary)
        if len(groups) == 1:
            return key
        level = next_level
