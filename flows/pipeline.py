"""The compliance-pipeline flow: it wires the stages in tasks/ together, nothing else.

A run loads its inputs once (rules, prices, local model spec: compliance.context), holds its
results database alone (compliance.store.runlock), and hands every stage the same run context;
the stages write the database from this process and fill in the run's counts. The report is
published as artifacts (flows/artifacts.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from compliance import context
from compliance.rules import masking
from compliance.settings import PipelineParams
from compliance.store import runlock, runs
from flows import artifacts
from tasks import (
    audit,
    brief,
    chunk,
    findings,
    flag,
    index,
    ingest,
    inventory,
    near_duplicates,
    report,
    spend,
    workers,
)
from tasks.escalate import stage as escalate
from tasks.summarize import pending as summarize
from tasks.summarize.results import SummarizeResult

DEFAULT_PARAMS = PipelineParams()


class PipelineRunError(RuntimeError):
    """A stage failed; the message says which and why. Work stored before it is kept."""


def check_source(params: PipelineParams) -> None:
    """Fail at once, clearly, when the source folder is not there for this process."""
    source = Path(params.source)
    if source.is_dir():
        return
    where = socket.gethostname()
    if source.exists():
        raise ValueError(f"source {params.source} on {where} is not a folder")
    raise ValueError(f"source folder {params.source} does not exist on {where}, the machine "
                     "running this flow run: give a folder this worker can read")


@flow(name="compliance-pipeline", log_prints=True)
def compliance_pipeline(params: PipelineParams = DEFAULT_PARAMS) -> dict[str, Any]:
    """Scan a folder of documents into the results database and report what it found.

    Args:
        params: Everything this run is told (the form in the Prefect UI): the source folder,
            the results database, summaries, escalation to Claude and its budgets, the task
            runner. A run waits while another run holds the same database.
    """
    masking.install_log_masking()
    check_source(params)
    # A malformed rule pack or an unknown cloud model fails the run now, before any work.
    inputs = context.load_inputs(params)
    with hold_database(params, "compliance-pipeline") as flow_run_id:
        with context.running(params, inputs, "prefect", flow_run_id) as ctx:
            report_interrupted(ctx)
            return _run(ctx, params, flow_run_id)


@contextmanager
def hold_database(params: PipelineParams, flow_name: str) -> Iterator[str | None]:
    """Hold the run's database (waiting, and saying so, while another run has it)."""
    logger = get_run_logger()
    flow_run_id = str(flow_run.get_id() or "") or None
    with runlock.exclusive_run(
            params.db_path, run=f"flow run {flow_run_id or '?'} ({flow_name})",
            flow_run_id=flow_run_id, timeout=params.lock_timeout_seconds,
            on_wait=lambda why: logger.warning(
                "waiting: %s; this run starts when that one has finished", why),
            on_takeover=lambda done: logger.warning("taking over: %s", done)):
        yield flow_run_id


def report_interrupted(ctx: context.RunContext) -> None:
    """Say which runs this run found dead (open_run marked them interrupted)."""
    with ctx.db.cursor() as cur:
        found = runs.interrupted_runs(cur, ctx.run_id)
    for run_id, error in found:
        get_run_logger().warning("run %s was %s", run_id, error)


def _run(ctx: context.RunContext, params: PipelineParams,
         flow_run_id: str | None) -> dict[str, Any]:
    """The stages, in order, with the database held by this run."""
    progress = artifacts.RunProgress(ctx.run_id)
    timeout = {"timeout_seconds": params.stage_timeout_seconds}

    def stage(stage_task: Any, *args: Any) -> Any:
        nonlocal current
        current = stage_task.name
        runs.note_stage(ctx.db, ctx.run_id, current)  # where it stopped, should it be killed
        return stage_task.with_options(**timeout)(ctx, *args)

    current = "start-workers"
    # Stages report counts (compliance.context); the artifact follows them, as CLI bars do.
    with context.listening(progress.follow), ExitStack() as cluster:
        try:
            # One Dask cluster (task_runner 'dask') for every stage that spreads out.
            ctx.runner = cluster.enter_context(workers.task_runner(params))
            current = "take-inventory"
            plan = stage(inventory.take_inventory, params)
            progress.set(5)
            ingested = stage(ingest.ingest_documents, params, plan)
            progress.set(35)
            stage(chunk.chunk_documents, params)
            stage(brief.write_briefs)
            progress.set(40)
            flagged = stage(flag.flag_chunks, params)
            stage(audit.draw_audit_sample, params)
            progress.set(50)
            stage(escalate.escalate_flagged, params)
            stage(findings.register_findings)
            stage(audit.estimate_triage_recall, params)
            progress.set(60)
            summarized = SummarizeResult()
            if params.summarize != "off":
                summarized = stage(summarize.summarize_pending, params)
            else:
                summarized.add_to(ctx.counts)
            progress.set(95)
            stage(index.index_for_search)
            stage(near_duplicates.link_near_duplicates, params)
            stage(spend.record_spend, params)
            summary = stage(report.close_run_record)
            current = "publish-report"
            artifacts.publish_run_report(report.read_report(ctx, params.db_path, summary))
            progress.set(100)
        except Exception as exc:
            error = masking.mask(f"{type(exc).__name__}: {exc}", names=True)[:1000]
            if current == "publish-report":  # the database has the whole run; only the report
                raise PipelineRunError(
                    f"run {ctx.run_id} completed and is stored, but its report could not be "
                    f"published as artifacts: {error}") from exc
            _record_failure(ctx, params, error)
            raise PipelineRunError(
                f"run {ctx.run_id} failed in {current}: {error.rstrip('.')}. Work stored before "
                "the failure is kept; the next run resumes from it.") from exc
        except BaseException as exc:  # interrupted or cancelled: record it, change nothing else
            _record_failure(ctx, params, f"{type(exc).__name__}: {exc}"[:1000], publish=False)
            raise
    print(summary)
    return {"run_id": ctx.run_id, "flow_run_id": flow_run_id, "summary": summary,
            "summary_workers": dict(summarized.workers), "scanned_on": dict(flagged.workers),
            "parsed_on": dict(ingested.workers),
            "model_loads": dict(summarized.model_loads), **ctx.counts.as_dict()}


def _record_failure(ctx: context.RunContext, params: PipelineParams, error: str,
                    publish: bool = True) -> None:
    """Mark the run failed and, best effort, publish its report so the UI says what happened."""
    try:
        summary = report.record_failure(ctx, error)
        if publish:
            artifacts.publish_report(report.read_report(ctx, params.db_path, summary))
    except Exception as exc:  # the original error is what the run must report
        get_run_logger().warning("could not record the failed run: %s", exc)
