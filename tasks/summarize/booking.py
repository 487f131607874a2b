"""Booking a finished model call: a ledger row, the run's counts, the budget charged, and the
answer turned into a draft (or its extractive fallback)."""

from __future__ import annotations

from collections.abc import Callable

from compliance.adapters.ledger import LocalCall, record_local_call
from compliance.adapters.local_llm import LocalModel
from compliance.adapters.model_registry import ModelSpec
from compliance.store.db import Database
from tasks.summarize.calls import ModelCall, run_model
from tasks.summarize.judge import extractive_summary, judge_summary, parse_model_json
from tasks.summarize.prompts import MIN_CHARS_FOR_MODEL
from tasks.summarize.results import LocalBudget, SummarizeResult, SummaryDraft


def account_call(call: ModelCall, text: str, budget: LocalBudget, book: Callable[..., None],
                 result: SummarizeResult | None = None,
                 allotted: float | None = None) -> SummaryDraft | None:
    """Book a finished call, charge the budget, and turn its answer into a draft (or fallback).

    None for a call stopped at its deadline: booked, and nothing to store (its text stays
    pending for the next run).
    """
    budget.charge(allotted, call.seconds)
    if result is not None and call.worker:
        result.workers[call.worker] += 1
        result.model_loads[call.worker] = call.model_loads
    if call.stopped:
        book(status="settled", input_tokens=call.prompt_tokens,
             output_tokens=call.completion_tokens, seconds=call.seconds, cpu=call.cpu_seconds,
             error=f"stopped at the local budget after {call.seconds:.1f} s: left pending")
        if result is not None:
            result.budget_exhausted = True
        return None
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
    """One local model call with its fallback; None when the budget is spent (before the call,
    or by it: a call stops when its allotment is used)."""
    if len(text) < MIN_CHARS_FOR_MODEL:
        return SummaryDraft(extractive_summary(text), [], [], "extractive_short")
    if budget.exhausted():
        return None
    allotted = budget.allot(budget.allotment())
    return account_call(run_model(model, system_prompt, text, allotted), text, budget, book,
                        allotted=allotted)
