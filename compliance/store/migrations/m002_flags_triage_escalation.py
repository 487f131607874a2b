"""m002: rule flags, per-chunk triage, escalation windows, batches and run spend columns.

Released: never edit; a change to these tables needs a later migration. It writes no COMMENT ON
meanings (m003 describes these tables).
"""

from __future__ import annotations

import duckdb


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
