"""The whole flow over data/samples: statuses, chunks, summaries, ledger, dedupe, re-runs, the CLI
and incremental runs (changed, touched, removed files; a second source folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from helpers import query, run_pipeline, scalar

from compliance.adapters.model_registry import resolve_model

SAMPLE_FILES = [
    "broken/quarterly-report.pdf",
    "contracts/master-services-agreement.txt",
    "hr/employee-onboarding.eml",
    "notes/meeting-notes.md",
    "policies/anti-bribery-policy.html",
    "policies/data-retention-policy.docx",
    "policies/data-retention-policy.pdf",
    "promo/cardiozen-brochure.pdf",
    "sop/sop-adverse-event-reporting.docx",
]
ATTACHMENT = "hr/employee-onboarding.eml#benefits-summary.txt"
MAX_CHUNK_TOKENS = 384  # PipelineParams' default
SUMMARY_METHODS = {"llm", "extractive_fallback", "extractive_short"}


def _current(db_path, source) -> dict[str, tuple]:
    """Current top-level documents under a source root: rel_path -> (status, error, doc_id)."""
    rows = query(db_path, """
        SELECT rel_path, status, error, doc_id FROM documents
        WHERE source_root = ? AND is_current AND parent_doc_id IS NULL
        """, [str(source)])
    return {row[0]: row[1:] for row in rows}


# --- one run over the samples ------------------------------------------------------------------


def test_document_statuses(samples_run):
    source, db_path, result = samples_run
    current = _current(db_path, source)
    assert sorted(current) == SAMPLE_FILES
    status, error, _ = current["broken/quarterly-report.pdf"]
    assert status == "corrupt"
    assert error and error.strip()
    for rel_path in SAMPLE_FILES:
        if rel_path != "broken/quarterly-report.pdf":
            assert current[rel_path][0] == "ok", (rel_path, current[rel_path])
    assert (result["files_seen"], result["docs_new"], result["docs_failed"]) == (9, 9, 1)


def test_attachment_is_a_child_document(samples_run):
    source, db_path, _ = samples_run
    parent_id = _current(db_path, source)["hr/employee-onboarding.eml"][2]
    rows = query(db_path, """
        SELECT rel_path, status, format, is_current FROM documents WHERE parent_doc_id = ?
        """, [parent_id])
    assert rows == [(ATTACHMENT, "ok", "txt", True)]


def test_chunks_index_into_their_text(samples_run):
    _, db_path, _ = samples_run
    rows = query(db_path, """
        SELECT c.chunk_id, d.rel_path, c.char_start, c.char_end, t.char_count, c.token_count,
               substring(t.text, c.char_start + 1, c.char_end - c.char_start)
        FROM chunks c JOIN documents d USING (doc_id) JOIN texts t USING (text_sha256)
        """)
    assert rows
    for chunk_id, rel_path, start, end, char_count, tokens, text in rows:
        where = (chunk_id, rel_path)
        assert 0 <= start < end <= char_count, where
        assert text.strip(), where
        assert len(text) == end - start, where
        assert 0 < tokens <= MAX_CHUNK_TOKENS + 8, where
    # Every document with text got chunks; failed ones got none.
    chunked = {r[1] for r in rows}
    assert chunked == (set(SAMPLE_FILES) - {"broken/quarterly-report.pdf"}) | {ATTACHMENT}


def test_every_chunk_is_summarized_shorter_than_itself(samples_run):
    _, db_path, _ = samples_run
    rows = query(db_path, """
        SELECT c.chunk_id, c.summary_status, c.char_end - c.char_start, s.summary_chars,
               length(s.summary), s.input_chars, s.method, s.kind
        FROM chunks c LEFT JOIN summaries s USING (summary_key)
        """)
    assert rows
    for chunk_id, status, length, summary_chars, summary_length, input_chars, method, kind in rows:
        assert status == "done", chunk_id
        assert method in SUMMARY_METHODS, (chunk_id, method)
        assert kind == "chunk"
        assert summary_chars == summary_length > 0
        assert input_chars == length
        assert summary_chars < length, (chunk_id, method, summary_chars, length)


def test_summary_methods_and_document_summaries(samples_run):
    source, db_path, result = samples_run
    methods = {row[0] for row in query(db_path, "SELECT DISTINCT method FROM summaries")}
    assert methods and methods <= SUMMARY_METHODS
    assert "llm" in methods or "extractive_fallback" in methods, "the model was used"
    # Every document with chunks has a document summary.
    missing = query(db_path, """
        SELECT rel_path FROM documents d
        WHERE is_current AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
          AND NOT EXISTS (SELECT 1 FROM document_summaries s WHERE s.doc_id = d.doc_id)
        """)
    assert missing == []
    assert result["summaries_pending"] == 0
    assert result["summaries_done"] == scalar(db_path, "SELECT count(*) FROM chunks")


def test_one_ledger_row_per_model_call(samples_run):
    _, db_path, result = samples_run
    spec = resolve_model()
    rows = query(db_path, """
        SELECT provider, model, model_sha256, cost_usd, price_version, cpu_seconds,
               duration_seconds, status, purpose
        FROM llm_calls WHERE run_id = ?
        """, [result["run_id"]])
    assert result["model_calls"] > 0
    assert len(rows) == result["model_calls"]
    for provider, model, sha, cost, price_version, cpu, duration, status, purpose in rows:
        assert (provider, model, sha) == ("local", spec.name, spec.sha256)
        assert cost == 0
        assert price_version == "local-0"
        assert cpu >= 0 and duration >= 0
        assert status in ("settled", "failed")
        assert purpose in ("chunk_summary", "document_summary")
    assert scalar(db_path, "SELECT count(*) FROM llm_calls WHERE run_id <> ?",
                  [result["run_id"]]) == 0


def test_run_row_is_completed(samples_run):
    _, db_path, result = samples_run
    row = query(db_path, """
        SELECT status, error, finished_at IS NOT NULL, files_seen, docs_new, docs_failed,
               model_calls, summaries_pending, orchestrator
        FROM runs WHERE run_id = ?
        """, [result["run_id"]])
    assert row == [("completed", None, True, 9, 9, 1, result["model_calls"], 0, "prefect")]
    assert result["run_id"] in result["summary"]
    # The failed file is named with its whole reason, as stored (it is under REASON_CHARS).
    (status, error, _), = [v for k, v in _current(db_path, samples_run[0]).items()
                           if k == "broken/quarterly-report.pdf"]
    assert f"! {status:<11} broken/quarterly-report.pdf: {' '.join(error.split())}" \
        in result["summary"]


def test_long_reasons_are_cut_at_a_word() -> None:
    from tasks.report import shorten

    assert shorten("short  reason\nsplit", 300) == "short reason split"
    cut = shorten("word " * 100, 42)
    assert cut.endswith(" …") and len(cut) <= 44 and "wor …" not in cut


def test_repeated_disclaimer_is_boilerplate(samples_run):
    _, db_path, _ = samples_run
    rows = query(db_path, """
        SELECT c.chunk_id, c.doc_id, first.doc_id, c.chunk_hash = first.chunk_hash,
               first.is_boilerplate, c.summary_key = first.summary_key
        FROM chunks c JOIN chunks first ON first.chunk_id = c.duplicate_of_chunk
        WHERE c.is_boilerplate
        """)
    assert len(rows) >= 3
    for chunk_id, doc_id, first_doc_id, same_hash, first_is_boilerplate, same_summary in rows:
        assert same_hash and first_is_boilerplate, chunk_id
        assert doc_id != first_doc_id, "the samples repeat the disclaimer across documents"
        assert same_summary, "a repeated chunk shares its first copy's summary"


def test_pdf_and_docx_policy_are_near_duplicates(samples_run):
    source, db_path, _ = samples_run
    current = _current(db_path, source)
    pdf_id = current["policies/data-retention-policy.pdf"][2]
    docx_id = current["policies/data-retention-policy.docx"][2]
    links = query(db_path, """
        SELECT similarity, method FROM near_duplicates
        WHERE (doc_id = ? AND similar_to_doc_id = ?) OR (doc_id = ? AND similar_to_doc_id = ?)
        """, [pdf_id, docx_id, docx_id, pdf_id])
    assert len(links) == 1
    similarity, method = links[0]
    assert method == "minhash"
    assert similarity >= 0.33


# --- re-runs -----------------------------------------------------------------------------------


def test_every_readable_document_has_a_brief_pointing_into_its_text(samples_run):
    source, db_path, _ = samples_run
    unbriefed = query(db_path, """
        SELECT rel_path FROM documents d
        WHERE is_current AND status IN ('ok', 'partial') AND NOT EXISTS (
            SELECT 1 FROM document_briefs b WHERE b.doc_id = d.doc_id AND b.field = 'kind')
        """)
    assert unbriefed == []
    fields = query(db_path, """
        SELECT b.rel_path, b.field, b.value, b.method, b.char_start, b.char_end, t.text
        FROM document_briefs b JOIN documents d USING (doc_id) JOIN texts t USING (text_sha256)
        ORDER BY b.rel_path, b.field, b.seq
        """)
    by_doc: dict[str, dict[str, list[str]]] = {}
    for rel_path, field, value, method, start, end, text in fields:
        by_doc.setdefault(rel_path, {}).setdefault(field, []).append(value)
        assert 0 <= start <= end <= len(text)
        if method == "rule" and field in ("governing_law", "title"):
            assert text[start:end].strip()  # the span holds the evidence
    contract = by_doc["contracts/master-services-agreement.txt"]
    assert contract["kind"] == ["contract"]
    assert contract["title"] == ["MASTER SERVICES AGREEMENT"]
    assert [p.split(" (")[0] for p in contract["party"]] == [
        "NORVALE PHARMA LIMITED", "BRIGHTWATER CLINICAL ANALYTICS LLC"]
    assert contract["governing_law"] == ["England and Wales"]
    assert contract["agreement_date"] == ["2024-04-15"]
    mail = by_doc["hr/employee-onboarding.eml"]
    assert mail["kind"] == ["email"] and mail["sent_date"] == ["2024-04-15"]
    assert any(p.endswith("(sender)") for p in mail["person"])
    assert by_doc["policies/data-retention-policy.pdf"]["kind"] == ["policy"]


def test_rerun_of_unchanged_folder_calls_no_model(samples_run, prefect_harness):
    source, db_path, first = samples_run
    briefs_before = scalar(db_path, "SELECT count(*) FROM briefs")
    calls_before = scalar(db_path, "SELECT count(*) FROM llm_calls")
    docs_before = scalar(db_path, "SELECT count(*) FROM documents")
    result = run_pipeline(source, db_path)
    assert result["model_calls"] == 0
    assert result["docs_new"] == 0
    assert (result["docs_changed"], result["docs_removed"], result["chunks_new"]) == (0, 0, 0)
    assert result["docs_unchanged"] == first["files_seen"]
    assert scalar(db_path, "SELECT count(*) FROM llm_calls") == calls_before
    assert scalar(db_path, "SELECT count(*) FROM documents") == docs_before
    assert scalar(db_path, "SELECT count(*) FROM llm_calls WHERE run_id = ?",
                  [result["run_id"]]) == 0
    assert scalar(db_path, "SELECT count(*) FROM briefs") == briefs_before


def test_cli_rerun_reports_zero_model_calls(samples_run, project_root, tmp_path):
    source, db_path, _ = samples_run
    calls_before = scalar(db_path, "SELECT count(*) FROM llm_calls")
    runs_before = scalar(db_path, "SELECT count(*) FROM runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), DO_NOT_TRACK="1")
    completed = subprocess.run(
        [str(project_root / ".venv" / "bin" / "compliance"), "run", str(source),
         "--db", str(db_path)],
        cwd=project_root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "0 model calls" in completed.stdout, completed.stdout
    assert scalar(db_path, "SELECT count(*) FROM llm_calls") == calls_before
    assert scalar(db_path, "SELECT count(*) FROM runs") == runs_before + 1
    last = query(db_path, """
        SELECT status, orchestrator, model_calls, docs_new FROM runs
        ORDER BY started_at DESC LIMIT 1
        """)
    assert last == [("completed", "cli (no changes)", 0, 0)]


# --- incremental runs on a small folder (no summaries, to stay quick) ---------------------------

SMALL = ["notes/meeting-notes.md", "contracts/master-services-agreement.txt",
         "policies/anti-bribery-policy.html"]


def _copy(samples_dir: Path, target: Path, rel_paths: list[str]) -> Path:
    for rel_path in rel_paths:
        (target / rel_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(samples_dir / rel_path, target / rel_path)
    return target


def _versions(db_path, source, rel_path) -> list[tuple]:
    return query(db_path, """
        SELECT version, is_current, status FROM documents
        WHERE source_root = ? AND rel_path = ? ORDER BY version
        """, [str(source), rel_path])


def _bump_mtime(path: Path, seconds: int = 10) -> int:
    stat = path.stat()
    mtime_ns = stat.st_mtime_ns + seconds * 1_000_000_000
    os.utime(path, ns=(stat.st_atime_ns, mtime_ns))
    return mtime_ns


def test_incremental_changes_removals_and_a_second_folder(prefect_harness, samples_dir,
                                                          tmp_path):
    source = _copy(samples_dir, tmp_path / "first", SMALL)
    db_path = tmp_path / "incremental.duckdb"
    quick = {"summarize": "off", "escalation": "off"}

    result = run_pipeline(source, db_path, **quick)
    assert (result["docs_new"], result["docs_failed"]) == (3, 0)
    assert sorted(_current(db_path, source)) == sorted(SMALL)

    # Change one file's bytes, touch another without changing it.
    notes = source / "notes/meeting-notes.md"
    with notes.open("a", encoding="utf-8") as handle:
        handle.write("\n\nAddendum: the launch budget was approved by the finance committee.\n")
    _bump_mtime(notes)
    policy = source / "policies/anti-bribery-policy.html"
    touched_mtime = _bump_mtime(policy)
    result = run_pipeline(source, db_path, **quick)
    assert (result["docs_new"], result["docs_changed"], result["docs_unchanged"]) == (0, 1, 2)
    assert _versions(db_path, source, "notes/meeting-notes.md") == [(1, False, "ok"),
                                                                     (2, True, "ok")]
    assert _versions(db_path, source, "policies/anti-bribery-policy.html") == [(1, True, "ok")]
    assert scalar(db_path, """
        SELECT mtime_ns FROM documents WHERE source_root = ? AND rel_path = ? AND is_current
        """, [str(source), "policies/anti-bribery-policy.html"]) == touched_mtime
    new_text = scalar(db_path, """
        SELECT t.text FROM documents d JOIN texts t USING (text_sha256)
        WHERE d.source_root = ? AND d.rel_path = ? AND d.version = 2
        """, [str(source), "notes/meeting-notes.md"])
    assert "launch budget was approved" in new_text
    assert scalar(db_path, """
        SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
        WHERE d.source_root = ? AND d.rel_path = ? AND d.version = 2
        """, [str(source), "notes/meeting-notes.md"]) > 0

    # Delete one file: a 'removed' version replaces it.
    (source / "contracts/master-services-agreement.txt").unlink()
    result = run_pipeline(source, db_path, **quick)
    assert (result["docs_removed"], result["docs_new"], result["docs_changed"]) == (1, 0, 0)
    assert _versions(db_path, source, "contracts/master-services-agreement.txt") == [
        (1, False, "ok"), (2, True, "removed")]

    # Another folder into the same database: nothing of the first folder is removed.
    before = _current(db_path, source)
    other = _copy(samples_dir, tmp_path / "second", ["sop/sop-adverse-event-reporting.docx"])
    result = run_pipeline(other, db_path, **quick)
    assert (result["docs_new"], result["docs_removed"]) == (1, 0)
    assert _current(db_path, source) == before
    assert {k: v[0] for k, v in _current(db_path, other).items()} == {
        "sop/sop-adverse-event-reporting.docx": "ok"}
    assert scalar(db_path, "SELECT count(*) FROM documents WHERE status = 'removed'") == 1

    # And the first folder again: its removed file is not removed twice.
    result = run_pipeline(source, db_path, **quick)
    assert (result["docs_new"], result["docs_changed"], result["docs_removed"]) == (0, 0, 0)
    assert result["docs_unchanged"] == 2
    assert scalar(db_path, "SELECT count(*) FROM documents WHERE status = 'removed'") == 1


def test_a_file_that_comes_back_has_one_current_version(prefect_harness, samples_dir, tmp_path):
    rel_path = "notes/meeting-notes.md"
    source = _copy(samples_dir, tmp_path / "src", [rel_path])
    db_path = tmp_path / "comeback.duckdb"
    quick = {"summarize": "off", "escalation": "off"}
    run_pipeline(source, db_path, **quick)
    parked = tmp_path / "parked.md"
    shutil.move(source / rel_path, parked)
    run_pipeline(source, db_path, **quick)
    assert _versions(db_path, source, rel_path) == [(1, False, "ok"), (2, True, "removed")]
    shutil.move(parked, source / rel_path)
    result = run_pipeline(source, db_path, **quick)
    assert result["docs_new"] == 1
    assert _versions(db_path, source, rel_path) == [(1, False, "ok"), (2, False, "removed"),
                                                     (3, True, "ok")]


def test_copy_of_a_removed_file_keeps_its_text(prefect_harness, samples_dir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy2(samples_dir / "notes/meeting-notes.md", source / "a.md")
    shutil.copy2(samples_dir / "notes/meeting-notes.md", source / "b.md")
    db_path = tmp_path / "copies.duckdb"
    quick = {"summarize": "off", "escalation": "off"}
    run_pipeline(source, db_path, **quick)
    assert {k: v[0] for k, v in _current(db_path, source).items()} == {"a.md": "ok",
                                                                       "b.md": "duplicate"}
    (source / "a.md").unlink()
    run_pipeline(source, db_path, **quick)
    orphans = query(db_path, """
        SELECT d.rel_path FROM documents d JOIN documents original
            ON original.doc_id = d.duplicate_of
        WHERE d.is_current AND NOT original.is_current
        """)
    assert orphans == []
    assert scalar(db_path, """
        SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
        WHERE d.is_current AND d.source_root = ?
        """, [str(source)]) > 0
