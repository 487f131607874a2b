"""The clause scorer: units, recall and share, the model file, training determinism, policy."""

import json

import numpy as np
import pytest

from compliance.environment import MODEL_MANIFEST, SCORER_FILE
from compliance.scoring import training
from compliance.scoring.model import ClauseScorer, CurvePoint, load_scorer
from compliance.scoring.policy import TriagePolicy, resolve_scorer, triage_policy
from compliance.scoring.recall import RecallTally, covered_share, merge_spans
from compliance.scoring.units import MAX_UNIT_CHARS, MIN_UNIT_CHARS, cut_units

AUDIT = ("The Licensee shall keep complete books and records and the Licensor may audit and "
         "inspect those books and records upon thirty days notice during business hours. ")
EXCLUSIVE = ("During the Term the Distributor shall be the exclusive distributor of the Products "
             "in the Territory and Company shall not appoint any other distributor therein. ")
FILLER = ("This Agreement shall be governed by the laws of the State of New York and each party "
          "shall bear its own costs. Notices shall be given in writing to the addresses above. ")


def _document(doc_id, parts):
    """A LabelledText from (text, category or None) parts, labels at their offsets."""
    text, labels = "", []
    for part, category in parts:
        if category:
            labels.append((category, len(text), len(text) + len(part.strip())))
        text += part + "\n\n"
    return training.LabelledText(doc_id, text, tuple(labels))


def _tiny_set():
    documents = []
    for i in range(10):
        parts = [(FILLER, None), (AUDIT if i % 2 else EXCLUSIVE,
                                  "audit_rights" if i % 2 else "exclusivity"),
                 (FILLER.replace("New York", f"State {i}"), None)]
        documents.append(_document(f"doc-{i}", parts))
    return documents


def test_units_join_short_clauses_and_split_long_ones():
    text = "1. Exclusivity.\n\n" + "The Distributor shall be exclusive. " * 12
    units = cut_units(text)
    assert text[units[0][0]:units[0][1]].startswith("1. Exclusivity.\n\nThe Distributor")
    assert all(b - a >= MIN_UNIT_CHARS for a, b in units[:-1])
    long = "word " * 400
    units = cut_units(long)
    assert len(units) > 1 and all(b - a <= MAX_UNIT_CHARS for a, b in units)
    assert "".join(long[a:b] for a, b in units) == long


def test_recall_and_share_on_a_hand_made_selection():
    tally = RecallTally()
    # 100 characters; labels at 10-30 (half selected: found) and 50-70 (40% selected: missed).
    tally.add(100, [(20, 40), (60, 68), (62, 66)], [("a", 10, 30), ("b", 50, 70)])
    assert tally.recall == 0.5
    assert tally.share == pytest.approx(0.28)
    assert tally.recall_by_category() == {"a": 1.0, "b": 0.0}
    assert merge_spans([(5, 9), (0, 3), (2, 4)]) == [(0, 4), (5, 9)]
    assert covered_share(0, 10, [(0, 5)]) == 0.5


def test_unit_targets_mark_units_holding_a_clause():
    spans = [(0, 100), (100, 200), (200, 300)]
    targets = training.unit_targets(spans, [("x", 90, 150)], ("x", "y"), training.PARAMS)
    # 10 of 60 label chars in unit 0 (and 10% of it): no; 50 of 60 in unit 1: yes.
    assert targets.tolist() == [[0, 0], [1, 0], [0, 0]]


def _scorer(curve):
    return ClauseScorer("v", ("a",), [], None, np.zeros(1, dtype=np.float32), curve)


def test_operating_point_is_the_highest_threshold_reaching_the_target():
    curve = [CurvePoint(-1.0, 0.99, 0.5), CurvePoint(-0.5, 0.96, 0.3),
             CurvePoint(0.0, 0.90, 0.2), CurvePoint(0.5, 0.7, 0.1)]
    point = _scorer(curve).operating_point(0.95)
    assert (point.threshold, point.expected_recall, point.expected_share) == (-0.5, 0.96, 0.3)
    assert _scorer(curve).operating_point(0.999).threshold == -1.0  # the best it can promise
    with pytest.raises(ValueError):
        _scorer(curve).operating_point(0)


def test_training_is_deterministic_and_the_file_round_trips(tmp_path):
    documents = _tiny_set()
    params = {"folds": 2}
    first = training.train(documents, "sha-of-data", params).to_bytes()
    second = training.train(documents, "sha-of-data", params).to_bytes()
    assert first == second
    scorer = ClauseScorer.from_bytes(first)
    assert scorer.categories == ("audit_rights", "exclusivity")
    text = FILLER + "\n\n" + AUDIT + "\n\n" + FILLER
    units = cut_units(text)
    scores = scorer.score_categories(text, units)
    audit_row = next(i for i, (a, b) in enumerate(units) if "audit" in text[a:b])
    filler_row = next(i for i, (a, b) in enumerate(units) if "audit" not in text[a:b])
    assert scores[audit_row, 0] > scores[filler_row, 0]
    # Another seed of the data is another version.
    assert training.train(documents, "other-data", params).version != scorer.version
    path = tmp_path / "s.bin"
    path.write_bytes(first)
    with pytest.raises(ValueError, match="sha256"):
        load_scorer(path, sha256="0" * 64)


def test_the_shipped_scorer_matches_its_manifest_entry():
    entry = json.loads(MODEL_MANIFEST.read_text())["scorers"]["clause-scorer"]
    scorer = resolve_scorer(None)
    assert scorer is not None and scorer.version == entry["version"]
    assert SCORER_FILE.stat().st_size == entry["size_bytes"] < 5_000_000
    point = scorer.operating_point(0.95)
    assert point.expected_recall >= 0.95


def test_policy_version_changes_with_scorer_and_threshold():
    scorer = resolve_scorer(None)
    rules_only = TriagePolicy("rules-v1")
    assert rules_only.version == "rules-v1" and resolve_scorer("off") is None
    at_95 = triage_policy("rules-v1", scorer, 0.95)
    at_90 = triage_policy("rules-v1", scorer, 0.90)
    assert len({rules_only.version, at_95.version, at_90.version}) == 3
    assert triage_policy("rules-v2", scorer, 0.95).version != at_95.version
    with pytest.raises(ValueError, match="no clause scorer"):
        resolve_scorer("no-such-scorer")
