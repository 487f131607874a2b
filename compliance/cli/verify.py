"""`compliance verify`: the results database's integrity, checked read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance.environment import DEFAULT_DB_PATH

verify_app = typer.Typer()


@verify_app.command()
def verify(
    db: Annotated[Path, typer.Option("--db", help="DuckDB results file.")] = DEFAULT_DB_PATH,
) -> None:
    """Check the database (read-only): summaries match their chunks' text, flags lie inside
    their text, every ledger row has its run, run totals equal ledger sums, no window is both
    answered and waiting. Exit 1 naming each mismatch."""
    from compliance.read.results import ResultsUnavailableError, open_results
    from compliance.store.verify import CHECKS
    from compliance.store.verify import verify as run_checks

    try:
        conn = open_results(db)
    except ResultsUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        mismatches = run_checks(conn)
    finally:
        conn.close()
    for mismatch in mismatches:
        typer.echo(f"mismatch {mismatch}")
    if mismatches:
        failed = sorted({m.check for m in mismatches}, key=list(CHECKS).index)
        typer.echo(f"error: {db}: {len(mismatches)} mismatch(es) in {', '.join(failed)}",
                   err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {db} passes all {len(CHECKS)} checks ({', '.join(CHECKS)})")
