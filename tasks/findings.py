"""Register findings: stable ids that follow a finding across document versions."""

from __future__ import annotations

import duckdb

from compliance.context import RunContext
from tasks.stage import as_task


def register_new_findings(cur: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Give every detection without an id a stable one; return how many were new."""
    before = cur.execute("SELECT count(*) FROM finding_ids").fetchone()[0]
    cur.execute(
        """
        INSERT INTO finding_ids (finding_key, source_root, rel_path, first_seen_run_id)
        SELECT finding_key, any_value(source_root), any_value(rel_path), ?
        FROM finding_detections
        WHERE finding_key NOT IN (SELECT finding_key FROM finding_ids)
        GROUP BY finding_key
        ORDER BY min(doc_id), min(char_start)
        """,
        [run_id],
    )
    return cur.execute("SELECT count(*) FROM finding_ids").fetchone()[0] - before


@as_task("register-findings")
def register_findings(ctx: RunContext) -> int:
    """Give new findings their stable ids, so reviews follow them across versions."""
    with ctx.db.transaction() as cur:
        return register_new_findings(cur, ctx.run_id)
