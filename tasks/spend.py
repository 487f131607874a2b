"""Record what a run spent in the cloud, beside what pipelines without routing would have paid."""

from __future__ import annotations

from compliance.adapters.ledger import cloud_spend
from compliance.context import RunContext
from compliance.settings import EscalationSettings
from tasks.escalate.core import counterfactuals
from tasks.stage import as_task


@as_task("record-spend")
def record_spend(ctx: RunContext, settings: EscalationSettings) -> None:
    """The run's cloud spend from the ledger, next to what naive pipelines would have paid."""
    naive_new, naive_all = counterfactuals(ctx.db, ctx.run_id, str(ctx.source),
                                           settings.cloud_model, ctx.prices)
    with ctx.db.cursor() as cur:
        spend = cloud_spend(cur, run_id=ctx.run_id)
        escalated, deferred = cur.execute(
            """
            SELECT count(DISTINCT chunk_id) FILTER (WHERE status IN ('done', 'sent')),
                   count(DISTINCT chunk_id) FILTER (WHERE status = 'deferred')
            FROM escalation_windows w
            WHERE w.status = 'deferred'
               OR w.call_id IN (SELECT call_id FROM llm_calls WHERE run_id = ?)
               OR w.batch_id IN (SELECT batch_id FROM batches WHERE run_id = ?)
            """,
            [ctx.run_id, ctx.run_id],
        ).fetchone()
    ctx.counts.spend_usd = spend
    ctx.counts.naive_new_usd = naive_new
    ctx.counts.naive_all_usd = naive_all
    ctx.counts.chunks_escalated = escalated
    ctx.counts.chunks_deferred = deferred


def note_cloud_spend(ctx: RunContext) -> None:
    """The run's cloud spend from the ledger, alone (a re-triage claims no counterfactual)."""
    with ctx.db.cursor() as cur:
        ctx.counts.spend_usd = cloud_spend(cur, run_id=ctx.run_id)
