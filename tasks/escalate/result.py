"""What one escalation stage did: the tally its queue, sync and batch paths add to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EscalationResult:
    """What the escalation stage did."""

    windows_total: int = 0
    cached: int = 0
    sent: int = 0
    done: int = 0
    deferred: int = 0
    failed_requests: int = 0
    # Windows marked failed (request failed or answer rejected): the next run sends them again.
    failed_windows: int = 0
    # Answers to single spans refused (a quote not in the span): those windows are failed.
    rejected_answers: int = 0
    batches_submitted: int = 0
    batches_pending: int = 0
    findings: int = 0
    # (characters, was a finding) of each window answered from the cache: what it saved.
    cached_spans: list[tuple[int, bool]] = field(default_factory=list)
    note: str | None = None
    errors: list[str] = field(default_factory=list)
