"""The compliance-pipeline flow: it only wires the stages in tasks/ together.

One run holds its results database alone (compliance.store.runlock), writes to it only from this
process, publishes its report as artifacts (flows/artifacts.py) and sends local model calls
to the task runner its parameters choose (flows/task_runners.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from compliance.store import db as database
from tasks import findings
from compliance.rules import masking
from compliance.store import runlock
from compliance.read import search
from compliance import context as stage_progress
from compliance.adapters.cloud import CloudClient, load_api_key
from compliance.adapters.ledger import cloud_spend, load_price_table
from compliance.adapters.local_llm import get_local_model
from compliance.adapters.model_registry import resolve_model, verify_model_file
from compliance.settings import PipelineParams
from compliance.rules.packs import load_rules
from compliance.store.runs import close_run, new_run_id, open_run
from flows import artifacts
from tasks.summarize.executors import model_calls
from tasks import chunk as chunking
from tasks import flag, ingest, inventory, report
from tasks import near_duplicates as dedupe
from tasks.escalate import core as escalate
from tasks.summarize import core as summarize
from tasks.discover import discover_files

# Our cross-run cache lives in DuckDB, keyed by content hashes; Prefect's own task cache
# (keyed by run id) would never hit across runs, so it is off.
_TASK: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
# Retries are for I/O that may blink (a file share, the Prefect API); the cloud model's
# retries are the SDK's own, and stages that write the database are not re-run blindly.
_IO_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 5}
DEFAULT_PARAMS = PipelineParams()


class PipelineRunError(RuntimeError):
    """A stage failed; the message says which and why. Work stored before it is kept."""


@task(name="open-run", **_TASK)
def open_run_record(params: PipelineParams, run_id: str) -> None:
    """Record the start of a run."""
    open_run(database.writer(params.db_path), run_id, params.source,
             params.model_dump_json(), orchestrator="prefect",
             flow_run_id=str(flow_run.get_id() or "") or None)


@task(name="take-inventory", **_TASK, **_IO_RETRIES)
def take_inventory(params: PipelineParams) -> inventory.Inventory:
    """List the source folder and compare it with the stored versions (no file is read)."""
    files = discover_files(Path(params.source), params.include, params.exclude)
    with database.writer(params.db_path).cursor() as cur:
        known = inventory.known_versions(cur, params.source)
    plan = inventory.take_inventory(files, known, params.include, params.exclude,
                                    params.verify_hashes)
    get_run_logger().info(
        "%d files: %d new, %d to check, %d unchanged, %d removed", len(files), len(plan.new),
        len(plan.suspect), len(plan.unchanged), len(plan.removed))
    return plan


@task(name="ingest-documents", **_TASK)
def ingest_documents(params: PipelineParams, run_id: str,
                     plan: inventory.Inventory) -> ingest.IngestResult:
    """Hash, dedupe, parse and store new and changed files; mark vanished ones removed."""
    logger = get_run_logger()
    db = database.writer(params.db_path)
    settings = ingest.IngestSettings(
        max_file_bytes=int(params.max_file_mb * 1_000_000),
        parse_timeout_seconds=params.parse_timeout_seconds,
        workers=params.parse_workers,
    )
    files = len(plan.new) + len(plan.suspect)
    done = 0

    def report_file(message: str) -> None:
        nonlocal done
        logger.info(message)
        done += 1
        stage_progress.report(stage_progress.PARSE, min(done, files), files)

    result = ingest.ingest_files(db, run_id, Path(params.source), plan.new, plan.suspect,
                                 settings, progress=report_file)
    result.removed = ingest.mark_removed(db, run_id, Path(params.source), plan.removed)
    # A copy stored as 'duplicate' of a file that is now removed or changed must be read itself.
    orphans = ingest.orphaned_duplicates(db, Path(params.source))
    if orphans:
        repaired = ingest.ingest_files(db, run_id, Path(params.source), [], orphans, settings,
                                       progress=logger.info,
                                       force=frozenset(f.rel_path for f, _ in orphans))
        result.doc_ids += repaired.doc_ids
        result.failures += repaired.failures
        result.duplicate += repaired.duplicate
        result.failed += repaired.failed
    touched = {known.doc_id for _, known in orphans}
    ingest.touch_unchanged(db, run_id, [known.doc_id for _, known in plan.unchanged
                                        if known.doc_id not in touched])
    result.unchanged += len(plan.unchanged) - len(touched & {k.doc_id for _, k in plan.unchanged})
    return result


@task(name="chunk-documents", **_TASK)
def chunk_documents(params: PipelineParams, run_id: str) -> int:
    """Chunk every stored document that has no chunks yet."""
    db = database.writer(params.db_path)
    with db.cursor() as cur:
        doc_ids = chunking.documents_to_chunk(cur)
        boilerplate = chunking.boilerplate_hashes(cur, params.boilerplate_min_documents)
    if not doc_ids:
        return 0
    spec = resolve_model(params.model)
    verify_model_file(spec)
    model = get_local_model(spec)
    return sum(
        chunking.chunk_document(db, run_id, doc_id, model.count_tokens, params.max_chunk_tokens,
                                boilerplate)
        for doc_id in doc_ids
    )


@task(name="flag-chunks", **_TASK)
def flag_chunks(params: PipelineParams, run_id: str) -> flag.FlagResult:
    """Apply the rule packs to untriaged chunks and decide what to escalate."""
    result = flag.flag_chunks(
        database.writer(params.db_path), run_id, load_rules(),
        flag.TriageSettings(threshold=params.triage_threshold,
                            min_window_chars=params.min_window_chars,
                            redact=params.redact_personal_data))
    get_run_logger().info("%d chunks scanned, %d flagged, %d to escalate (%d windows)",
                          result.chunks_scanned, result.chunks_flagged, result.chunks_escalate,
                          result.windows)
    return result


@task(name="escalate-flagged", **_TASK)
def escalate_flagged(params: PipelineParams, run_id: str) -> escalate.EscalationResult:
    """Send open, redacted windows to the cloud model within the budget."""
    logger = get_run_logger()
    db = database.writer(params.db_path)
    prices = load_price_table()
    settings = escalate.EscalationSettings(
        mode=params.escalation, model=params.cloud_model,
        run_budget_usd=None if params.budget_usd is None else Decimal(str(params.budget_usd)),
        daily_budget_usd=(None if params.daily_budget_usd is None
                          else Decimal(str(params.daily_budget_usd))),
        max_spans_per_request=params.max_spans_per_request,
        concurrency=params.cloud_concurrency, max_retries=params.cloud_max_retries,
        timeout_seconds=params.cloud_timeout_seconds,
        batch_wait_seconds=params.batch_wait_seconds, base_url=params.anthropic_base_url)
    client = None
    if params.escalation != "off":
        key = load_api_key()  # the environment, else the Secret block: never a job variable
        masking.add_secret(key)
        if key:
            client = CloudClient(db, key, params.anthropic_base_url, prices,
                                 max_retries=params.cloud_max_retries,
                                 timeout_seconds=params.cloud_timeout_seconds)
    result = escalate.escalate(db, run_id, load_rules().version, settings, client, prices,
                               log=logger.warning)
    if result.note:
        logger.warning(result.note)
    return result


def escalation_counts(params: PipelineParams,
                      escalated: escalate.EscalationResult) -> dict[str, Any]:
    """The escalation cache's hits and estimated savings, for the runs table."""
    price = load_price_table().price(params.cloud_model)
    return {"escalation_windows_cached": escalated.cached,
            "escalation_windows_sent": escalated.sent,
            "cache_saved_usd": escalate.cache_savings(escalated, price,
                                                      params.max_spans_per_request)}


