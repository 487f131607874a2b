"""m005: savings_by_run claims no saving for a run that sent nothing, and says so in its meanings.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe
from compliance.store.migrations.m003_findings_reviews_search import (
    DESCRIPTIONS as M003_DESCRIPTIONS,
)


def m005_savings_claimed_only_when_sent(conn: duckdb.DuckDBPyConnection) -> None:
    """savings_by_run claims no saving for a run that sent nothing, as the run summary says."""
    conn.execute(
        """
        CREATE OR REPLACE VIEW savings_by_run AS
        WITH claims AS (
            -- Nothing went out (escalation off, no key, key rejected): no saving to claim, as
            -- the run summary says; the work left pending is paid, and claimed, by a later run.
            SELECT run_id, (coalesce(spend_usd, 0) > 0 OR escalation_note IS NULL)
                           AND naive_all_usd IS NOT NULL AS claimed
            FROM runs
        )
        SELECT run_id, started_at, status, escalation_mode, cloud_model,
               coalesce(spend_usd, 0) AS spend_usd, naive_new_usd, naive_all_usd,
               claimed AS savings_claimed,
               CASE WHEN claimed THEN coalesce(cache_saved_usd, 0) END AS cache_saved_usd,
               CASE WHEN claimed THEN naive_all_usd - naive_new_usd END AS saved_by_dedupe_usd,
               CASE WHEN claimed THEN naive_new_usd - coalesce(spend_usd, 0)
                                      - coalesce(cache_saved_usd, 0) END AS saved_by_routing_usd,
               CASE WHEN claimed THEN naive_all_usd - coalesce(spend_usd, 0) END
                   AS saved_total_usd,
               CASE WHEN claimed AND naive_all_usd > 0
                    THEN 1 - coalesce(spend_usd, 0) / naive_all_usd END AS saved_share
        FROM runs JOIN claims USING (run_id)
        """
    )
    describe(conn, *DESCRIPTION)


# Replacing the view drops its comments, so m005 describes the whole view again: m003's frozen
# text (a released migration's text never changes), and the new savings_claimed column.
_, _, _MEANING, _COLUMNS = next(entry for entry in M003_DESCRIPTIONS
                                if entry[1] == "savings_by_run")
DESCRIPTION: Description = ("VIEW", "savings_by_run", _MEANING, {
    **_COLUMNS,
    "savings_claimed": "False when nothing went to the cloud (escalation off, no key, key "
                       "rejected): the saved_* columns are then NULL, not a saving.",
})
