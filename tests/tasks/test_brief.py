"""The brief stage in real runs: one brief per text, nothing for files that could not be read or
duplicate another, and new brief code briefs every text again on the next run."""

from __future__ import annotations

from helpers import query, run_pipeline, scalar

from compliance.settings import PipelineParams
from compliance.store import db as database
from tasks.inventory import outstanding_work, unchanged_files

CONTRACT = (
    "SUPPLY AGREEMENT\n\nThis Supply Agreement is made as of March 3, 2010 by and between "
    "Alpha Corp., a Delaware corporation (\"Alpha\"), and Beta LLC, a Texas limited liability "
    "company (\"Beta\").\n\n1. Supply. Beta shall supply the goods listed in Schedule A.\n\n"
    "9. This Agreement shall be governed by the laws of the State of Texas.\n")


def test_briefs_are_stored_once_per_text_and_rebuilt_for_new_code(prefect_harness, tmp_path):
    source = tmp_path / "docs"
    source.mkdir()
    (source / "supply.txt").write_text(CONTRACT, encoding="utf-8")
    (source / "copy-of-supply.txt").write_text(CONTRACT, encoding="utf-8")
    (source / "empty.txt").write_bytes(b"")
    db = tmp_path / "results.duckdb"
    params = {"summarize": "off", "escalation": "off"}
    run_pipeline(source, db, **params)

    # A byte-identical copy is a duplicate of the first: one brief, on the original.
    assert scalar(db, "SELECT count(*) FROM briefs") == 1
    original = scalar(db, "SELECT rel_path FROM documents WHERE status = 'ok'")
    shown = query(db, "SELECT rel_path, value FROM document_briefs WHERE field = 'governing_law'")
    assert shown == [(original, "Texas")]
    assert query(db, "SELECT value FROM document_briefs WHERE field = 'party' ORDER BY seq") == [
        ('Alpha Corp. ("Alpha")',), ('Beta LLC ("Beta")',)]
    assert scalar(db, "SELECT count(*) FROM document_briefs WHERE rel_path = 'empty.txt'") == 0

    # An unchanged folder is a no-op, briefs included.
    pipeline = PipelineParams(source=str(source), db_path=str(db), **params)
    assert unchanged_files(pipeline, lambda conn: _policy(conn, db), cloud=False) == 3

    # Briefs from other code (here: an older version) are outstanding work, rebuilt next run.
    with database.Database(db).transaction() as cur:
        cur.execute("UPDATE briefs SET brief_version = 'older-code'")
        cur.execute("UPDATE brief_fields SET brief_version = 'older-code'")
    conn = database.reader(db)
    try:
        version = _policy(conn, db)
        assert outstanding_work(conn, False, version, False)["unbriefed"] == 1
    finally:
        conn.close()
    run_pipeline(source, db, **params)
    assert scalar(db, "SELECT count(*) FROM briefs") == 2
    assert query(db, "SELECT DISTINCT brief_version <> 'older-code' FROM document_briefs") == [
        (True,)]


def _policy(conn, db) -> str:
    """The triage version the last run used (what a re-run would use, too)."""
    return conn.execute("SELECT triage_version FROM runs ORDER BY started_at DESC LIMIT 1"
                        ).fetchone()[0]
