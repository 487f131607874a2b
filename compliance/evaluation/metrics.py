"""Triage metrics against labels: span recall, token and chunk share, document-level scores.

Definitions (so that the numbers mean one thing):
- a label is found when at least half of its characters lie inside selected text;
- recall = found labels / labels, per category and over all of them;
- token share = tokens of the selected text, context included, over the tokens of every
  document's text, both counted with the local model's tokenizer;
- a document is predicted to have a category when any escalated window carries it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from compliance.evaluation.align import compact, covered_fraction, locate
from compliance.evaluation.labelled import Label, LabelledDocument
from compliance.rules.matching import merge_spans
from compliance.scoring.recall import FOUND_AT


@dataclass(frozen=True)
class Selection:
    """Text triage selected: an escalation window, or a recorded hit, with its categories."""

    start: int
    end: int
    categories: frozenset[str]


@dataclass
class TriagedDocument:
    """What the pipeline stored and selected for one labelled document."""

    labelled: LabelledDocument
    text: str
    windows: list[Selection]
    recorded: list[Selection] = field(default_factory=list)
    chunks: int = 0
    chunks_escalated: int = 0
    chunk_spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class CategoryScore:
    """Span and document scores of one category."""

    labels: int = 0
    found: int = 0
    lost_in_extraction: int = 0
    selections: int = 0
    selections_on_label: int = 0
    docs_true_positive: int = 0
    docs_false_positive: int = 0
    docs_false_negative: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.selections_on_label / self.selections if self.selections else None

    @property
    def doc_precision(self) -> float | None:
        predicted = self.docs_true_positive + self.docs_false_positive
        return self.docs_true_positive / predicted if predicted else None

    @property
    def doc_recall(self) -> float | None:
        actual = self.docs_true_positive + self.docs_false_negative
        return self.docs_true_positive / actual if actual else None


@dataclass
class Evaluation:
    """Every number of one evaluation."""

    documents: int
    categories: dict[str, CategoryScore]
    labels: int
    found: int
    tokens_total: int
    tokens_selected: int
    chunks_total: int
    chunks_escalated: int
    escalated_usd: float | None = None
    naive_new_usd: float | None = None
    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def token_share(self) -> float:
        return self.tokens_selected / self.tokens_total if self.tokens_total else 0.0

    @property
    def chunk_share(self) -> float:
        return self.chunks_escalated / self.chunks_total if self.chunks_total else 0.0

    @property
    def savings(self) -> float | None:
        if self.escalated_usd is None or not self.naive_new_usd:
            return None
        return 1 - self.escalated_usd / self.naive_new_usd


def located_labels(document: TriagedDocument, tiers: frozenset[str]
                   ) -> list[tuple[Label, list[int], int]]:
    """Each label of the given tiers with the stored-text offsets of its words and its length."""
    stored = compact(document.text)
    return [(label, *locate(label.text, stored, label.start or 0))
            for label in document.labelled.labels if label.tier in tiers]


def label_span(offsets: list[int]) -> tuple[int, int]:
    """The stored-text span a located label covers."""
    return min(offsets), max(offsets) + 1


def labelled_spans(document: TriagedDocument, tiers: frozenset[str]) -> list[tuple[int, int]]:
    """Where the document's labels of the given tiers lie in its stored text."""
    return [label_span(offsets) for _, offsets, _ in located_labels(document, tiers) if offsets]


def touches(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether [start, end) overlaps any of the spans."""
    return any(start < b and a < end for a, b in spans)


def evaluate(documents: Iterable[TriagedDocument], tiers: frozenset[str],
             count_tokens: Callable[[list[str]], list[int]],
             category_of_window: bool = False) -> Evaluation:
    """Score selections against labels of the given tiers.

    With category_of_window, a label counts as found only inside selections that carry its
    category (rule-level scores); otherwise any escalated text will do (what the cloud sees).
    """
    documents = list(documents)
    scores = {category: CategoryScore() for category in sorted(
        {label.category for doc in documents for label in doc.labelled.labels
         if label.tier in tiers})}
    tokens_total = tokens_selected = chunks_total = chunks_escalated = 0
    kinds: dict[str, list[int]] = {}
    for doc in documents:
        selections = doc.windows + doc.recorded
        everything = merge_spans([(s.start, s.end) for s in doc.windows + doc.recorded])
        label_spans: dict[str, list[tuple[int, int]]] = {}
        for label, offsets, length in located_labels(doc, tiers):
            score = scores[label.category]
            score.labels += 1
            if len(offsets) < FOUND_AT * length:
                score.lost_in_extraction += 1
            if offsets:
                label_spans.setdefault(label.category, []).append(label_span(offsets))
            selected = everything
            if category_of_window:
                selected = merge_spans([(s.start, s.end) for s in selections
                                        if label.category in s.categories])
            found = covered_fraction(offsets, length, selected) >= FOUND_AT
            score.found += found
            if label.kind:
                tally = kinds.setdefault(f"{label.category}/{label.kind}", [0, 0])
                tally[0] += 1
                tally[1] += found
        for category, score in scores.items():
            mine = [s for s in selections if category in s.categories]
            score.selections += len(mine)
            score.selections_on_label += sum(
                touches(s.start, s.end, label_spans.get(category, [])) for s in mine)
            predicted = any(category in s.categories for s in selections)
            actual = doc.labelled.answers.get(category)
            if actual is None:
                actual = category in label_spans
            score.docs_true_positive += predicted and actual
            score.docs_false_positive += predicted and not actual
            score.docs_false_negative += actual and not predicted
        windows = merge_spans([(s.start, s.end) for s in doc.windows])
        counts = count_tokens([doc.text] + [doc.text[a:b] for a, b in windows])
        tokens_total += counts[0]
        tokens_selected += sum(counts[1:])
        chunks_total += doc.chunks
        chunks_escalated += doc.chunks_escalated
    labels = sum(s.labels for s in scores.values())
    found = sum(s.found for s in scores.values())
    return Evaluation(len(documents), scores, labels, found, tokens_total,
                      tokens_selected, chunks_total, chunks_escalated,
                      kinds={k: (v[0], v[1]) for k, v in sorted(kinds.items())})


def category_counts(documents: Iterable[LabelledDocument], tiers: frozenset[str]) -> Counter:
    """Labels per category in a set."""
    return Counter(label.category for doc in documents for label in doc.labels
                   if label.tier in tiers)
