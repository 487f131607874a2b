"""m010: document briefs: what a document is, who it concerns, its dates and terms, by field.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe

DESCRIPTIONS: list[Description] = [
    ("TABLE", "briefs", "One row per document text briefed by one version of the brief code "
     "(keyed by the text's sha256, so copies of a text share a brief).", {
        "text_sha256": "The document text briefed (texts.text_sha256).",
        "brief_version": "Hash of the brief code that made it; other code briefs again.",
        "fields": "How many fields it found (0: nothing with a shape).",
        "run_id": "Run that made it.", "created_at": "When."}),
    ("TABLE", "brief_fields", "Each field of a brief, with how it was found and where.", {
        "text_sha256": "The document text.", "brief_version": "As in briefs.",
        "field": "title, party, agreement_date, effective_date, governing_law, renewal_term or "
                 "notice_to_terminate_renewal.",
        "seq": "Order among fields of one name (parties in the order the text names them).",
        "value": "The value as the brief shows it (dates ISO, 2006-03 when the day is blank).",
        "method": "How it was produced: rule, parser, local_model, cloud_verdict or "
                  "extractive.",
        "char_start": "Start offset of the supporting text in the document text.",
        "char_end": "End offset (exclusive)."}),
    ("VIEW", "document_briefs", "Brief fields of current documents, from their latest brief.", {
        "doc_id": "Document.", "rel_path": "Its path in its source folder.",
        "field": "As in brief_fields.", "seq": "As in brief_fields.",
        "value": "As in brief_fields.", "method": "As in brief_fields.",
        "char_start": "As in brief_fields.", "char_end": "As in brief_fields.",
        "brief_version": "As in briefs."}),
]


def m010_document_briefs(conn: duckdb.DuckDBPyConnection) -> None:
    """briefs and brief_fields, and the document_briefs view over current documents."""
    conn.execute(
        """
        CREATE TABLE briefs (
            text_sha256 VARCHAR NOT NULL,
            brief_version VARCHAR NOT NULL,
            fields INTEGER NOT NULL,
            run_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (text_sha256, brief_version)
        )
        """)
    conn.execute(
        """
        CREATE TABLE brief_fields (
            text_sha256 VARCHAR NOT NULL,
            brief_version VARCHAR NOT NULL,
            field VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            value VARCHAR NOT NULL,
            method VARCHAR NOT NULL CHECK (method IN ('rule', 'parser', 'local_model',
                'cloud_verdict', 'extractive')),
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            PRIMARY KEY (text_sha256, brief_version, field, seq)
        )
        """)
    conn.execute(
        """
        CREATE VIEW document_briefs AS
        WITH latest AS (
            SELECT text_sha256, brief_version FROM briefs
            QUALIFY row_number() OVER (PARTITION BY text_sha256
                                       ORDER BY created_at DESC, brief_version) = 1
        )
        SELECT d.doc_id, d.rel_path, f.field, f.seq, f.value, f.method, f.char_start,
               f.char_end, f.brief_version
        FROM documents d
        JOIN latest l ON l.text_sha256 = d.text_sha256
        JOIN brief_fields f ON f.text_sha256 = l.text_sha256
                           AND f.brief_version = l.brief_version
        WHERE d.is_current
        """)
    for description in DESCRIPTIONS:
        describe(conn, *description)
