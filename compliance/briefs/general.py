"""What a document is, and the fields of documents that are not contracts: e-mail headers, the
title and date of a policy, a procedure or notes."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from compliance.briefs.contract import PREAMBLE_CHARS, find_governing_law
from compliance.briefs.dates import find_dates
from compliance.briefs.fields import BriefField

_HEADER = re.compile(r"^(From|To|Cc|Date|Subject):[ \t]*(.*)$", re.MULTILINE)
_CONTRACT_TITLE = re.compile(r"\b(?:agreement|contract|licen[cs]e|lease|amendment|addendum|"
                             r"indenture|terms\s+and\s+conditions|memorandum\s+of)\b",
                             re.IGNORECASE)
_CONTRACT_OPENING = re.compile(r"\b(?:by\s+and\s+)?(?:between|among)\b|\bthe\s+parties\b|"
                               r"\bParty\s+A\s*[:(]", re.IGNORECASE)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("policy", re.compile(r"\bpolicy\b", re.IGNORECASE)),
    ("procedure", re.compile(r"\b(?:SOP|procedure|work\s+instruction)\b", re.IGNORECASE)),
    ("notes", re.compile(r"\b(?:minutes|meeting\s+notes|notes)\b", re.IGNORECASE)),
    ("report", re.compile(r"\breport\b", re.IGNORECASE)),
    ("promotional material", re.compile(r"\b(?:brochure|leaflet|advert|®|™)", re.IGNORECASE)),
)
_LABELLED_DATE = re.compile(r"\b(effective|issue|issued|review|dated?)\b[^\n:]{0,20}:?\s*$",
                            re.IGNORECASE)


def is_email(text: str) -> bool:
    """Whether the text opens with mail headers (From/To/Subject), as stored .eml texts do."""
    names = {m.group(1) for m in _HEADER.finditer(text[:3000])}
    return "From" in names and ("Subject" in names or "To" in names)


def is_contract(text: str, title: BriefField | None) -> bool:
    """Whether the text reads as an agreement: a contract title, or an agreement between
    parties named in its opening."""
    if title is not None and _CONTRACT_TITLE.search(title.value):
        return True
    opening = text[:PREAMBLE_CHARS]
    return bool(re.search(r"\bagreement\b", opening, re.IGNORECASE)
                and _CONTRACT_OPENING.search(opening))


def kind_of(title: BriefField | None) -> str:
    """policy, procedure, notes, report, promotional material or document, by the title."""
    for kind, pattern in _KINDS:
        if title is not None and pattern.search(title.value):
            return kind
    return "document"


def email_fields(text: str) -> list[BriefField]:
    """Subject as the title, the sender and recipients as people, the Date header."""
    fields: list[BriefField] = []
    for match in _HEADER.finditer(text[:3000]):
        name, value = match.group(1), match.group(2).strip()
        if not value:
            continue
        start, end = match.start(2), match.start(2) + len(value)
        if name == "Subject":
            fields.append(BriefField("title", value, "parser", start, end))
        elif name in ("From", "To", "Cc"):
            role = {"From": "sender", "To": "recipient", "Cc": "copied"}[name]
            for person in (p.strip() for p in value.split(",")):
                if person:
                    fields.append(BriefField("person", f"{person} ({role})", "parser", start,
                                             end))
        elif name == "Date":
            try:
                sent = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            fields.append(BriefField("sent_date", sent.date().isoformat(), "parser", start,
                                     end))
    return fields


def first_line_title(text: str) -> BriefField | None:
    """The first short non-empty line: how policies, procedures and notes name themselves."""
    for match in re.finditer(r"[^\n]+", text[:2000]):
        line = " ".join(match.group().split()).strip(" #*=-")
        if line and len(line.split()) <= 14 and sum(c.isalpha() for c in line) >= 3:
            start = text.find(line[:20], match.start())
            return BriefField("title", line, "rule", max(start, match.start()), match.end())
    return None


def document_date(text: str) -> BriefField | None:
    """The opening's labelled date ("Effective date: 15 April 2024"), else its first date."""
    dates = find_dates(text[:1500])
    for date in dates:
        label = _LABELLED_DATE.search(text[max(0, date.start - 30):date.start])
        if label:
            name = ("effective_date" if label.group(1).lower() == "effective"
                    else "document_date")
            return BriefField(name, date.iso, "rule", date.start, date.end)
    if dates:
        return BriefField("document_date", dates[0].iso, "rule", dates[0].start, dates[0].end)
    return None


def other_fields(text: str) -> tuple[str, list[BriefField]]:
    """The kind and fields of a text that is neither a contract nor an e-mail."""
    title = first_line_title(text)
    fields = [title] if title else []
    date = document_date(text)
    if date:
        fields.append(date)
    law = find_governing_law(text)
    if law:
        fields.append(law)
    return kind_of(title), fields