@task(name="register-findings", **_TASK)
def register_findings(params: PipelineParams, run_id: str) -> int:
    """Give new findings their stable ids, so reviews follow them across versions."""
    with database.writer(params.db_path).transaction() as cur:
        return findings.register_findings(cur, run_id)


@task(name="summarize-chunks", **_TASK)
def summarize_pending(params: PipelineParams, run_id: str) -> summarize.SummarizeResult:
    """Summarize pending chunks, then documents, within the local compute budget."""
    logger = get_run_logger()
    db = database.writer(params.db_path)
    spec = resolve_model(params.model)
    verify_model_file(spec)
    budget = summarize.LocalBudget(params.local_budget_seconds)
    with model_calls(params, spec) as calls:
        result = summarize.summarize_chunks(db, run_id, spec, calls, budget,
                                            progress=logger.info)
        summarize.summarize_documents(db, run_id, spec, calls, budget, result)
    if result.workers:
        logger.info("model calls ran on %s",
                    ", ".join(f"{w} ({n} calls)" for w, n in sorted(result.workers.items())))
    if result.budget_exhausted:
        logger.warning("local budget of %.0f s spent: the rest stays pending for the next run",
                       params.local_budget_seconds or 0)
    return result


@task(name="index-for-search", **_TASK)
def index_for_search(params: PipelineParams, run_id: str) -> int:
    """Add new chunk texts and summaries to the keyword search index."""
    with database.writer(params.db_path).transaction() as cur:
        return search.index_pending(cur)


