"""`compliance eval briefs`: the field definitions on hand-made answers, and the command on
four real CUAD contracts with their expert answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.briefs.fields import BriefField
from compliance.evaluation.briefs import (
    FIELDS,
    expert_parties,
    field_correct,
    normalize_jurisdiction,
    normalize_period,
    normalize_title,
    party_matches,
    score_records,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "contracts" / "cuad_briefs.jsonl"


def found(name: str, *values: str) -> list[BriefField]:
    return [BriefField(name, value, "rule", 0, 1) for value in values]


def expert(answer: str, *texts: str) -> dict:
    return {"answer": answer, "texts": list(texts)}


def test_titles_compare_without_case_punctuation_or_spacing() -> None:
    assert normalize_title("Co-Branding   Agreement.") == "CO BRANDING AGREEMENT"
    assert field_correct("title", expert("CO-BRANDING AGREEMENT"),
                         found("title", "Co-Branding Agreement"))
    # Any of the annotators' highlighted texts counts.
    assert field_correct("title", expert("First Amendment", "AMENDMENT NO. 1"),
                         found("title", "Amendment No. 1"))
    assert not field_correct("title", expert("SUPPLY AGREEMENT"),
                             found("title", "ODM SUPPLY AGREEMENT"))


def test_dates_must_agree_on_every_part_the_expert_gives_and_leave_blanks_blank() -> None:
    assert field_correct("agreement_date", expert("3/6/06"), found("x", "2006-03-06"))
    assert not field_correct("agreement_date", expert("3/6/06"), found("x", "2006-03-07"))
    assert field_correct("agreement_date", expert("11/[]/2006"), found("x", "2006-11"))
    assert not field_correct("agreement_date", expert("11/[]/2006"), found("x", "2006-11-01"))
    assert not field_correct("agreement_date", expert("3/6/06"), [])


def test_an_empty_expert_answer_is_right_only_when_the_brief_is_empty_too() -> None:
    assert field_correct("governing_law", expert(""), [])
    assert not field_correct("governing_law", expert(""), found("x", "Delaware"))


def test_jurisdictions_compare_on_their_first_part() -> None:
    assert normalize_jurisdiction("the State of New York") == "new york"
    assert normalize_jurisdiction("Ontario, Canada") == "ontario"
    assert normalize_jurisdiction("England, United Kingdom; Wales, United Kingdom") == "england"
    assert field_correct("governing_law", expert("Massachusetts"),
                         found("x", "Commonwealth of Massachusetts"))
    assert not field_correct("governing_law", expert("Delaware"), found("x", "New York"))


def test_periods_compare_as_amount_and_unit() -> None:
    assert normalize_period("successive 1 year") == (1, "year")
    assert normalize_period("24 months") == (2, "year")
    assert normalize_period("90 days") == (90, "day")
    assert normalize_period("perpetual") is None
    assert field_correct("renewal_term", expert("successive 1 year"), found("x", "1 year"))


def test_both_of_the_first_two_expert_parties_must_be_found() -> None:
    answer = 'Acme Widgets, Inc. ("Acme"); Borealis Trading Ltd. ("Distributor"); Third Co.'
    assert expert_parties(answer) == ["Acme Widgets, Inc", "Borealis Trading Ltd",
                                      "Third Co"]
    assert party_matches("Acme Widgets, Inc.", 'ACME WIDGETS INC ("Acme")')
    assert party_matches("Acme Widgets, Inc.", "Widgets")  # half the words is enough
    assert not party_matches("Acme Global Widgets, Inc.", "Widgets")
    assert not party_matches("Acme", "Acme and every one of its many affiliated companies "
                                     "and subsidiaries listed in schedule a")  # too long
    both = found("party", "Acme Widgets, Inc.", "Borealis Trading Ltd")
    assert field_correct("parties", expert(answer), both)
    assert not field_correct("parties", expert(answer), both[:1])


def test_scores_count_right_answers_per_field() -> None:
    record = {"doc_id": "hand-made", "text": (
        "SUPPLY AGREEMENT\n\nThis Supply Agreement is made as of March 3, 2010 by and between "
        "Alpha Corp., a Delaware corporation (\"Alpha\"), and Beta LLC, a Texas limited "
        "liability company (\"Beta\").\n\nThis Agreement shall be governed by the laws of the "
        "State of Texas."),
        "meta": {"Document Name": expert("SUPPLY AGREEMENT"),
                 "Parties": expert('Alpha Corp. ("Alpha"); Beta LLC ("Beta")'),
                 "Agreement Date": expert("3/3/10"), "Effective Date": expert(""),
                 "Governing Law": expert("Delaware"), "Renewal Term": expert(""),
                 "Notice Period To Terminate Renewal": expert("")}}
    scores = score_records([record])
    right = {name: score.right for name, score in scores.items()}
    assert right == {"title": 1, "parties": 1, "agreement_date": 1, "effective_date": 1,
                     "governing_law": 0, "renewal_term": 1, "notice_to_terminate_renewal": 1}
    assert scores["governing_law"].misses == ["hand-made"]
    assert scores["effective_date"].answered == 0 and scores["title"].answered == 1


def test_the_command_scores_real_contracts_against_their_expert_answers(tmp_path: Path) -> None:
    out = tmp_path / "briefs.json"
    done = subprocess.run([sys.executable, "-m", "compliance.cli", "eval", "briefs", str(FIXTURE),
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| governing_law |" in done.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    scores = result["sets"]["cuad_briefs.jsonl"]
    assert set(scores) == set(FIELDS)
    # The four contracts' governing laws (England, Pennsylvania, California twice) and
    # agreement dates are all found; each field's counts add up.
    assert scores["governing_law"]["accuracy"] == pytest.approx(1.0)
    assert scores["agreement_date"]["accuracy"] == pytest.approx(1.0)
    for score in scores.values():
        assert score["contracts"] == 4 and 0 <= score["answered"] <= 4


def test_the_command_also_checks_the_stored_summaries_of_a_run(samples_run,
                                                                 tmp_path: Path) -> None:
    """The shares are counted from the real sample run's database, and agree with its rows."""
    import duckdb

    _, db_path, _ = samples_run
    out = tmp_path / "briefs.json"
    done = subprocess.run([sys.executable, "-m", "compliance.cli", "eval", "briefs", str(FIXTURE),
                           "--summaries", str(db_path), "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| invented facts |" in done.stdout and "| governing_law |" in done.stdout
    shares = json.loads(out.read_text(encoding="utf-8"))["summaries"][str(db_path)]
    conn = duckdb.connect(str(db_path), read_only=True)
    try:
        documents, fallbacks = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE s.method = 'extractive_fallback')
               FROM document_summaries ds JOIN documents d USING (doc_id)
               JOIN summaries s ON s.summary_key = ds.summary_key WHERE d.is_current""").fetchone()
    finally:
        conn.close()
    assert shares["document"]["summaries"] == documents > 0
    assert shares["document"]["fallback"] == pytest.approx(round(fallbacks / documents, 4))
    assert shares["all"]["summaries"] == shares["chunk"]["summaries"] + documents
    # The judge rejects answers that state what their input does not, before they are stored.
    assert shares["all"]["invented"] == 0.0
