"""A whole run over a folder of hostile and odd files (tests/hostile_files.py): the run
completes, every file is a row with an accepted status and a reason, and a second run finds
nothing changed (odd names included)."""

from __future__ import annotations

import hostile_files as hf
import pytest
from helpers import query, run_pipeline

from compliance.vocab import FAILED_STATUSES


@pytest.fixture(scope="module")
def hostile_run(prefect_harness, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    source = base / "hostile"
    expected = hf.make_hostile_folder(source)
    db_path = base / "hostile.duckdb"
    first = run_pipeline(source, db_path, summarize="off", escalation="off")
    return source, db_path, expected, first


def test_every_hostile_file_is_a_row_with_a_status_and_reason(hostile_run):
    source, db_path, expected, first = hostile_run
    assert query(db_path, "SELECT status FROM runs WHERE run_id = ?", [first["run_id"]]) == [
        ("completed",)]
    rows = {rel_path: (status, error) for rel_path, status, error in query(db_path, """
        SELECT rel_path, status, error FROM documents
        WHERE source_root = ? AND is_current AND parent_doc_id IS NULL
        """, [str(source.resolve())])}
    assert set(rows) == set(expected)
    wrong = []
    for rel_path, want in expected.items():
        status, error = rows[rel_path]
        if status not in want.statuses or not all(w in (error or "") for w in want.reason_words):
            wrong.append((rel_path, status, error, want))
        if status in FAILED_STATUSES and not (error or "").strip():
            wrong.append((rel_path, status, "no reason"))
    assert wrong == []
    failed = sum(1 for status, _ in rows.values() if status in FAILED_STATUSES and
                 status != "empty")
    assert first["docs_failed"] == failed


def test_nested_attachments_are_child_rows(hostile_run):
    source, db_path, _, _ = hostile_run
    children = query(db_path, """
        SELECT rel_path, status FROM documents
        WHERE source_root = ? AND is_current AND rel_path LIKE 'nested.eml#%' ORDER BY 1
        """, [str(source.resolve())])
    assert children == [("nested.eml#bundle.zip", "ok"),
                        ("nested.eml#bundle.zip#inner.eml", "ok"),
                        ("nested.eml#bundle.zip#inner.eml#attachment-1", "ok")]


def test_a_second_run_finds_nothing_changed(hostile_run):
    source, db_path, expected, _ = hostile_run
    second = run_pipeline(source, db_path, summarize="off", escalation="off")
    assert (second["docs_new"], second["docs_changed"], second["docs_removed"]) == (0, 0, 0)
    assert second["docs_unchanged"] == len(expected)
