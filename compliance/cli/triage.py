"""`compliance triage ...`: retrain the clause scorer on your own labels, list and activate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance.environment import DEFAULT_DB_PATH, TRAINING_DATA

triage_app = typer.Typer(help="The clause scorer: retrain it on your verdicts and reviews, list "
                              "and activate versions.", no_args_is_help=True)
_DB = typer.Option("--db", help="Results database.")
_WAIT = typer.Option(help="Wait while a run writes the database (default: refuse at once).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _labels(db: Path) -> list[tuple[str, str, str, bool]]:
    """(key, text, category, is_positive) of every stored label."""
    from compliance.read.results import ResultsUnavailableError, open_results

    try:
        conn = open_results(db)
    except ResultsUnavailableError as exc:
        raise _fail(str(exc)) from None
    try:
        return conn.execute("SELECT label_key, text, category, is_positive FROM triage_labels "
                            "WHERE text <> '' ORDER BY label_key").fetchall()
    finally:
        conn.close()


def _write(db: Path, wait: bool, what: str) -> tuple[object, object]:
    """The database writer and its lock, as `compliance review` takes them."""
    from compliance.store import db as database
    from compliance.store.runlock import DatabaseHeldError, hold_lock

    try:
        lock = hold_lock(db, what, wait,
                         on_wait=lambda held_by: typer.echo(f"waiting: {held_by}", err=True))
    except DatabaseHeldError as exc:
        raise _fail(f"{exc}; try again when it has finished (or --wait)") from None
    return database.writer(db), lock


@triage_app.command()
def train(
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    data: Annotated[Path, typer.Option(help="The shipped training set (labelled JSONL).",
                                       exists=True, dir_okay=False)] = TRAINING_DATA,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.", min=2, max=20)] = 5,
    wait: Annotated[bool, _WAIT] = False,
) -> None:
    """Refit the scorer on the training set plus the database's labels; store it inactive."""
    import hashlib

    from compliance.scoring.training import LabelledText, file_sha256, read_labelled
    from compliance.scoring.training import train as fit_scorer
    from compliance.store import db as database
    from compliance.store.scorers import store_scorer

    labels = _labels(db)
    extra = [LabelledText(key, text, ((category, 0, len(text)),) if positive else ())
             for key, text, category, positive in labels]
    digest = hashlib.sha256(file_sha256(data).encode())
    for key, text, category, positive in labels:
        digest.update(f"{key}|{category}|{positive}|{text}".encode())
    typer.echo(f"training on {data.name} and {len(labels)} labels from {db} "
               f"({folds}-fold cross-validation grouped by document)...")
    scorer = fit_scorer(read_labelled(data), digest.hexdigest(), {"folds": folds}, extra=extra)
    model = scorer.to_bytes()
    curve = [point.__dict__ for point in scorer.curve]
    writer, lock = _write(db, wait, "compliance triage train")
    try:
        with writer.transaction() as cur:
            store_scorer(cur, scorer.version, model, len(labels), curve)
    finally:
        database.close_writer(db)
        lock.release()
    point = scorer.operating_point(0.95)
    typer.echo(f"stored clause scorer {scorer.version} ({len(model) / 1e6:.2f} MB): "
               f"cross-validated recall {point.expected_recall:.3f} at "
               f"{point.expected_share:.1%} of the text for target 0.95. Not active: "
               f"`compliance triage activate {scorer.version}` to use it.")


@triage_app.command()
def models(db: Annotated[Path, _DB] = DEFAULT_DB_PATH) -> None:
    """List the shipped scorer and the stored ones, with their cross-validated numbers."""
    from compliance.read.results import ResultsUnavailableError, open_results
    from compliance.scoring.model import CurvePoint, operating_point
    from compliance.scoring.policy import resolve_scorer
    from compliance.store.scorers import stored_scorers

    shipped = resolve_scorer(None)
    rows = []
    if shipped is not None:
        rows.append((shipped.version, "shipped (models/)", "-", shipped.curve))
    stored = []
    try:
        conn = open_results(db)
        try:
            stored = stored_scorers(conn)
        finally:
            conn.close()
    except ResultsUnavailableError:
        pass
    active = next((s.version for s in stored if s.active), shipped.version if shipped else "")
    for item in stored:
        rows.append((item.version, f"trained {item.created_at:%Y-%m-%d %H:%M}",
                     str(item.labels_used), [CurvePoint(**p) for p in item.cross_validation]))
    typer.echo("| version | source | own labels | CV recall @0.95 | CV text share | active |")
    typer.echo("|---|---|--:|--:|--:|---|")
    for version, source, labels, curve in rows:
        point = operating_point(curve, 0.95)
        typer.echo(f"| {version} | {source} | {labels} | {point.expected_recall:.3f} | "
                   f"{point.expected_share:.3f} | {'yes' if version == active else ''} |")


@triage_app.command()
def activate(
    version: Annotated[str | None, typer.Argument(
        help="A stored version (see `compliance triage models`); omit with --shipped.")] = None,
    shipped: Annotated[bool, typer.Option(help="Go back to the shipped scorer.")] = False,
    db: Annotated[Path, _DB] = DEFAULT_DB_PATH,
    wait: Annotated[bool, _WAIT] = False,
) -> None:
    """Make a stored scorer the one runs use (then `compliance retriage` re-decides)."""
    from compliance.store import db as database
    from compliance.store.scorers import ScorerNotFoundError, activate_scorer

    if (version is None) == (not shipped):
        raise _fail("give a version, or --shipped")
    writer, lock = _write(db, wait, "compliance triage activate")
    try:
        with writer.transaction() as cur:
            activate_scorer(cur, None if shipped else version)
    except ScorerNotFoundError as exc:
        raise _fail(str(exc)) from None
    finally:
        database.close_writer(db)
        lock.release()
    typer.echo(f"active clause scorer: {'the shipped one' if shipped else version}; "
               "`compliance retriage` re-decides stored chunks under it")
