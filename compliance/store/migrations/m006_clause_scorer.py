"""m006: the clause scorer: its decisions, its audit, its recall estimates, its labels and models.

Released: never edit, text included; a change needs a later migration.
"""

from __future__ import annotations

import duckdb

from compliance.store.migrations.describe import Description, describe, describe_column

_POLICY = ("Version of the triage policy: the hash of all rule packs, or, with the clause "
           "scorer on, a hash of the rule packs, the scorer version and its threshold.")
COLUMNS: list[tuple[str, str, str, str]] = [
    ("triage", "scorer_version", "VARCHAR",
     "Clause scorer that scored the chunk (NULL: rules alone)."),
    ("triage", "scorer_score", "DOUBLE", "The chunk's best unit score from the clause scorer."),
    ("triage", "scorer_threshold", "DOUBLE",
     "Scorer threshold in force: units at or above it escalate."),
    ("runs", "triage_version", "VARCHAR",
     "Triage policy version of the run (see triage.rules_version)."),
    ("runs", "scorer_version", "VARCHAR", "Clause scorer the run used (NULL: rules alone)."),
    ("runs", "recall_target", "DOUBLE", "Recall target the scorer's threshold was picked for."),
    ("runs", "scorer_threshold", "DOUBLE",
     "Threshold picked from the scorer's cross-validated curve."),
    ("runs", "expected_recall", "DOUBLE", "Cross-validated recall at that threshold."),
    ("runs", "expected_share", "DOUBLE",
     "Cross-validated share of text escalated at that threshold."),
    ("runs", "recall_estimate", "DOUBLE",
     "Audited estimate of triage recall over the rolling window ending with this run."),
    ("runs", "recall_lower_bound", "DOUBLE",
     "One-sided lower confidence bound of that estimate (level 1 - audit_delta)."),
    ("runs", "recall_status", "VARCHAR",
     "ok, below_target (lower bound under the recall target), awaiting_verdicts (audit or "
     "escalation answers still out) or no_audit."),
    ("escalation_windows", "purpose", "VARCHAR DEFAULT 'triage'",
     "triage (sent because triage escalated it) or audit (a random sample of what triage did "
     "not send, judged to estimate its recall)."),
    ("escalation_windows", "audit_band", "VARCHAR",
     "Audit stratum of an audit window: near, middle or far from the threshold."),
    ("escalation_windows", "inclusion_probability", "DOUBLE",
     "Chance an audit window had of being drawn (its estimator weight is the inverse)."),
]
REDESCRIBED: list[tuple[str, str, str]] = [
    ("triage", "rules_version", _POLICY),
    ("flags", "rules_version", _POLICY),
    ("escalation_windows", "rules_version", _POLICY),
]
_ESTIMATE_COLUMNS = {
    "run_id": "Run whose end the estimate was made at.", "triage_version": _POLICY,
    "category": "Risk category, or all.", "runs_pooled": "Runs in the rolling window.",
    "escalated_positives": "Escalated windows the judge found to be findings.",
    "audited": "Audit windows judged.", "audited_positives": "Of those, findings.",
    "missed_estimate": "Estimated findings triage did not send (inverse-probability weighted).",
    "missed_upper": "Upper confidence bound of the missed findings.",
    "estimate": "Estimated recall.", "lower_bound": "One-sided lower confidence bound.",
    "delta": "1 - confidence level.", "recall_target": "The run's recall target.",
    "status": "ok, below_target, awaiting_verdicts or no_audit."}
DESCRIPTIONS: list[Description] = [
    ("TABLE", "triage_units", "Every unit (clause) the clause scorer scored, with its score.", {
        "chunk_id": "Chunk the unit is in.", "doc_id": "Document.",
        "triage_version": _POLICY, "char_start": "Start offset in the document text.",
        "char_end": "End offset (exclusive).", "score": "Best category score of the unit.",
        "category": "The category of that score.",
        "escalated": "Whether the score reached the threshold (the unit was sent).",
        "run_id": "Run that scored it."}),
    ("TABLE", "audit_bands", "Per run, the strata of the audit sample of unescalated units.", {
        "run_id": "Run that drew the sample.", "triage_version": _POLICY,
        "band": "near, middle or far from the threshold (by score rank).",
        "population": "Unescalated units in the band.", "sampled": "Units drawn for audit."}),
    ("TABLE", "recall_estimates", "Audited recall of triage, per run and category (all: every "
     "category), over a rolling window of runs.", _ESTIMATE_COLUMNS),
    ("VIEW", "triage_recall", "The latest audited recall estimates, per category and overall.",
     _ESTIMATE_COLUMNS | {"started_at": "When the run that made them started."}),
    ("TABLE", "scorer_models", "Clause scorers trained on shipped data plus the user's own "
     "labels (compliance triage train); one may be active.", {
        "version": "Hash of code, data and parameters.", "created_at": "When trained.",
        "labels_used": "Labels from verdicts and reviews it was trained on.",
        "cross_validation": "Its cross-validated recall curve (JSON).",
        "model": "The model file's bytes.", "sha256": "sha256 of the model bytes.",
        "active": "Whether runs use it when no scorer is named."}),
    ("VIEW", "triage_labels", "Labels learned from verdicts: cloud answers on escalated and "
     "audited windows, and reviewers' dispositions, with their source.", {
        "label_key": "window:ID for a verdict, review:FINDING_ID for a review.",
        "doc_id": "Document.", "chunk_id": "Chunk.", "char_start": "Start offset of the text.",
        "char_end": "End offset (exclusive).", "text": "The redacted text that was judged.",
        "category": "The verdict's category (or the window's, when dismissed).",
        "is_positive": "True: a finding (or confirmed); false: dismissed (or a false positive).",
        "source": "cloud_verdict, audit_verdict or review.",
        "run_id": "Run that triaged the text."}),
]


