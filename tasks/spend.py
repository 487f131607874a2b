"""Record what a run spent in the cloud, beside what pipelines without routing would have paid."""

from __future__ import annotations

from decimal import Decimal

from compliance.adapters.cloud import (
    estimated_policy_tokens,
    expected_answer_tokens,
    policy_prompt,
)
from compliance.adapters.ledger import cloud_spend
from compliance.adapters.prices import PriceTable
from compliance.context import RunContext
from compliance.settings import EscalationSettings
from compliance.store.db import Database
from compliance.vocab import readable_current
from tasks.escalate.costs import estimated_request_cost
from tasks.stage import as_task


@as_task("record-spend")
def record_spend(ctx: RunContext, settings: EscalationSettings) -> None:
    """The run's cloud spend from the ledger, next to what naive pipelines would have paid."""
    naive_new, naive_all = counterfactuals(ctx.db, ctx.run_id, str(ctx.source),
                                           settings.cloud_model, ctx.prices)
    note_cloud_spend(ctx)
    with ctx.db.cursor() as cur:
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
    ctx.counts.naive_new_usd = naive_new
    ctx.counts.naive_all_usd = naive_all
    ctx.counts.chunks_escalated = escalated
    ctx.counts.chunks_deferred = deferred


def counterfactuals(db: Database, run_id: str, source_root: str, model: str,
                    prices: PriceTable) -> tuple[Decimal, Decimal]:
    """What a pipeline without routing and reuse would have paid for this run, in USD.

    naive_new: one synchronous request per chunk of every document version new in this run;
    naive_all: the same for every current document of the source, as a nightly re-send would.
    Both use the same policy prompt, no prompt caching, no batch discount, and the output
    tokens observed per span in this run (when nothing was sent, every chunk's answer is
    priced as a finding's: the dearer answer, and such a run claims no saving anyway).
    """
    price = prices.price(model)
    with db.cursor() as cur:
        observed = cur.execute(
            """
            SELECT sum(c.input_tokens + c.cache_write_tokens + c.cache_read_tokens),
                   sum(c.output_tokens)
            FROM llm_calls c WHERE c.run_id = ? AND c.provider = 'anthropic'
              AND c.status = 'settled'
            """,
            [run_id],
        ).fetchone()
        spans_done, sent_bytes = cur.execute(
            "SELECT count(*), sum(strlen(w.redacted_text)) FROM escalation_windows w "
            "JOIN llm_calls c USING (call_id) WHERE c.run_id = ? AND c.status = 'settled'",
            [run_id]).fetchone()
        rows = cur.execute(
            f"""
            SELECT d.first_run_id = ? AS is_new, c.char_end - c.char_start AS chars
            FROM chunks c JOIN documents d USING (doc_id)
            WHERE {readable_current("d")} AND d.source_root = ?
            """,
            [run_id, source_root],
        ).fetchall()
    # Tokens per character, learned from what the API counted in this run when it can be.
    tokens_per_char = Decimal("0.25")
    policy_tokens = estimated_policy_tokens()
    if observed and observed[0] and spans_done and sent_bytes:
        tokens_per_char = max(Decimal("0.15"), min(Decimal("0.5"), Decimal(observed[0])
                                                   / Decimal(sent_bytes + len(policy_prompt()))))
    output_per_span = (Decimal(observed[1]) / spans_done if observed and observed[1]
                       and spans_done else Decimal(expected_answer_tokens(1, 1)))

    def cost(chars: int) -> Decimal:
        return estimated_request_cost(price, chars, 1, 1, tokens_per_char, output_per_span,
                                      policy_tokens)

    naive_new = sum((cost(chars) for is_new, chars in rows if is_new), Decimal(0))
    naive_all = sum((cost(chars) for _, chars in rows), Decimal(0))
    quantum = Decimal("0.000000001")
    return naive_new.quantize(quantum), naive_all.quantize(quantum)


def note_cloud_spend(ctx: RunContext) -> None:
    """The run's cloud spend from the ledger, alone (a re-triage claims no counterfactual)."""
    with ctx.db.cursor() as cur:
        ctx.counts.spend_usd = cloud_spend(cur, run_id=ctx.run_id)
