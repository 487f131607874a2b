"""Compare the files found under a source root with what the database knows about them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from compliance.context import RunContext
from compliance.settings import PipelineParams, SourceSettings
from compliance.store import db as database
from compliance.vocab import readable_current
from tasks.brief import count_unbriefed
from tasks.discover import SourceFile, discover_files, matches_globs
from tasks.escalate.queue import RESENDABLE
from tasks.stage import as_task
from tasks.summarize.chunks import WITH_OPEN_FINDINGS


@dataclass
class KnownVersion:
    """The current stored version of one path."""

    doc_id: int
    version: int
    sha256: str | None
    size_bytes: int | None
    mtime_ns: int | None
    status: str


@dataclass
class Inventory:
    """What a run has to do with each file: the plan, before any file is read."""

    new: list[SourceFile] = field(default_factory=list)
    changed: list[tuple[SourceFile, KnownVersion]] = field(default_factory=list)
    suspect: list[tuple[SourceFile, KnownVersion]] = field(default_factory=list)
    unchanged: list[tuple[SourceFile, KnownVersion]] = field(default_factory=list)
    removed: list[tuple[str, KnownVersion]] = field(default_factory=list)

    @property
    def has_file_work(self) -> bool:
        """True when any file must be read or any path marked removed."""
        return bool(self.new or self.changed or self.suspect or self.removed)


def known_versions(cur: duckdb.DuckDBPyConnection, source_root: str) -> dict[str, KnownVersion]:
    """The current top-level (non-attachment) versions under a source root, by relative path."""
    rows = cur.execute(
        """
        SELECT rel_path, doc_id, version, sha256, size_bytes, mtime_ns, status
        FROM documents
        WHERE source_root = ? AND is_current AND parent_doc_id IS NULL
        """,
        [source_root],
    ).fetchall()
    return {row[0]: KnownVersion(*row[1:]) for row in rows}


def compare_with_stored(
    files: list[SourceFile],
    known: dict[str, KnownVersion],
    include: list[str],
    exclude: list[str],
    verify_hashes: bool,
) -> Inventory:
    """Sort files into new, changed, unchanged and suspect (stat differs: hash decides)."""
    plan = Inventory()
    seen = set()
    for source_file in files:
        seen.add(source_file.rel_path)
        previous = known.get(source_file.rel_path)
        if previous is None:
            plan.new.append(source_file)
        elif previous.status == "removed":
            plan.suspect.append((source_file, previous))  # back again: retire the removed row
        elif (not verify_hashes and previous.size_bytes == source_file.size_bytes
              and previous.mtime_ns == source_file.mtime_ns):
            plan.unchanged.append((source_file, previous))
        else:
            plan.suspect.append((source_file, previous))
    for rel_path, previous in known.items():
        # Only paths this run could have seen count as removed: same root, same globs.
        if (rel_path not in seen and previous.status != "removed"
                and matches_globs(rel_path, include, exclude)):
            plan.removed.append((rel_path, previous))
    return plan


def outstanding_work(cur: duckdb.DuckDBPyConnection, summarize: bool, rules_version: str,
                     cloud: bool, max_window_failures: int = 0,
                     only_with_findings: bool = False) -> dict[str, int]:
    """Work left in the database whatever the files say.

    Unchunked documents, chunks not triaged under the current rules, unsummarized chunks,
    unlinked documents and, when the cloud can be reached, windows and batches still open.
    """
    unchunked, unchecked = cur.execute(
        f"""
        SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM chunks c
                                                  WHERE c.doc_id = d.doc_id)),
               count(*) FILTER (WHERE NOT d.similarity_checked)
        FROM documents d WHERE {readable_current("d")}
        """
    ).fetchone()
    pending = 0
    if summarize:
        pending = cur.execute(
            f"""
            SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
            WHERE d.is_current AND c.summary_status = 'pending'
              AND (NOT ? OR c.doc_id IN ({WITH_OPEN_FINDINGS}))
            """, [only_with_findings]
        ).fetchone()[0]
        pending += cur.execute(
            f"""
            SELECT count(*) FROM documents d
            WHERE {readable_current("d")}
              AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
              AND NOT EXISTS (SELECT 1 FROM document_summaries s WHERE s.doc_id = d.doc_id)
              AND (NOT ? OR d.doc_id IN ({WITH_OPEN_FINDINGS}))
            """, [only_with_findings]
        ).fetchone()[0]
    untriaged = cur.execute(
        """
        SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
        WHERE d.is_current AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.chunk_id = c.chunk_id
                                           AND t.rules_version = ?)
        """,
        [rules_version],
    ).fetchone()[0]
    open_cloud = 0
    if cloud:
        open_cloud = cur.execute(
            f"""
            SELECT (SELECT count(*) FROM escalation_windows w JOIN documents d USING (doc_id)
                    WHERE d.is_current AND w.rules_version = ?
                      AND (w.status = 'sent' OR {RESENDABLE}))
                 + (SELECT count(*) FROM batches WHERE status <> 'ended')
            """,
            [rules_version, max_window_failures, max_window_failures],
        ).fetchone()[0]
    unbriefed = count_unbriefed(cur)
    return {"unchunked": int(unchunked), "pending_summaries": int(pending),
            "unlinked": int(unchecked), "untriaged": int(untriaged),
            "open_escalations": int(open_cloud), "unbriefed": int(unbriefed)}


def plan_source(cur: duckdb.DuckDBPyConnection, settings: SourceSettings) -> Inventory:
    """List the source folder and compare it with the stored versions (no file is read)."""
    files = discover_files(Path(settings.source), settings.include, settings.exclude)
    known = known_versions(cur, settings.source)
    return compare_with_stored(files, known, settings.include, settings.exclude,
                               settings.verify_hashes)


@as_task("take-inventory", retries=True)
def take_inventory(ctx: RunContext, settings: SourceSettings) -> Inventory:
    """List the source folder and compare it with the stored versions (no file is read)."""
    with ctx.db.cursor() as cur:
        plan = plan_source(cur, settings)
    ctx.counts.files_seen = len(plan.new) + len(plan.suspect) + len(plan.unchanged)
    ctx.log.info("%d files: %d new, %d to check, %d unchanged, %d removed",
                 ctx.counts.files_seen, len(plan.new), len(plan.suspect), len(plan.unchanged),
                 len(plan.removed))
    return plan


def unchanged_files(params: PipelineParams,
                    policy_version: Callable[[duckdb.DuckDBPyConnection], str],
                    cloud: bool) -> int | None:
    """How many files a re-run would see, when they all match the database and no stored work
    is outstanding; None when there is work to do.

    Decided from stat calls and a read-only query: a re-run over an unchanged folder reads no
    file, loads no model and starts no Prefect server. `cloud`: whether windows could be sent;
    `policy_version`: the triage policy version a run would use (it may read the database's
    active scorer).
    """
    if not Path(params.db_path).exists():
        return None
    conn = database.reader(params.db_path)
    try:
        plan = plan_source(conn, params)
        if plan.has_file_work:
            return None
        outstanding = outstanding_work(conn, params.summarize != "off", policy_version(conn),
                                       cloud, params.max_window_failures,
                                       only_with_findings=params.summarize == "findings")
    finally:
        conn.close()
    return None if any(outstanding.values()) else len(plan.unchanged)
