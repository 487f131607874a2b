"""Summarize pending chunks with the local model, then reduce chunk summaries per document."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from compliance import context as stage_progress
from compliance.adapters.ledger import LocalCall, record_local_call
from compliance.adapters.local_llm import GENERATION_PARAMS, LocalModel, get_verified_model
from compliance.adapters.model_registry import ModelSpec
from compliance.store.db import Database
from compliance.textnorm import sha256_text, words
from compliance.vocab import readable_current

CHUNK_PROMPT_VERSION = "chunk-summary-v1"
DOCUMENT_PROMPT_VERSION = "document-summary-v1"

# The system prompt is the unchanging prefix of every call: byte-identical and first, so
# llama.cpp reuses its KV cache across calls instead of re-reading it.
CHUNK_SYSTEM_PROMPT = (
    "You write short summaries of business documents for a compliance officer. Read the excerpt "
    'and reply with JSON: "summary" is one or two sentences in your own words saying what the '
    'excerpt is about; "key_points" lists up to three short facts from it; "risk_signals" lists '
    "statements that may need compliance review (claims about safety or efficacy, personal data, "
    "financial promises, contract obligations), or is empty."
)
DOCUMENT_SYSTEM_PROMPT = (
    "You combine summaries of the parts of one document into a summary of the whole document for "
    'a compliance officer. Reply with JSON: "summary" is two or three sentences; "key_points" '
    'lists up to three facts; "risk_signals" lists up to three issues needing review, or is empty.'
)
# Every generated field is bounded: a tiny model at temperature 0 loops without limits.
SUMMARY_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 20, "maxLength": 320},
        "key_points": {"type": "array", "maxItems": 3,
                       "items": {"type": "string", "maxLength": 120}},
        "risk_signals": {"type": "array", "maxItems": 3,
                         "items": {"type": "string", "maxLength": 120}},
    },
    "required": ["summary", "key_points", "risk_signals"],
}
MIN_CHARS_FOR_MODEL = 280
REDUCE_INPUT_TOKENS = 900
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass
class SummaryDraft:
    """A summary and how it was made."""

    summary: str
    key_points: list[str]
    risk_signals: list[str]
    method: str


@dataclass
class LocalBudget:
    """Seconds of local model time this run may spend."""

    seconds: float | None
    spent: float = 0.0

    def exhausted(self) -> bool:
        """True once the budget is used up (None means unlimited)."""
        return self.seconds is not None and self.spent >= self.seconds


@dataclass
class SummarizeResult:
    """What the summarize stage did."""

    chunks_done: int = 0
    cache_hits: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0
    documents_done: int = 0
    methods: Counter = field(default_factory=Counter)
    budget_exhausted: bool = False
    # Where the model calls ran ("host:pid") -> calls, and how often each loaded the weights.
    workers: Counter = field(default_factory=Counter)
    model_loads: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelCall:
    """What one local model call returned: plain data, so it travels back from any worker."""

    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str | None = None
    worker: str = ""
    model_loads: int = 0


class PendingCall(Protocol):
    """A model call in flight (a Prefect future, or one already done)."""

    def result(self) -> ModelCall:
        """Wait for the call and return what it gave."""
        ...


class ModelCalls(Protocol):
    """Where model calls run: `submit` sends a text by value; `window` calls may be in flight."""

    window: int

    def submit(self, system_prompt: str, text: str) -> PendingCall:
        """Start one call."""
        ...


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_model(model: LocalModel, system_prompt: str, text: str) -> ModelCall:
    """One schema-constrained summary call on a loaded model; an error is returned, not raised."""
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": f'Excerpt:\n"""\n{text}\n"""'},
    ]
    started = time.perf_counter()
    try:
        completion = model.complete_json(messages, SUMMARY_SCHEMA)
    except Exception as exc:
        return ModelCall(None, seconds=time.perf_counter() - started,
                         error=f"{type(exc).__name__}: {exc}"[:500], worker=_worker_id(),
                         model_loads=model.loads)
    return ModelCall(completion.content, completion.prompt_tokens, completion.completion_tokens,
                     completion.seconds, completion.cpu_seconds, worker=_worker_id(),
                     model_loads=model.loads)


def call_local_model(spec: ModelSpec, system_prompt: str, text: str) -> ModelCall:
    """One call on this process's instance of the model (verified and loaded once per process)."""
    return run_model(get_verified_model(spec), system_prompt, text)


@dataclass
class _Done:
    call: ModelCall

    def result(self) -> ModelCall:
        return self.call


@dataclass
class InProcessCalls:
    """Model calls made at once, in this process."""

    spec: ModelSpec
    window: int = 1

    def submit(self, system_prompt: str, text: str) -> PendingCall:
        """Make the call now; the returned handle is already done."""
        return _Done(call_local_model(self.spec, system_prompt, text))


def params_hash() -> str:
    """Identity of the generation settings, part of every cache key."""
    return sha256_text(json.dumps(GENERATION_PARAMS, sort_keys=True))[:16]


def summary_key(kind: str, input_hash: str, spec: ModelSpec, prompt_version: str) -> str:
    """Cache key: same input, model bytes, prompt and settings give the same summary."""
    return sha256_text(f"{kind}|{input_hash}|{spec.sha256}|{prompt_version}|{params_hash()}")


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


def _shingles(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + size]) for i in range(max(0, len(tokens) - size + 1))}


