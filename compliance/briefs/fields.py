"""One field of a document brief: its value, how it was found and where in the stored text."""

from __future__ import annotations

from dataclasses import dataclass

# How a field was produced, strongest evidence first (the column brief_fields.method).
METHODS = ("rule", "parser", "local_model", "cloud_verdict", "extractive")


@dataclass(frozen=True)
class BriefField:
    """A value read from a document's text, with the span of text that supports it."""

    field: str
    value: str
    method: str
    char_start: int
    char_end: int
