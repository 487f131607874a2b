"""Read, parse and store the files an inventory says are new or possibly changed."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from compliance.context import PARSE, RunContext, report
from compliance.extract.digests import TextDigests, digest_text
from compliance.extract.dispatch import extract_attachment, extract_file, extract_job
from compliance.extract.isolation import Outcome, run_isolated
from compliance.extract.model import Extraction, ExtractLimits
from compliance.extract.reading import SourceUnreadable, hash_source
from compliance.settings import IngestSettings
from compliance.store.db import Database
from compliance.textnorm import sha256_bytes
from compliance.vocab import TEXT_STATUSES, DocumentStatus, readable_current
from tasks.chunk import BOILERPLATE_MIN_WORDS
from tasks.discover import SourceFile
from tasks.inventory import Inventory, KnownVersion
from tasks.stage import as_task
from tasks.workers import in_order, worker_label, worker_threads

# Texts larger than this are read as plain text, not through unstructured's element parser.
LARGE_TEXT_BYTES = 1_000_000


@dataclass
class IngestResult:
    """Counts of what ingestion did, and the documents it stored."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicate: int = 0
    failed: int = 0
    removed: int = 0
    doc_ids: list[int] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    vanished: int = 0
    # Files parsed, per process that ran their parser processes (this one, or a Dask worker).
    workers: Counter = field(default_factory=Counter)


