"""The summarize stage's plain records: one summary draft, the local time budget, the result."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from compliance.store.runs import RunCounts


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

    def would_run_out(self, in_flight: int, seconds_per_call: float) -> bool:
        """True when the calls in flight and one more could pass the budget, at the mean cost
        of the calls answered so far."""
        return (self.seconds is not None
                and self.spent + (in_flight + 1) * seconds_per_call > self.seconds)


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

    def add_to(self, counts: RunCounts) -> None:
        """Note what summarizing did in a run's counts."""
        counts.summaries_done = self.chunks_done
        counts.summaries_cached = self.cache_hits
        counts.model_calls = self.model_calls
        counts.local_model_seconds = round(self.model_seconds, 3)
