"""`compliance eval ...`: triage measured against labelled documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance.cli.common import quiet_libraries
from compliance.cli.startup import STARTUP_TIMEOUT_DEFAULT, StartupTimeout, ensure_prefect
from compliance.settings import SummarizeSettings, TriageSettings, default_of, description_of

eval_app = typer.Typer(help="Measure triage against labelled documents.", no_args_is_help=True)

# The triage settings under the short names `compliance eval` has always used.
THRESHOLD_DEFAULT = default_of(TriageSettings, "triage_threshold")
MIN_WINDOW_DEFAULT = default_of(TriageSettings, "min_window_chars")
_THRESHOLD = typer.Option(help=description_of(TriageSettings, "triage_threshold"), min=1)
_MIN_WINDOW = typer.Option(help=description_of(TriageSettings, "min_window_chars"), min=0)
_MODEL = typer.Option(help=description_of(SummarizeSettings, "model"))
_SCORER = typer.Option(help=description_of(TriageSettings, "scorer"))
_TARGET = typer.Option(help=description_of(TriageSettings, "recall_target"), min=0.01, max=1)
TARGET_DEFAULT = default_of(TriageSettings, "recall_target")
_WORKDIR = typer.Option(help="Keep the evaluation's source folder and DuckDB file here.")
_LIMIT = typer.Option(help="Only the first N documents of the set.", min=1)
_JSON = typer.Option("--json", help="Also write the numbers to this JSON file.")


def _eval_options(threshold: int, min_window_chars: int, model: str | None,
                  workdir: Path | None, limit: int | None, scorer: str | None,
                  recall_target: float) -> object:
    from compliance.evaluation.runner import EvalOptions

    return EvalOptions(threshold=threshold, min_window_chars=min_window_chars, model=model,
                       workdir=workdir, limit=limit, scorer=scorer, recall_target=recall_target)


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
    sweep: Annotated[bool, typer.Option(help="Print the curve over the recall target (the "
                                              "rule threshold with the scorer off).")] = False,
    local_signals: Annotated[bool, typer.Option(
        help="Also summarize every chunk with the local model and compare triage with and "
             "without its risk signals (slow: about 2 s a chunk).")] = False,
    threshold: Annotated[int, _THRESHOLD] = THRESHOLD_DEFAULT,
    min_window_chars: Annotated[int, _MIN_WINDOW] = MIN_WINDOW_DEFAULT,
    model: Annotated[str | None, _MODEL] = None,
    workdir: Annotated[Path | None, _WORKDIR] = None,
    limit: Annotated[int | None, _LIMIT] = None,
    scorer: Annotated[str | None, _SCORER] = None,
    recall_target: Annotated[float, _TARGET] = TARGET_DEFAULT,
    json_path: Annotated[Path | None, _JSON] = None,
    prefect_startup_timeout_seconds: StartupTimeout = STARTUP_TIMEOUT_DEFAULT,
) -> None:
    """Recall of labelled contract risk clauses against the share of text escalated."""
    quiet_libraries()
    ensure_prefect(prefect_startup_timeout_seconds)
    from compliance.evaluation.runner import evaluate_contracts

    table, result = evaluate_contracts(
        path, _eval_options(threshold, min_window_chars, model, workdir, limit, scorer,
                                   recall_target), pdf=pdf,
        sweep=sweep, local_signals=local_signals)
    typer.echo(table)
    _write_json(json_path, result)


@eval_app.command("labelled")
def eval_labelled(
    folder: Annotated[Path, typer.Argument(help="Folder with documents and labels.jsonl.",
                                           exists=True, file_okay=False)],
    threshold: Annotated[int, _THRESHOLD] = THRESHOLD_DEFAULT,
    min_window_chars: Annotated[int, _MIN_WINDOW] = MIN_WINDOW_DEFAULT,
    model: Annotated[str | None, _MODEL] = None,
    workdir: Annotated[Path | None, _WORKDIR] = None,
    limit: Annotated[int | None, _LIMIT] = None,
    scorer: Annotated[str | None, _SCORER] = None,
    recall_target: Annotated[float, _TARGET] = TARGET_DEFAULT,
    json_path: Annotated[Path | None, _JSON] = None,
    prefect_startup_timeout_seconds: StartupTimeout = STARTUP_TIMEOUT_DEFAULT,
) -> None:
    """Recall and precision of each rule category on a labelled folder."""
    quiet_libraries()
    ensure_prefect(prefect_startup_timeout_seconds)
    from compliance.evaluation.runner import evaluate_labelled

    table, result = evaluate_labelled(
        folder, _eval_options(threshold, min_window_chars, model, workdir, limit, scorer,
                                   recall_target))
    typer.echo(table)
    _write_json(json_path, result)


@eval_app.command("coverage")
def eval_coverage(
    seeds: Annotated[int, typer.Option(help="Simulated runs (seeds 0..n-1).", min=20)] = 200,
    audit_size: Annotated[int, typer.Option(help="Audited units per run.", min=1)] = 100,
    delta: Annotated[float, typer.Option(help=description_of(TriageSettings, "audit_delta"),
                                         min=0.001, max=0.5)] = 0.05,
    json_path: Annotated[Path | None, _JSON] = None,
) -> None:
    """Does the audit's recall lower bound hold? An oracle judge answers from the CUAD dev
    labels (no network); single runs and 3-run windows."""
    from compliance.evaluation.simulation import main as simulate

    simulate(["coverage", "--seeds", str(seeds), "--audit-size", str(audit_size), "--delta",
              str(delta), *(["--json", str(json_path)] if json_path else [])])


@eval_app.command("month")
def eval_month(
    nights: Annotated[int, typer.Option(help="Nightly runs.", min=2)] = 30,
    refit_every: Annotated[int, typer.Option(help="Refit on the verdicts every N nights.",
                                             min=0)] = 7,
    json_path: Annotated[Path | None, _JSON] = None,
) -> None:
    """A simulated month of nightly runs on new CUAD contracts with the oracle judge: token
    share and the recall estimate night by night, verdicts fed back into refits (~5 min)."""
    from compliance.evaluation.simulation import main as simulate

    simulate(["month", "--nights", str(nights), "--refit-every", str(refit_every),
              *(["--json", str(json_path)] if json_path else [])])


@eval_app.command("briefs")
def eval_briefs(
    paths: Annotated[list[Path], typer.Argument(
        help="CUAD JSONL files whose records carry `meta` (expert answers).", exists=True,
        dir_okay=False)],
    json_path: Annotated[Path | None, _JSON] = None,
    summaries: Annotated[list[Path] | None, typer.Option(
        "--summaries", help="A results database whose stored summaries to check as well "
        "(repeat for each document set).", exists=True, dir_okay=False)] = None,
    train: Annotated[Path | None, typer.Option(
        "--train", help="The set the rules' settings are chosen on: scored in-sample and in "
        "grouped k-fold cross-validation, the settings chosen again on each fold's other folds "
        "(~2 min on cuad_train.jsonl).", exists=True, dir_okay=False)] = None,
    folds: Annotated[int, typer.Option(help="Folds for --train.", min=2)] = 5,
) -> None:
    """Document briefs scored field by field against CUAD's expert answers (no model call),
    with --train a cross-validated column for the training set, and with --summaries the
    shares of stored summaries that copy, invent or fall back."""
    from compliance.evaluation import summaries as summary_eval
    from compliance.evaluation.briefs import evaluate_sets, format_settings, format_table

    result = evaluate_sets(paths, train, folds)
    typer.echo(format_table(result))
    if "cross_validation" in result:
        typer.echo("\n" + format_settings(result["cross_validation"]))
    if summaries:
        result["summaries"] = summary_eval.shares_by_database(summaries)
        typer.echo("\n" + summary_eval.format_table(result["summaries"]))
    _write_json(json_path, result)


@eval_app.command("summaries")
def eval_summaries(
    databases: Annotated[list[Path], typer.Argument(
        help="Results databases whose stored summaries to check.", exists=True,
        dir_okay=False)],
    json_path: Annotated[Path | None, _JSON] = None,
) -> None:
    """Shares of stored summaries that fall back, copy their input or state facts it lacks."""
    from compliance.evaluation.summaries import format_table, shares_by_database

    results = shares_by_database(databases)
    typer.echo(format_table(results))
    _write_json(json_path, results)