@dataclass
class _Job:
    rel_path: str
    source: SourceFile | None
    previous: KnownVersion | None
    sha256: str | None
    size_bytes: int
    mtime_ns: int | None
    parent_doc_id: int | None = None
    depth: int = 0
    data: bytes | None = None
    disk_path: str | None = None  # where a source file is read from, when not rel_path


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(rel_path: str) -> str:
    """A path for one log line: control characters (a newline in a file name) escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", rel_path)


def _timestamp(mtime_ns: int | None) -> dt.datetime | None:
    if mtime_ns is None:
        return None
    return dt.datetime.fromtimestamp(mtime_ns / 1e9, tz=dt.UTC)


def _extension(rel_path: str) -> str:
    return Path(rel_path.rsplit("#", 1)[-1]).suffix.lower().lstrip(".")


def _retire(cur: duckdb.DuckDBPyConnection, doc_id: int) -> None:
    """Make a version and its attachments non-current."""
    cur.execute(
        "UPDATE documents SET is_current = false WHERE doc_id = ? OR parent_doc_id = ?",
        [doc_id, doc_id],
    )
    # Attachments of attachments.
    cur.execute(
        """
        UPDATE documents SET is_current = false
        WHERE is_current AND parent_doc_id IN (SELECT doc_id FROM documents WHERE NOT is_current)
        """
    )


def _next_version(cur: duckdb.DuckDBPyConnection, root: str, rel_path: str) -> int:
    row = cur.execute(
        "SELECT coalesce(max(version), 0) FROM documents WHERE source_root = ? AND rel_path = ?",
        [root, rel_path],
    ).fetchone()
    return int(row[0]) + 1


def _insert_document(cur: duckdb.DuckDBPyConnection, run_id: str, root: str, job: _Job,
                     status: str, **columns: object) -> int:
    if job.previous is not None:
        _retire(cur, job.previous.doc_id)
    values = {
        "source_root": root,
        "rel_path": job.rel_path,
        "version": _next_version(cur, root, job.rel_path),
        "is_current": True,
        "parent_doc_id": job.parent_doc_id,
        "sha256": job.sha256,
        "size_bytes": job.size_bytes,
        "mtime": _timestamp(job.mtime_ns),
        "mtime_ns": job.mtime_ns,
        "declared_extension": _extension(job.rel_path),
        "status": status,
        "first_run_id": run_id,
        "last_seen_run_id": run_id,
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    row = cur.execute(
        f"INSERT INTO documents ({names}) VALUES ({marks}) RETURNING doc_id", list(values.values())
    ).fetchone()
    return int(row[0])


def _find_byte_duplicate(cur: duckdb.DuckDBPyConnection, job: _Job) -> int | None:
    row = cur.execute(
        """
        SELECT min(doc_id) FROM documents
        WHERE sha256 = ? AND is_current AND status NOT IN ('duplicate', 'removed')
          AND NOT (rel_path = ? AND parent_doc_id IS NOT DISTINCT FROM ?)
        """,
        [job.sha256, job.rel_path, job.parent_doc_id],
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def _store_extraction(cur: duckdb.DuckDBPyConnection, run_id: str, root: str, job: _Job,
                      extraction: Extraction) -> int:
    columns: dict[str, object] = {
        "format": extraction.format,
        "extractor": extraction.extractor,
        "page_count": extraction.page_count,
        "language": extraction.language,
        "error": extraction.error,
    }
    digests: TextDigests | None = None
    if extraction.status in TEXT_STATUSES:
        text = extraction.text
        # Made by the parser worker; computed here only for an extraction that has none.
        digests = extraction.digests or digest_text(text, extraction.segments)
        cur.execute(
            "INSERT INTO texts (text_sha256, text, char_count) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [digests.text_sha256, text, len(text)],
        )
        same = cur.execute(
            f"""
            SELECT min(doc_id) FROM documents
            WHERE text_hash = ? AND {readable_current()}
            """,
            [digests.text_hash],
        ).fetchone()[0]
        columns |= {"text_hash": digests.text_hash, "text_sha256": digests.text_sha256,
                    "same_text_as": same, "risk_hint_score": digests.risk_hints}
    doc_id = _insert_document(cur, run_id, root, job, extraction.status, **columns)
    if digests is not None:
        # A paragraph repeated inside one document points to its first occurrence; a long
        # enough one is a boilerplate candidate (tasks.chunk.paragraph_hash, the same hash).
        first_seq: dict[str, int] = {}
        rows = []
        paragraphs = []
        for i, seg in enumerate(extraction.segments):
            key = digests.segment_keys[i]
            rows.append([doc_id, i, seg.start, seg.end, seg.kind, seg.page, seg.section,
                         first_seq.get(key)])
            first_seq.setdefault(key, i)
            if digests.segment_words[i] >= BOILERPLATE_MIN_WORDS:
                paragraphs.append([key, doc_id])
        _insert_rows(cur, "segments", rows)
        _insert_rows(cur, "pages", [[doc_id, page, start, end]
                                    for page, start, end in extraction.pages])
        _insert_rows(cur, "paragraphs", paragraphs)
    return doc_id


# Column types per table, read once per process: the schema is fixed once the migrations ran.
_column_types: dict[str, list[str]] = {}


def _insert_rows(cur: duckdb.DuckDBPyConnection, table: str, rows: list[list[object]]) -> None:
    # One statement of column lists, not executemany: a row per statement is DuckDB's slow
    # path (about 2.5 s per MB of plain text in segments and paragraphs).
    if rows:
        if table not in _column_types:
            _column_types[table] = [row[0] for row in cur.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall()]
        types = _column_types[table][:len(rows[0])]
        columns = ", ".join(f"unnest(?::{kind}[])" for kind in types)
        cur.execute(f"INSERT INTO {table} SELECT {columns}",
                    [list(column) for column in zip(*rows, strict=True)])


def ingest_files(
    db: Database,
    run_id: str,
    root: Path,
    new: list[SourceFile],
    suspect: list[tuple[SourceFile, KnownVersion]],
    settings: IngestSettings,
    progress: Callable[[str], None] = lambda message: None,
    force: frozenset[str] = frozenset(),
    runner: Any = None,
) -> IngestResult:
    """Hash, dedupe, parse (in isolated workers) and store files; one transaction per document.

    Paths in `force` are re-ingested even when their bytes did not change. runner: a Dask task
    runner to parse on (tasks/workers.py); hashing, dedupe and storing stay here.
    """
    result = IngestResult()
    source_root = str(root)
    jobs: list[_Job] = []
    candidates = [(f, None) for f in new] + list(suspect)
    for source_file, previous in candidates:
        path = root / (source_file.disk_path or source_file.rel_path)
        if source_file.size_bytes > settings.max_file_bytes:
            job = _Job(source_file.rel_path, source_file, previous, None, source_file.size_bytes,
                       source_file.mtime_ns)
            with db.transaction() as cur:
                doc_id = _insert_document(cur, run_id, source_root, job,
                                          DocumentStatus.TOO_LARGE, error=(
                    f"file is {source_file.size_bytes:,} bytes, over the "
                    f"{settings.max_file_bytes:,}-byte limit"))
            result.failed += 1
            result.failures.append((source_file.rel_path, DocumentStatus.TOO_LARGE,
                                    "over the size limit"))
            result.doc_ids.append(doc_id)
            continue
        try:
            digest, size_bytes, mtime_ns = hash_source(str(path), settings.max_file_bytes)
        except SourceUnreadable as failed:
            job = _Job(source_file.rel_path, source_file, previous, None, source_file.size_bytes,
                       source_file.mtime_ns)
            with db.transaction() as cur:
                result.doc_ids.append(_insert_document(cur, run_id, source_root, job,
                                                       failed.status, error=str(failed)))
            _count_unread(result, job, failed.status, str(failed))
            progress(f"{failed.status:<11} {printable(source_file.rel_path)}")
            continue
        if (previous is not None and previous.sha256 == digest
                and previous.status != DocumentStatus.REMOVED
                and source_file.rel_path not in force):
            with db.cursor() as cur:  # touched, not changed: remember the new stat
                cur.execute(
                    "UPDATE documents SET mtime_ns = ?, mtime = ?, size_bytes = ?, "
                    "last_seen_run_id = ? WHERE doc_id = ?",
                    [mtime_ns, _timestamp(mtime_ns), size_bytes, run_id, previous.doc_id],
                )
            result.unchanged += 1
            continue
        # The size and time of the bytes hashed: the file may have changed since it was listed.
        jobs.append(_Job(source_file.rel_path, source_file, previous, digest, size_bytes,
                         mtime_ns, disk_path=source_file.disk_path))

    while jobs:
        jobs = _ingest_round(db, run_id, source_root, root, jobs, settings, result, progress,
                             runner)
    return result


def _ingest_round(db: Database, run_id: str, source_root: str, root: Path, jobs: list[_Job],
                  settings: IngestSettings, result: IngestResult,
                  progress: Callable[[str], None], runner: Any = None) -> list[_Job]:
    """Store one generation of jobs; return the attachments they revealed."""
    to_parse: list[_Job] = []
    later_copies: list[tuple[_Job, int]] = []
    first_by_sha: dict[str, int] = {}
    for job in jobs:
        if job.size_bytes > 0:
            with db.cursor() as cur:
                duplicate_of = _find_byte_duplicate(cur, job)
            if duplicate_of is not None:
                with db.transaction() as cur:
                    doc_id = _insert_document(cur, run_id, source_root, job,
                                              DocumentStatus.DUPLICATE,
                                              duplicate_of=duplicate_of)
                _count_version(result, job)
                result.duplicate += 1
                result.doc_ids.append(doc_id)
                continue
            if job.sha256 in first_by_sha:
                later_copies.append((job, first_by_sha[job.sha256]))
                continue
            first_by_sha[job.sha256] = len(to_parse)
        to_parse.append(job)

    limits = ExtractLimits.from_settings(settings)
    work = []
    for index, job in enumerate(to_parse):
        if job.data is not None:
            work.append((index, (extract_attachment, (job.data, job.rel_path,
                                                      LARGE_TEXT_BYTES, limits))))
        else:
            path = root / (job.disk_path or job.rel_path)
            work.append((index, (extract_file, (str(path), job.rel_path, LARGE_TEXT_BYTES,
                                                limits))))

    # Largest first: a big file dispatched last is parsed alone while the other workers wait
    # (in bench_ingest.py one 1.8 MB PDF is two fifths of all the parsing).
    work.sort(key=lambda item: -to_parse[item[0]].size_bytes)
    stored: dict[int, int] = {}
    children: list[_Job] = []
    for outcome in _parse(work, settings, runner, result):
        job = to_parse[outcome.key]
        extraction = _extraction_of(outcome, job, settings)
        if job.data is None:
            _check_unchanged(root / (job.disk_path or job.rel_path), job, extraction)
        if extraction.status == DocumentStatus.REMOVED:
            with db.transaction() as cur:
                result.doc_ids.append(_insert_document(cur, run_id, source_root, job,
                                                       DocumentStatus.REMOVED,
                                                       error=extraction.error))
            _count_unread(result, job, DocumentStatus.REMOVED, extraction.error or "")
            progress(f"{extraction.status:<11} {printable(job.rel_path)}")
            continue
        if job.depth >= settings.max_attachment_depth and extraction.attachments:
            _note(extraction, f"{len(extraction.attachments)} attachments not read: nested "
                  f"deeper than max_attachment_depth ({settings.max_attachment_depth})")
        with db.transaction() as cur:
            doc_id = _store_extraction(cur, run_id, source_root, job, extraction)
        stored[outcome.key] = doc_id
        result.doc_ids.append(doc_id)
        _count_version(result, job)
        if extraction.status not in TEXT_STATUSES and extraction.status != DocumentStatus.EMPTY:
            result.failed += 1
            result.failures.append((job.rel_path, extraction.status, extraction.error or ""))
        progress(f"{extraction.status:<11} {printable(job.rel_path)}")
        if job.depth < settings.max_attachment_depth:
            names: dict[str, int] = {}
            for attachment in extraction.attachments:
                count = names[attachment.name] = names.get(attachment.name, 0) + 1
                label = attachment.name if count == 1 else f"{attachment.name}~{count}"
                children.append(_Job(
                    rel_path=f"{job.rel_path}#{label}", source=None, previous=None,
                    sha256=sha256_bytes(attachment.data), size_bytes=len(attachment.data),
                    mtime_ns=job.mtime_ns, parent_doc_id=doc_id, depth=job.depth + 1,
                    data=attachment.data,
                ))
    for job, first_index in later_copies:
        with db.transaction() as cur:
            doc_id = _insert_document(cur, run_id, source_root, job, DocumentStatus.DUPLICATE,
                                      duplicate_of=stored.get(first_index))
        _count_version(result, job)
        result.duplicate += 1
        result.doc_ids.append(doc_id)
    return children


def _parse(work: list[tuple[int, Any]], settings: IngestSettings, runner: Any,
           result: IngestResult) -> Iterator[Outcome]:
    """The outcome of each parse job: in parser processes here, or in batches on Dask workers
    (each batch in a parser process there, with the same limits)."""
    if runner is None:
        result.workers[worker_label()] += len(work)
        yield from run_isolated(extract_job, work, settings.parse_workers,
                                settings.parse_timeout_seconds, settings.parse_memory_mb)
        return
    threads = worker_threads(runner)
    size = max(1, min(PARSE_BATCH, -(-len(work) // (2 * threads))))
    count = -(-len(work) // size)
    # Dealt, not cut: the work is sorted largest first, and each batch should get its share
    # of the large files rather than the first batch all of them.
    dealt = [work[first::count] for first in range(count)]
    limits = {"timeout_seconds": settings.parse_timeout_seconds,
              "memory_mb": settings.parse_memory_mb}
    for _, (outcomes, worker) in in_order(
            runner, PARSE_ON_WORKER.task,
            ((None, {"work": batch, **limits}) for batch in dealt), window=2 * threads):
        result.workers[worker] += len(outcomes)
        yield from outcomes


def parse_batch(work: list[tuple[int, Any]], timeout_seconds: float, memory_mb: int | None
                ) -> tuple[list[Outcome], str]:
    """Parse a batch of jobs one at a time in a parser process of this machine."""
    return list(run_isolated(extract_job, work, 1, timeout_seconds, memory_mb)), worker_label()


# A parse batch as a task run on a Dask worker: jobs travel as paths (attachments as bytes).
PARSE_ON_WORKER = as_task("parse-files")(parse_batch)
# Files per batch sent to a worker: few enough that a worker's results come back often.
PARSE_BATCH = 16


def _extraction_of(outcome: Outcome, job: _Job, settings: IngestSettings) -> Extraction:
    """The parse's Extraction, or the row a time-out, memory limit or dead worker becomes."""
    if outcome.value is not None:
        return outcome.value
    fmt = _extension(job.rel_path) or "unknown"
    if outcome.timed_out:
        return Extraction(fmt, DocumentStatus.TIMEOUT, "none",
                          error=f"{outcome.error} (parse_timeout_seconds); the file was skipped")
    if outcome.memory_exceeded:
        return Extraction(fmt, DocumentStatus.TOO_LARGE, "none",
                          error=f"{outcome.error} (parse_memory_mb); the file was skipped")
    if outcome.crashed:
        return Extraction(fmt, DocumentStatus.CORRUPT, "none", error=(
            f"the {outcome.error} while reading this file; a file that needs more than the "
            f"{settings.parse_memory_mb:,} MB memory limit (parse_memory_mb) can end this way"))
    return Extraction(fmt, DocumentStatus.CORRUPT, "none",
                      error=f"the parser failed: {outcome.error}"[:500])


