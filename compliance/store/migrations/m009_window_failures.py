"""m009: how many times a window's request failed, so that runs stop resending one that always
fails.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import describe_column

FAILURES = ("Requests for this window that failed or whose answer was rejected (a window not "
            "sent, e.g. after the key was refused, does not count). A failed window with "
            "max_window_failures of them is no longer sent; raising the setting sends it again.")


def m009_window_failures(conn: duckdb.DuckDBPyConnection) -> None:
    """A failure count on every window; a window already failed counts once."""
    conn.execute("ALTER TABLE escalation_windows ADD COLUMN failures INTEGER DEFAULT 0")
    conn.execute("UPDATE escalation_windows SET failures = "
                 "CASE WHEN status = 'failed' THEN 1 ELSE 0 END")
    describe_column(conn, "escalation_windows", "failures", FAILURES)
