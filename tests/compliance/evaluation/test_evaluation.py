"""The triage metrics, on hand-made labelled sets whose answer is known."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import FIXTURES_DIR

from compliance.adapters.cloud import (
    ANSWER_TOKENS_PER_DISMISSAL,
    ANSWER_TOKENS_PER_FINDING,
    ANSWER_TOKENS_PER_REQUEST,
)
from compliance.adapters.prices import load_price_table
from compliance.evaluation.align import compact, covered_fraction, locate
from compliance.evaluation.labelled import Label, LabelledDocument, category_key, load_cuad
from compliance.evaluation.metrics import Selection, TriagedDocument, evaluate
from compliance.rules.matching import Hit, WholeDocument
from compliance.settings import TriageSettings
from tasks.escalate.costs import estimated_request_cost, estimated_sync_cost
from tasks.flag import clause_bounds, decide, decide_document

FIXTURES = FIXTURES_DIR / "eval"
PRIMARY = frozenset({"primary"})


def words(texts: list[str]) -> list[int]:
    """A tokenizer whose counts are easy to check by hand: one token per word."""
    return [len(t.split()) for t in texts]


def hit(rule_id: str, severity: str, start: int, end: int, category: str = "c") -> Hit:
    return Hit(rule_id, category, severity, "escalate", start, end, "p", "v", None)


def test_locate_ignores_whitespace_case_and_ligatures() -> None:
    stored = "The  Licensee shall\nmaintain ﬁles and RECORDS."
    offsets, length = locate("licensee shall maintain files and records.", compact(stored))
    assert length == len("licenseeshallmaintainfilesandrecords.")
    assert len(offsets) == length
    assert stored[offsets[0]] == "L" and stored[offsets[-1]] == "."


def test_locate_counts_text_the_extraction_lost_as_missing() -> None:
    label = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike"
    stored = compact("alpha bravo charlie delta echo foxtrot golf hotel  -- page 3 --  ")
    offsets, length = locate(label, stored)
    assert 0 < len(offsets) < length


def test_locate_prefers_the_occurrence_nearest_the_label_offset() -> None:
    stored = "Repeat this. Other words. Repeat this."
    offsets, _ = locate("Repeat this.", compact(stored), expected_offset=30)
    assert offsets[0] == stored.rindex("Repeat")


def test_covered_fraction_is_the_share_of_label_characters_selected() -> None:
    assert covered_fraction([0, 1, 2, 3], 4, [(0, 2)]) == 0.5
    assert covered_fraction([0, 1, 2, 3], 4, [(1, 2), (3, 9)]) == 0.5
    assert covered_fraction([], 4, [(0, 9)]) == 0.0


def test_category_key_matches_rule_categories() -> None:
    assert category_key("Ip Ownership Assignment") == "ip_ownership_assignment"
    assert category_key("Termination For Convenience") == "termination_for_convenience"


def _doc(text: str, labels: list[tuple[str, str]], answers: dict[str, bool],
         windows: list[tuple[int, int, str]], chunks: int, escalated: int) -> TriagedDocument:
    labelled = LabelledDocument("d", "d.txt", [Label(c, t) for c, t in labels], answers, text)
    return TriagedDocument(labelled, text,
                           [Selection(s, e, frozenset({c})) for s, e, c in windows],
                           chunks=chunks, chunks_escalated=escalated)


def test_evaluate_on_a_hand_made_set_gives_the_known_answer() -> None:
    one = "aa bb cc dd. ee ff gg hh. ii jj kk ll."  # 12 words
    two = "mm nn oo pp. qq rr ss tt."  # 8 words
    documents = [
        # label 1 fully inside the window; label 2 half covered (exactly 50% counts as found)
        _doc(one, [("x", "aa bb cc dd."), ("y", "ee ff gg hh. ii jj kk ll.")],
             {"x": True, "y": True}, [(0, 12, "x"), (13, 25, "x")], chunks=2, escalated=1),
        # label not selected at all; the window carries y though the document has no y
        _doc(two, [("x", "qq rr ss tt.")], {"x": True, "y": False}, [(0, 12, "y")],
             chunks=2, escalated=1),
    ]
    result = evaluate(documents, PRIMARY, words)
    assert (result.labels, result.found) == (3, 2)
    assert result.recall == pytest.approx(2 / 3)
    assert result.categories["x"].recall == pytest.approx(1 / 2)
    assert result.categories["y"].recall == 1.0
    # windows: 4 + 4 words of doc one, 4 of doc two, out of 20
    assert (result.tokens_selected, result.tokens_total) == (12, 20)
    assert result.token_share == pytest.approx(0.6)
    assert result.chunk_share == 0.5
    x, y = result.categories["x"], result.categories["y"]
    assert (x.docs_true_positive, x.docs_false_positive, x.docs_false_negative) == (1, 0, 1)
    assert (y.docs_true_positive, y.docs_false_positive, y.docs_false_negative) == (0, 1, 1)
    assert x.doc_precision == 1.0 and x.doc_recall == 0.5
    assert y.doc_precision == 0.0


def test_rule_level_scores_need_a_selection_of_the_labels_category() -> None:
    text = "aa bb cc dd. ee ff gg hh."
    doc = _doc(text, [("x", "aa bb cc dd.")], {}, [(0, 12, "y")], chunks=1, escalated=1)
    assert evaluate([doc], PRIMARY, words).found == 1
    assert evaluate([doc], PRIMARY, words, category_of_window=True).found == 0


def test_precision_counts_selections_that_touch_a_label() -> None:
    text = "aa bb cc dd. ee ff gg hh. ii jj kk ll."
    doc = _doc(text, [("x", "aa bb cc dd.")], {}, [(0, 5, "x"), (26, 30, "x")], 1, 1)
    score = evaluate([doc], PRIMARY, words, category_of_window=True).categories["x"]
    assert (score.selections, score.selections_on_label) == (2, 1)
    assert score.precision == 0.5


def test_clause_bounds_do_not_stop_at_a_hard_line_wrap() -> None:
    text = "First clause here. Licensee shall not\ncompete with Licensor anywhere; next item."
    start, end = clause_bounds(text, text.index("compete"), text.index("compete") + 7)
    assert text[start:end] == "Licensee shall not\ncompete with Licensor anywhere;"


def test_a_clause_scores_distinct_rules_and_short_clauses_gain_a_neighbour() -> None:
    text = "4. Exclusivity. Supplier sells only to Customer. 5. Price. Prices are fixed."
    heading = hit("r.high", "high", text.index("Exclusivity"), text.index("Exclusivity") + 11)
    verdict = decide(text, [heading], TriageSettings(triage_threshold=2, min_window_chars=30))
    assert verdict.decision == "escalate" and verdict.score == 3
    (window,) = verdict.windows
    assert "Supplier sells only to Customer." in text[window[0]:window[1]]
    # one low cue is not enough; the same rule twice is still one cue; two cues are
    low = [hit("r.low", "low", 25, 30), hit("r.low", "low", 31, 35)]
    assert decide(text, low, TriageSettings(triage_threshold=2)).decision == "routine"
    two = [hit("r.low", "low", 25, 30), hit("r.other", "low", 31, 35)]
    assert decide(text, two, TriageSettings(triage_threshold=2)).decision == "escalate"


def test_a_short_document_with_two_rules_of_a_wide_pack_goes_whole() -> None:
    """Every chunk of it is one window, naming the rules that sent it; others stay clause-sized."""
    policy = WholeDocument("promo", min_distinct_rules=2, max_chunks=3)
    settings = TriageSettings(triage_threshold=2, min_window_chars=0)
    plain = "Plain text about the product. Nothing here matches."
    first = "Our drug is the safest. Talk to your doctor."
    second = "It cures the disease. Ask for it by name."

    def promo(rule: str, text: str, word: str) -> Hit:
        start = text.index(word)
        return Hit(rule, "pharma_promotion", "high", "escalate", start, start + len(word),
                   "promo", "v", None)

    chunks = [(first, [promo("promo.superiority", first, "safest")]), (plain, []),
              (second, [promo("promo.cure", second, "cures")])]
    verdicts = decide_document(chunks, settings, [policy])
    assert [v.decision for v in verdicts] == ["escalate"] * 3
    assert [v.windows for v in verdicts] == [[(0, len(text))] for text, _ in chunks]
    assert verdicts[1].because == (("promo.cure", "pharma_promotion"),
                                   ("promo.superiority", "pharma_promotion"))
    assert "whole document: 2 rules of promo" in verdicts[1].reasons
    # one rule twice is one rule; a longer document stays clause by clause; so does another pack
    for variant, policies in (
            ([chunks[0], chunks[1], (first, [promo("promo.superiority", first, "safest")])],
             [policy]),
            ([*chunks, (plain, [])], [policy]),
            (chunks, [WholeDocument("other", 2, 3)])):
        verdicts = decide_document(variant, settings, policies)
        assert verdicts[1].decision == "routine" and not verdicts[1].because
        assert verdicts[0].windows == [(0, len("Our drug is the safest."))]


def test_sync_cost_estimate_packs_spans_like_the_escalation_stage() -> None:
    price = load_price_table().price("claude-haiku-4-5")
    spans = [(1000, True), (1000, False), (1000, False)]
    one_request = estimated_request_cost(price, 3000, 3, 1)
    assert estimated_sync_cost(price, spans, max_spans=8) == one_request
    split = estimated_request_cost(price, 2000, 2, 1) + estimated_request_cost(price, 1000, 1, 0)
    assert estimated_sync_cost(price, spans, max_spans=2) == split
    assert one_request > Decimal(0)


def test_request_estimate_prices_the_expected_answer() -> None:
    """Input: policy plus text at 0.25 token a character; output: frame, findings, dismissals."""
    price = load_price_table().price("claude-haiku-4-5")  # $1 in, $5 out per million
    policy = Decimal(1000)
    estimate = estimated_request_cost(price, 4000, 3, 1, policy_tokens=policy)
    output = ANSWER_TOKENS_PER_REQUEST + ANSWER_TOKENS_PER_FINDING + 2 * ANSWER_TOKENS_PER_DISMISSAL
    assert estimate == (Decimal(1000 + 1000) * 1 + Decimal(output) * 5) / Decimal(1_000_000)
    # what a run observed per span replaces the expectation
    observed = estimated_request_cost(price, 4000, 3, 1, output_per_span=Decimal(10),
                                      policy_tokens=policy)
    assert observed == (Decimal(2000) + Decimal(30) * 5) / Decimal(1_000_000)


def test_load_cuad_rejects_a_record_without_labels(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"doc_id": "x", "text": "t"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_cuad(path)


def test_eval_contracts_runs_the_real_pipeline(prefect_harness, tmp_path: Path) -> None:
    """End to end on two tiny contracts: one labelled clause the rules find, one they cannot."""
    from compliance.evaluation.runner import EvalOptions, evaluate_contracts

    table, result = evaluate_contracts(FIXTURES / "tiny_contracts.jsonl",
                                       EvalOptions(workdir=tmp_path, scorer="off"), sweep=True)
    assert result["labels"] == 3
    assert result["recall"]["audit_rights"] == 1.0
    assert result["recall"]["exclusivity"] == 1.0
    assert result["recall"]["non_compete"] == 0.0  # "meet every quarter" is no rule's business
    assert result["recall_primary"] == pytest.approx(2 / 3)
    assert 0 < result["token_share_escalated"] < 1
    assert result["chunk_share_escalated"] > 0
    assert result["naive_new_usd"] > result["escalated_usd"] > 0
    assert [p["threshold"] for p in result["sweep"]] == [1, 2, 3, 4, 5, 6]
    recalls = [p["recall_primary"] for p in result["sweep"]]
    assert recalls == sorted(recalls, reverse=True)  # a higher threshold never finds more
    assert "| audit_rights | 1 | 1 | 1.000 |" in table
    assert "Recall against escalation" in table
    # The default: the clause scorer, its cross-validated curve and a sweep over recall targets.
    table, result = evaluate_contracts(FIXTURES / "tiny_contracts.jsonl",
                                       EvalOptions(workdir=tmp_path / "scorer"), sweep=True)
    assert result["labels"] == 3 and result["scorer_version"]
    assert [row["recall_target"] for row in result["cross_validation"]][-2:] == [0.95, 0.97]
    assert all(row["cv_recall"] >= row["recall_target"] for row in result["cross_validation"])
    points = [p["point"] for p in result["sweep"]]
    assert points[-1] == "rules alone" and "target 0.95" in points
    assert "cross-validation grouped by contract" in table
