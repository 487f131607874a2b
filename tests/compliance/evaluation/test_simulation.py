"""The triage simulation with an oracle judge: verdicts from labels, one run's accounting, the
pooled window, the coverage study and a tiny month with feedback and a refit.

Runs use the shipped scorer (it loads in milliseconds) on short hand-written contracts; the
month trains on a few synthetic ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from compliance.environment import SCORER_FILE
from compliance.evaluation.simulation import (
    ScoredDocument,
    Verdict,
    coverage_study,
    feedback_documents,
    format_coverage,
    format_month,
    oracle_verdicts,
    pooled_unit_recall,
    run_scored,
    score_documents,
    simulate_month,
    simulate_run,
    split_month,
    training_hash,
    window_estimate,
)
from compliance.scoring.audit import estimate_recall
from compliance.scoring.model import load_scorer
from compliance.scoring.training import LabelledText, feature_rules, rule_hits
from compliance.scoring.units import cut_units

CATEGORIES = ("audit_rights", "non_compete")

AUDIT = ("The Licensor shall have the right, upon thirty days written notice, to inspect and "
         "audit the books and records of the Licensee relating to the royalties payable under "
         "this Agreement, at the Licensor's own expense, no more than once in any calendar year.")
COMPETE = ("During the term of this Agreement and for two years thereafter, the Distributor "
           "shall not, directly or indirectly, manufacture, sell or promote any product that "
           "competes with the Products anywhere in the Territory.")
TERMINATE = ("Either party may terminate this Agreement for convenience at any time by giving "
             "the other party ninety days prior written notice, without liability for such "
             "termination except for amounts already accrued.")
CONTROL = ("In the event of a change of control of the Licensee, including a merger or the sale "
           "of all or substantially all of its assets, the Licensor may terminate this Agreement "
           "upon written notice with immediate effect.")
BOILER = [
    ("This Agreement is entered into as of the Effective Date by and between the parties named "
     "on the signature page, each a corporation organised under the laws of its jurisdiction of "
     "incorporation, and sets out the terms on which the parties will cooperate."),
    ("All notices under this Agreement shall be in writing and delivered by hand, by courier or "
     "by registered mail to the addresses set out on the signature page, or to such other "
     "address as a party may designate by notice to the other party."),
    ("This Agreement shall be governed by and construed in accordance with the laws of the State "
     "of New York, without regard to its conflict of laws principles, and the courts of New York "
     "shall have exclusive jurisdiction over any dispute arising from it."),
    ("Headings in this Agreement are for convenience only and shall not affect its "
     "interpretation. This Agreement may be executed in counterparts, each of which shall be "
     "deemed an original and all of which together constitute one instrument."),
]


def contract(doc_id: str, parts: list[tuple[str | None, str]]) -> LabelledText:
    """Paragraphs joined by blank lines; a named category labels its whole paragraph."""
    text, labels = "", []
    for category, paragraph in parts:
        start = len(text)
        text += paragraph + "\n\n"
        if category is not None:
            labels.append((category, start, start + len(paragraph)))
    return LabelledText(doc_id, text, tuple(labels))


def contracts() -> list[LabelledText]:
    return [
        contract("alpha", [(None, BOILER[0]), ("audit_rights", AUDIT), (None, BOILER[1]),
                           ("non_compete", COMPETE), (None, BOILER[2])]),
        contract("beta", [(None, BOILER[0]), ("termination_for_convenience", TERMINATE),
                          (None, BOILER[3]), ("change_of_control", CONTROL), (None, BOILER[1])]),
        contract("gamma", [(None, BOILER[2]), ("non_compete", COMPETE), (None, BOILER[3]),
                           ("audit_rights", AUDIT), (None, BOILER[0])]),
    ]


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(SCORER_FILE)


# --- the oracle -----------------------------------------------------------------------------


def test_oracle_verdicts_follow_the_label_rule():
    text = "a" * 100 + "b" * 100 + "c" * 100 + "d" * 100
    units = [(0, 100), (100, 200), (200, 300), (300, 400)]
    labels = (
        ("audit_rights", 150, 250),  # half of it in unit 1 and in unit 2: both positive
        ("non_compete", 390, 400),  # 10 chars: all in unit 3, but only 10% of the unit: positive
        ("non_compete", 0, 1000),  # 100 of 1000 chars per unit: < half the clause, but whole units
        ("exclusivity", 0, 400),  # not a judged category: ignored
    )
    verdicts = oracle_verdicts(LabelledText("d", text, labels), units, CATEGORIES)
    assert verdicts.tolist() == [[0, 1], [1, 1], [1, 1], [0, 1]]
    short = oracle_verdicts(LabelledText("d", text, (("non_compete", 380, 400),)), units,
                            CATEGORIES)
    assert short[:, 1].tolist() == [0, 0, 0, 1]
    # 20 chars of a 1000-char clause in a 100-char unit: 2% of the clause, 20% of the unit.
    neither = oracle_verdicts(LabelledText("d", text, (("audit_rights", 80, 1060),)),
                              [(0, 100)], CATEGORIES)
    assert neither.tolist() == [[0, 0]]


def test_oracle_on_a_contract_marks_the_labelled_paragraphs(scorer):
    document = contracts()[0]
    units = cut_units(document.text)
    verdicts = oracle_verdicts(document, units, scorer.categories)
    audit = scorer.categories.index("audit_rights")
    compete = scorer.categories.index("non_compete")
    marked = {(int(r), scorer.categories[int(c)]) for r, c in zip(*np.nonzero(verdicts),
                                                                   strict=True)}
    texts = {category: {document.text[units[r][0]:units[r][1]].strip() for r, c in marked
                        if c == category} for category in ("audit_rights", "non_compete")}
    assert texts == {"audit_rights": {AUDIT}, "non_compete": {COMPETE}}
    assert verdicts[:, audit].sum() == 1 and verdicts[:, compete].sum() == 1
    assert verdicts.sum() == 2


# --- one run --------------------------------------------------------------------------------


def hand_scored() -> list[ScoredDocument]:
    """Two documents, 5 + 3 units, with chosen scores and verdicts."""
    text_a, text_b = "x" * 500, "y" * 300
    units_a = tuple((i * 100, i * 100 + 100) for i in range(5))
    units_b = tuple((i * 100, i * 100 + 100) for i in range(3))
    a = ScoredDocument(LabelledText("a", text_a, (("audit_rights", 0, 100),
                                                  ("non_compete", 300, 400))),
                       units_a, np.array([2.0, 1.0, 0.5, -1.0, -2.0]),
                       np.array([[1, 0], [0, 0], [0, 0], [0, 1], [0, 0]]))
    b = ScoredDocument(LabelledText("b", text_b, (("non_compete", 0, 100),
                                                  ("non_compete", 200, 300))),
                       units_b, np.array([0.8, -0.5, -3.0]),
                       np.array([[0, 1], [0, 0], [0, 1]]))
    return [a, b]


def test_run_accounting_on_a_hand_made_case():
    outcome = run_scored(hand_scored(), CATEGORIES, threshold=0.6, audit_size=100, seed=1)
    # Escalated: a0 (pos), a1, b0 (pos). Positives: a0, a3, b0, b2.
    assert (outcome.documents, outcome.units, outcome.escalated) == (2, 8, 3)
    assert (outcome.positives, outcome.escalated_positives, outcome.missed_positives) == (4, 2, 2)
    assert outcome.unit_recall == pytest.approx(0.5)
    assert outcome.by_category["audit_rights"][0] == 1
    assert outcome.by_category["non_compete"][0] == 1
    assert outcome.positives_by_category == {"audit_rights": 1, "non_compete": 3}
    assert outcome.unit_recall_by_category == pytest.approx({"audit_rights": 1.0,
                                                             "non_compete": 1 / 3})
    # The audit (larger than the 5 non-escalated units) sees every one of them.
    assert outcome.audited == 5
    assert sum(t.sampled for t in outcome.tallies) == 5
    assert sum(t.population for t in outcome.tallies) == 5
    assert sum(t.positives for t in outcome.tallies) == 2
    assert sum(t.positives for t in outcome.by_category["non_compete"][1]) == 2
    assert sum(t.positives for t in outcome.by_category["audit_rights"][1]) == 0
    # Labels: a's audit label and b's first non-compete are fully escalated; 2 of 4 found.
    assert outcome.label_recall == pytest.approx(0.5)
    assert outcome.label_recall_by_category == pytest.approx({"audit_rights": 1.0,
                                                              "non_compete": 1 / 3})
    assert (outcome.escalated_chars, outcome.chars) == (300, 800)
    assert outcome.share == pytest.approx(300 / 800)
    # Every unit is judged: 3 escalated, 5 audited, in order, with their text and flags.
    assert [(v.doc_id, v.start, v.audited) for v in outcome.verdicts] == [
        ("a", 0, False), ("a", 100, False), ("a", 200, True), ("a", 300, True), ("a", 400, True),
        ("b", 0, False), ("b", 100, True), ("b", 200, True)]
    assert [v.flags for v in outcome.verdicts] == [(1, 0), (0, 0), (0, 0), (0, 1), (0, 0),
                                                   (0, 1), (0, 0), (0, 1)]
    assert outcome.verdicts[5].text == "y" * 100
    # A full audit finds every miss: the estimate is the true recall.
    estimate = window_estimate([outcome], 0.05)
    assert estimate is not None and estimate.estimate == pytest.approx(0.5)
    assert estimate.lower_bound <= outcome.unit_recall


def test_run_extremes_escalate_all_or_nothing():
    everything = run_scored(hand_scored(), CATEGORIES, -np.inf, 3, seed=0)
    assert (everything.escalated, everything.audited, everything.unit_recall) == (8, 0, 1.0)
    assert everything.share == 1.0 and everything.label_recall == 1.0
    nothing = run_scored(hand_scored(), CATEGORIES, np.inf, 3, seed=0)
    assert (nothing.escalated, nothing.audited, nothing.unit_recall) == (0, 3, 0.0)
    assert nothing.share == 0.0 and len(nothing.verdicts) == 3
    assert all(v.audited for v in nothing.verdicts)


def test_simulate_run_with_the_shipped_scorer(scorer):
    documents = contracts()
    threshold = 0.0
    outcome = simulate_run(scorer, documents, threshold, audit_size=4, seed=3)
    # Recompute independently: score, judge, count.
    escalated_pos = positives = escalated = units = 0
    per_category = np.zeros((2, len(scorer.categories)), dtype=int)
    for document in documents:
        spans = cut_units(document.text)
        hits = rule_hits(document.text, feature_rules(scorer.categories))
        scores = scorer.score(document.text, spans, hits)
        verdicts = oracle_verdicts(document, spans, scorer.categories).astype(bool)
        chosen = scores >= threshold
        units += len(spans)
        escalated += int(chosen.sum())
        positives += int(verdicts.any(axis=1).sum())
        escalated_pos += int((verdicts.any(axis=1) & chosen).sum())
        per_category[0] += (verdicts & chosen[:, None]).sum(axis=0)
        per_category[1] += verdicts.sum(axis=0)
    assert positives == 6  # one labelled paragraph, one unit, per label
    assert (outcome.units, outcome.escalated, outcome.positives) == (units, escalated, positives)
    assert outcome.escalated_positives == escalated_pos
    assert outcome.escalated_positives + outcome.missed_positives == 6
    assert outcome.unit_recall == pytest.approx(escalated_pos / positives)
    for column, category in enumerate(scorer.categories):
        assert outcome.by_category[category][0] == per_category[0, column]
        assert outcome.positives_by_category[category] == per_category[1, column]
    assert outcome.audited == min(4, units - escalated)
    assert len(outcome.verdicts) == escalated + outcome.audited
    assert sum(v.audited for v in outcome.verdicts) == outcome.audited
    audited_positive = sum(any(v.flags) for v in outcome.verdicts if v.audited)
    assert sum(t.positives for t in outcome.tallies) == audited_positive
    assert sum(any(v.flags) for v in outcome.verdicts if not v.audited) == escalated_pos
    scored = score_documents(scorer, documents)
    assert [d.units for d in scored] == [tuple(cut_units(d.text)) for d in documents]
    assert sum(int(d.verdicts.sum()) for d in scored) == 6
    assert sum(int((d.scores >= threshold).sum()) for d in scored) == escalated
    # The same seed gives the same audit; the run is deterministic.
    again = simulate_run(scorer, documents, threshold, audit_size=4, seed=3)
    assert again.verdicts == outcome.verdicts


def test_window_pools_runs():
    scored = hand_scored()
    first = run_scored(scored[:1], CATEGORIES, 0.6, 2, seed=0)
    second = run_scored(scored[1:], CATEGORIES, 0.6, 2, seed=1)
    assert pooled_unit_recall([first, second]) == pytest.approx(2 / 4)
    assert pooled_unit_recall([first, second], "non_compete") == pytest.approx(1 / 3)
    assert pooled_unit_recall([first], "audit_rights") == 1.0
    assert pooled_unit_recall([second], "audit_rights") is None
    expected = estimate_recall(2, [*first.tallies, *second.tallies], 0.05)
    assert window_estimate([first, second], 0.05) == expected
    by_category = estimate_recall(1, [*first.by_category["non_compete"][1],
                                      *second.by_category["non_compete"][1]], 0.05)
    assert window_estimate([first, second], 0.05, "non_compete") == by_category


# --- the coverage study ---------------------------------------------------------------------


def test_coverage_study_bookkeeping(scorer):
    documents = contracts()
    result = coverage_study(scorer, documents, seeds=range(6), audit_size=3, delta=0.05)
    point = scorer.operating_point(0.95)
    assert result.threshold == point.threshold and result.seeds == 6
    single = simulate_run(scorer, documents, point.threshold, 3, seed=0)
    assert result.rows[0].true_recall == pytest.approx(single.unit_recall)
    assert result.rows[0].positives == 6
    assert all(row.documents == 3 and row.runs == 1 and row.sampled <= 3 for row in result.rows)
    for row in result.rows:
        assert row.covered == (row.true_recall >= row.lower_bound)
        assert 0.0 <= row.lower_bound <= row.estimate <= 1.0
    assert result.coverage == pytest.approx(np.mean([row.covered for row in result.rows]))
    assert result.mean_true_recall == pytest.approx(single.unit_recall)
    windows = coverage_study(scorer, documents, seeds=range(4), audit_size=2, delta=0.05,
                             runs_per_window=3)
    for row in windows.rows:
        assert (row.runs, row.documents, row.positives) == (3, 3, 6)
        assert row.sampled <= 6
    table = format_coverage(windows)
    assert "| 4 | " in table and "3 run(s) per window" in table
    with pytest.raises(ValueError):
        coverage_study(scorer, documents, range(2), 2, 0.05, runs_per_window=4)


# --- feedback and the month -----------------------------------------------------------------


def test_feedback_documents_label_whole_units():
    verdicts = [Verdict("d", 10, 30, "a unit of twenty c.", (1, 1), False),
                Verdict("d", 40, 50, "negative", (0, 0), True)]
    documents = feedback_documents(verdicts, CATEGORIES)
    assert documents[0] == LabelledText("feedback/d/10-30", "a unit of twenty c.",
                                        (("audit_rights", 0, 19), ("non_compete", 0, 19)))
    assert documents[1].labels == () and documents[1].text == "negative"
    assert training_hash(contracts(), verdicts) == training_hash(contracts(), verdicts)
    assert training_hash(contracts(), verdicts) != training_hash(contracts(), verdicts[:1])
    assert training_hash(contracts(), []) != training_hash(contracts()[:2], [])


def test_split_month_is_disjoint_and_seeded():
    documents = [LabelledText(f"d{i}", "text", ()) for i in range(20)]
    initial, nights = split_month(documents, nights=3, docs_per_night=None, seed=5)
    assert len(initial) == 8 and [len(n) for n in nights] == [4, 4, 4]
    ids = [d.doc_id for d in initial] + [d.doc_id for n in nights for d in n]
    assert len(set(ids)) == len(ids) == 20
    assert split_month(documents, 3, None, 5) == (initial, nights)
    assert split_month(documents, 3, None, 6)[0] != initial
    with pytest.raises(ValueError):
        split_month(documents, nights=3, docs_per_night=5, seed=5)


def synthetic_contracts(count: int) -> list[LabelledText]:
    """Contracts built from the paragraphs above, each holding both categories' clauses."""
    rng = np.random.default_rng(0)
    documents = []
    for index in range(count):
        parts: list[tuple[str | None, str]] = [(None, b) for b in rng.permutation(BOILER)]
        parts.insert(int(rng.integers(0, 5)), ("audit_rights", AUDIT))
        parts.insert(int(rng.integers(0, 6)), ("non_compete", COMPETE))
        parts.insert(int(rng.integers(0, 7)), (None, TERMINATE))
        documents.append(contract(f"s{index}", parts))
    return documents


