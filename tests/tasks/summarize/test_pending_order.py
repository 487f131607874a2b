"""When the local budget is short, chunks of documents with open findings are summarized first."""

from __future__ import annotations

from helpers import SUMMARY_TEXTS, query, run_pipeline

from compliance.store import db as database
from tasks.summarize.chunks import pending_chunk_groups


def test_documents_with_open_findings_come_first(prefect_harness, tmp_path):
    source = tmp_path / "docs"
    for rel_path, text in SUMMARY_TEXTS.items():
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (source / rel_path).write_text(text, encoding="utf-8")
    db = tmp_path / "results.duckdb"
    run_pipeline(source, db, summarize="off", escalation="off")
    with_findings = {row[0] for row in query(
        db, "SELECT DISTINCT doc_id FROM findings WHERE disposition IN ('open', 'confirmed')")}
    docs = {row[0] for row in query(db, "SELECT doc_id FROM documents WHERE status = 'ok'")}
    assert with_findings and docs - with_findings, "the fixture needs both kinds of document"
    conn = database.reader(db)
    try:
        order = [doc_id for _, _, doc_id, *_ in pending_chunk_groups(conn)]
    finally:
        conn.close()
    flags = [doc_id in with_findings for doc_id in order]
    assert flags == sorted(flags, reverse=True)  # every such chunk before any other
    assert set(order) == docs
