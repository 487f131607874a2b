"""The summary fallbacks and judge, model JSON parsing, and the local budget."""

from __future__ import annotations

from compliance.textnorm import words
from tasks.summarize.judge import extractive_summary, judge_summary, parse_model_json
from tasks.summarize.results import LocalBudget

SOURCE = (
    "The supplier shall deliver the validated software release to the customer by the first of "
    "March. Late delivery triggers a service credit of five percent of the monthly fee for each "
    "week of delay. The customer may terminate the agreement for convenience with ninety days "
    "written notice. Either party must keep the other party's confidential information secret "
    "for five years after termination. The supplier's total liability is capped at the fees paid "
    "in the twelve months before the claim, except for indemnity and confidentiality breaches."
)


def test_extractive_summary_is_shorter_and_taken_from_the_input():
    summary = extractive_summary(SOURCE)
    assert 0 < len(summary) < len(SOURCE)
    assert len(summary) <= 0.35 * len(SOURCE)
    assert set(words(summary)) <= set(words(SOURCE))


def test_extractive_summary_of_one_long_sentence_is_cut_short():
    sentence = "The parties agree " + "and further agree " * 40 + "to the terms."
    summary = extractive_summary(sentence)
    assert 0 < len(summary) < len(sentence)


def test_extractive_summary_is_not_just_a_section_number():
    text = ("3. Value thresholds and approvals\n\nSituation Maximum value Approval needed Gift to "
            "a healthcare professional USD 50 per item; USD 150 per year Manager and Compliance "
            "Meal with a healthcare professional USD 75 per person per meal Manager Gift or "
            "hospitality to a government official Not permitted without approval Compliance "
            "Office in advance Gift received from a supplier USD 100 per item Manager; log in "
            "register Sponsored travel for an HCP to a congress Economy class; no leisure days "
            "Medical Director and Compliance")
    summary = extractive_summary(text)
    assert len(words(summary)) >= 3, f"summary {summary!r} says nothing about the text"


def test_judge_summary_rejects_a_copy():
    copy = SOURCE[:300]  # two sentences verbatim: short enough, but copied
    assert judge_summary(copy, SOURCE) == "copies its input"
    assert judge_summary(SOURCE, SOURCE) == "not shorter than its input"


def test_judge_summary_accepts_a_paraphrase():
    paraphrase = ("The supplier must deliver the software on time, owes service credits for "
                  "delay, and its liability is capped except for indemnity and confidentiality.")
    assert judge_summary(paraphrase, SOURCE) is None


def test_judge_summary_rejects_noise():
    assert judge_summary("Too short here", SOURCE) == "too short"
    assert judge_summary("%%%% #### $$$$ @@@@ !!!! ^^^^ a b c d e", SOURCE) == "mostly symbols"
    unrelated = "Penguins waddle across frozen Antarctic beaches searching for krill daily."
    assert judge_summary(unrelated, SOURCE) == "not grounded in its input"


def test_judge_summary_rejects_invented_dates_numbers_and_names():
    # What the master services agreement's summary once said: a date no chunk holds.
    invented = ("The supplier must deliver the software release and the customer may terminate "
                "the agreement on 13th December with ninety days notice.")
    assert judge_summary(invented, SOURCE) == "states what its input does not: 13, December"
    figure = ("The supplier owes a service credit of 15 percent of the monthly fee for each "
              "week of late delivery of the software.")
    assert judge_summary(figure, SOURCE) == "states what its input does not: 15"
    company = ("The supplier delivers software to Contoso and owes service credits for late "
               "delivery to the customer.")
    assert judge_summary(company, SOURCE) == "states what its input does not: Contoso"
    # The input's own month and words, capitalized, are not inventions.
    grounded = ("The Supplier must deliver the release by March; the Customer may terminate "
                "for convenience.")
    assert judge_summary(grounded, SOURCE) is None


def test_parse_model_json():
    draft = parse_model_json('{"summary": "  A  short\\nsummary. ", "key_points": ["a", ""],'
                             ' "risk_signals": []}')
    assert draft is not None
    assert (draft.summary, draft.key_points, draft.risk_signals, draft.method) == (
        "A short summary.", ["a"], [], "llm")
    assert parse_model_json("not json") is None
    assert parse_model_json('{"key_points": []}') is None


def test_local_budget():
    assert not LocalBudget(None, spent=1e9).exhausted()
    assert not LocalBudget(3.0, spent=2.9).exhausted()
    assert LocalBudget(3.0, spent=3.0).exhausted()
    assert LocalBudget(0.0).exhausted()


def test_local_budget_allots_what_is_neither_spent_nor_set_aside():
    assert LocalBudget(None).allotment() is None
    budget = LocalBudget(10.0, spent=2.0)
    assert budget.allotment() == 8.0 and budget.allotment(4) == 2.0
    first = budget.allot(budget.allotment(2))
    assert first == 4.0 and budget.reserved == 4.0
    assert budget.allotment() == 4.0  # the first call's share is set aside
    second = budget.allot(budget.allotment())
    assert budget.allotment() == 0.0
    budget.charge(first, 1.5)  # it used less than it was given: the rest comes back
    assert budget.spent == 3.5 and budget.reserved == second == 4.0
    assert budget.allotment() == 2.5
    budget.charge(second, 4.0)
    assert budget.spent == 7.5 and budget.reserved == 0.0 and not budget.exhausted()
