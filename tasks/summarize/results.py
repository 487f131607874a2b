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
    """Seconds of local model time this run may spend.

    A hard cap: each call is allotted seconds before it starts (`allot`) and stops generating
    when they are used (its model call's deadline), so what is spent never passes the budget by
    more than one step of the model (a token, or the evaluation of a prompt, which llama.cpp
    does not interrupt).
    """

    seconds: float | None
    spent: float = 0.0
    reserved: float = 0.0  # allotted to calls in flight, not yet charged

    def exhausted(self) -> bool:
        """True once the budget is used up (None means unlimited)."""
        return self.seconds is not None and self.spent >= self.seconds

    def allotment(self, slots: int = 1) -> float | None:
        """Seconds a new call may take: what is neither spent nor allotted, shared by the
        `slots` calls that may still start beside it (None: no limit)."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - self.spent - self.reserved) / max(1, slots)

    def allot(self, seconds: float | None) -> float | None:
        """Set `seconds` aside for a call about to start; its deadline."""
        self.reserved += seconds or 0.0
        return seconds

    def charge(self, allotted: float | None, seconds: float) -> None:
        """A call's seconds, in place of what was set aside for it."""
        self.reserved = max(0.0, self.reserved - (allotted or 0.0))
        self.spent += seconds


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