def judge_summary(summary: str, source: str) -> str | None:
    """Why a model summary is unusable (None when it is fine): too long, a copy, or noise."""
    summary_words = words(summary)
    source_words = words(source)
    if len(summary_words) < 5:
        return "too short"
    if len(summary) >= 0.8 * len(source):
        return "not shorter than its input"
    letters = sum(ch.isalpha() or ch.isspace() for ch in summary)
    if letters < 0.8 * len(summary):
        return "mostly symbols"
    shingles = _shingles(summary_words, 6)
    if shingles and len(shingles & _shingles(source_words, 6)) / len(shingles) > 0.6:
        return "copies its input"
    vocabulary = set(source_words)
    content = [w for w in summary_words if len(w) > 3]
    if content and sum(w in vocabulary for w in content) / len(content) < 0.3:
        return "not grounded in its input"
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


def account_call(call: ModelCall, text: str, budget: LocalBudget, book: Callable[..., None],
                 result: SummarizeResult | None = None) -> SummaryDraft:
    """Book a finished call, charge the budget, and turn its answer into a draft (or fallback)."""
    budget.spent += call.seconds
    if result is not None and call.worker:
        result.workers[call.worker] += 1
        result.model_loads[call.worker] = call.model_loads
    if call.content is None:
        book(status="failed", input_tokens=0, output_tokens=0, seconds=call.seconds, cpu=0.0,
             error=call.error)
        return SummaryDraft(extractive_summary(text), [], [], "extractive_fallback")
    draft = parse_model_json(call.content)
    problem = "invalid JSON" if draft is None else judge_summary(draft.summary, text)
    book(status="settled", input_tokens=call.prompt_tokens, output_tokens=call.completion_tokens,
         seconds=call.seconds, cpu=call.cpu_seconds,
         error=f"output rejected: {problem}" if problem else None)
    if draft is None or problem:
        return SummaryDraft(extractive_summary(text), [],
                            draft.risk_signals if draft else [], "extractive_fallback")
    return draft


def ledger_booker(db: Database, result: SummarizeResult, run_id: str, spec: ModelSpec,
                  purpose: str, prompt_version: str, summary_key: str,
                  chunk_id: int | None = None, doc_id: int | None = None) -> Callable[..., None]:
    """The `book` callback of one summary call: a ledger row, and the run's call counts."""

    def book(status: str, input_tokens: int, output_tokens: int, seconds: float, cpu: float,
             error: str | None) -> None:
        result.model_calls += 1
        result.model_seconds += seconds
        with db.cursor() as cur:
            record_local_call(cur, LocalCall(
                run_id=run_id, purpose=purpose, model=spec.name, model_sha256=spec.sha256,
                prompt_version=prompt_version, input_tokens=input_tokens,
                output_tokens=output_tokens, duration_seconds=seconds, cpu_seconds=cpu,
                status=status, error=error, chunk_id=chunk_id, doc_id=doc_id,
                summary_key=summary_key))

    return book


def summarize_text(
    model: LocalModel,
    text: str,
    system_prompt: str,
    budget: LocalBudget,
    book: Callable[..., None],
) -> SummaryDraft | None:
    """One local model call with its fallback; None when the budget is spent."""
    if len(text) < MIN_CHARS_FOR_MODEL:
        return SummaryDraft(extractive_summary(text), [], [], "extractive_short")
    if budget.exhausted():
        return None
    return account_call(run_model(model, system_prompt, text), text, budget, book)


def _store_summary(cur: duckdb.DuckDBPyConnection, key: str, kind: str, input_hash: str,
                   spec: ModelSpec, prompt_version: str, draft: SummaryDraft, input_chars: int,
                   run_id: str) -> None:
    cur.execute(
        """
        INSERT INTO summaries (summary_key, kind, input_hash, model_sha256, prompt_version,
            params_hash, summary, key_points, risk_signals, method, input_chars, summary_chars,
            created_run_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """,
        [key, kind, input_hash, spec.sha256, prompt_version, params_hash(), draft.summary,
         json.dumps(draft.key_points), json.dumps(draft.risk_signals), draft.method,
         input_chars, len(draft.summary), run_id],
    )


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
            _store_summary(cur, key, "chunk", chunk_hash, spec, CHUNK_PROMPT_VERSION, draft,
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
        stage_progress.report(stage_progress.SUMMARIZE, handled, len(groups))
        if handled % 10 == 0:
            progress(f"summarized {handled}/{len(groups)} distinct chunks")

    for group in groups:
        chunk_hash, _, _, text = group
        key = summary_key("chunk", chunk_hash, spec, CHUNK_PROMPT_VERSION)
        with db.cursor() as cur:
            cached = cur.execute("SELECT method FROM summaries WHERE summary_key = ?",
                                 [key]).fetchone()
        if cached:
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
            with db.cursor() as cur:
                row = cur.execute("SELECT summary FROM summaries WHERE summary_key = ?",
                                  [key]).fetchone()
            if row:
                result.cache_hits += 1
                next_level.append(row[0])
                continue

            book = ledger_booker(db, result, run_id, spec, "document_summary",
                                 DOCUMENT_PROMPT_VERSION, key, doc_id=doc_id)
            if len(text) < MIN_CHARS_FOR_MODEL:
                draft = SummaryDraft(extractive_summary(text), [], [], "extractive_short")
            elif budget.exhausted():
                return None
            else:
                draft = account_call(calls.submit(DOCUMENT_SYSTEM_PROMPT, text).result(), text,
                                     budget, book, result)
            result.methods[draft.method] += 1
            with db.transaction() as cur:
                _store_summary(cur, key, "document", input_hash, spec, DOCUMENT_PROMPT_VERSION,
                               draft, len(text), run_id)
            next_level.append(draft.summary)
        if len(groups) == 1:
            return key
        level = next_level
