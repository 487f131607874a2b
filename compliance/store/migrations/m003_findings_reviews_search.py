"""m003: stable finding ids, the review audit trail, the search index, the analysts' views,
and the COMMENT ON meaning of every table, view and column of the schema as it then stood.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe

# The views' own severity order, not compliance.vocab's: a released view must not follow later
# edits of the shared vocabulary.
_SEVERITY_RANK = ("CASE {0} WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
                  "WHEN 'low' THEN 1 ELSE 0 END")


def m003_findings_reviews_search(conn: duckdb.DuckDBPyConnection) -> None:
    """Stable finding ids, the review audit trail, the search index and cache/savings counts."""
    conn.execute("CREATE SEQUENCE finding_id_seq START 1")
    conn.execute("CREATE SEQUENCE review_id_seq START 1")
    conn.execute(
        """
        CREATE TABLE finding_ids (
            finding_id BIGINT PRIMARY KEY DEFAULT nextval('finding_id_seq'),
            finding_key VARCHAR NOT NULL UNIQUE,
            source_root VARCHAR NOT NULL,
            rel_path VARCHAR NOT NULL,
            first_seen_run_id VARCHAR NOT NULL,
            first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE finding_reviews (
            review_id BIGINT PRIMARY KEY DEFAULT nextval('review_id_seq'),
            finding_id BIGINT NOT NULL,
            doc_id BIGINT,
            from_disposition VARCHAR NOT NULL,
            to_disposition VARCHAR NOT NULL CHECK (to_disposition IN
                ('open', 'confirmed', 'false_positive', 'resolved')),
            note VARCHAR,
            reviewer VARCHAR NOT NULL,
            reviewed_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute("CREATE INDEX finding_reviews_finding_idx ON finding_reviews (finding_id)")
    conn.execute(
        """
        CREATE TABLE search_items (
            item_kind VARCHAR NOT NULL CHECK (item_kind IN ('chunk', 'summary')),
            item_key VARCHAR NOT NULL,
            term_count INTEGER NOT NULL,
            PRIMARY KEY (item_kind, item_key)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE search_postings (
            term VARCHAR NOT NULL,
            item_kind VARCHAR NOT NULL,
            item_key VARCHAR NOT NULL,
            tf INTEGER NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX search_postings_term_idx ON search_postings (term)")
    for column, kind in (("escalation_windows_cached", "INTEGER"),
                         ("escalation_windows_sent", "INTEGER"),
                         ("cache_saved_usd", "DECIMAL(18, 9)")):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")

    rank = _SEVERITY_RANK
    conn.execute(
        f"""
        CREATE VIEW finding_detections AS
        WITH chunk_rules AS (
            SELECT t.chunk_id, arg_max(t.rules_version, r.started_at) AS rules_version
            FROM triage t JOIN runs r USING (run_id)
            GROUP BY t.chunk_id
        ),
        current_chunks AS (
            SELECT c.chunk_id, c.doc_id, cr.rules_version, d.source_root, d.rel_path, d.version
            FROM chunks c
            JOIN documents d ON d.doc_id = c.doc_id AND d.is_current
            JOIN chunk_rules cr ON cr.chunk_id = c.chunk_id
        ),
        window_verdicts AS (
            SELECT w.window_id, w.chunk_id, w.rules_version, w.char_start, w.char_end, w.status,
                   w.run_id, er.model, er.is_finding, er.category, er.severity, er.rationale,
                   er.quote, er.recommended_action,
                   CASE WHEN w.status = 'done' AND er.is_finding THEN 'confirmed_by_model'
                        WHEN w.status = 'done' THEN 'dismissed_by_model'
                        WHEN w.status = 'failed' THEN 'failed'
                        ELSE 'pending' END AS verdict
            FROM escalation_windows w
            LEFT JOIN escalation_results er ON er.cache_key = w.cache_key
        ),
        rule_hits AS (
            SELECT cc.doc_id, f.chunk_id, cc.source_root, cc.rel_path, cc.version,
                   'rule' AS detected_by, f.rule_id AS detector, f.category, f.severity,
                   f.matched_text AS quote, f.char_start, f.char_end, NULL AS rationale,
                   NULL AS recommended_action, f.rules_version, f.run_id,
                   (SELECT min(wv.window_id) FROM window_verdicts wv
                    WHERE wv.chunk_id = f.chunk_id AND wv.rules_version = f.rules_version
                      AND f.char_start >= wv.char_start AND f.char_start < wv.char_end)
                       AS window_id
            FROM flags f
            JOIN current_chunks cc ON cc.chunk_id = f.chunk_id
                                  AND cc.rules_version = f.rules_version
        ),
        model_hits AS (
            SELECT cc.doc_id, wv.chunk_id, cc.source_root, cc.rel_path, cc.version,
                   'model' AS detected_by, wv.model AS detector, wv.category, wv.severity,
                   coalesce(nullif(wv.quote, ''), '(window)') AS quote, wv.char_start,
                   wv.char_end, wv.rationale, wv.recommended_action, wv.rules_version,
                   wv.run_id, wv.window_id
            FROM window_verdicts wv
            JOIN current_chunks cc ON cc.chunk_id = wv.chunk_id
                                  AND cc.rules_version = wv.rules_version
            WHERE wv.verdict = 'confirmed_by_model'
        ),
        hits AS (SELECT * FROM rule_hits UNION ALL SELECT * FROM model_hits)
        SELECT md5(concat_ws('|', h.source_root, h.rel_path, h.detected_by, h.detector,
                             h.category, lower(regexp_replace(trim(h.quote), '\\s+', ' ', 'g'))))
                   AS finding_key,
               h.doc_id, h.chunk_id, h.source_root, h.rel_path, h.version, h.detected_by,
               h.detector, h.category, h.severity, {rank.format('h.severity')} AS severity_rank,
               h.quote, h.char_start, h.char_end,
               (SELECT p.page_number FROM pages p WHERE p.doc_id = h.doc_id
                  AND h.char_start >= p.char_start AND h.char_start < p.char_end) AS page,
               h.rationale, h.recommended_action, h.rules_version, h.run_id, h.window_id,
               CASE WHEN h.detected_by = 'model' THEN 'confirmed_by_model'
                    WHEN h.window_id IS NULL THEN 'not_escalated'
                    ELSE (SELECT wv.verdict FROM window_verdicts wv
                          WHERE wv.window_id = h.window_id) END AS escalation_verdict
        FROM hits h
        """
    )
    conn.execute(
        """
        CREATE VIEW findings AS
        WITH grouped AS (
            SELECT finding_key, arg_min(doc_id, char_start) AS doc_id,
                   arg_min(chunk_id, char_start) AS chunk_id, any_value(source_root) AS source_root,
                   any_value(rel_path) AS rel_path, max(version) AS version,
                   any_value(detected_by) AS detected_by, any_value(detector) AS detector,
                   any_value(category) AS category, max(severity_rank) AS severity_rank,
                   arg_max(severity, severity_rank) AS severity,
                   arg_min(quote, char_start) AS quote,
                   min(page) AS page, arg_min(rationale, char_start) AS rationale,
                   arg_min(recommended_action, char_start) AS recommended_action,
                   count(*) AS occurrences, any_value(rules_version) AS rules_version,
                   arg_min(escalation_verdict, char_start) AS escalation_verdict,
                   arg_min(window_id, char_start) AS window_id
            FROM finding_detections
            GROUP BY finding_key
        ),
        last_review AS (
            SELECT finding_id, arg_max(to_disposition, review_id) AS disposition,
                   arg_max(reviewer, review_id) AS reviewer,
                   arg_max(reviewed_at, review_id) AS reviewed_at,
                   arg_max(d.version, review_id) AS reviewed_version, count(*) AS reviews
            FROM finding_reviews fr LEFT JOIN documents d ON d.doc_id = fr.doc_id
            GROUP BY finding_id
        )
        SELECT fi.finding_id, g.doc_id, g.chunk_id, g.source_root, g.rel_path, g.version,
               g.page, g.detected_by, g.detector, g.category, g.severity, g.severity_rank,
               g.quote, g.occurrences, g.rationale, g.recommended_action, g.escalation_verdict,
               g.window_id,
               CASE WHEN lr.disposition = 'resolved' AND g.version > lr.reviewed_version
                    THEN 'open' ELSE coalesce(lr.disposition, 'open') END AS disposition,
               coalesce(lr.reviews, 0) AS reviews, lr.reviewer AS last_reviewer,
               lr.reviewed_at AS last_reviewed_at, fi.first_seen_run_id, fi.first_seen_at,
               g.rules_version, g.finding_key
        FROM grouped g
        LEFT JOIN finding_ids fi ON fi.finding_key = g.finding_key
        LEFT JOIN last_review lr ON lr.finding_id = fi.finding_id
        """
    )
    conn.execute(
        """
        CREATE VIEW escalations AS
        WITH per_call AS (
            SELECT call_id, count(*) AS windows FROM escalation_windows
            WHERE call_id IS NOT NULL GROUP BY call_id
        ),
        first_asker AS (
            SELECT cache_key, min(window_id) AS window_id FROM escalation_windows
            WHERE cache_key IS NOT NULL GROUP BY cache_key
        )
        SELECT w.window_id, w.run_id, w.doc_id, d.source_root, d.rel_path, d.version,
               d.is_current, w.chunk_id, w.rules_version, w.char_start, w.char_end,
               w.char_end - w.char_start AS window_chars, w.rule_ids, w.categories, w.status,
               er.model, er.is_finding, er.category AS verdict_category,
               er.severity AS verdict_severity, er.rationale, er.recommended_action,
               w.call_id, c.run_id AS answered_in_run_id,
               (w.status = 'done' AND fa.window_id <> w.window_id) AS answered_from_cache,
               w.batch_id, c.cost_usd AS call_cost_usd, pc.windows AS windows_in_call,
               CAST(c.cost_usd / pc.windows AS DECIMAL(18, 9)) AS cost_share_usd
        FROM escalation_windows w
        JOIN documents d ON d.doc_id = w.doc_id
        LEFT JOIN escalation_results er ON er.cache_key = w.cache_key
        LEFT JOIN llm_calls c ON c.call_id = w.call_id
        LEFT JOIN per_call pc ON pc.call_id = w.call_id
        LEFT JOIN first_asker fa ON fa.cache_key = w.cache_key
        """
    )
    conn.execute(
        """
        CREATE VIEW cost_by_run AS
        SELECT r.run_id, r.started_at, r.finished_at, r.status, r.orchestrator,
               r.escalation_mode,
               count(c.call_id) FILTER (WHERE c.provider = 'local') AS local_calls,
               coalesce(sum(c.duration_seconds) FILTER (WHERE c.provider = 'local'), 0)
                   AS local_seconds,
               coalesce(sum(c.cost_usd) FILTER (WHERE c.provider = 'local'), 0) AS local_cost_usd,
               count(c.call_id) FILTER (WHERE c.provider <> 'local') AS cloud_calls,
               count(c.call_id) FILTER (WHERE c.provider <> 'local' AND c.status = 'failed')
                   AS cloud_failed_calls,
               coalesce(sum(c.input_tokens + c.cache_write_tokens + c.cache_read_tokens)
                        FILTER (WHERE c.provider <> 'local'), 0) AS cloud_input_tokens,
               coalesce(sum(c.output_tokens) FILTER (WHERE c.provider <> 'local'), 0)
                   AS cloud_output_tokens,
               coalesce(sum(c.cost_usd) FILTER (WHERE c.provider <> 'local'), 0)
                   AS cloud_cost_usd,
               coalesce(sum(c.cost_usd), 0) AS total_cost_usd
        FROM runs r LEFT JOIN llm_calls c ON c.run_id = r.run_id
        GROUP BY ALL
        """
    )
    conn.execute(
        """
        CREATE VIEW cost_by_day_and_model AS
        SELECT CAST(timezone('UTC', created_at) AS DATE) AS day, provider, model,
               count(*) AS calls, count(*) FILTER (WHERE status = 'failed') AS failed_calls,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(cache_write_tokens) AS cache_write_tokens,
               sum(cache_read_tokens) AS cache_read_tokens,
               sum(duration_seconds) AS seconds, sum(cost_usd) AS cost_usd
        FROM llm_calls
        GROUP BY ALL
        """
    )
    conn.execute(
        """
        CREATE VIEW savings_by_run AS
        SELECT run_id, started_at, status, escalation_mode, cloud_model,
               coalesce(spend_usd, 0) AS spend_usd, naive_new_usd, naive_all_usd,
               coalesce(cache_saved_usd, 0) AS cache_saved_usd,
               naive_all_usd - naive_new_usd AS saved_by_dedupe_usd,
               naive_new_usd - coalesce(spend_usd, 0) - coalesce(cache_saved_usd, 0)
                   AS saved_by_routing_usd,
               naive_all_usd - coalesce(spend_usd, 0) AS saved_total_usd,
               CASE WHEN naive_all_usd > 0
                    THEN 1 - coalesce(spend_usd, 0) / naive_all_usd END AS saved_share
        FROM runs
        """
    )
    conn.execute(
        """
        CREATE VIEW document_status AS
        WITH per_doc AS (
            SELECT doc_id, count(*) AS findings,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')) AS open_findings,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'critical') AS open_critical,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'high') AS open_high,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'medium') AS open_medium,
                   count(*) FILTER (WHERE disposition IN ('open', 'confirmed')
                                      AND severity = 'low') AS open_low,
                   max(severity_rank) FILTER (WHERE disposition IN ('open', 'confirmed'))
                       AS open_rank
            FROM findings GROUP BY doc_id
        ),
        per_chunk AS (
            SELECT c.doc_id, count(*) AS chunks,
                   count(*) FILTER (WHERE c.summary_status = 'done') AS chunks_summarized,
                   count(DISTINCT f.chunk_id) AS chunks_flagged
            FROM chunks c LEFT JOIN (SELECT DISTINCT chunk_id FROM flags) f USING (chunk_id)
            GROUP BY c.doc_id
        ),
        per_window AS (
            SELECT doc_id, count(*) AS windows,
                   count(*) FILTER (WHERE status = 'done') AS windows_judged,
                   count(*) FILTER (WHERE status IN ('pending', 'deferred', 'sent'))
                       AS windows_waiting
            FROM escalation_windows GROUP BY doc_id
        ),
        verdicts AS (
            SELECT d.doc_id,
                   CASE WHEN d.status NOT IN ('ok', 'partial') THEN NULL
                        WHEN coalesce(pd.open_rank, 0) = 4 THEN 'critical'
                        WHEN pd.open_rank = 3 THEN 'high'
                        WHEN pd.open_rank = 2 THEN 'medium'
                        WHEN pd.open_rank = 1 THEN 'low'
                        ELSE 'none' END AS verdict
            FROM documents d LEFT JOIN per_doc pd USING (doc_id)
        )
        SELECT d.doc_id, d.source_root, d.rel_path, d.version, d.format, d.status, d.error,
               d.page_count, d.language, d.size_bytes, d.duplicate_of,
               coalesce(pc.chunks, 0) AS chunks,
               coalesce(pc.chunks_summarized, 0) AS chunks_summarized,
               coalesce(pc.chunks_flagged, 0) AS chunks_flagged,
               coalesce(pw.windows, 0) AS windows_escalated,
               coalesce(pw.windows_judged, 0) AS windows_judged,
               coalesce(pw.windows_waiting, 0) AS windows_waiting,
               ds.doc_id IS NOT NULL AS has_summary,
               coalesce(pd.findings, 0) AS findings, coalesce(pd.open_findings, 0) AS open_findings,
               coalesce(pd.open_critical, 0) AS open_critical,
               coalesce(pd.open_high, 0) AS open_high,
               coalesce(pd.open_medium, 0) AS open_medium, coalesce(pd.open_low, 0) AS open_low,
               CASE WHEN d.status = 'duplicate' THEN coalesce(orig.verdict, 'not_assessed')
                    ELSE coalesce(v.verdict, 'not_assessed') END AS risk_verdict,
               d.first_run_id, d.last_seen_run_id
        FROM documents d
        LEFT JOIN per_doc pd ON pd.doc_id = d.doc_id
        LEFT JOIN per_chunk pc ON pc.doc_id = d.doc_id
        LEFT JOIN per_window pw ON pw.doc_id = d.doc_id
        LEFT JOIN document_summaries ds ON ds.doc_id = d.doc_id
        LEFT JOIN verdicts v ON v.doc_id = d.doc_id
        LEFT JOIN verdicts orig ON orig.doc_id = d.duplicate_of
        WHERE d.is_current
        """
    )
    conn.execute(
        """
        CREATE VIEW cache_efficiency AS
        SELECT run_id, started_at, status,
               coalesce(summaries_done, 0) AS summaries_done,
               coalesce(summaries_cached, 0) AS summaries_cached,
               CASE WHEN coalesce(summaries_done, 0) + coalesce(summaries_cached, 0) > 0
                    THEN summaries_cached / (summaries_done + summaries_cached) END
                   AS summary_hit_rate,
               coalesce(escalation_windows_sent, 0) AS escalation_windows_sent,
               coalesce(escalation_windows_cached, 0) AS escalation_windows_cached,
               CASE WHEN coalesce(escalation_windows_sent, 0)
                         + coalesce(escalation_windows_cached, 0) > 0
                    THEN escalation_windows_cached
                         / (escalation_windows_sent + escalation_windows_cached) END
                   AS escalation_hit_rate,
               coalesce(cache_saved_usd, 0) AS cache_saved_usd
        FROM runs
        """
    )
    conn.execute(
        """
        CREATE VIEW rule_precision AS
        SELECT detector AS rule_id, any_value(category) AS category,
               any_value(severity) AS severity, count(*) AS findings,
               count(*) FILTER (WHERE disposition = 'open') AS open,
               count(*) FILTER (WHERE disposition = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE disposition = 'false_positive') AS false_positive,
               count(*) FILTER (WHERE disposition = 'resolved') AS resolved,
               CASE WHEN count(*) FILTER (WHERE disposition IN
                                          ('confirmed', 'resolved', 'false_positive')) > 0
                    THEN count(*) FILTER (WHERE disposition IN ('confirmed', 'resolved'))
                         / count(*) FILTER (WHERE disposition IN
                                            ('confirmed', 'resolved', 'false_positive'))
                    END AS reviewed_precision,
               count(*) FILTER (WHERE escalation_verdict = 'confirmed_by_model')
                   AS model_confirmed,
               count(*) FILTER (WHERE escalation_verdict = 'dismissed_by_model')
                   AS model_dismissed
        FROM findings
        WHERE detected_by = 'rule'
        GROUP BY detector
        """
    )
    for description in DESCRIPTIONS:
        describe(conn, *description)


_RUN_ID = "Run that wrote the row (runs.run_id)."
_DOC_ID = "Document version (documents.doc_id)."
_CHUNK_ID = "Chunk (chunks.chunk_id)."
_SEVERITY = "Severity: low, medium, high or critical."

# What every table, view and column of the schema so far means, as m003 wrote it (COMMENT ON;
# docs/schema.md is generated from the comments). Frozen: a later change of meaning, or a column
# a later migration adds, is described by that migration (m004, m005).
DESCRIPTIONS: list[Description] = [
    ("TABLE", "_migrations", "Schema migrations applied to this file, in order.", {
        "name": "Migration function name (compliance/migrations.py).",
        "applied_at": "When it was applied."}),
    ("TABLE", "runs", "One row per pipeline or retriage run: what it was told and what it did.", {
        "run_id": "Run id (UTC timestamp plus a random suffix).",
        "flow_run_id": "Prefect flow run id, when run through Prefect.",
        "orchestrator": "What started the run (prefect, the CLI's fast path, retriage).",
        "source_root": "Absolute source folder the run read.",
        "params": "The run's parameters as JSON (no secrets).",
        "started_at": "When the run started.",
        "finished_at": "When the run ended (NULL while running or after a kill).",
        "status": "running, completed or failed.",
        "error": "Why the run failed (masked), NULL otherwise.",
        "files_seen": "Files found under the source folder.",
        "docs_new": "New document versions stored.",
        "docs_changed": "Files whose content changed (a new version).",
        "docs_unchanged": "Files skipped because size, mtime (and hash) were unchanged.",
        "docs_duplicate": "Files whose bytes equal an already stored file.",
        "docs_failed": "Files that could not be read (corrupt, encrypted, empty, ...).",
        "docs_removed": "Files that disappeared from the source folder.",
        "chunks_new": "Chunks created by this run.",
        "summaries_done": "Chunk summaries computed by the local model in this run.",
        "summaries_cached": "Chunk summaries reused from the content-addressed cache.",
        "summaries_pending": "Chunks still without a summary when the run ended.",
        "model_calls": "Local model calls made by this run.",
        "local_model_seconds": "Wall seconds spent in local model calls.",
        "wall_seconds": "Wall seconds of the whole run.",
        "chunks_flagged": "Chunks with at least one rule hit.",
        "chunks_escalated": "Chunks with a window sent to or answered by the cloud model.",
        "chunks_deferred": "Chunks whose windows wait for budget (next run sends them first).",
        "escalation_mode": "sync, batch or off.",
        "cloud_model": "Cloud model escalations use.",
        "spend_usd": "Cloud USD booked in the ledger by this run.",
        "naive_new_usd": "Estimated USD had every chunk of new versions gone to the cloud.",
        "naive_all_usd": "Estimated USD had every chunk of every current document gone to the "
                         "cloud (a nightly re-send with no dedupe or incremental skip).",
        "escalation_note": "Why escalation did not happen or stopped (no key, budget), if so.",
        "escalation_windows_cached": "Windows answered from the escalation cache (no call).",
        "escalation_windows_sent": "Windows sent to the cloud model in this run.",
        "cache_saved_usd": "Estimated USD the escalation cache saved in this run."}),
    ("TABLE", "texts", "Extracted text, stored once per distinct text.", {
        "text_sha256": "sha256 of the text.",
        "text": "The extracted text.",
        "char_count": "Length in characters."}),
    ("TABLE", "documents", "One row per version of a source file; the newest has is_current.", {
        "doc_id": "Document version id.",
        "source_root": "Absolute source folder.",
        "rel_path": "Path relative to source_root.",
        "version": "1 for the first version of a path, then 2, 3, ...",
        "is_current": "True for the version now on disk (or the last one, when removed).",
        "parent_doc_id": "The previous version of this path.",
        "sha256": "sha256 of the file's bytes.",
        "text_hash": "Hash of the whitespace-normalized text (dedupe by content).",
        "text_sha256": "texts.text_sha256 of the extracted text.",
        "size_bytes": "File size in bytes.",
        "mtime": "File modification time.",
        "mtime_ns": "File modification time in nanoseconds (change detection).",
        "format": "Format sniffed from the bytes (pdf, docx, html, eml, ...).",
        "declared_extension": "The file name's extension, which may disagree with format.",
        "extractor": "What read the text (pypdf, unstructured partitioner, plain).",
        "page_count": "Pages, for paginated formats.",
        "language": "Detected language code.",
        "status": "ok, partial, duplicate, empty, encrypted, corrupt, unsupported, needs_ocr, "
                  "too_large, timeout or removed.",
        "error": "Why the file could not be read (fully), in words.",
        "duplicate_of": "The document whose bytes this one repeats.",
        "same_text_as": "An earlier document with the same normalized text.",
        "risk_hint_score": "Cheap keyword score used to order work (riskier first).",
        "similarity_checked": "True once near-duplicate detection has seen this version.",
        "first_run_id": "Run that stored this version.",
        "last_seen_run_id": "Last run that saw the file unchanged.",
        "created_at": "When the row was written."}),
    ("TABLE", "pages", "Character ranges of each page in a document's text.", {
        "doc_id": _DOC_ID, "page_number": "Page number, from 1.",
        "char_start": "First character of the page in the text.",
        "char_end": "One past the page's last character."}),
    ("TABLE", "segments", "Structural elements (titles, paragraphs, tables) of a text.", {
        "doc_id": _DOC_ID, "seq": "Order in the document.",
        "char_start": "First character in the text.", "char_end": "One past the last character.",
        "kind": "Element kind reported by the extractor (Title, NarrativeText, Table, ...).",
        "page_number": "Page the element starts on.",
        "section": "Nearest preceding title.",
        "duplicate_of_seq": "An earlier element of the same document with the same text."}),
    ("TABLE", "minhashes", "MinHash signatures for near-duplicate detection.", {
        "text_hash": "documents.text_hash the signature belongs to.",
        "num_perm": "Permutations in the signature.",
        "signature": "The signature as little-endian uint64 values."}),
    ("TABLE", "near_duplicates", "Documents that resemble an earlier document.", {
        "doc_id": _DOC_ID, "similar_to_doc_id": "The earlier, similar document.",
        "similarity": "Estimated Jaccard similarity (0 to 1).",
        "method": "How it was estimated.", "run_id": _RUN_ID}),
    ("TABLE", "paragraphs", "Paragraph hashes per document, to spot boilerplate.", {
        "para_hash": "Hash of the normalized paragraph.", "doc_id": _DOC_ID}),
    ("TABLE", "chunks", "Token-bounded pieces of a document's text: the unit of summaries and "
     "triage.", {
        "chunk_id": "Chunk id.", "doc_id": _DOC_ID, "seq": "Order in the document.",
        "char_start": "First character in the document's text.",
        "char_end": "One past the last character.",
        "page_start": "First page the chunk touches.", "page_end": "Last page it touches.",
        "section": "Nearest preceding title.",
        "token_count": "Tokens by the local model's tokenizer.",
        "chunk_hash": "Hash of the normalized chunk text (content address).",
        "is_boilerplate": "True when the chunk is a paragraph repeated across many documents.",
        "duplicate_of_chunk": "First chunk with the same text (its summary is reused).",
        "summary_status": "pending or done.",
        "summary_key": "summaries.summary_key of its summary.",
        "created_run_id": "Run that created the chunk."}),
    ("TABLE", "summaries", "Local-model summaries, content-addressed (text, model, prompt).", {
        "summary_key": "Hash of kind, input, model, prompt version and parameters.",
        "kind": "chunk or document.",
        "input_hash": "Hash of the summarized input.",
        "model_sha256": "sha256 of the GGUF file that wrote it.",
        "prompt_version": "Version of the prompt.",
        "params_hash": "Hash of the generation parameters.",
        "summary": "The summary text.",
        "key_points": "Key points as a JSON array.",
        "risk_signals": "Risk signals the model named, as a JSON array (advisory only).",
        "method": "How it was written: model, or extractive when the model's draft failed checks.",
        "input_chars": "Characters summarized.", "summary_chars": "Characters of the summary.",
        "created_run_id": "Run that wrote it.", "created_at": "When it was written."}),
    ("TABLE", "document_summaries", "The summary of each document version.", {
        "doc_id": _DOC_ID, "summary_key": "summaries.summary_key.", "run_id": _RUN_ID}),
    ("TABLE", "llm_calls", "The ledger: every model call, local or cloud, success or failure, "
     "each attempt its own row.", {
        "call_id": "Call id.", "run_id": _RUN_ID,
        "purpose": "What the call was for (chunk_summary, document_summary, escalation).",
        "chunk_id": _CHUNK_ID, "doc_id": _DOC_ID,
        "summary_key": "Summary the call produced.",
        "provider": "local or anthropic.", "model": "Model name.",
        "model_sha256": "sha256 of the local GGUF file.",
        "prompt_version": "Version of the prompt.",
        "request_id": "Provider's request id.",
        "attempt": "Attempt number (retries are separate rows).",
        "is_batch": "True for Message Batches requests (half price).",
        "input_tokens": "Uncached input tokens.", "output_tokens": "Output tokens.",
        "cache_write_tokens": "Input tokens written to the prompt cache.",
        "cache_read_tokens": "Input tokens read from the prompt cache.",
        "price_version": "Version of data/prices.yaml that priced the call.",
        "cost_usd": "USD of the call (reserved upper bound until settled).",
        "duration_seconds": "Wall seconds.", "cpu_seconds": "CPU seconds (local calls).",
        "status": "reserved (in flight), settled or failed.",
        "error": "Why it failed (masked).", "created_at": "When the call started.",
        "bound_usd": "The most the call could cost, reserved against the budget before sending.",
        "custom_id": "Batch request id.", "batch_id": "Message batch id.",
        "sent_sha256": "sha256 of the request body sent."}),
    ("TABLE", "flags", "Rule hits: one row per matched span per rules version.", {
        "flag_id": "Flag id.", "chunk_id": _CHUNK_ID, "doc_id": _DOC_ID,
        "rule_id": "Rule that matched (data/rules/*.yaml).",
        "category": "Rule category.", "severity": _SEVERITY,
        "action": "escalate (the cloud model judges it) or record (kept locally).",
        "char_start": "First character of the match in the document's text.",
        "char_end": "One past the last character.",
        "matched_text": "The matched text (may be personal data: exports mask it).",
        "pack": "Rule pack.", "pack_version": "Rule pack version.",
        "rules_version": "Hash of all rule packs.", "run_id": _RUN_ID}),
    ("TABLE", "triage", "Each chunk's triage decision per rules version.", {
        "chunk_id": _CHUNK_ID, "rules_version": "Hash of all rule packs.",
        "score": "Highest clause score in the chunk.",
        "decision": "escalate or routine.", "reasons": "Rules behind the decision, JSON.",
        "escalation_status": "not_needed, pending, deferred, sent or done.",
        "run_id": _RUN_ID}),
    ("TABLE", "escalation_windows", "Redacted clause windows chosen for the cloud model.", {
        "window_id": "Window id.", "chunk_id": _CHUNK_ID, "doc_id": _DOC_ID,
        "rules_version": "Hash of all rule packs.",
        "char_start": "First character in the document's text.",
        "char_end": "One past the last character.",
        "rule_ids": "Rules that hit inside, JSON.", "categories": "Their categories, JSON.",
        "redacted_text": "The text sent, personal data replaced by placeholders.",
        "redacted_sha256": "sha256 of redacted_text.",
        "status": "pending, deferred (over budget), sent, done or failed.",
        "cache_key": "escalation_results.cache_key of its answer.",
        "call_id": "llm_calls.call_id that answered it.", "batch_id": "Message batch id.",
        "custom_id": "Batch request id.", "run_id": "Run that created the window."}),
    ("TABLE", "redactions", "Placeholders put into escalation windows, with the originals (stays "
     "local).", {
        "window_id": "escalation_windows.window_id.", "placeholder": "Placeholder sent.",
        "original": "The personal data it replaced.", "rule_id": "Rule that found it."}),
    ("TABLE", "escalation_results", "The cloud model's verdict per distinct redacted window "
     "(the escalation cache).", {
        "cache_key": "Hash of redacted text, model and rules version.",
        "model": "Cloud model.", "prompt_version": "Version of the policy prompt.",
        "rules_version": "Hash of all rule packs.",
        "is_finding": "True when the model judged the window a compliance finding.",
        "category": "Category the model gave.", "severity": _SEVERITY,
        "rationale": "Why, in the model's words.", "quote": "The decisive words.",
        "recommended_action": "What a reviewer should do.",
        "call_id": "llm_calls.call_id of the answering call.",
        "created_run_id": "Run that got the answer.", "created_at": "When it was stored."}),
    ("TABLE", "batches", "Message Batches submitted to the cloud.", {
        "batch_id": "Provider batch id.", "run_id": "Run that submitted it.",
        "model": "Cloud model.", "status": "Provider's processing status, or ended.",
        "request_count": "Requests in the batch.", "submitted_at": "When submitted.",
        "ended_at": "When its results were collected."}),
    ("TABLE", "finding_ids", "Stable finding ids: the same finding in a later version of a "
     "document keeps its id (and its review history).", {
        "finding_id": "Finding id (what `compliance review` takes).",
        "finding_key": "Hash of source, path, detector, category and normalized quote.",
        "source_root": "Absolute source folder.", "rel_path": "Path relative to source_root.",
        "first_seen_run_id": "Run that first detected it.",
        "first_seen_at": "When it was first detected."}),
    ("TABLE", "finding_reviews", "Append-only audit trail of review decisions.", {
        "review_id": "Review id.", "finding_id": "finding_ids.finding_id.",
        "doc_id": "Document version the reviewer saw.",
        "from_disposition": "Disposition before the change.",
        "to_disposition": "open, confirmed, false_positive or resolved.",
        "note": "Reviewer's note.", "reviewer": "Who decided.",
        "reviewed_at": "When."}),
    ("TABLE", "search_items", "Indexed items of the keyword search (BM25).", {
        "item_kind": "chunk or summary.",
        "item_key": "chunks.chunk_hash or summaries.summary_key.",
        "term_count": "Terms in the item (BM25 length)."}),
    ("TABLE", "search_postings", "Inverted index of the keyword search.", {
        "term": "Normalized term.", "item_kind": "chunk or summary.",
        "item_key": "chunks.chunk_hash or summaries.summary_key.",
        "tf": "Occurrences of the term in the item."}),
    ("VIEW", "finding_detections", "Every detection on current document versions under each "
     "chunk's latest rules: rule hits and the cloud model's findings, one row each.", {
        "finding_key": "Stable key (finding_ids.finding_key).", "doc_id": _DOC_ID,
        "chunk_id": _CHUNK_ID, "source_root": "Absolute source folder.",
        "rel_path": "Path relative to source_root.", "version": "Document version number.",
        "detected_by": "rule or model.", "detector": "Rule id, or the cloud model's name.",
        "category": "Category.", "severity": _SEVERITY,
        "severity_rank": "1 low, 2 medium, 3 high, 4 critical.",
        "quote": "Matched or quoted text (may be personal data).",
        "char_start": "First character in the document's text.",
        "char_end": "One past the last character.", "page": "Page of char_start.",
        "rationale": "The model's rationale (model findings).",
        "recommended_action": "The model's recommended action (model findings).",
        "rules_version": "Hash of all rule packs.", "run_id": "Run that detected it.",
        "window_id": "Escalation window covering it, if any.",
        "escalation_verdict": "not_escalated, pending, failed, confirmed_by_model or "
                              "dismissed_by_model."}),
    ("VIEW", "findings", "Findings on the latest version of each document, one per stable id, "
     "with their review disposition.", {
        "finding_id": "Stable finding id (NULL only between detection and the end of its run).",
        "doc_id": _DOC_ID, "chunk_id": _CHUNK_ID, "source_root": "Absolute source folder.",
        "rel_path": "Path relative to source_root.", "version": "Document version number.",
        "page": "Page of its first occurrence.", "detected_by": "rule or model.",
        "detector": "Rule id, or the cloud model's name.", "category": "Category.",
        "severity": _SEVERITY, "severity_rank": "1 low, 2 medium, 3 high, 4 critical.",
        "quote": "Matched or quoted text (may be personal data: exports mask it).",
        "occurrences": "Times it occurs in the document.",
        "rationale": "The model's rationale (model findings).",
        "recommended_action": "The model's recommended action (model findings).",
        "escalation_verdict": "not_escalated, pending, failed, confirmed_by_model or "
                              "dismissed_by_model.",
        "window_id": "Escalation window of its first occurrence.",
        "disposition": "open, confirmed, false_positive or resolved (a resolved finding found "
                       "again in a newer version is open again).",
        "reviews": "Review decisions recorded.", "last_reviewer": "Who decided last.",
        "last_reviewed_at": "When.", "first_seen_run_id": "Run that first detected it.",
        "first_seen_at": "When it was first detected.",
        "rules_version": "Hash of all rule packs.", "finding_key": "Stable key."}),
    ("VIEW", "escalations", "Every escalation window with the cloud model's verdict and cost.", {
        "window_id": "Window id.", "run_id": "Run that created the window.", "doc_id": _DOC_ID,
        "source_root": "Absolute source folder.", "rel_path": "Path relative to source_root.",
        "version": "Document version number.", "is_current": "Whether that version is current.",
        "chunk_id": _CHUNK_ID, "rules_version": "Hash of all rule packs.",
        "char_start": "First character in the document's text.",
        "char_end": "One past the last character.", "window_chars": "Characters sent.",
        "rule_ids": "Rules that hit inside, JSON.", "categories": "Their categories, JSON.",
        "status": "pending, deferred, sent, done or failed.", "model": "Cloud model.",
        "is_finding": "The model's verdict.", "verdict_category": "Category the model gave.",
        "verdict_severity": "Severity the model gave.", "rationale": "The model's rationale.",
        "recommended_action": "The model's recommended action.",
        "call_id": "Call that answered it.", "answered_in_run_id": "Run of that call.",
        "answered_from_cache": "True when an earlier window with the same redacted text got "
                               "the answer (no tokens spent on this one).",
        "batch_id": "Message batch id.", "call_cost_usd": "USD of the answering call.",
        "windows_in_call": "Windows sharing that call.",
        "cost_share_usd": "call_cost_usd divided by windows_in_call."}),
    ("VIEW", "cost_by_run", "Ledger totals per run, local and cloud.", {
        "run_id": "Run id.", "started_at": "When it started.", "finished_at": "When it ended.",
        "status": "running, completed or failed.", "orchestrator": "What started it.",
        "escalation_mode": "sync, batch or off.", "local_calls": "Local model calls.",
        "local_seconds": "Wall seconds of local calls.",
        "local_cost_usd": "USD of local compute (price table's local rate).",
        "cloud_calls": "Cloud calls, every attempt counted.",
        "cloud_failed_calls": "Cloud calls that failed.",
        "cloud_input_tokens": "Cloud input tokens, cached ones included.",
        "cloud_output_tokens": "Cloud output tokens.", "cloud_cost_usd": "Cloud USD.",
        "total_cost_usd": "Local plus cloud USD."}),
    ("VIEW", "cost_by_day_and_model", "Ledger totals per UTC day, provider and model.", {
        "day": "UTC date of the calls.", "provider": "local or anthropic.",
        "model": "Model name.", "calls": "Calls, every attempt counted.",
        "failed_calls": "Calls that failed.", "input_tokens": "Uncached input tokens.",
        "output_tokens": "Output tokens.", "cache_write_tokens": "Prompt-cache writes.",
        "cache_read_tokens": "Prompt-cache reads.", "seconds": "Wall seconds.",
        "cost_usd": "USD."}),
    ("VIEW", "savings_by_run", "What each run spent on the cloud against what naive pipelines "
     "would have spent, and which mechanism saved how much.", {
        "run_id": "Run id.", "started_at": "When it started.", "status": "Run status.",
        "escalation_mode": "sync, batch or off.", "cloud_model": "Cloud model.",
        "spend_usd": "Cloud USD booked.",
        "naive_new_usd": "Estimated USD of sending every chunk of new versions.",
        "naive_all_usd": "Estimated USD of sending every chunk of every current document.",
        "cache_saved_usd": "Estimated USD saved by answers reused from the escalation cache.",
        "saved_by_dedupe_usd": "naive_all_usd - naive_new_usd: unchanged and duplicate files "
                               "not sent again.",
        "saved_by_routing_usd": "naive_new_usd - spend_usd - cache_saved_usd: text the rules "
                                "kept local (negative in a run that sends work left pending by "
                                "a run that claimed nothing).",
        "saved_total_usd": "naive_all_usd - spend_usd.",
        "saved_share": "1 - spend_usd / naive_all_usd."}),
    ("VIEW", "document_status", "Every current document: how it was read, how far it got, and "
     "its risk verdict.", {
        "doc_id": _DOC_ID, "source_root": "Absolute source folder.",
        "rel_path": "Path relative to source_root.", "version": "Version number.",
        "format": "Sniffed format.", "status": "Read status (see documents.status).",
        "error": "Why it could not be read.", "page_count": "Pages.", "language": "Language.",
        "size_bytes": "File size.", "duplicate_of": "Document whose bytes it repeats.",
        "chunks": "Chunks.", "chunks_summarized": "Chunks with a summary.",
        "chunks_flagged": "Chunks with a rule hit.",
        "windows_escalated": "Windows chosen for the cloud model.",
        "windows_judged": "Windows the model has answered.",
        "windows_waiting": "Windows pending, deferred or in flight.",
        "has_summary": "Whether the document summary exists.",
        "findings": "Findings.", "open_findings": "Findings open or confirmed (unresolved).",
        "open_critical": "Unresolved critical findings.", "open_high": "Unresolved high.",
        "open_medium": "Unresolved medium.", "open_low": "Unresolved low.",
        "risk_verdict": "Highest unresolved severity, none, or not_assessed when the file "
                        "could not be read (a duplicate takes its original's verdict).",
        "first_run_id": "Run that stored this version.",
        "last_seen_run_id": "Last run that saw it."}),
    ("VIEW", "cache_efficiency", "Cache hits per run: local summaries and cloud escalations.", {
        "run_id": "Run id.", "started_at": "When it started.", "status": "Run status.",
        "summaries_done": "Summaries computed.", "summaries_cached": "Summaries reused.",
        "summary_hit_rate": "summaries_cached / (done + cached).",
        "escalation_windows_sent": "Windows sent to the cloud.",
        "escalation_windows_cached": "Windows answered from the cache.",
        "escalation_hit_rate": "cached / (sent + cached).",
        "cache_saved_usd": "Estimated USD saved by the escalation cache."}),
    ("VIEW", "rule_precision", "Per rule: its findings and what reviewers and the cloud model "
     "made of them.", {
        "rule_id": "Rule id.", "category": "Rule category.", "severity": _SEVERITY,
        "findings": "Findings on current documents.", "open": "Not yet reviewed (or reopened).",
        "confirmed": "Confirmed by a reviewer.", "false_positive": "Dismissed by a reviewer.",
        "resolved": "Resolved after confirmation.",
        "reviewed_precision": "(confirmed + resolved) / reviewed; NULL until reviewed.",
        "model_confirmed": "Findings whose window the cloud model judged a finding.",
        "model_dismissed": "Findings whose window the cloud model judged harmless."}),
]
