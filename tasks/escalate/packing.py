"""How spans are packed into requests: several per request, bounded in count and size."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from compliance.adapters.cloud import Span, instruction_like
from compliance.scoring.audit import AUDIT_PURPOSE

MAX_REQUEST_BYTES = 24_000

T = TypeVar("T")


def pack(items: list[T], size: Callable[[T], int], max_count: int) -> list[list[T]]:
    """Items in order, cut into groups of at most max_count and MAX_REQUEST_BYTES.

    An item larger than the limit goes alone. The cost estimates pack (characters, finding)
    pairs with this same function, so they price the requests the stage would send.
    """
    groups: list[list[T]] = []
    total = 0
    for item in items:
        weight = size(item)
        if not groups or len(groups[-1]) >= max_count or total + weight > MAX_REQUEST_BYTES:
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += weight
    return groups


def purpose_of(request: list[Span]) -> str:
    """The ledger purpose of a request: 'audit' when it carries audit windows only."""
    if request and all(span.purpose == AUDIT_PURPOSE for span in request):
        return AUDIT_PURPOSE
    return "escalation"


def pack_by_purpose(spans: list[Span], max_count: int) -> list[list[Span]]:
    """Audit spans and escalation spans packed apart (each request books one purpose); the
    audit first: it is sized to its share of the budget, and a budget spent on escalations
    alone would leave nothing to estimate their recall with.

    A span that addresses the model (an injection attempt) goes in a request of its own, so
    whatever it talks the model into touches no other span's judgement.
    """
    alone = [[span] for span in spans if instruction_like(span.text)]
    rest = [span for span in spans if not instruction_like(span.text)]
    audit = [span for span in rest if span.purpose == AUDIT_PURPOSE]
    triage = [span for span in rest if span.purpose != AUDIT_PURPOSE]
    return pack(audit, _span_bytes, max_count) + pack(triage, _span_bytes, max_count) + alone


def _span_bytes(span: Span) -> int:
    return len(span.text.encode())
