"""m006: triage decisions and runs record the clause scorer and its operating point.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import describe_column

_POLICY = ("Version of the triage policy: the hash of all rule packs, or, with the clause "
           "scorer on, a hash of the rule packs, the scorer version and its threshold.")
DESCRIPTIONS: list[tuple[str, str, str]] = [
    ("triage", "rules_version", _POLICY),
    ("triage", "scorer_version", "Clause scorer that scored the chunk (NULL: rules alone)."),
    ("triage", "scorer_score", "The chunk's best unit score from the clause scorer."),
    ("triage", "scorer_threshold", "Scorer threshold in force: units at or above it escalate."),
    ("flags", "rules_version", _POLICY),
    ("escalation_windows", "rules_version", _POLICY),
    ("runs", "triage_version", "Triage policy version of the run (see triage.rules_version)."),
    ("runs", "scorer_version", "Clause scorer the run used (NULL: rules alone)."),
    ("runs", "recall_target", "Recall target the scorer's threshold was picked for."),
    ("runs", "scorer_threshold", "Threshold picked from the scorer's cross-validated curve."),
    ("runs", "expected_recall", "Cross-validated recall at that threshold."),
    ("runs", "expected_share", "Cross-validated share of text escalated at that threshold."),
]


def m006_clause_scorer(conn: duckdb.DuckDBPyConnection) -> None:
    """Scorer columns on triage and runs; the policy meaning of rules_version."""
    for column, kind in (("scorer_version", "VARCHAR"), ("scorer_score", "DOUBLE"),
                         ("scorer_threshold", "DOUBLE")):
        conn.execute(f"ALTER TABLE triage ADD COLUMN {column} {kind}")
    for column, kind in (("triage_version", "VARCHAR"), ("scorer_version", "VARCHAR"),
                         ("recall_target", "DOUBLE"), ("scorer_threshold", "DOUBLE"),
                         ("expected_recall", "DOUBLE"), ("expected_share", "DOUBLE")):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
    for table, column, text in DESCRIPTIONS:
        describe_column(conn, table, column, text)
