"""The personal-data rule pack: values in their usual shapes, odd spaces."""

from __future__ import annotations


def test_personal_data_rules_find_values_in_their_usual_shapes() -> None:
    from compliance.rules.loader import load_rules

    rules = load_rules()
    text = ("Call 01632 960 482, +49 (0)89 2154-8861 or +33 6 12 34 56 78. DOB: 02-Sep-1947; "
            "born 2nd Sept. 1983. Home: 14 Orchard Close, Desborough, Kettering NN14 2QT. "
            "Order 2024-0001, ISBN 978-0-306-40615-7, version 4.8.2, invoice dated 1979-07-30.")
    found = {(h.rule_id, text[h.start:h.end]) for h in rules.scan(text)
             if h.pack == "personal-data"}
    assert ("pii.phone", "01632 960 482") in found
    assert ("pii.phone", "+49 (0)89 2154-8861") in found
    assert ("pii.phone", "+33 6 12 34 56 78") in found
    # the birth cue gives context; only the date is the value (and gets redacted)
    assert ("pii.date_of_birth", "02-Sep-1947") in found
    assert ("pii.date_of_birth", "2nd Sept. 1983") in found
    assert ("pii.postal_address", "14 Orchard Close, Desborough, Kettering NN14 2QT") in found
    values = {value for _, value in found}
    assert not any(v in values for v in ("2024-0001", "1979-07-30", "4.8.2"))
    assert not any("978" in v for v in values)


def test_rules_read_text_spaced_with_non_breaking_spaces() -> None:
    from compliance.rules.loader import load_rules

    text = "\u00a0".join("Supplier shall sell the Products exclusively to Customer.".split())
    hits = load_rules().scan(text)
    assert "contract.exclusivity" in {h.rule_id for h in hits}
    assert all(text[h.start:h.end].strip() for h in hits)  # offsets are the stored text's


def test_a_documents_chunks_scanned_together_get_the_hits_of_each_alone() -> None:
    from compliance.rules.loader import load_rules

    rules = load_rules()
    texts = ["Patient: Margaret Ellison, referred by Dr Samuel Okafor on Tuesday.",
             "The supplier shall deliver the goods within thirty days of the order.",
             "",
             "Contact Priya Raman (priya.raman@example.org) about the audit findings."]
    together = rules.scan_many(texts)
    assert together == [rules.scan(text) for text in texts]
    names = {texts[0][h.start:h.end] for h in together[0] if h.rule_id == "pii.person_name"}
    assert "Margaret Ellison" in names
    assert rules.scan_many([]) == []
