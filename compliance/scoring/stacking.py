"""The scorer's second stage: a unit's category scores read in their document.

A clause is judged better with its neighbours: a heading above it, a run of risky clauses
around it, where in the contract it sits, how it ranks among the contract's clauses, and which
rules hit it. The second stage is a logistic regression over those few numbers (the first
stage's scores, its neighbours' scores, position, rank, rule hits), trained on out-of-fold
first-stage scores so that it learns from scores like those it will see.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from compliance.rules.matching import Hit, severity_weight

# Scores outside a document (before its first unit, after its last) read as this.
_EDGE = -3.0


def rule_features(units: list[tuple[int, int]], hits: Iterable[Hit],
                  categories: tuple[str, ...]) -> np.ndarray:
    """Per unit and rule category: the summed severity weights of the hits overlapping it."""
    features = np.zeros((len(units), len(categories)), dtype=np.float32)
    if not units or not categories:
        return features
    starts = np.array([a for a, _ in units])
    ends = np.array([b for _, b in units])
    # Units in document order (both ends ascending) overlap a hit in one run of rows, found by
    # bisection: a mask over every unit per hit is quadratic in a long document.
    ordered = bool(np.all(starts[1:] >= starts[:-1]) and np.all(ends[1:] >= ends[:-1]))
    for hit in hits:
        if hit.category not in categories:
            continue
        column = categories.index(hit.category)
        if ordered:
            rows = np.arange(np.searchsorted(ends, hit.start, side="right"),
                             np.searchsorted(starts, hit.end, side="left"))
        else:
            rows = np.flatnonzero((starts < hit.end) & (ends > hit.start))
        features[rows, column] += severity_weight(hit.severity)
    return features


def _shift(values: np.ndarray, by: int, fill: float) -> np.ndarray:
    shifted = np.full_like(values, fill)
    if by > 0:
        shifted[by:] = values[:-by]
    elif by < 0:
        shifted[:by] = values[-by:]
    return shifted


def document_features(scores: np.ndarray, units: list[tuple[int, int]], length: int,
                      rules: np.ndarray) -> np.ndarray:
    """The second stage's inputs for every unit of one document, in document order.

    scores: first-stage scores (units x categories); rules: rule_features of the units.
    """
    count = len(units)
    if count == 0:
        return np.zeros((0, stage_two_width(scores.shape[1], rules.shape[1])), np.float32)
    best = scores.max(axis=1, keepdims=True)
    rank = (np.argsort(np.argsort(-best[:, 0], kind="stable"), kind="stable")
            / count)[:, None]
    position = np.array([[start / max(length, 1), np.log1p(end - start)]
                         for start, end in units])
    rules_best = rules.max(axis=1, keepdims=True) if rules.shape[1] else np.zeros((count, 1))
    return np.hstack([
        scores, best,
        _shift(best, 1, _EDGE), _shift(best, -1, _EDGE),
        _shift(best, 2, _EDGE), _shift(best, -2, _EDGE),
        _shift(scores, 1, _EDGE), _shift(scores, -1, _EDGE),
        position, rank, best - best.max(), np.full((count, 1), np.log(count)),
        rules, _shift(rules_best, 1, 0.0), _shift(rules_best, -1, 0.0),
    ]).astype(np.float32)


def stage_two_width(categories: int, rule_categories: int) -> int:
    """How many second-stage inputs a unit has."""
    return 3 * categories + 5 + 5 + rule_categories + 2
