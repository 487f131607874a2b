"""Integrity checks of a results database: what `compliance verify` runs, read-only.

Each check names every row that breaks it, by id (never by its text: flagged spans and paths
may hold personal data). A database written by runs that completed, or by a killed run and the
run after it, passes them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb

from compliance.store.texts import texts_for
from compliance.textnorm import normalized_text_hash


@dataclass(frozen=True)
class Mismatch:
    """One row that breaks one check."""

    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def _document_texts(conn: duckdb.DuckDBPyConnection, table: str
                    ) -> Iterator[tuple[int, str | None]]:
    """(doc_id, text or None) of each document that has rows in `table`, a page at a time."""
    documents = conn.execute(
        f"SELECT d.doc_id, d.text_sha256 FROM documents d "
        f"WHERE d.doc_id IN (SELECT doc_id FROM {table}) ORDER BY d.doc_id").fetchall()
    missing = [row[0] for row in conn.execute(
        f"SELECT DISTINCT doc_id FROM {table} "
        f"WHERE doc_id NOT IN (SELECT doc_id FROM documents) ORDER BY doc_id").fetchall()]
    yield from texts_for(conn, documents)
    for doc_id in missing:
        yield doc_id, None


def check_summaries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every chunk's hash is its text's, and a summarized chunk's summary is of that hash."""
    found = []
    for doc_id, text in _document_texts(conn, "chunks"):
        chunks = conn.execute(
            """
            SELECT c.chunk_id, c.char_start, c.char_end, c.chunk_hash, c.summary_status,
                   c.summary_key, s.kind, s.input_hash
            FROM chunks c LEFT JOIN summaries s USING (summary_key)
            WHERE c.doc_id = ? ORDER BY c.chunk_id
            """,
            [doc_id],
        ).fetchall()
        for chunk_id, start, end, chunk_hash, status, key, kind, input_hash in chunks:
            where = f"chunk {chunk_id} of document {doc_id}"
            if text is None:
                found.append(f"{where} has no stored document text")
                continue
            if not 0 <= start <= end <= len(text):
                found.append(f"{where} spans {start}..{end}, outside its text of {len(text)} "
                             "characters")
            elif normalized_text_hash(text[start:end]) != chunk_hash:
                found.append(f"{where}: its hash {chunk_hash[:12]} is not its text's")
            if status != "done":
                continue
            if key is None or kind is None:
                found.append(f"{where} is summarized, but summary {str(key)[:12]} is missing")
            elif kind != "chunk" or input_hash != chunk_hash:
                found.append(f"{where}: summary {key[:12]} is of {kind} text "
                             f"{input_hash[:12]}, not of the chunk's text {chunk_hash[:12]}")
    return found


