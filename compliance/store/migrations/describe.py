"""COMMENT ON helpers the migrations share: docs/schema.md is generated from these comments.

The helpers write whatever text they are given; each migration keeps its own, frozen text.
"""

from __future__ import annotations

import duckdb

# (kind, name, meaning, column meanings): kind is TABLE or VIEW.
Description = tuple[str, str, str, dict[str, str]]


def _literal(text: str) -> str:
    """text as a SQL string literal (COMMENT ON takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def describe(conn: duckdb.DuckDBPyConnection, kind: str, name: str, meaning: str,
             columns: dict[str, str]) -> None:
    """COMMENT ON a table or view and on each of the given columns."""
    conn.execute(f"COMMENT ON {kind} {name} IS {_literal(meaning)}")
    for column, text in columns.items():
        describe_column(conn, name, column, text)


def describe_column(conn: duckdb.DuckDBPyConnection, name: str, column: str, text: str) -> None:
    """COMMENT ON one column of a table or view."""
    conn.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")
