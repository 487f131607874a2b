"""One document's summary on demand: the stored one at once, computed once when missing.

Many people asking for the same document's summary must not each start the model: the first
takes the database's run lock and computes it, the others wait for the lock and then find it
stored. Reading needs no lock at all.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from compliance.read.results import ResultsBusyError, open_results
from compliance.store import db as database
from compliance.store.runlock import hold_lock
from compliance.vocab import TEXT_STATUSES


class DocumentNotFoundError(LookupError):
    """No stored document matches what was asked for."""


class NotSummarizableError(RuntimeError):
    """The document was not read (corrupt, encrypted, ...) so there is nothing to summarize."""


@dataclass(frozen=True)
class DocumentRef:
    """A stored document version."""

    doc_id: int
    source_root: str
    rel_path: str
    version: int
    status: str
    error: str | None


@dataclass(frozen=True)
class StoredSummary:
    """A document's summary as stored."""

    doc_id: int
    summary: str
    key_points: list[str]
    method: str
    model_sha256: str
    run_id: str
    computed_now: bool = False
    model_calls: int = 0
    seconds: float = 0.0


def find_document(conn: duckdb.DuckDBPyConnection, ref: str) -> DocumentRef:
    """The document a user means: a doc_id, an absolute path, or a path relative to its source."""
    columns = "doc_id, source_root, rel_path, version, status, error"
    if ref.isdigit():
        rows = conn.execute(f"SELECT {columns} FROM documents WHERE doc_id = ?",
                            [int(ref)]).fetchall()
    else:
        absolute = str(Path(ref).expanduser().resolve())
        rows = conn.execute(
            f"""
            SELECT {columns} FROM documents
            WHERE is_current AND (source_root || '/' || rel_path = ? OR rel_path = ?)
            ORDER BY doc_id
            """,
            [absolute, ref.strip("/")],
        ).fetchall()
    if not rows:
        raise DocumentNotFoundError(f"no stored document matches {ref!r} (give a doc_id, or a "
                                    "path as `compliance findings` or document_status shows it)")
    if len(rows) > 1:
        places = ", ".join(f"{r[0]} ({r[1]}/{r[2]})" for r in rows)
        raise DocumentNotFoundError(f"{ref!r} names {len(rows)} documents: give a doc_id "
                                    f"({places})")
    return DocumentRef(*rows[0])


def stored_summary(conn: duckdb.DuckDBPyConnection, doc_id: int) -> StoredSummary | None:
    """The document's stored summary, if it has one."""
    row = conn.execute(
        """
        SELECT s.summary, s.key_points, s.method, s.model_sha256, ds.run_id
        FROM document_summaries ds JOIN summaries s USING (summary_key)
        WHERE ds.doc_id = ?
        """,
        [doc_id],
    ).fetchone()
    if row is None:
        return None
    summary, key_points, method, model_sha256, run_id = row
    return StoredSummary(doc_id, summary, json.loads(key_points or "[]"), method, model_sha256,
                         run_id)


def read_summary(db_path: Path, ref: str, wait_seconds: float = 0.0,
                 on_wait: Callable[[str], None] = lambda why: None,
                 ) -> tuple[DocumentRef, StoredSummary | None]:
    """Look the document up and read its summary, without any lock or model.

    While someone writes the file (often: computing this very summary), wait up to wait_seconds.
    """
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            conn = open_results(db_path)
            break
        except ResultsBusyError as exc:
            if time.monotonic() >= deadline:
                raise
            if not told:
                on_wait(str(exc).split(";")[0])
                told = True
            time.sleep(0.25)
    try:
        document = find_document(conn, ref)
        return document, stored_summary(conn, document.doc_id)
    finally:
        conn.close()


def _open_writer(db_path: Path, patience_seconds: float = 30.0) -> database.Database:
    """The writer, once readers that opened the file a moment ago have let go of it."""
    deadline = time.monotonic() + patience_seconds
    while True:
        try:
            return database.writer(db_path)
        except database.DatabaseBusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def summarize_now(db_path: Path, document: DocumentRef, model: str | None = None,
                  wait: bool = True,
                  on_wait: Callable[[str], None] = lambda why: None) -> StoredSummary:
    """Compute and store a missing document summary (once, whoever else asks at the same time)."""
    from compliance.adapters.model_registry import resolve_model, verify_model_file
    from compliance.store.runs import RunCounts, close_run, new_run_id, open_run
    from tasks.summarize.calls import InProcessCalls
    from tasks.summarize.chunks import summarize_chunks
    from tasks.summarize.documents import summarize_documents
    from tasks.summarize.results import LocalBudget

    if document.status not in TEXT_STATUSES:
        raise NotSummarizableError(
            f"{document.rel_path} was not read ({document.status}: {document.error or 'no text'})"
            ": there is no text to summarize")
    lock = hold_lock(db_path, f"compliance summary {document.doc_id} (pid {os.getpid()})", wait,
                     on_wait)
    started = time.perf_counter()
    try:
        db = _open_writer(db_path)
        with db.cursor() as cur:
            done = stored_summary(cur, document.doc_id)
        if done is not None:  # someone else computed it while we waited
            return done
        spec = resolve_model(model)
        verify_model_file(spec)
        run_id = new_run_id()
        open_run(db, run_id, document.source_root,
                 json.dumps({"summary_of": document.doc_id, "model": spec.name}),
                 orchestrator="cli (summary on demand)")
        try:
            calls = InProcessCalls(spec)
            budget = LocalBudget(None)
            result = summarize_chunks(db, run_id, spec, calls, budget,
                                      doc_ids=[document.doc_id])
            summarize_documents(db, run_id, spec, calls, budget, result,
                                doc_ids=[document.doc_id])
        except BaseException as exc:
            close_run(db, run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:1000])
            raise
        counts = RunCounts()
        result.add_to(counts)
        close_run(db, run_id, "completed", counts)
        with db.cursor() as cur:
            done = stored_summary(cur, document.doc_id)
        if done is None:
            raise RuntimeError(f"the summary of document {document.doc_id} could not be computed")
        return StoredSummary(**{**done.__dict__, "computed_now": True,
                                "model_calls": result.model_calls,
                                "seconds": time.perf_counter() - started})
    finally:
        database.close_writer(db_path)
        lock.release()
