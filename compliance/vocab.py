"""The words every layer shares: statuses, severities, dispositions, and SQL built from them.

Stored values are plain strings (analysts query them); the enums and tuples name them once.
Python code passes them as values and builds status lists with the helpers below; a query may
still spell a single state inline (`w.status = 'done'`) where that reads more plainly. Released
migrations keep their own literals: they describe the schema as it was when they were written.
"""

from __future__ import annotations

from enum import StrEnum


class DocumentStatus(StrEnum):
    """What became of one version of one file."""

    OK = "ok"
    PARTIAL = "partial"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    UNSUPPORTED = "unsupported"
    NEEDS_OCR = "needs_ocr"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    REMOVED = "removed"


# Versions whose text was read: the only ones chunked, flagged, summarized and indexed.
TEXT_STATUSES = (DocumentStatus.OK, DocumentStatus.PARTIAL)
# Versions that could not be read, each with a reason a user can act on.
FAILED_STATUSES = (DocumentStatus.EMPTY, DocumentStatus.ENCRYPTED, DocumentStatus.CORRUPT,
                   DocumentStatus.UNSUPPORTED, DocumentStatus.NEEDS_OCR, DocumentStatus.TOO_LARGE,
                   DocumentStatus.TIMEOUT)
NOT_FAILED = (*TEXT_STATUSES, DocumentStatus.DUPLICATE, DocumentStatus.REMOVED)


class WindowStatus(StrEnum):
    """Where an escalation window stands: the cloud model's queue."""

    PENDING = "pending"
    DEFERRED = "deferred"  # over a budget: first in line next time
    SENT = "sent"  # in a batch that has not come back yet
    DONE = "done"
    FAILED = "failed"


# Severities of rule hits and findings, with the weights triage adds up.
SEVERITIES: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}

# What a reviewer decided about a finding; the first is where every finding starts.
DISPOSITIONS = ("open", "confirmed", "false_positive", "resolved")
# Findings still needing attention: open ones and those a reviewer confirmed but nobody fixed.
UNRESOLVED = ("open", "confirmed")

# The views analysts query (docs/schema.md documents them; `compliance export` writes them).
ANALYST_VIEWS = ("findings", "document_status", "escalations", "cost_by_run",
                 "cost_by_day_and_model", "savings_by_run", "cache_efficiency", "rule_precision",
                 "document_briefs")


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """Values as a SQL list literal: ('a', 'b')."""
    return "(" + ", ".join("'" + str(value).replace("'", "''") + "'" for value in values) + ")"


def readable_current(alias: str = "") -> str:
    """SQL: the document version is current and its text was read (`alias.` before columns)."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}is_current AND {prefix}status IN {sql_list(TEXT_STATUSES)}"


def severity_rank(column: str) -> str:
    """SQL: a severity column as its weight (0 for anything unknown), for ordering."""
    cases = " ".join(f"WHEN '{name}' THEN {weight}" for name, weight in
                     sorted(SEVERITIES.items(), key=lambda item: -item[1]))
    return f"CASE {column} {cases} ELSE 0 END"