def test_month_runs_refits_and_pools_the_window():
    rows = simulate_month(nights=3, docs_per_night=2, seed=0, audit_size=3, window=2,
                          refit_every=2, initial_share=0.5,
                          documents=synthetic_contracts(12))
    assert [row.night for row in rows] == [1, 2, 3]
    assert [row.documents for row in rows] == [2, 2, 2]
    assert [row.refit for row in rows] == [True, False, True]
    assert rows[0].model_version == rows[1].model_version != rows[2].model_version
    assert [row.window_nights for row in rows] == [1, 2, 2]
    assert rows[0].feedback_units == 0
    assert rows[1].feedback_units == rows[0].escalated + rows[0].audited
    assert rows[2].feedback_units == rows[1].feedback_units + rows[1].escalated + rows[1].audited
    for row in rows:
        assert row.units == 2 * 7  # seven paragraphs, each a unit
        assert row.audited == min(3, row.units - row.escalated)
        # Each night holds 4 positive units; the clauses repeat verbatim, so the model finds them.
        assert row.unit_recall == 1.0 and row.label_recall == 1.0
        assert row.window_true_recall == 1.0
        assert row.estimate == 1.0 and 0.0 < row.lower_bound <= 1.0
    table = format_month(rows)
    assert table.count("\n| ") == 3 and "| 3 | 2 | 14 |" in table
