"""The local model where it pays: chunks of documents with open findings are summarized first,
and with summarize='findings' only those."""

from __future__ import annotations

from helpers import SUMMARY_TEXTS, query, run_pipeline

from compliance.settings import PipelineParams
from compliance.store import db as database
from tasks.inventory import unchanged_files
from tasks.summarize.chunks import pending_chunk_groups


def _documents(tmp_path):
    """(source, db): three one-chunk documents, some of them with rule findings."""
    source = tmp_path / "docs"
    for rel_path, text in SUMMARY_TEXTS.items():
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (source / rel_path).write_text(text, encoding="utf-8")
    return source, tmp_path / "results.duckdb"


def test_documents_with_open_findings_come_first(prefect_harness, tmp_path):
    source, db = _documents(tmp_path)
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


def test_summarize_findings_leaves_the_other_documents_to_a_reviewer(prefect_harness, tmp_path):
    source, db = _documents(tmp_path)
    run_pipeline(source, db, summarize="findings", escalation="off")
    with_findings = {row[0] for row in query(
        db, "SELECT DISTINCT doc_id FROM findings WHERE disposition IN ('open', 'confirmed')")}
    status = query(db, "SELECT doc_id, summary_status FROM chunks")
    assert {s for d, s in status if d in with_findings} == {"done"}
    assert {s for d, s in status if d not in with_findings} == {"pending"}
    summarized = {row[0] for row in query(db, "SELECT doc_id FROM document_summaries")}
    assert summarized == with_findings
    # Nothing is outstanding for this mode, so an unchanged folder is a no-op; with 'all' the
    # pending chunks are work to do.
    params = {"source": str(source), "db_path": str(db), "escalation": "off"}
    version = query(db, "SELECT triage_version FROM runs ORDER BY started_at DESC LIMIT 1")[0][0]
    assert unchanged_files(PipelineParams(**params, summarize="findings"),
                           lambda conn: version, cloud=False) == len(SUMMARY_TEXTS)
    assert unchanged_files(PipelineParams(**params, summarize="all"),
                           lambda conn: version, cloud=False) is None
