"""m005: savings_by_run claims no saving for a run that sent nothing, and says so in its meanings.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe


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


# Replacing the view drops its comments, so m005 describes the whole view again: its own frozen
# text, savings_claimed and the saved_by_routing_usd caveat included.
DESCRIPTION: Description = (
    "VIEW", "savings_by_run", "What each run spent on the cloud against what naive pipelines "
    "would have spent, and which mechanism saved how much.", {
    "run_id": "Run id.", "started_at": "When it started.", "status": "Run status.",
    "escalation_mode": "sync, batch or off.", "cloud_model": "Cloud model.",
    "spend_usd": "Cloud USD booked.",
    "naive_new_usd": "Estimated USD of sending every chunk of new versions.",
    "naive_all_usd": "Estimated USD of sending every chunk of every current document.",
    "savings_claimed": "False when nothing went to the cloud (escalation off, no key, key "
                       "rejected): the saved_* columns are then NULL, not a saving.",
    "cache_saved_usd": "Estimated USD saved by answers reused from the escalation cache.",
    "saved_by_dedupe_usd": "naive_all_usd - naive_new_usd: unchanged and duplicate files "
                           "not sent again.",
    "saved_by_routing_usd": "naive_new_usd - spend_usd - cache_saved_usd: text the rules "
                            "kept local (negative in a run that sends work left pending by "
                            "a run that claimed nothing).",
    "saved_total_usd": "naive_all_usd - spend_usd.",
    "saved_share": "1 - spend_usd / naive_all_usd."},
)
