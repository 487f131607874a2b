"""The brief stage: what each new document text is, who it concerns, its dates and terms.

Rules only, no model call: a text's brief is keyed by its sha256 and the brief code's version,
so a copy of a text, an unchanged re-run or a re-ingested file reuses the stored brief, and
changed brief code briefs every text again. Texts are read a page at a time (compliance.store.
texts), and only their first BRIEF_MAX_CHARS characters: a contract's preamble and its
governing-law clause sit well inside that, and a 200 MB log file costs no more than a contract.
"""

from __future__ import annotations

import duckdb

from compliance import context
from compliance.briefs.brief import brief_version, document_brief
from compliance.briefs.fields import BriefField
from compliance.context import RunContext
from compliance.store.db import Database
from compliance.store.texts import stream_texts
from compliance.vocab import readable_current
from tasks.stage import as_task

BRIEF_MAX_CHARS = 2_000_000
# Briefs written per transaction: a kill loses at most this many briefs' work.
BATCH_TEXTS = 200


# sha256 of every current readable text with no brief from the code version bound to `?`.
_UNBRIEFED_TEXTS = f"""
    SELECT DISTINCT d.text_sha256 FROM documents d
    WHERE {readable_current("d")} AND d.text_sha256 IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM briefs b WHERE b.text_sha256 = d.text_sha256
                                               AND b.brief_version = ?)
"""


def _unbriefed_texts(db: Database, version: str) -> list[str]:
    """sha256 of every current readable text with no brief from this code version."""
    with db.cursor() as cur:
        return [row[0] for row in cur.execute(_UNBRIEFED_TEXTS + " ORDER BY 1",
                                              [version]).fetchall()]


def count_unbriefed(cur: duckdb.DuckDBPyConnection) -> int:
    """How many current texts this brief code has not briefed (outstanding work for a run)."""
    return int(cur.execute(f"SELECT count(*) FROM ({_UNBRIEFED_TEXTS})",
                           [brief_version()]).fetchone()[0])


def _rows(sha: str, version: str, fields: list[BriefField]) -> list[list[object]]:
    seqs: dict[str, int] = {}
    rows: list[list[object]] = []
    for field in fields:
        seq = seqs.get(field.field, 0)
        seqs[field.field] = seq + 1
        rows.append([sha, version, field.field, seq, field.value, field.method,
                     field.char_start, field.char_end])
    return rows


def _store(db: Database, run_id: str, version: str,
           briefs: list[tuple[str, list[BriefField]]]) -> None:
    with db.transaction() as cur:
        for sha, fields in briefs:
            cur.execute("INSERT INTO briefs (text_sha256, brief_version, fields, run_id) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [sha, version, len(fields), run_id])
            rows = _rows(sha, version, fields)
            if rows:
                cur.executemany("INSERT INTO brief_fields VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                                "ON CONFLICT DO NOTHING", rows)


def brief_documents(db: Database, run_id: str) -> int:
    """Brief every current text not yet briefed by this code; returns how many were briefed."""
    version = brief_version()
    pending = _unbriefed_texts(db, version)
    done = 0
    batch: list[tuple[str, list[BriefField]]] = []
    with db.cursor() as cur:
        for sha, text in stream_texts(cur, pending):
            batch.append((sha, document_brief(text[:BRIEF_MAX_CHARS])))
            if len(batch) >= BATCH_TEXTS:
                _store(db, run_id, version, batch)
                done += len(batch)
                batch = []
                context.report("brief", done, len(pending))
    if batch:
        _store(db, run_id, version, batch)
        done += len(batch)
    context.report("brief", done, len(pending))
    return done


@as_task("brief-documents")
def write_briefs(ctx: RunContext) -> int:
    """Brief the run's new document texts."""
    return brief_documents(ctx.db, ctx.run_id)