def check_flags(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every flag lies inside its chunk and its document's text, and quotes that text."""
    found = []
    for doc_id, text in _document_texts(conn, "flags"):
        flags = conn.execute(
            """
            SELECT f.flag_id, f.chunk_id, f.char_start, f.char_end, f.matched_text,
                   c.char_start, c.char_end
            FROM flags f LEFT JOIN chunks c USING (chunk_id)
            WHERE f.doc_id = ? ORDER BY f.flag_id
            """,
            [doc_id],
        ).fetchall()
        for flag_id, chunk_id, start, end, matched, chunk_start, chunk_end in flags:
            where = f"flag {flag_id} (chunk {chunk_id}, document {doc_id})"
            if text is None or chunk_start is None:
                found.append(f"{where}: its chunk or its document's text is missing")
            elif not chunk_start <= start <= end <= chunk_end:
                found.append(f"{where} spans {start}..{end}, outside its chunk "
                             f"{chunk_start}..{chunk_end}")
            elif end > len(text):
                found.append(f"{where} spans {start}..{end}, past the end of its text "
                             f"({len(text)} characters)")
            elif text[start:end] != matched:
                found.append(f"{where}: the text at {start}..{end} is not what it matched")
    return found


def check_ledger_runs(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every ledger row belongs to a run."""
    rows = conn.execute(
        """
        SELECT c.run_id, count(*), min(c.call_id) FROM llm_calls c
        WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = c.run_id)
        GROUP BY c.run_id ORDER BY 3
        """
    ).fetchall()
    return [f"{count} ledger row(s) (first call {call_id}) belong to no run: run id {run_id}"
            for run_id, count, call_id in rows]


def check_run_totals(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """A run's stored cloud spend is its ledger rows' sum."""
    rows = conn.execute(
        """
        SELECT r.run_id, r.spend_usd, coalesce(sum(c.cost_usd), 0) AS booked
        FROM runs r LEFT JOIN llm_calls c ON c.run_id = r.run_id AND c.provider <> 'local'
        WHERE r.spend_usd IS NOT NULL
        GROUP BY r.run_id, r.spend_usd
        HAVING r.spend_usd <> booked
        ORDER BY r.run_id
        """
    ).fetchall()
    return [f"run {run_id} says it spent ${spend} but its ledger rows sum to ${booked}"
            for run_id, spend, booked in rows]


def check_windows(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """No window both answered and waiting; a chunk's escalation status agrees with its windows."""
    found = [
        f"window {window_id} (chunk {chunk_id}) is {status} but is marked answered (answer "
        f"{key[:12]})"
        for window_id, chunk_id, status, key in conn.execute(
            """
            SELECT window_id, chunk_id, status, cache_key FROM escalation_windows
            WHERE status <> 'done' AND cache_key IS NOT NULL
            ORDER BY window_id
            """
        ).fetchall()]
    found += [
        f"window {window_id} (chunk {chunk_id}) is done but no answer is stored for it"
        for window_id, chunk_id in conn.execute(
            """
            SELECT w.window_id, w.chunk_id FROM escalation_windows w
            WHERE w.status = 'done' AND NOT EXISTS (
                SELECT 1 FROM escalation_results er WHERE er.cache_key = w.cache_key)
            ORDER BY w.window_id
            """
        ).fetchall()]
    # The same rule as the escalation stage's refresh of chunk statuses.
    found += [
        f"chunk {chunk_id} is {stored} for triage policy {version[:12]} but its windows say "
        f"{expected}"
        for chunk_id, version, stored, expected in conn.execute(
            """
            SELECT t.chunk_id, t.rules_version, t.escalation_status, s.status
            FROM triage t JOIN (
                SELECT chunk_id, rules_version, CASE
                    WHEN bool_and(status = 'done') THEN 'done'
                    WHEN bool_or(status = 'deferred') THEN 'deferred'
                    WHEN bool_or(status = 'sent') THEN 'sent'
                    ELSE 'pending' END AS status
                FROM escalation_windows GROUP BY chunk_id, rules_version
            ) s USING (chunk_id, rules_version)
            WHERE t.decision = 'escalate' AND t.escalation_status <> s.status
            ORDER BY t.chunk_id
            """
        ).fetchall()]
    return found


# Rows that name the same thing twice: what a resumed run must never add.
_NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "documents": ("source_root", "rel_path", "version"),
    "chunks": ("doc_id", "seq"),
    "flags": ("chunk_id", "rules_version", "rule_id", "char_start", "char_end"),
    "escalation_windows": ("chunk_id", "rules_version", "purpose", "char_start", "char_end"),
    "document_summaries": ("doc_id",),
    "triage_units": ("chunk_id", "triage_version", "char_start", "char_end"),
}


def check_duplicates(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """No document version, chunk, flag, window or unit score is stored twice."""
    found = []
    for table, key in _NATURAL_KEYS.items():
        columns = ", ".join(key)
        for row in conn.execute(
                f"SELECT {columns}, count(*) FROM {table} GROUP BY ALL HAVING count(*) > 1 "
                f"ORDER BY ALL LIMIT 100").fetchall():
            named = ", ".join(f"{column} {str(value)[:16]}"
                              for column, value in zip(key, row, strict=False)
                              if column not in ("source_root", "rel_path"))
            found.append(f"{table}: {row[-1]} rows for {named}")
    return found


def check_unfinished_runs(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """No run is still marked running: the database opened read-only, so none is writing it."""
    return [f"run {run_id} is marked running since {started:%Y-%m-%d %H:%M:%S} but holds no "
            "lock: it died (the next run marks it interrupted)"
            for run_id, started in conn.execute(
                "SELECT run_id, started_at FROM runs WHERE status = 'running' "
                "ORDER BY started_at").fetchall()]


CHECKS: dict[str, Callable[[duckdb.DuckDBPyConnection], list[str]]] = {
    "summaries": check_summaries,
    "flags": check_flags,
    "ledger": check_ledger_runs,
    "run_totals": check_run_totals,
    "windows": check_windows,
    "duplicates": check_duplicates,
    "runs": check_unfinished_runs,
}


def verify(conn: duckdb.DuckDBPyConnection) -> list[Mismatch]:
    """Run every check; return every mismatch found (none: the database is consistent)."""
    return [Mismatch(name, detail) for name, check in CHECKS.items() for detail in check(conn)]
