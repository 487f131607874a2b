"""The append-only review trail: a reviewer's decision on a finding, and its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from compliance.vocab import DISPOSITIONS


class ReviewError(ValueError):
    """A review that cannot be recorded (unknown finding, bad disposition, no reviewer)."""


@dataclass(frozen=True)
class Review:
    """One recorded review decision."""

    review_id: int
    finding_id: int
    from_disposition: str
    to_disposition: str
    reviewer: str
    note: str | None
    reviewed_at: datetime


def review_finding(cur: duckdb.DuckDBPyConnection, finding_id: int, disposition: str,
                   reviewer: str, note: str | None = None) -> Review:
    """Append a review decision for a finding on a current document; never edit the past."""
    if disposition not in DISPOSITIONS:
        raise ReviewError(f"disposition must be one of {', '.join(DISPOSITIONS)}, "
                          f"not {disposition!r}")
    if not reviewer.strip():
        raise ReviewError("a review needs a reviewer's name (--reviewer)")
    row = cur.execute("SELECT disposition, doc_id FROM findings WHERE finding_id = ?",
                      [finding_id]).fetchone()
    if row is None:
        known = cur.execute("SELECT 1 FROM finding_ids WHERE finding_id = ?",
                            [finding_id]).fetchone()
        raise ReviewError(
            f"finding {finding_id} is not on any current document version" if known
            else f"no finding with id {finding_id} (see `compliance findings`)")
    current, doc_id = row
    review_id, reviewed_at = cur.execute(
        """
        INSERT INTO finding_reviews (finding_id, doc_id, from_disposition, to_disposition,
                                     note, reviewer)
        VALUES (?, ?, ?, ?, ?, ?) RETURNING review_id, reviewed_at
        """,
        [finding_id, doc_id, current, disposition, note, reviewer.strip()],
    ).fetchone()
    return Review(review_id, finding_id, current, disposition, reviewer.strip(), note,
                  reviewed_at)


def review_history(cur: duckdb.DuckDBPyConnection, finding_id: int) -> list[Review]:
    """Every review of a finding, oldest first."""
    rows = cur.execute(
        "SELECT review_id, finding_id, from_disposition, to_disposition, reviewer, note, "
        "reviewed_at FROM finding_reviews WHERE finding_id = ? ORDER BY review_id",
        [finding_id]).fetchall()
    return [Review(*row) for row in rows]
