"""The compliance-retriage flow: re-apply changed rule packs to stored chunks.

Nothing is re-parsed, re-chunked or re-summarized: chunks without a triage decision for the
current rules version are flagged again, and what the new rules escalate goes to the cloud
model (cached answers are reused where the redacted text is the same).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from compliance.store import db as database
from compliance.rules import masking
from compliance.adapters.ledger import cloud_spend, load_price_table
from compliance.settings import PipelineParams
from compliance.rules.packs import load_rules
from compliance.store.runs import close_run, new_run_id, open_run
from flows.pipeline import (
    escalate_flagged,
    escalation_counts,
    flag_chunks,
    hold_database,
    register_findings,
)
from tasks import report


@flow(name="compliance-retriage", log_prints=True)
def compliance_retriage(params: PipelineParams | None = None) -> dict[str, Any]:
    """Flag and triage stored chunks under the current rule packs, then escalate."""
    params = params or PipelineParams()
    masking.install_log_masking()
    load_price_table().price(params.cloud_model)
    rules = load_rules()
    with hold_database(params, "compliance-retriage"):
        return _retriage(params, rules.version)


def _retriage(params: PipelineParams, rules_version: str) -> dict[str, Any]:
    """Re-triage with the database held by this run."""
    run_id = new_run_id()
    db = database.writer(params.db_path)
    open_run(db, run_id, params.source, params.model_dump_json(), orchestrator="prefect (retriage)")
    try:
        flagged = flag_chunks(params, run_id)
        escalated = escalate_flagged(params, run_id)
        register_findings(params, run_id)
        with db.cursor() as cur:
            spend = cloud_spend(cur, run_id=run_id)
        close_run(db, run_id, "completed", {
            "chunks_flagged": flagged.chunks_flagged, "escalation_mode": params.escalation,
            "cloud_model": params.cloud_model, "spend_usd": spend,
            "escalation_note": escalated.note, **escalation_counts(params, escalated),
        })
        with db.cursor() as cur:
            summary = report.run_summary(cur, run_id)
    except BaseException as exc:
        close_run(db, run_id, "failed", {}, error=f"{type(exc).__name__}: {exc}"[:1000])
        raise
    finally:
        database.close_writer(params.db_path)
    summary += f"\n  rules version    {rules_version} ({flagged.chunks_scanned} chunks re-triaged)"
    print(summary)
    return {"run_id": run_id, "summary": summary, "chunks_scanned": flagged.chunks_scanned}
