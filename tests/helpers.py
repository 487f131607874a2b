"""Small helpers shared by the test modules (imported by name: conftest puts tests/ on sys.path)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
FIXTURES_DIR = TESTS_DIR / "fixtures"


def query(db_path: Path | str, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Rows of one query on a results file, through a read-only connection closed at once.

    The flow closes its writer when a run ends; a connection left open here would make the next
    run in this process fail to open the file for writing.
    """
    conn = duckdb.connect(str(db_path), read_only=True)
    try:
        return conn.execute(sql, list(params or [])).fetchall()
    finally:
        conn.close()


def scalar(db_path: Path | str, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The single value of a one-row, one-column query."""
    rows = query(db_path, sql, params)
    assert len(rows) == 1, rows
    return rows[0][0]


def run_pipeline(source: Path | str, db_path: Path | str, **params: Any) -> dict[str, Any]:
    """One run of the real Prefect flow (call it inside the prefect_harness fixture)."""
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline

    return compliance_pipeline(PipelineParams(source=str(source), db_path=str(db_path), **params))


# Long enough (over MIN_CHARS_FOR_MODEL) that the model summarizes each one: three model calls
# (the Dask and the batching tests).
SUMMARY_TEXTS = {
    "promo/leaflet.txt": (
        "CardioZen leaflet for prescribers. CardioZen cures heart disease and is completely safe "
        "with no side effects, according to the marketing team. Patients taking CardioZen saw "
        "their blood pressure fall within two weeks in an open study of forty volunteers. The "
        "leaflet will be handed out at the cardiology congress in March by the sales force."),
    "contracts/renewal.txt": (
        "Services Agreement between Northwind Supplies and the Customer. This Agreement renews "
        "automatically for successive one-year terms unless either party gives ninety days "
        "written notice of non-renewal. The Supplier's liability under this Agreement is "
        "unlimited for breaches of confidentiality. Invoices are payable within thirty days."),
    "notes/minutes.txt": (
        "Minutes of the steering meeting held on Tuesday. The committee reviewed the migration "
        "of the document archive to the new storage cluster and agreed to finish it before the "
        "end of the quarter. The training plan for new analysts was approved, and the budget "
        "for the translation project was moved to the next financial year by the chair."),
}
