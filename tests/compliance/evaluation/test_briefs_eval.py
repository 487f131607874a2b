"""`compliance eval briefs`: the field definitions on hand-made answers, and the command on
four real CUAD contracts with their expert answers."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from compliance.briefs.fields import BriefField
from compliance.briefs.settings import DEFAULT_SETTINGS, SETTING_GRID
from compliance.evaluation.briefs import (
    FIELDS,
    _choose,
    cross_validate,
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


def test_a_settings_group_is_chosen_on_its_fields_right_answers_first_in_grid_order() -> None:
    answers = [{"title": np.array([1, 0, 1, 0])}, {"title": np.array([0, 1, 1, 0])},
               {"title": np.array([1, 1, 0, -1])}]  # -1: not scored
    assert _choose(answers, ("title",), np.arange(4)) == 0  # 2, 2, 2: a tie, the first wins
    assert _choose(answers, ("title",), np.array([1, 3])) == 1  # 0, 1, 1 on these rows
    assert _choose(answers, ("title",), np.array([0, 1])) == 2  # 1, 1, 2


def titled(doc_id: str, lead: str) -> dict:
    """A contract whose title stands after `lead`; only the title has an expert answer."""
    text = (lead + 'SUPPLY AGREEMENT\n\nThis agreement is made by and between Alpha Corp. '
            '("Alpha") and Beta LLC ("Beta").\n\n1. Supply. Alpha shall supply the goods.')
    return {"doc_id": doc_id, "text": text, "meta": {"Document Name": expert("SUPPLY AGREEMENT")}}


def test_cross_validation_scores_each_fold_with_the_choice_of_the_other_folds() -> None:
    """Two documents of two records each, two folds: a title near the start is found with
    either window, one 300 characters in only with the wide one. Trained on the near
    document, the tie picks the narrow window, which then misses the far titles."""
    filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit; " * 6 + "\n"
    records = [titled("near", ""), titled("far", filler), titled("near", ""),
               titled("far", filler)]
    grid = {("title",): {"title_chars": (100, 3000)}}
    result = cross_validate(records, folds=2, grid=grid)
    assert result["fields"]["title"]["accuracy"] == pytest.approx(0.5)
    assert sorted(result["fields"]["title"]["fold_accuracies"]) == [0.0, 1.0]
    assert sorted(c["title_chars"] for c in result["chosen_by_fold"]["title"]) == [100, 3000]
    assert result["chosen_on_whole_set"] == {"title_chars": 3000}
    assert result["shipped"] == {"title_chars": DEFAULT_SETTINGS.title_chars}
    assert result["shipped_is_whole_set_choice"] == (DEFAULT_SETTINGS.title_chars == 3000)
    # Fields no setting serves are not chosen; a field without answers is not scored.
    assert result["fields"]["title"]["chosen"] and not result["fields"]["renewal_term"]["chosen"]
    assert result["fields"]["parties"]["accuracy"] is None


def test_every_shipped_setting_is_one_of_its_grid_values() -> None:
    grid = {name: values for group in SETTING_GRID.values() for name, values in group.items()}
    assert set(grid) == set(asdict(DEFAULT_SETTINGS))
    for name, value in asdict(DEFAULT_SETTINGS).items():
        assert value in grid[name], name
        assert list(grid[name]) == sorted(grid[name]), name  # ties go to the smaller window


def test_the_command_cross_validates_the_training_set(tmp_path: Path) -> None:
    out = tmp_path / "briefs.json"
    done = subprocess.run([sys.executable, "-m", "compliance.cli", "eval", "briefs", str(FIXTURE),
                           "--train", str(FIXTURE), "--folds", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "cuad_briefs.jsonl (2-fold CV)" in done.stdout.splitlines()[0]
    assert "Settings chosen on the whole of cuad_briefs.jsonl:" in done.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    assert list(result["sets"]) == ["cuad_briefs.jsonl", "cuad_briefs.jsonl (2-fold CV)"]
    validation = result["cross_validation"]
    assert validation["folds"] == 2 and validation["set"] == "cuad_briefs.jsonl"
    assert set(validation["chosen_by_fold"]) == {" ".join(f) for f in SETTING_GRID}
    for chosen in validation["chosen_by_fold"].values():
        assert len(chosen) == 2
    for name, score in result["sets"]["cuad_briefs.jsonl (2-fold CV)"].items():
        assert score["contracts"] == 4 and len(score["fold_accuracies"]) == 2, name


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