@task(name="link-near-duplicates", **_TASK)
def link_near_duplicates(params: PipelineParams, run_id: str) -> int:
    """Link documents that resemble an earlier one."""
    return dedupe.link_near_duplicates(database.writer(params.db_path), run_id,
                                       params.near_duplicate_threshold)


@task(name="record-spend", **_TASK)
def record_spend(params: PipelineParams, run_id: str) -> dict[str, Any]:
    """The run's cloud spend from the ledger, next to what naive pipelines would have paid."""
    db = database.writer(params.db_path)
    prices = load_price_table()
    naive_new, naive_all = escalate.counterfactuals(db, run_id, params.source,
                                                    params.cloud_model, prices)
    with db.cursor() as cur:
        spend = cloud_spend(cur, run_id=run_id)
        escalated, deferred = cur.execute(
            """
            SELECT count(DISTINCT chunk_id) FILTER (WHERE status IN ('done', 'sent')),
                   count(DISTINCT chunk_id) FILTER (WHERE status = 'deferred')
            FROM escalation_windows w
            WHERE w.status = 'deferred'
               OR w.call_id IN (SELECT call_id FROM llm_calls WHERE run_id = ?)
               OR w.batch_id IN (SELECT batch_id FROM batches WHERE run_id = ?)
            """,
            [run_id, run_id],
        ).fetchone()
    return {"spend_usd": spend, "naive_new_usd": naive_new, "naive_all_usd": naive_all,
            "chunks_escalated": escalated, "chunks_deferred": deferred}


@task(name="close-run", **_TASK)
def close_run_record(params: PipelineParams, run_id: str, counts: dict[str, Any]) -> str:
    """Record the run's counts and return its printed summary."""
    db = database.writer(params.db_path)
    with db.cursor() as cur:
        counts["summaries_pending"] = cur.execute(
            "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE d.is_current AND c.summary_status = 'pending'"
        ).fetchone()[0]
    close_run(db, run_id, "completed", counts)
    with db.cursor() as cur:
        return report.run_summary(cur, run_id)


def read_report(params: PipelineParams, run_id: str, summary: str) -> artifacts.RunReport:
    """The run's report from what the database stored, masked for the Prefect server."""
    with database.writer(params.db_path).cursor() as cur:
        counts = report.run_counts(cur, run_id)
        failed = report.failed_documents(cur, run_id)
        findings = report.top_findings(cur, params.source)
    return artifacts.build_report(run_id, params.source, params.db_path, counts, failed,
                                  findings, summary)


@task(name="publish-report", **_TASK, **_IO_RETRIES)
def publish_report(run_report: artifacts.RunReport) -> None:
    """Publish the run's markdown report and tables as artifacts."""
    artifacts.publish_report(run_report)


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


def _stage(stage_task: Any, params: PipelineParams) -> Any:
    """The task with the run's stage timeout."""
    return stage_task.with_options(timeout_seconds=params.stage_timeout_seconds)


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
    load_price_table().price(params.cloud_model)  # an unknown cloud model fails the run now
    load_rules()  # a malformed rule pack fails the run now, naming the file and rule
    with hold_database(params, "compliance-pipeline") as flow_run_id:
        return _run(params, flow_run_id)


@contextmanager
def hold_database(params: PipelineParams, flow_name: str) -> Iterator[str | None]:
    """Hold the run's database (waiting, and saying so, while another run has it)."""
    logger = get_run_logger()
    flow_run_id = str(flow_run.get_id() or "") or None
    with runlock.exclusive_run(
            params.db_path, run=f"flow run {flow_run_id or '?'} ({flow_name})",
            flow_run_id=flow_run_id, timeout=params.lock_timeout_seconds,
            on_wait=lambda why: logger.warning(
                "waiting: %s; this run starts when that one has finished", why)):
        yield flow_run_id