def _note(extraction: Extraction, problem: str) -> None:
    """Add a problem to an extraction: text that was read becomes 'partial'."""
    if extraction.status == DocumentStatus.OK:
        extraction.status = DocumentStatus.PARTIAL
    extraction.error = "; ".join(e for e in (problem, extraction.error) if e)[:1000]


def _check_unchanged(path: Path, job: _Job, extraction: Extraction) -> None:
    """Mark an extraction whose file changed between hashing and parsing, or while parsed.

    Its row keeps no sha256 and no modification time, so the next run reads the file again.
    """
    parsed = extraction.source_sha256
    if parsed is not None and parsed != job.sha256:
        change = f"sha256 {(job.sha256 or '')[:12]} when hashed, {parsed[:12]} when parsed"
    else:
        try:
            now = os.stat(path)
        except OSError:
            # Gone after it was read: the text is of the hashed bytes, and the next run marks
            # the path removed.
            return
        if (now.st_size, now.st_mtime_ns) == (job.size_bytes, job.mtime_ns):
            return
        change = f"{job.size_bytes:,} bytes when hashed, {now.st_size:,} after parsing"
    _note(extraction, f"file changed while being read ({change}); the next run reads it again")
    job.sha256, job.mtime_ns = None, None


def _count_unread(result: IngestResult, job: _Job, status: str, reason: str) -> None:
    """Count a source file that could not be read at all (vanished, unreadable, grew)."""
    if status == DocumentStatus.REMOVED:
        result.vanished += 1
        return
    _count_version(result, job)
    result.failed += 1
    result.failures.append((job.rel_path, status, reason))


