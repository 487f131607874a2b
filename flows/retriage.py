"""The compliance-retriage flow: re-apply a changed triage policy to stored chunks.

Nothing is re-parsed, re-chunked or re-summarized: chunks without a triage decision for the
current policy version (rule packs, clause scorer and its threshold) are flagged again, and
what the new policy escalates goes to the cloud model (cached answers are reused where the
redacted text is the same).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from compliance import context
from compliance.rules import masking
from compliance.settings import PipelineParams
from flows.pipeline import hold_database
from tasks import audit, findings, flag, report, spend
from tasks.escalate import stage as escalate


@flow(name="compliance-retriage", log_prints=True)
def compliance_retriage(params: PipelineParams | None = None) -> dict[str, Any]:
    """Flag and triage stored chunks under the current rule packs, then escalate."""
    params = params or PipelineParams()
    masking.install_log_masking()
    inputs = context.load_inputs(params)
    with hold_database(params, "compliance-retriage"):
        with context.running(params, inputs, "prefect (retriage)") as ctx:
            return _retriage(ctx, params)


def _retriage(ctx: context.RunContext, params: PipelineParams) -> dict[str, Any]:
    """Re-triage with the database held by this run."""
    try:
        flagged = flag.flag_chunks(ctx, params)
        audit.draw_audit_sample(ctx, params)
        escalate.escalate_flagged(ctx, params)
        findings.register_findings(ctx)
        audit.estimate_triage_recall(ctx, params)
        spend.note_cloud_spend(ctx)
        summary = report.finish_run(ctx)
    except BaseException as exc:
        report.record_failure(ctx, f"{type(exc).__name__}: {exc}"[:1000])
        raise
    summary += (f"\n  triage version   {ctx.triage_version} ({flagged.chunks_scanned} chunks "
                "re-triaged)")
    print(summary)
    return {"run_id": ctx.run_id, "summary": summary, "chunks_scanned": flagged.chunks_scanned}
