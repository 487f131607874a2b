"""The results database schema as ordered, append-only migrations.

Never edit a migration that has shipped: append a new one. Each runs once, in order, inside a
transaction, and is recorded in `_migrations`.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def m001_core_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Runs, documents and their texts, chunks, summaries and the model-call ledger."""
    conn.execute("CREATE SEQUENCE document_id_seq START 1")
    conn.execute("CREATE SEQUENCE chunk_id_seq START 1")
    conn.execute("CREATE SEQUENCE call_id_seq START 1")
    conn.execute(
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            flow_run_id VARCHAR,
            orchestrator VARCHAR NOT NULL,
            source_root VARCHAR NOT NULL,
            params JSON NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            error VARCHAR,
            files_seen INTEGER,
            docs_new INTEGER,
            docs_changed INTEGER,
            docs_unchanged INTEGER,
            docs_duplicate INTEGER,
            docs_failed INTEGER,
            docs_removed INTEGER,
            chunks_new INTEGER,
            summaries_done INTEGER,
            summaries_cached INTEGER,
            summaries_pending INTEGER,
            model_calls INTEGER,
            local_model_seconds DOUBLE,
            wall_seconds DOUBLE
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE texts (
            text_sha256 VARCHAR PRIMARY KEY,
            text VARCHAR NOT NULL,
            char_count INTEGER NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE documents (
            doc_id BIGINT PRIMARY KEY DEFAULT nextval('document_id_seq'),
            source_root VARCHAR NOT NULL,
            rel_path VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            is_current BOOLEAN NOT NULL,
            parent_doc_id BIGINT,
            sha256 VARCHAR,
            text_hash VARCHAR,
            text_sha256 VARCHAR,
            size_bytes BIGINT,
            mtime TIMESTAMPTZ,
            mtime_ns BIGINT,
            format VARCHAR,
            declared_extension VARCHAR,
            extractor VARCHAR,
            page_count INTEGER,
            language VARCHAR,
            status VARCHAR NOT NULL CHECK (status IN ('ok', 'partial', 'duplicate', 'empty',
                'encrypted', 'corrupt', 'unsupported', 'needs_ocr', 'too_large', 'timeout',
                'removed')),
            error VARCHAR,
            duplicate_of BIGINT,
            same_text_as BIGINT,
            risk_hint_score INTEGER NOT NULL DEFAULT 0,
            similarity_checked BOOLEAN NOT NULL DEFAULT false,
            first_run_id VARCHAR NOT NULL,
            last_seen_run_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute("CREATE INDEX documents_path_idx ON documents (source_root, rel_path)")
    conn.execute("CREATE INDEX documents_sha_idx ON documents (sha256)")
    conn.execute(
        """
        CREATE TABLE pages (
            doc_id BIGINT NOT NULL,
            page_number INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            PRIMARY KEY (doc_id, page_number)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE segments (
            doc_id BIGINT NOT NULL,
            seq INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            page_number INTEGER,
            section VARCHAR,
            duplicate_of_seq INTEGER,
            PRIMARY KEY (doc_id, seq)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE minhashes (
            text_hash VARCHAR PRIMARY KEY,
            num_perm INTEGER NOT NULL,
            signature BLOB NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE near_duplicates (
            doc_id BIGINT NOT NULL,
            similar_to_doc_id BIGINT NOT NULL,
            similarity DOUBLE NOT NULL,
            method VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            PRIMARY KEY (doc_id, similar_to_doc_id)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE paragraphs (
            para_hash VARCHAR NOT NULL,
            doc_id BIGINT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX paragraphs_hash_idx ON paragraphs (para_hash)")
    conn.execute(
        """
        CREATE TABLE chunks (
            chunk_id BIGINT PRIMARY KEY DEFAULT nextval('chunk_id_seq'),
            doc_id BIGINT NOT NULL,
            seq INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            page_start INTEGER,
            page_end INTEGER,
            section VARCHAR,
            token_count INTEGER NOT NULL,
            chunk_hash VARCHAR NOT NULL,
            is_boilerplate BOOLEAN NOT NULL DEFAULT false,
            duplicate_of_chunk BIGINT,
            summary_status VARCHAR NOT NULL CHECK (summary_status IN ('pending', 'done')),
            summary_key VARCHAR,
            created_run_id VARCHAR NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX chunks_doc_idx ON chunks (doc_id)")
    conn.execute("CREATE INDEX chunks_hash_idx ON chunks (chunk_hash)")
    conn.execute(
        """
        CREATE TABLE summaries (
            summary_key VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL CHECK (kind IN ('chunk', 'document')),
            input_hash VARCHAR NOT NULL,
            model_sha256 VARCHAR NOT NULL,
            prompt_version VARCHAR NOT NULL,
            params_hash VARCHAR NOT NULL,
            summary VARCHAR NOT NULL,
            key_points JSON NOT NULL,
            risk_signals JSON NOT NULL,
            method VARCHAR NOT NULL,
            input_chars INTEGER NOT NULL,
            summary_chars INTEGER NOT NULL,
            created_run_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE document_summaries (
            doc_id BIGINT PRIMARY KEY,
            summary_key VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE llm_calls (
            call_id BIGINT PRIMARY KEY DEFAULT nextval('call_id_seq'),
            run_id VARCHAR NOT NULL,
            purpose VARCHAR NOT NULL,
            chunk_id BIGINT,
            doc_id BIGINT,
            summary_key VARCHAR,
            provider VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            model_sha256 VARCHAR,
            prompt_version VARCHAR NOT NULL,
            request_id VARCHAR,
            attempt INTEGER NOT NULL DEFAULT 1,
            is_batch BOOLEAN NOT NULL DEFAULT false,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            price_version VARCHAR NOT NULL,
            cost_usd DECIMAL(18, 9) NOT NULL,
            duration_seconds DOUBLE NOT NULL,
            cpu_seconds DOUBLE NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN ('reserved', 'settled', 'failed')),
            error VARCHAR,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute("CREATE INDEX llm_calls_run_idx ON llm_calls (run_id)")


def m002_flags_triage_escalation(conn: duckdb.DuckDBPyConnection) -> None:
    """Rule flags, per-chunk triage decisions, escalation windows, batches and run spend."""
    conn.execute("CREATE SEQUENCE flag_id_seq START 1")
    conn.execute("CREATE SEQUENCE window_id_seq START 1")
    conn.execute(
        """
        CREATE TABLE flags (
            flag_id BIGINT PRIMARY KEY DEFAULT nextval('flag_id_seq'),
            chunk_id BIGINT NOT NULL,
            doc_id BIGINT NOT NULL,
            rule_id VARCHAR NOT NULL,
            category VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            matched_text VARCHAR NOT NULL,
            pack VARCHAR NOT NULL,
            pack_version VARCHAR NOT NULL,
            rules_version VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX flags_chunk_idx ON flags (chunk_id, rules_version)")
    conn.execute(
        """
        CREATE TABLE triage (
            chunk_id BIGINT NOT NULL,
            rules_version VARCHAR NOT NULL,
            score INTEGER NOT NULL,
            decision VARCHAR NOT NULL CHECK (decision IN ('escalate', 'routine')),
            reasons JSON NOT NULL,
            escalation_status VARCHAR NOT NULL CHECK (escalation_status IN
                ('not_needed', 'pending', 'deferred', 'sent', 'done')),
            run_id VARCHAR NOT NULL,
            PRIMARY KEY (chunk_id, rules_version)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE escalation_windows (
            window_id BIGINT PRIMARY KEY DEFAULT nextval('window_id_seq'),
            chunk_id BIGINT NOT NULL,
            doc_id BIGINT NOT NULL,
            rules_version VARCHAR NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            rule_ids JSON NOT NULL,
            categories JSON NOT NULL,
            redacted_text VARCHAR NOT NULL,
            redacted_sha256 VARCHAR NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN
                ('pending', 'deferred', 'sent', 'done', 'failed')),
            cache_key VARCHAR,
            call_id BIGINT,
            batch_id VARCHAR,
            custom_id VARCHAR,
            run_id VARCHAR NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX windows_chunk_idx ON escalation_windows (chunk_id)")
    conn.execute(
        """
        CREATE TABLE redactions (
            window_id BIGINT NOT NULL,
            placeholder VARCHAR NOT NULL,
            original VARCHAR NOT NULL,
            rule_id VARCHAR NOT NULL,
            PRIMARY KEY (window_id, placeholder)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE escalation_results (
            cache_key VARCHAR PRIMARY KEY,
            model VARCHAR NOT NULL,
            prompt_version VARCHAR NOT NULL,
            rules_version VARCHAR NOT NULL,
            is_finding BOOLEAN NOT NULL,
            category VARCHAR,
            severity VARCHAR,
            rationale VARCHAR,
            quote VARCHAR,
            recommended_action VARCHAR,
            call_id BIGINT,
            created_run_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE batches (
            batch_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            request_count INTEGER NOT NULL,
            submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            ended_at TIMESTAMPTZ
        )
        """
    )
    for column, kind in (("chunks_flagged", "INTEGER"), ("chunks_escalated", "INTEGER"),
                         ("chunks_deferred", "INTEGER"), ("escalation_mode", "VARCHAR"),
                         ("cloud_model", "VARCHAR"), ("spend_usd", "DECIMAL(18, 9)"),
                         ("naive_new_usd", "DECIMAL(18, 9)"), ("naive_all_usd", "DECIMAL(18, 9)"),
                         ("escalation_note", "VARCHAR")):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
    conn.execute("ALTER TABLE llm_calls ADD COLUMN bound_usd DECIMAL(18, 9)")
    conn.execute("ALTER TABLE llm_calls ADD COLUMN custom_id VARCHAR")
    conn.execute("ALTER TABLE llm_calls ADD COLUMN batch_id VARCHAR")
    conn.execute("ALTER TABLE llm_calls ADD COLUMN sent_sha256 VARCHAR")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_core_tables", m001_core_tables),
    ("m002_flags_triage_escalation", m002_flags_triage_escalation),
]