def _count_version(result: IngestResult, job: _Job) -> None:
    if job.parent_doc_id is not None:
        return
    if job.previous is None or job.previous.status == DocumentStatus.REMOVED:
        result.new += 1
    else:
        result.changed += 1


def mark_removed(db: Database, run_id: str, root: Path,
                 removed: list[tuple[str, KnownVersion]]) -> int:
    """Record paths that disappeared from the source root as a `removed` version."""
    for rel_path, previous in removed:
        job = _Job(rel_path, None, previous, previous.sha256, 0, None)
        with db.transaction() as cur:
            _insert_document(cur, run_id, str(root), job, DocumentStatus.REMOVED,
                             error="file no longer present under the source root")
    return len(removed)


def orphaned_duplicates(db: Database, root: Path) -> list[tuple[SourceFile, KnownVersion]]:
    """Current copies whose original is no longer current (removed or changed): re-ingest them."""
    with db.cursor() as cur:
        rows = cur.execute(
            """
            SELECT d.rel_path, d.size_bytes, d.mtime_ns, d.doc_id, d.version, d.sha256,
                   d.status
            FROM documents d JOIN documents o ON o.doc_id = d.duplicate_of
            WHERE d.source_root = ? AND d.is_current AND d.status = 'duplicate'
              AND d.parent_doc_id IS NULL AND NOT o.is_current
            ORDER BY d.rel_path
            """,
            [str(root)],
        ).fetchall()
    return [(SourceFile(rel_path, size or 0, mtime or 0),
             KnownVersion(doc_id, version, sha, size, mtime, status))
            for rel_path, size, mtime, doc_id, version, sha, status in rows
            if (root / rel_path).is_file()]