def m006_clause_scorer(conn: duckdb.DuckDBPyConnection) -> None:
    """Scorer columns, the audit tables, recall estimates, trained models and labels."""
    for table, column, kind, _ in COLUMNS:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    conn.execute(
        """
        CREATE TABLE triage_units (
            chunk_id BIGINT NOT NULL, doc_id BIGINT NOT NULL, triage_version VARCHAR NOT NULL,
            char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, score DOUBLE NOT NULL,
            category VARCHAR NOT NULL, escalated BOOLEAN NOT NULL, run_id VARCHAR NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX triage_units_run_idx ON triage_units (run_id)")
    conn.execute(
        """
        CREATE TABLE audit_bands (
            run_id VARCHAR NOT NULL, triage_version VARCHAR NOT NULL, band VARCHAR NOT NULL,
            population INTEGER NOT NULL, sampled INTEGER NOT NULL,
            PRIMARY KEY (run_id, band)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE recall_estimates (
            run_id VARCHAR NOT NULL, triage_version VARCHAR NOT NULL, category VARCHAR NOT NULL,
            runs_pooled INTEGER NOT NULL, escalated_positives INTEGER NOT NULL,
            audited INTEGER NOT NULL, audited_positives INTEGER NOT NULL,
            missed_estimate DOUBLE, missed_upper DOUBLE, estimate DOUBLE, lower_bound DOUBLE,
            delta DOUBLE NOT NULL, recall_target DOUBLE, status VARCHAR NOT NULL,
            PRIMARY KEY (run_id, category)
        )
        """
    )
    conn.execute(
        """
        CREATE VIEW triage_recall AS
        SELECT e.*, r.started_at
        FROM recall_estimates e JOIN runs r USING (run_id)
        WHERE e.run_id = (SELECT arg_max(run_id, started_at)
                          FROM recall_estimates JOIN runs USING (run_id))
        """
    )
    conn.execute(
        """
        CREATE TABLE scorer_models (
            version VARCHAR PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            labels_used INTEGER NOT NULL, cross_validation JSON NOT NULL, model BLOB NOT NULL,
            sha256 VARCHAR NOT NULL, active BOOLEAN NOT NULL DEFAULT false
        )
        """
    )
    conn.execute(
        """
        CREATE VIEW triage_labels AS
        SELECT 'window:' || w.window_id AS label_key, w.doc_id, w.chunk_id, w.char_start,
               w.char_end, w.redacted_text AS text,
               CASE WHEN er.is_finding THEN er.category
                    ELSE json_extract_string(w.categories, '$[0]') END AS category,
               er.is_finding AS is_positive,
               CASE WHEN w.purpose = 'audit' THEN 'audit_verdict' ELSE 'cloud_verdict' END
                   AS source,
               w.run_id
        FROM escalation_windows w JOIN escalation_results er ON er.cache_key = w.cache_key
        WHERE w.status = 'done'
        UNION ALL
        SELECT 'review:' || f.finding_id, f.doc_id, f.chunk_id, w.char_start, w.char_end,
               w.redacted_text, f.category, f.disposition = 'confirmed', 'review', w.run_id
        FROM findings f JOIN escalation_windows w ON w.window_id = f.window_id
        WHERE f.disposition IN ('confirmed', 'false_positive')
        """
    )
    for table, column, _, text in COLUMNS:
        describe_column(conn, table, column, text)
    for table, column, text in REDESCRIBED:
        describe_column(conn, table, column, text)
    for kind, name, meaning, columns in DESCRIPTIONS:
        describe(conn, kind, name, meaning, columns)
