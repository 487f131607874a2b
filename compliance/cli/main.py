"""The `compliance` command line: run and retriage here; models, evaluation and the analyst
commands in their own modules, mounted on the same app.

The options of `run` and `retriage` are generated from the settings models (cli/options.py):
every setting the Prefect form has is an option here too, with the same name, default and help.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import duckdb

from compliance.cli.common import WAIT, hold_database, quiet_libraries
from compliance.cli.evaluate import eval_app
from compliance.cli.models import model_app
from compliance.cli.options import settings_options
from compliance.cli.startup import STARTUP_TIMEOUT_DEFAULT, StartupTimeout, ensure_prefect
from compliance.cli.triage import triage_app
from compliance.settings import (
    DatabaseSettings,
    EscalationSettings,
    PipelineParams,
    TriageSettings,
)

app = typer.Typer(help="A document compliance pipeline that is cheap by design.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(model_app, name="model")
app.add_typer(eval_app, name="eval")
app.add_typer(triage_app, name="triage")



def _params(values: dict[str, Any]) -> PipelineParams:
    """The settings given on the command line, validated as the flow's form would be."""
    from pydantic import ValidationError

    try:
        return PipelineParams(**values)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None


@contextmanager
def _usage_errors_exit_2() -> Iterator[None]:
    """A busy database, a bad rule pack, a cloud model missing from the price table, a missing
    or wrong model file: errors a user fixes from the message alone (exit 2, no traceback)."""
    from compliance.adapters.model_registry import ModelError
    from compliance.adapters.prices import UnknownModelPriceError
    from compliance.rules.loader import RulePackError
    from compliance.store.db import DatabaseBusyError
    from compliance.store.runlock import DatabaseLockTimeoutError

    try:
        yield
    except (DatabaseBusyError, DatabaseLockTimeoutError, RulePackError, UnknownModelPriceError,
            ModelError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
@settings_options(PipelineParams, skip=("source",))
def run(
    source: Annotated[Path, typer.Argument(help="Folder of documents to scan.", exists=True,
                                           file_okay=False, resolve_path=True)],
    settings: dict[str, Any],
    always_run_flow: Annotated[bool, typer.Option(
        help="Start the Prefect flow even when nothing changed.")] = False,
    wait: Annotated[bool, WAIT] = True,
    progress: Annotated[bool | None, typer.Option(
        help="Progress bars per stage (default: when stderr is a terminal).")] = None,
    prefect_startup_timeout_seconds: StartupTimeout = STARTUP_TIMEOUT_DEFAULT,
) -> None:
    """Scan SOURCE into the results database and print a summary (no Prefect server needed)."""
    quiet_libraries()
    started = time.perf_counter()
    params = _params({**settings, "source": str(source)})
    with _usage_errors_exit_2():
        lock = hold_database(Path(params.db_path), wait, f"compliance run (pid {os.getpid()})")
        try:
            files = None if always_run_flow else _unchanged_files(params)
            if files is not None:
                from tasks.report import record_unchanged_run

                typer.echo(record_unchanged_run(params, files, time.perf_counter() - started))
                typer.echo("No changes since the last run: 0 model calls.")
                return
        finally:
            lock.release()
        from compliance.cli.progress_bars import progress_bars
        from flows.pipeline import PipelineRunError, compliance_pipeline

        ensure_prefect(prefect_startup_timeout_seconds)
        try:
            with progress_bars(force=bool(progress)) if progress is not False else nullcontext():
                result = compliance_pipeline(params)
        except PipelineRunError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(result["summary"])


def _unchanged_files(params: PipelineParams) -> int | None:
    """The number of files, when a re-run would find no file and no stored work to do."""
    from compliance.adapters.cloud import load_api_key
    from tasks.inventory import unchanged_files

    # Only the environment here: reading a Prefect Secret block would start a server.
    cloud = params.escalation != "off" and bool(load_api_key(use_prefect=False))
    return unchanged_files(params, lambda conn: _policy_version(conn, params), cloud)


def _policy_version(conn: duckdb.DuckDBPyConnection, params: PipelineParams) -> str:
    """The triage policy version a run would use: the database's active scorer, if any."""
    from compliance.rules.loader import load_rules
    from compliance.scoring.model import ClauseScorer
    from compliance.scoring.policy import resolve_scorer, triage_policy
    from compliance.store.scorers import active_scorer_bytes

    stored = active_scorer_bytes(conn) if params.scorer is None else None
    scorer = (ClauseScorer.from_bytes(stored) if stored is not None
              else resolve_scorer(params.scorer))
    return triage_policy(load_rules().version, scorer, params.recall_target).version


_RETRIAGE_FIELDS = (*DatabaseSettings.model_fields, *TriageSettings.model_fields,
                    *EscalationSettings.model_fields)


@app.command()
@settings_options(PipelineParams, fields=_RETRIAGE_FIELDS,
                  skip=("lock_timeout_seconds", "stage_timeout_seconds"))
def retriage(
    settings: dict[str, Any],
    wait: Annotated[bool, WAIT] = True,
    prefect_startup_timeout_seconds: StartupTimeout = STARTUP_TIMEOUT_DEFAULT,
) -> None:
    """Re-apply the rule packs in data/rules/ to stored chunks (no re-parsing or summaries)."""
    quiet_libraries()
    db = Path(settings["db_path"])
    if not db.exists():
        typer.echo(f"error: no results database at {db}", err=True)
        raise typer.Exit(2)
    params = _params({**settings, "source": str(db.parent)})
    with _usage_errors_exit_2():
        hold_database(db, wait, f"compliance retriage (pid {os.getpid()})").release()
        from compliance.cli.progress_bars import progress_bars
        from flows.retriage import compliance_retriage

        ensure_prefect(prefect_startup_timeout_seconds)
        with progress_bars():
            result = compliance_retriage(params)
    typer.echo(result["summary"])


def _register_results_commands() -> None:
    """The analyst commands and `verify` live in their own modules; they appear at the top
    level here."""
    from compliance.cli.results import results_app
    from compliance.cli.verify import verify_app

    app.registered_commands.extend(results_app.registered_commands)
    app.registered_commands.extend(verify_app.registered_commands)


_register_results_commands()

def main() -> None:
    """Entry point for `python -m compliance.cli`."""
    app(prog_name="compliance")


if __name__ == "__main__":
    sys.exit(main())
