"""The summarize stage: pending chunks, then documents, within the local compute budget."""

from __future__ import annotations

from compliance.context import RunContext
from compliance.settings import SummarizeSettings
from tasks.stage import as_task
from tasks.summarize.chunks import documents_with_open_findings, summarize_chunks
from tasks.summarize.documents import summarize_documents
from tasks.summarize.results import LocalBudget, SummarizeResult


@as_task("summarize-chunks")
def summarize_pending(ctx: RunContext, settings: SummarizeSettings) -> SummarizeResult:
    """Summarize pending chunks, then documents, within the local compute budget."""
    # Here, not at the top: the executors define a Prefect task, and importing a stage module
    # imports no Prefect (tasks/stage.py).
    from tasks.summarize.executors import model_calls

    budget = LocalBudget(settings.local_budget_seconds)
    doc_ids = None
    if settings.summarize == "findings":  # the rest waits until a reviewer asks
        with ctx.db.cursor() as cur:
            doc_ids = documents_with_open_findings(cur)
    with model_calls(settings, ctx.model, ctx.runner) as calls:
        result = summarize_chunks(ctx.db, ctx.run_id, ctx.model, calls, budget,
                                  progress=ctx.log.info, doc_ids=doc_ids)
        summarize_documents(ctx.db, ctx.run_id, ctx.model, calls, budget, result, doc_ids)
    if result.workers:
        ctx.log.info("model calls ran on %s",
                     ", ".join(f"{w} ({n} calls)" for w, n in sorted(result.workers.items())))
    if result.budget_exhausted:
        ctx.log.warning("local budget of %.0f s spent: the rest stays pending for the next run",
                        settings.local_budget_seconds or 0)
    result.add_to(ctx.counts)
    return result
