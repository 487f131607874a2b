"""Typed run counts: every field is a column of `runs`, stored by one function."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from compliance.store import db as database
from compliance.store.runs import COUNT_COLUMNS, RunCounts, close_run, new_run_id, open_run


def test_every_count_is_a_column_of_runs(tmp_path):
    db = database.writer(tmp_path / "r.duckdb")
    try:
        with db.cursor() as cur:
            columns = {row[0] for row in cur.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'runs'").fetchall()}
    finally:
        database.close_writer(tmp_path / "r.duckdb")
    assert set(COUNT_COLUMNS) <= columns
    assert COUNT_COLUMNS == tuple(f.name for f in dataclasses.fields(RunCounts))


def test_close_run_stores_the_counts_and_leaves_unmeasured_ones_null(tmp_path):
    path = tmp_path / "r.duckdb"
    db = database.writer(path)
    try:
        run_id = new_run_id()
        open_run(db, run_id, "/src", "{}", orchestrator="test")
        close_run(db, run_id, "completed", RunCounts(files_seen=3, chunks_flagged=1,
                                                     spend_usd=Decimal("0.000123456")))
        failed = new_run_id()
        open_run(db, failed, "/src", "{}", orchestrator="test")
        close_run(db, failed, "failed", error="boom")
        with db.cursor() as cur:
            stored = cur.execute(
                "SELECT status, files_seen, chunks_flagged, spend_usd, docs_new, error "
                "FROM runs WHERE run_id = ?", [run_id]).fetchone()
            failed_row = cur.execute(
                "SELECT status, error, finished_at IS NOT NULL, files_seen FROM runs "
                "WHERE run_id = ?", [failed]).fetchone()
    finally:
        database.close_writer(path)
    assert stored == ("completed", 3, 1, Decimal("0.000123456"), None, None)
    assert failed_row == ("failed", "boom", True, None)
