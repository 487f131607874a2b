"""m001: runs, documents and their texts, chunks, summaries and the model-call ledger.

Released: never edit; a change to these tables needs a later migration. It writes no COMMENT ON
meanings (m003 describes these tables).
"""

from __future__ import annotations

import duckdb


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
