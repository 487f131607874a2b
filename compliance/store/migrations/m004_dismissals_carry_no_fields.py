"""m004: the catalog says that a dismissed window's verdict fields are NULL.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import describe_column

_DISMISSED = " NULL when the model dismissed the window (from prompt escalation-v2 on, a " \
    "dismissed window comes back as its id alone)."

# m003's meanings of the verdict fields, frozen here so that m004 writes the same text whatever
# happens to other modules; m004 appends _DISMISSED to each.
_VERDICT_FIELDS: dict[str, dict[str, str]] = {
    "escalation_results": {
        "category": "Category the model gave.",
        "severity": "Severity: low, medium, high or critical.",
        "rationale": "Why, in the model's words.",
        "quote": "The decisive words.",
        "recommended_action": "What a reviewer should do."},
    "escalations": {
        "verdict_category": "Category the model gave.",
        "verdict_severity": "Severity the model gave.",
        "rationale": "The model's rationale.",
        "recommended_action": "The model's recommended action."},
}


def m004_dismissals_carry_no_fields(conn: duckdb.DuckDBPyConnection) -> None:
    """Say in the catalog that a dismissed window's verdict fields are NULL."""
    for name, columns in _VERDICT_FIELDS.items():
        for column, meaning in columns.items():
            describe_column(conn, name, column, meaning + _DISMISSED)