def _run(params: PipelineParams, flow_run_id: str | None) -> dict[str, Any]:
    """The stages, with the database held by this run."""
    run_id = new_run_id()
    database.writer(params.db_path)  # opened (and migrated) before the run is recorded
    open_run_record(params, run_id)
    progress = artifacts.RunProgress(run_id)
    # Stages report counts (compliance.context); the artifact follows them, as CLI bars do.
    with stage_progress.listening(progress.follow):
        stage = "take-inventory"
        try:
            plan = _stage(take_inventory, params)(params)
            progress.set(5)
            stage = "ingest-documents"
            ingested = _stage(ingest_documents, params)(params, run_id, plan)
            progress.set(35)
            stage = "chunk-documents"
            chunks_new = _stage(chunk_documents, params)(params, run_id)
            progress.set(40)
            stage = "flag-chunks"
            flagged = _stage(flag_chunks, params)(params, run_id)
            progress.set(50)
            stage = "escalate-flagged"
            escalated = _stage(escalate_flagged, params)(params, run_id)
            stage = "register-findings"
            _stage(register_findings, params)(params, run_id)
            progress.set(60)
            summarized = summarize.SummarizeResult()
            if params.summarize == "all":
                stage = "summarize-chunks"
                summarized = _stage(summarize_pending, params)(params, run_id)
            progress.set(95)
            stage = "index-for-search"
            _stage(index_for_search, params)(params, run_id)
            stage = "link-near-duplicates"
            _stage(link_near_duplicates, params)(params, run_id)
            counts = {
                "files_seen": len(plan.new) + len(plan.suspect) + len(plan.unchanged),
                "docs_new": ingested.new,
                "docs_changed": ingested.changed,
                "docs_unchanged": ingested.unchanged,
                "docs_duplicate": ingested.duplicate,
                "docs_failed": ingested.failed,
                "docs_removed": ingested.removed,
                "chunks_new": chunks_new,
                "summaries_done": summarized.chunks_done,
                "summaries_cached": summarized.cache_hits,
                "model_calls": summarized.model_calls,
                "local_model_seconds": round(summarized.model_seconds, 3),
                "chunks_flagged": flagged.chunks_flagged,
                "escalation_mode": params.escalation,
                "cloud_model": params.cloud_model,
                "escalation_note": escalated.note,
                **escalation_counts(params, escalated),
            }
            stage = "record-spend"
            counts |= _stage(record_spend, params)(params, run_id)
            stage = "close-run"
            summary = _stage(close_run_record, params)(params, run_id, counts)
            stage = "publish-report"
            publish_report(read_report(params, run_id, summary))
            progress.set(100)
        except Exception as exc:
            error = masking.mask(f"{type(exc).__name__}: {exc}", names=True)[:1000]
            if stage == "publish-report":  # the database has the whole run; only the report is lost
                raise PipelineRunError(
                    f"run {run_id} completed and is stored, but its report could not be published "
                    f"as artifacts: {error}") from exc
            _record_failure(params, run_id, error)
            raise PipelineRunError(
                f"run {run_id} failed in {stage}: {error.rstrip('.')}. Work stored before the "
                "failure is kept; the next run resumes from it.") from exc
        except BaseException as exc:  # interrupted or cancelled: record it, change nothing else
            _record_failure(params, run_id, f"{type(exc).__name__}: {exc}"[:1000], publish=False)
            raise
        finally:
            database.close_writer(params.db_path)
    print(summary)
    return {"run_id": run_id, "flow_run_id": flow_run_id, "summary": summary,
            "summary_workers": dict(summarized.workers),
            "model_loads": dict(summarized.model_loads), **counts}


def _record_failure(params: PipelineParams, run_id: str, error: str, publish: bool = True) -> None:
    """Mark the run failed and, best effort, publish its report so the UI says what happened."""
    try:
        db = database.writer(params.db_path)
        close_run(db, run_id, "failed", {}, error=error)
        if publish:
            with db.cursor() as cur:
                summary = report.run_summary(cur, run_id)
            artifacts.publish_report(read_report(params, run_id, summary))
    except Exception as exc:  # the original error is what the run must report
        get_run_logger().warning("could not record the failed run: %s", exc)
