"""rule_features finds a hit's units by bisection in document order: the same sums as testing
every unit against every hit, which is quadratic in a long document."""

from __future__ import annotations

import random

import numpy as np

from compliance.rules.matching import Hit, severity_weight
from compliance.scoring.stacking import rule_features


def _brute_force(units: list[tuple[int, int]], hits: list[Hit],
                 categories: tuple[str, ...]) -> np.ndarray:
    expected = np.zeros((len(units), len(categories)), dtype=np.float32)
    for row, (start, end) in enumerate(units):
        for hit in hits:
            if hit.category in categories and start < hit.end and end > hit.start:
                expected[row, categories.index(hit.category)] += severity_weight(hit.severity)
    return expected


def test_rule_features_match_the_overlap_definition() -> None:
    rng = random.Random(7)
    categories = ("exclusivity", "non_compete")
    for _ in range(300):
        units, cursor = [], 0
        for _ in range(rng.randint(1, 40)):
            start = cursor + rng.randint(0, 3)  # gaps, touching and empty units
            cursor = start + rng.randint(0, 12)
            units.append((start, cursor))
        hits = [Hit("r", rng.choice([*categories, "pharma"]), rng.choice(["low", "high"]),
                    "escalate", at, at + rng.randint(0, 20), "p", "v", None)
                for at in (rng.randint(0, cursor + 5) for _ in range(12))]
        assert np.array_equal(rule_features(units, hits, categories),
                              _brute_force(units, hits, categories))


def test_rule_features_of_units_out_of_order() -> None:
    units = [(50, 60), (0, 10), (20, 70)]
    hits = [Hit("r", "exclusivity", "high", "escalate", 55, 58, "p", "v", None)]
    assert rule_features(units, hits, ("exclusivity",)).tolist() == [[3.0], [0.0], [3.0]]
