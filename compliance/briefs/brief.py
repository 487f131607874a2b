"""A document's brief from its text: the fields the rules find, each pointing into the text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from compliance.briefs.contract import contract_fields
from compliance.briefs.fields import BriefField

_SOURCES = ("brief.py", "contract.py", "dates.py", "fields.py")


def brief_version() -> str:
    """A hash of the brief code: a stored brief from other code is rebuilt, never trusted."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def contract_brief(text: str) -> list[BriefField]:
    """The brief's fields for a contract-like text (an empty list when nothing has a shape)."""
    return contract_fields(text)
