"""compliance/migrations.py and compliance/db.py: the schema is pinned, migrations run once."""

from __future__ import annotations

import duckdb
import pytest

from compliance.store.db import Database, apply_migrations, close_writer, reader, writer
from compliance.store.migrations import MIGRATIONS

# The schema after every migration, as information_schema reports it (tables and the analysts'
# views). A new migration must update this literal on purpose: a changed column type or order
# is a change to stored data, and a changed view column breaks analysts' queries.
_RECALL_ESTIMATES = [
    ("run_id", "VARCHAR"), ("triage_version", "VARCHAR"), ("category", "VARCHAR"),
    ("runs_pooled", "INTEGER"), ("escalated_positives", "INTEGER"), ("audited", "INTEGER"),
    ("audited_positives", "INTEGER"), ("missed_estimate", "DOUBLE"), ("missed_upper", "DOUBLE"),
    ("estimate", "DOUBLE"), ("lower_bound", "DOUBLE"), ("delta", "DOUBLE"),
    ("recall_target", "DOUBLE"), ("status", "VARCHAR"),
]
EXPECTED_SCHEMA: dict[str, list[tuple[str, str]]] = {
    "_migrations": [
        ("name", "VARCHAR"), ("applied_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "batches": [
        ("batch_id", "VARCHAR"), ("run_id", "VARCHAR"), ("model", "VARCHAR"),
        ("status", "VARCHAR"), ("request_count", "INTEGER"),
        ("submitted_at", "TIMESTAMP WITH TIME ZONE"), ("ended_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "brief_fields": [
        ("text_sha256", "VARCHAR"), ("brief_version", "VARCHAR"), ("field", "VARCHAR"),
        ("seq", "INTEGER"), ("value", "VARCHAR"), ("method", "VARCHAR"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"),
    ],
    "briefs": [
        ("text_sha256", "VARCHAR"), ("brief_version", "VARCHAR"), ("fields", "INTEGER"),
        ("run_id", "VARCHAR"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "document_briefs": [
        ("doc_id", "BIGINT"), ("rel_path", "VARCHAR"), ("field", "VARCHAR"), ("seq", "INTEGER"),
        ("value", "VARCHAR"), ("method", "VARCHAR"), ("char_start", "INTEGER"),
        ("char_end", "INTEGER"), ("brief_version", "VARCHAR"),
    ],
    "chunks": [
        ("chunk_id", "BIGINT"), ("doc_id", "BIGINT"), ("seq", "INTEGER"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"), ("page_start", "INTEGER"),
        ("page_end", "INTEGER"), ("section", "VARCHAR"), ("token_count", "INTEGER"),
        ("chunk_hash", "VARCHAR"), ("is_boilerplate", "BOOLEAN"), ("duplicate_of_chunk", "BIGINT"),
        ("summary_status", "VARCHAR"), ("summary_key", "VARCHAR"), ("created_run_id", "VARCHAR"),
    ],
    "document_summaries": [
        ("doc_id", "BIGINT"), ("summary_key", "VARCHAR"), ("run_id", "VARCHAR"),
    ],
    "documents": [
        ("doc_id", "BIGINT"), ("source_root", "VARCHAR"), ("rel_path", "VARCHAR"),
        ("version", "INTEGER"), ("is_current", "BOOLEAN"), ("parent_doc_id", "BIGINT"),
        ("sha256", "VARCHAR"), ("text_hash", "VARCHAR"), ("text_sha256", "VARCHAR"),
        ("size_bytes", "BIGINT"), ("mtime", "TIMESTAMP WITH TIME ZONE"), ("mtime_ns", "BIGINT"),
        ("format", "VARCHAR"), ("declared_extension", "VARCHAR"), ("extractor", "VARCHAR"),
        ("page_count", "INTEGER"), ("language", "VARCHAR"), ("status", "VARCHAR"),
        ("error", "VARCHAR"), ("duplicate_of", "BIGINT"), ("same_text_as", "BIGINT"),
        ("risk_hint_score", "INTEGER"), ("similarity_checked", "BOOLEAN"),
        ("first_run_id", "VARCHAR"), ("last_seen_run_id", "VARCHAR"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "escalation_results": [
        ("cache_key", "VARCHAR"), ("model", "VARCHAR"), ("prompt_version", "VARCHAR"),
        ("rules_version", "VARCHAR"), ("is_finding", "BOOLEAN"), ("category", "VARCHAR"),
        ("severity", "VARCHAR"), ("rationale", "VARCHAR"), ("quote", "VARCHAR"),
        ("recommended_action", "VARCHAR"), ("call_id", "BIGINT"), ("created_run_id", "VARCHAR"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "escalation_windows": [
        ("window_id", "BIGINT"), ("chunk_id", "BIGINT"), ("doc_id", "BIGINT"),
        ("rules_version", "VARCHAR"), ("char_start", "INTEGER"), ("char_end", "INTEGER"),
        ("rule_ids", "JSON"), ("categories", "JSON"), ("redacted_text", "VARCHAR"),
        ("redacted_sha256", "VARCHAR"), ("status", "VARCHAR"), ("cache_key", "VARCHAR"),
        ("call_id", "BIGINT"), ("batch_id", "VARCHAR"), ("custom_id", "VARCHAR"),
        ("run_id", "VARCHAR"), ("purpose", "VARCHAR"), ("audit_band", "VARCHAR"),
        ("inclusion_probability", "DOUBLE"), ("status_reason", "VARCHAR"),
        ("status_changed_at", "TIMESTAMP WITH TIME ZONE"),
        ("failures", "INTEGER"),
    ],
    "flags": [
        ("flag_id", "BIGINT"), ("chunk_id", "BIGINT"), ("doc_id", "BIGINT"),
        ("rule_id", "VARCHAR"), ("category", "VARCHAR"), ("severity", "VARCHAR"),
        ("action", "VARCHAR"), ("char_start", "INTEGER"), ("char_end", "INTEGER"),
        ("matched_text", "VARCHAR"), ("pack", "VARCHAR"), ("pack_version", "VARCHAR"),
        ("rules_version", "VARCHAR"), ("run_id", "VARCHAR"),
    ],
    "llm_calls": [
        ("call_id", "BIGINT"), ("run_id", "VARCHAR"), ("purpose", "VARCHAR"),
        ("chunk_id", "BIGINT"), ("doc_id", "BIGINT"), ("summary_key", "VARCHAR"),
        ("provider", "VARCHAR"), ("model", "VARCHAR"), ("model_sha256", "VARCHAR"),
        ("prompt_version", "VARCHAR"), ("request_id", "VARCHAR"), ("attempt", "INTEGER"),
        ("is_batch", "BOOLEAN"), ("input_tokens", "INTEGER"), ("output_tokens", "INTEGER"),
        ("cache_write_tokens", "INTEGER"), ("cache_read_tokens", "INTEGER"),
        ("price_version", "VARCHAR"), ("cost_usd", "DECIMAL(18,9)"),
        ("duration_seconds", "DOUBLE"), ("cpu_seconds", "DOUBLE"), ("status", "VARCHAR"),
        ("error", "VARCHAR"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("bound_usd", "DECIMAL(18,9)"), ("custom_id", "VARCHAR"), ("batch_id", "VARCHAR"),
        ("sent_sha256", "VARCHAR"),
    ],
    "minhashes": [
        ("text_hash", "VARCHAR"), ("num_perm", "INTEGER"), ("signature", "BLOB"),
    ],
    "near_duplicates": [
        ("doc_id", "BIGINT"), ("similar_to_doc_id", "BIGINT"), ("similarity", "DOUBLE"),
        ("method", "VARCHAR"), ("run_id", "VARCHAR"),
    ],
    "pages": [
        ("doc_id", "BIGINT"), ("page_number", "INTEGER"), ("char_start", "INTEGER"),
        ("char_end", "INTEGER"),
    ],
    "paragraphs": [
        ("para_hash", "VARCHAR"), ("doc_id", "BIGINT"),
    ],
    "redactions": [
        ("window_id", "BIGINT"), ("placeholder", "VARCHAR"), ("original", "VARCHAR"),
        ("rule_id", "VARCHAR"),
    ],
    "runs": [
        ("run_id", "VARCHAR"), ("flow_run_id", "VARCHAR"), ("orchestrator", "VARCHAR"),
        ("source_root", "VARCHAR"), ("params", "JSON"), ("started_at", "TIMESTAMP WITH TIME ZONE"),
        ("finished_at", "TIMESTAMP WITH TIME ZONE"), ("status", "VARCHAR"), ("error", "VARCHAR"),
        ("files_seen", "INTEGER"), ("docs_new", "INTEGER"), ("docs_changed", "INTEGER"),
        ("docs_unchanged", "INTEGER"), ("docs_duplicate", "INTEGER"), ("docs_failed", "INTEGER"),
        ("docs_removed", "INTEGER"), ("chunks_new", "INTEGER"), ("summaries_done", "INTEGER"),
        ("summaries_cached", "INTEGER"), ("summaries_pending", "INTEGER"),
        ("model_calls", "INTEGER"), ("local_model_seconds", "DOUBLE"), ("wall_seconds", "DOUBLE"),
        ("chunks_flagged", "INTEGER"), ("chunks_escalated", "INTEGER"),
        ("chunks_deferred", "INTEGER"), ("escalation_mode", "VARCHAR"), ("cloud_model", "VARCHAR"),
        ("spend_usd", "DECIMAL(18,9)"), ("naive_new_usd", "DECIMAL(18,9)"),
        ("naive_all_usd", "DECIMAL(18,9)"), ("escalation_note", "VARCHAR"),
        ("escalation_windows_cached", "INTEGER"), ("escalation_windows_sent", "INTEGER"),
        ("cache_saved_usd", "DECIMAL(18,9)"), ("triage_version", "VARCHAR"),
        ("scorer_version", "VARCHAR"), ("recall_target", "DOUBLE"), ("scorer_threshold", "DOUBLE"),
        ("expected_recall", "DOUBLE"), ("expected_share", "DOUBLE"),
        ("recall_estimate", "DOUBLE"), ("recall_lower_bound", "DOUBLE"),
        ("recall_status", "VARCHAR"), ("stage", "VARCHAR"),
        ("stage_started_at", "TIMESTAMP WITH TIME ZONE"), ("interrupted_by", "VARCHAR"),
    ],
    "segments": [
        ("doc_id", "BIGINT"), ("seq", "INTEGER"), ("char_start", "INTEGER"),
        ("char_end", "INTEGER"), ("kind", "VARCHAR"), ("page_number", "INTEGER"),
        ("section", "VARCHAR"), ("duplicate_of_seq", "INTEGER"),
    ],
    "summaries": [
        ("summary_key", "VARCHAR"), ("kind", "VARCHAR"), ("input_hash", "VARCHAR"),
        ("model_sha256", "VARCHAR"), ("prompt_version", "VARCHAR"), ("params_hash", "VARCHAR"),
        ("summary", "VARCHAR"), ("key_points", "JSON"), ("risk_signals", "JSON"),
        ("method", "VARCHAR"), ("input_chars", "INTEGER"), ("summary_chars", "INTEGER"),
        ("created_run_id", "VARCHAR"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "texts": [
        ("text_sha256", "VARCHAR"), ("text", "VARCHAR"), ("char_count", "INTEGER"),
    ],
    "triage_units": [
        ("chunk_id", "BIGINT"), ("doc_id", "BIGINT"), ("triage_version", "VARCHAR"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"), ("score", "DOUBLE"),
        ("category", "VARCHAR"), ("escalated", "BOOLEAN"), ("run_id", "VARCHAR"),
    ],
    "audit_bands": [
        ("run_id", "VARCHAR"), ("triage_version", "VARCHAR"), ("band", "VARCHAR"),
        ("population", "INTEGER"), ("sampled", "INTEGER"),
    ],
    "recall_estimates": _RECALL_ESTIMATES,
    "triage_recall": [*_RECALL_ESTIMATES, ("started_at", "TIMESTAMP WITH TIME ZONE")],
    "scorer_models": [
        ("version", "VARCHAR"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("labels_used", "INTEGER"), ("cross_validation", "JSON"), ("model", "BLOB"),
        ("sha256", "VARCHAR"), ("active", "BOOLEAN"),
    ],
    "triage_labels": [
        ("label_key", "VARCHAR"), ("doc_id", "BIGINT"), ("chunk_id", "BIGINT"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"), ("text", "VARCHAR"),
        ("category", "VARCHAR"), ("is_positive", "BOOLEAN"), ("source", "VARCHAR"),
        ("run_id", "VARCHAR"),
    ],
    "triage": [
        ("chunk_id", "BIGINT"), ("rules_version", "VARCHAR"), ("score", "INTEGER"),
        ("decision", "VARCHAR"), ("reasons", "JSON"), ("escalation_status", "VARCHAR"),
        ("run_id", "VARCHAR"), ("scorer_version", "VARCHAR"), ("scorer_score", "DOUBLE"),
        ("scorer_threshold", "DOUBLE"),
    ],
    "cache_efficiency": [
        ("run_id", "VARCHAR"), ("started_at", "TIMESTAMP WITH TIME ZONE"), ("status",
        "VARCHAR"), ("summaries_done", "INTEGER"), ("summaries_cached", "INTEGER"),
        ("summary_hit_rate", "DOUBLE"), ("escalation_windows_sent", "INTEGER"),
        ("escalation_windows_cached", "INTEGER"), ("escalation_hit_rate", "DOUBLE"),
        ("cache_saved_usd", "DECIMAL(19,9)"),
    ],
    "cost_by_day_and_model": [
        ("day", "DATE"), ("provider", "VARCHAR"), ("model", "VARCHAR"), ("calls", "BIGINT"),
        ("failed_calls", "BIGINT"), ("input_tokens", "HUGEINT"), ("output_tokens",
        "HUGEINT"), ("cache_write_tokens", "HUGEINT"), ("cache_read_tokens", "HUGEINT"),
        ("seconds", "DOUBLE"), ("cost_usd", "DECIMAL(38,9)"),
    ],
    "cost_by_run": [
        ("run_id", "VARCHAR"), ("started_at", "TIMESTAMP WITH TIME ZONE"), ("finished_at",
        "TIMESTAMP WITH TIME ZONE"), ("status", "VARCHAR"), ("orchestrator", "VARCHAR"),
        ("escalation_mode", "VARCHAR"), ("local_calls", "BIGINT"), ("local_seconds",
        "DOUBLE"), ("local_cost_usd", "DECIMAL(38,9)"), ("cloud_calls", "BIGINT"),
        ("cloud_failed_calls", "BIGINT"), ("cloud_input_tokens", "HUGEINT"),
        ("cloud_output_tokens", "HUGEINT"), ("cloud_cost_usd", "DECIMAL(38,9)"),
        ("total_cost_usd", "DECIMAL(38,9)"),
    ],
    "document_status": [
        ("doc_id", "BIGINT"), ("source_root", "VARCHAR"), ("rel_path", "VARCHAR"),
        ("version", "INTEGER"), ("format", "VARCHAR"), ("status", "VARCHAR"), ("error",
        "VARCHAR"), ("page_count", "INTEGER"), ("language", "VARCHAR"), ("size_bytes",
        "BIGINT"), ("duplicate_of", "BIGINT"), ("chunks", "BIGINT"), ("chunks_summarized",
        "BIGINT"), ("chunks_flagged", "BIGINT"), ("windows_escalated", "BIGINT"),
        ("windows_judged", "BIGINT"), ("windows_waiting", "BIGINT"),
        ("windows_failed", "BIGINT"), ("has_summary",
        "BOOLEAN"), ("findings", "BIGINT"), ("open_findings", "BIGINT"), ("open_critical",
        "BIGINT"), ("open_high", "BIGINT"), ("open_medium", "BIGINT"), ("open_low",
        "BIGINT"), ("risk_verdict", "VARCHAR"), ("first_run_id", "VARCHAR"),
        ("last_seen_run_id", "VARCHAR"),
    ],
    "escalations": [
        ("window_id", "BIGINT"), ("run_id", "VARCHAR"), ("doc_id", "BIGINT"),
        ("source_root", "VARCHAR"), ("rel_path", "VARCHAR"), ("version", "INTEGER"),
        ("is_current", "BOOLEAN"), ("chunk_id", "BIGINT"), ("rules_version", "VARCHAR"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"), ("window_chars", "INTEGER"),
        ("rule_ids", "JSON"), ("categories", "JSON"), ("status", "VARCHAR"), ("model",
        "VARCHAR"), ("is_finding", "BOOLEAN"), ("verdict_category", "VARCHAR"),
        ("verdict_severity", "VARCHAR"), ("rationale", "VARCHAR"), ("recommended_action",
        "VARCHAR"), ("call_id", "BIGINT"), ("answered_in_run_id", "VARCHAR"),
        ("answered_from_cache", "BOOLEAN"), ("batch_id", "VARCHAR"), ("call_cost_usd",
        "DECIMAL(18,9)"), ("windows_in_call", "BIGINT"), ("cost_share_usd", "DECIMAL(18,9)"),
    ],
    "finding_detections": [
        ("finding_key", "VARCHAR"), ("doc_id", "BIGINT"), ("chunk_id", "BIGINT"),
        ("source_root", "VARCHAR"), ("rel_path", "VARCHAR"), ("version", "INTEGER"),
        ("detected_by", "VARCHAR"), ("detector", "VARCHAR"), ("category", "VARCHAR"),
        ("severity", "VARCHAR"), ("severity_rank", "INTEGER"), ("quote", "VARCHAR"),
        ("char_start", "INTEGER"), ("char_end", "INTEGER"), ("page", "INTEGER"),
        ("rationale", "VARCHAR"), ("recommended_action", "VARCHAR"), ("rules_version",
        "VARCHAR"), ("run_id", "VARCHAR"), ("window_id", "BIGINT"), ("escalation_verdict",
        "VARCHAR"),
    ],
    "finding_ids": [
        ("finding_id", "BIGINT"), ("finding_key", "VARCHAR"), ("source_root", "VARCHAR"),
        ("rel_path", "VARCHAR"), ("first_seen_run_id", "VARCHAR"), ("first_seen_at",
        "TIMESTAMP WITH TIME ZONE"),
    ],
    "finding_reviews": [
        ("review_id", "BIGINT"), ("finding_id", "BIGINT"), ("doc_id", "BIGINT"),
        ("from_disposition", "VARCHAR"), ("to_disposition", "VARCHAR"), ("note", "VARCHAR"),
        ("reviewer", "VARCHAR"), ("reviewed_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "findings": [
        ("finding_id", "BIGINT"), ("doc_id", "BIGINT"), ("chunk_id", "BIGINT"),
        ("source_root", "VARCHAR"), ("rel_path", "VARCHAR"), ("version", "INTEGER"),
        ("page", "INTEGER"), ("detected_by", "VARCHAR"), ("detector", "VARCHAR"),
        ("category", "VARCHAR"), ("severity", "VARCHAR"), ("severity_rank", "INTEGER"),
        ("quote", "VARCHAR"), ("occurrences", "BIGINT"), ("rationale", "VARCHAR"),
        ("recommended_action", "VARCHAR"), ("escalation_verdict", "VARCHAR"), ("window_id",
        "BIGINT"), ("disposition", "VARCHAR"), ("reviews", "BIGINT"), ("last_reviewer",
        "VARCHAR"), ("last_reviewed_at", "TIMESTAMP WITH TIME ZONE"), ("first_seen_run_id",
        "VARCHAR"), ("first_seen_at", "TIMESTAMP WITH TIME ZONE"), ("rules_version",
        "VARCHAR"), ("finding_key", "VARCHAR"),
    ],
    "rule_precision": [
        ("rule_id", "VARCHAR"), ("category", "VARCHAR"), ("severity", "VARCHAR"),
        ("findings", "BIGINT"), ("open", "BIGINT"), ("confirmed", "BIGINT"),
        ("false_positive", "BIGINT"), ("resolved", "BIGINT"), ("reviewed_precision",
        "DOUBLE"), ("model_confirmed", "BIGINT"), ("model_dismissed", "BIGINT"),
    ],
    "savings_by_run": [
        ("run_id", "VARCHAR"), ("started_at", "TIMESTAMP WITH TIME ZONE"), ("status", "VARCHAR"),
        ("escalation_mode", "VARCHAR"), ("cloud_model", "VARCHAR"), ("spend_usd", "DECIMAL(19,9)"),
        ("naive_new_usd", "DECIMAL(18,9)"), ("naive_all_usd", "DECIMAL(18,9)"),
        ("savings_claimed", "BOOLEAN"), ("cache_saved_usd", "DECIMAL(19,9)"),
        ("saved_by_dedupe_usd", "DECIMAL(19,9)"), ("saved_by_routing_usd", "DECIMAL(21,9)"),
        ("saved_total_usd", "DECIMAL(20,9)"), ("saved_share", "DOUBLE"),
    ],
    "search_items": [
        ("item_kind", "VARCHAR"), ("item_key", "VARCHAR"), ("term_count", "INTEGER"),
    ],
    "search_postings": [
        ("term", "VARCHAR"), ("item_kind", "VARCHAR"), ("item_key", "VARCHAR"), ("tf",
        "INTEGER"),
    ],
}


def _schema(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = conn.execute(
        """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'main' ORDER BY table_name, ordinal_position
        """
    ).fetchall()
    schema: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        schema.setdefault(table, []).append((column, data_type))
    return schema


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    yield connection
    connection.close()


def test_migrations_build_the_pinned_schema(conn):
    applied = apply_migrations(conn)
    assert applied == [name for name, _ in MIGRATIONS]
    assert _schema(conn) == EXPECTED_SCHEMA


def test_a_database_migrated_by_an_earlier_release_gets_the_later_views(conn, monkeypatch):
    import compliance.store.db as db_module

    released = [entry for entry in MIGRATIONS if entry[0] < "m005"]
    monkeypatch.setattr(db_module, "MIGRATIONS", released)
    apply_migrations(conn)
    conn.execute(
        "INSERT INTO runs (run_id, orchestrator, source_root, params, started_at, status, "
        "naive_new_usd, naive_all_usd, escalation_note) VALUES ('no-key', 'cli', '/x', '{}', "
        "now(), 'completed', 0.5, 0.5, 'no Anthropic API key: flagged chunks stay pending')")
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    assert apply_migrations(conn) == [name for name, _ in MIGRATIONS[len(released):]]
    assert _schema(conn) == EXPECTED_SCHEMA
    assert conn.execute("SELECT savings_claimed, saved_total_usd FROM savings_by_run"
                        ).fetchall() == [(False, None)]
    described = conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'savings_by_run' "
        "AND column_name = 'savings_claimed'").fetchone()[0]
    assert described.startswith("False when nothing went to the cloud")


def test_applying_migrations_twice_is_a_noop(conn):
    apply_migrations(conn)
    before = _schema(conn)
    recorded = conn.execute("SELECT name, applied_at FROM _migrations ORDER BY name").fetchall()
    assert apply_migrations(conn) == []
    assert _schema(conn) == before
    assert conn.execute("SELECT name, applied_at FROM _migrations ORDER BY name").fetchall() == (
        recorded)


def test_migrations_table_records_every_migration(conn):
    apply_migrations(conn)
    names = [row[0] for row in conn.execute("SELECT name FROM _migrations").fetchall()]
    assert sorted(names) == sorted(name for name, _ in MIGRATIONS)
    assert len(names) == len(set(names)) == len(MIGRATIONS)


def test_migration_names_are_unique_and_ordered():
    names = [name for name, _ in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert names == sorted(names), "migrations are applied in list order; keep names sortable"


def test_reopening_a_database_file_keeps_it_migrated(tmp_path):
    path = tmp_path / "results.duckdb"
    first = Database(path)
    first.close()
    second = Database(path)  # migrations already recorded: nothing is re-run
    with second.cursor() as cur:
        count = cur.execute("SELECT count(*) FROM _migrations").fetchone()[0]
        assert count == len(MIGRATIONS)
    second.close()
    connection = reader(path)
    try:
        assert _schema(connection) == EXPECTED_SCHEMA
    finally:
        connection.close()


def test_a_failed_migration_is_rolled_back(conn, monkeypatch):
    import compliance.store.db as db_module

    def broken(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("migration failed half-way")

    apply_migrations(conn)
    monkeypatch.setattr(db_module, "MIGRATIONS", [*MIGRATIONS, ("m999_broken", broken)])
    with pytest.raises(RuntimeError, match="half-way"):
        apply_migrations(conn)
    tables = {row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    assert "half_done" not in tables
    names = {row[0] for row in conn.execute("SELECT name FROM _migrations").fetchall()}
    assert "m999_broken" not in names


def test_writer_is_shared_per_file_and_reader_needs_the_file(tmp_path):
    path = tmp_path / "shared.duckdb"
    try:
        assert writer(path) is writer(str(path))
    finally:
        close_writer(path)
    with pytest.raises(FileNotFoundError):
        reader(tmp_path / "missing.duckdb")
