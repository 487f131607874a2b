"""What escalation costs: the bound the budget reserves per request, and estimates before sending.

Bounds are true ceilings (the ledger reserves them); estimates are expected prices, for the
evaluation, the cache's savings and the counterfactuals of the record-spend stage.
"""

from __future__ import annotations

from decimal import Decimal

from compliance.adapters.cloud import estimated_policy_tokens, expected_answer_tokens
from compliance.adapters.prices import ModelPrice
from tasks.escalate.packing import pack
from tasks.escalate.result import EscalationResult


def estimated_request_cost(price: ModelPrice, text_chars: int, spans: int, findings: int,
                           tokens_per_char: Decimal = Decimal("0.25"),
                           output_per_span: Decimal | None = None,
                           policy_tokens: Decimal | None = None) -> Decimal:
    """USD of one synchronous request carrying text_chars of spans, before it is sent.

    Input is the policy prompt plus the text at tokens_per_char; output is what was observed
    per span, or else the expected answer (a finding's fields, a dismissed span's id). No
    prompt caching and no batch discount: the price of the plain path.
    """
    if policy_tokens is None:
        policy_tokens = estimated_policy_tokens()
    output = (output_per_span * spans if output_per_span is not None
              else Decimal(expected_answer_tokens(spans, findings)))
    input_tokens = policy_tokens + Decimal(text_chars) * tokens_per_char
    return (input_tokens * price.input + output * price.output) / Decimal(1_000_000)


def estimated_sync_cost(price: ModelPrice, spans: list[tuple[int, bool]],
                        max_spans: int) -> Decimal:
    """USD of sending spans (characters, is a finding) in sync mode, packed as escalate() packs."""
    total = Decimal(0)
    for request in pack(spans, lambda span: span[0], max_spans):
        total += estimated_request_cost(price, sum(chars for chars, _ in request), len(request),
                                        sum(is_finding for _, is_finding in request))
    return total


def cache_savings(result: EscalationResult, price: ModelPrice, max_spans: int) -> Decimal:
    """USD the escalation cache saved: what its answers would have cost sent again in sync mode."""
    return estimated_sync_cost(price, result.cached_spans, max_spans).quantize(Decimal("1e-9"))