def touch_unchanged(db: Database, run_id: str, doc_ids: list[int]) -> None:
    """Note that unchanged documents were seen by this run."""
    if not doc_ids:
        return
    with db.cursor() as cur:
        cur.execute(
            "UPDATE documents SET last_seen_run_id = ? WHERE doc_id IN (SELECT unnest(?))",
            [run_id, doc_ids],
        )


@as_task("ingest-documents")
def ingest_documents(ctx: RunContext, settings: IngestSettings, plan: Inventory) -> IngestResult:
    """Hash, dedupe, parse and store new and changed files; mark vanished ones removed."""
    root = ctx.source
    files = len(plan.new) + len(plan.suspect)
    done = 0

    def report_file(message: str) -> None:
        nonlocal done
        ctx.log.info(message)
        done += 1
        report(PARSE, min(done, files), files)

    result = ingest_files(ctx.db, ctx.run_id, root, plan.new, plan.suspect, settings,
                          progress=report_file, runner=ctx.runner)
    result.removed = mark_removed(ctx.db, ctx.run_id, root, plan.removed) + result.vanished
    # A copy stored as 'duplicate' of a file that is now removed or changed must be read itself.
    orphans = orphaned_duplicates(ctx.db, root)
    if orphans:
        repaired = ingest_files(ctx.db, ctx.run_id, root, [], orphans, settings,
                                progress=ctx.log.info,
                                force=frozenset(f.rel_path for f, _ in orphans),
                                runner=ctx.runner)
        result.doc_ids += repaired.doc_ids
        result.failures += repaired.failures
        result.duplicate += repaired.duplicate
        result.failed += repaired.failed
        result.workers += repaired.workers
    touched = {known.doc_id for _, known in orphans}
    touch_unchanged(ctx.db, ctx.run_id, [known.doc_id for _, known in plan.unchanged
                                         if known.doc_id not in touched])
    result.unchanged += len(plan.unchanged) - len(touched & {k.doc_id for _, k in plan.unchanged})
    ctx.counts.docs_new = result.new
    ctx.counts.docs_changed = result.changed
    ctx.counts.docs_unchanged = result.unchanged
    ctx.counts.docs_duplicate = result.duplicate
    ctx.counts.docs_failed = result.failed
    ctx.counts.docs_removed = result.removed
    return result
