"""Clause scorers trained on the user's own labels, stored in the results database.

`compliance triage train` adds one; nothing changes until `compliance triage activate` makes it
the model runs use when no scorer is named. The store keeps bytes and numbers: what a model is
belongs to compliance.scoring.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb


class ScorerNotFoundError(LookupError):
    """No stored scorer has that version."""


@dataclass(frozen=True)
class StoredScorer:
    """One stored scorer, without its bytes."""

    version: str
    created_at: Any
    labels_used: int
    cross_validation: list[dict[str, Any]]
    active: bool


def store_scorer(cur: duckdb.DuckDBPyConnection, version: str, model: bytes, labels_used: int,
                 cross_validation: list[dict[str, Any]]) -> None:
    """Keep a trained scorer (inactive); the same version stored twice is kept once."""
    cur.execute(
        "INSERT INTO scorer_models (version, labels_used, cross_validation, model, sha256) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING",
        [version, labels_used, json.dumps(cross_validation), model,
         hashlib.sha256(model).hexdigest()])


def activate_scorer(cur: duckdb.DuckDBPyConnection, version: str | None) -> None:
    """Make one stored scorer the active one; None: back to the shipped default."""
    if version is not None and not cur.execute(
            "SELECT 1 FROM scorer_models WHERE version = ?", [version]).fetchone():
        raise ScorerNotFoundError(f"no stored clause scorer {version!r} "
                                  "(see `compliance triage models`)")
    cur.execute("UPDATE scorer_models SET active = (version = ?) "
                "WHERE active OR version = ?", [version or "", version or ""])


def active_scorer_bytes(cur: duckdb.DuckDBPyConnection) -> bytes | None:
    """The active stored scorer's model file, checked against its hash; None if none."""
    try:
        row = cur.execute("SELECT model, sha256 FROM scorer_models WHERE active").fetchone()
    except duckdb.CatalogException:  # a database from before scorers were stored
        return None
    if row is None:
        return None
    model = bytes(row[0])
    if hashlib.sha256(model).hexdigest() != row[1]:
        raise ValueError("the active clause scorer in the database does not match its sha256")
    return model


def stored_scorers(cur: duckdb.DuckDBPyConnection) -> list[StoredScorer]:
    """Every stored scorer, newest first."""
    rows = cur.execute("SELECT version, created_at, labels_used, cross_validation, active "
                       "FROM scorer_models ORDER BY created_at DESC").fetchall()
    return [StoredScorer(version, created, labels, json.loads(curve), active)
            for version, created, labels, curve, active in rows]
