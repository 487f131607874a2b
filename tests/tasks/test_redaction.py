"""Redaction before text leaves the machine: typed placeholders, and values found elsewhere."""

from compliance.rules.matching import Hit
from tasks.flag import known_personal_data, redact

TEXT = ("Line manager: Dr. Tobias Lindqvist-Oyelaran approves the non-compete.\n\n"
        "From: HR\nCc: Tobias Lindqvist-Oyelaran <t.l@example.com>\nThe employee shall not "
        "compete for twelve months.")


def _hit(value, kind, rule_id, text=TEXT):
    start = text.index(value)
    return Hit(rule_id, "personal_data", "high", "record", start, start + len(value),
               "personal-data", "1", kind)


def test_a_value_found_once_is_redacted_wherever_it_recurs():
    # The entity model tagged the name in the first sentence only, the e-mail in the header.
    first = _hit("Tobias Lindqvist-Oyelaran", "PERSON", "pii.person")
    email = _hit("t.l@example.com", "EMAIL", "pii.email")
    header = TEXT.index("From:")
    known = known_personal_data([(TEXT, [first, email])])
    assert known == {("PERSON", "Tobias Lindqvist-Oyelaran", "pii.person"),
                     ("EMAIL", "t.l@example.com", "pii.email")}
    # Only the header's own e-mail hit is in the window; the name comes from `known`.
    redacted, mapping = redact(TEXT, header, len(TEXT), [email], known)
    assert "Tobias" not in redacted and "t.l@example.com" not in redacted
    assert redacted.startswith("From: HR\nCc: [PERSON_1] <[EMAIL_1]>")
    assert sorted(m[0] for m in mapping) == ["[EMAIL_1]", "[PERSON_1]"]
    # Without it, the header's name would have left the machine.
    unsafe, _ = redact(TEXT, header, len(TEXT), [email])
    assert "Tobias Lindqvist-Oyelaran" in unsafe
