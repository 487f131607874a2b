"""Span recall and text share of a selection: the two numbers every triage figure is made of."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from compliance.rules.matching import merge_spans

# A labelled clause is found when at least half of its characters lie inside selected text.
FOUND_AT = 0.5


def covered_share(start: int, end: int, selected: list[tuple[int, int]]) -> float:
    """The share of [start, end) inside the (merged) selected spans."""
    inside = sum(max(0, min(b, end) - max(a, start)) for a, b in selected)
    return inside / (end - start) if end > start else 0.0


@dataclass
class RecallTally:
    """Found and total labels per category, and selected and total characters."""

    found: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    selected_chars: int = 0
    total_chars: int = 0

    def add(self, text_length: int, selected: list[tuple[int, int]],
            labels: Iterable[tuple[str, int, int]]) -> None:
        """Count one document: its selected spans and its (category, start, end) labels."""
        selected = merge_spans(selected)
        self.total_chars += text_length
        self.selected_chars += sum(b - a for a, b in selected)
        for category, start, end in labels:
            self.labels[category] = self.labels.get(category, 0) + 1
            found = covered_share(start, end, selected) >= FOUND_AT
            self.found[category] = self.found.get(category, 0) + found

    @property
    def recall(self) -> float:
        total = sum(self.labels.values())
        return sum(self.found.values()) / total if total else 0.0

    @property
    def share(self) -> float:
        return self.selected_chars / self.total_chars if self.total_chars else 0.0

    def recall_by_category(self) -> dict[str, float]:
        return {c: self.found.get(c, 0) / n for c, n in sorted(self.labels.items())}
