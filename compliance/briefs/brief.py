"""A document's brief from its text: what it is and the fields the rules find, each pointing
into the text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from compliance.briefs.contract import contract_fields, find_title
from compliance.briefs.fields import BriefField
from compliance.briefs.general import email_fields, is_contract, is_email, other_fields
from compliance.briefs.settings import DEFAULT_SETTINGS, BriefSettings

_SOURCES = ("brief.py", "contract.py", "dates.py", "fields.py", "general.py", "settings.py")


def brief_version() -> str:
    """A hash of the brief code: a stored brief from other code is rebuilt, never trusted."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def document_brief(text: str, settings: BriefSettings = DEFAULT_SETTINGS) -> list[BriefField]:
    """The brief's fields: `kind` first (contract, email, policy, ...), then what has a shape.

    `settings` other than the defaults are for `compliance eval briefs --train`, which chooses
    them.
    """
    if is_email(text):
        kind, fields = "email", email_fields(text)
    else:
        title = find_title(text, settings)
        if is_contract(text, title):
            kind, fields = "contract", contract_fields(text, title, settings)
        else:
            kind, fields = other_fields(text)
    title = next((f for f in fields if f.field == "title"), None)
    span = (title.char_start, title.char_end) if title else (0, 0)
    return [BriefField("kind", kind, "rule", *span), *fields]
