"""Invented facts: numbers, months and names a summary states that its input does not."""

from __future__ import annotations

from compliance.briefs.facts import invented_facts

SOURCE = ("This Agreement may be terminated by the Customer on ninety (90) days notice to the "
          "Supplier. Fees are EUR 1,000.50 a month from 1 March 2024.")


def test_numbers_compare_as_values() -> None:
    assert invented_facts("Fees are 1000.5 EUR a month; notice is 90 days.", SOURCE) == []
    assert invented_facts("Notice is 60 days.", SOURCE) == ["60"]
    assert invented_facts("It starts on the 13th.", SOURCE) == ["13"]


def test_months_and_names_must_be_in_the_input_whatever_their_case() -> None:
    assert invented_facts("It runs from March; the customer and supplier agree.", SOURCE) == []
    assert invented_facts("It ends in December with Contoso.", SOURCE) == ["December",
                                                                          "Contoso"]


def test_a_sentence_start_or_a_common_word_is_not_a_name() -> None:
    assert invented_facts("Overall, the customer may end it. However notice applies.",
                          SOURCE) == []
    assert invented_facts("- Termination: on notice.\n- Payment monthly.", SOURCE) == []
