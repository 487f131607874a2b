"""`compliance eval summaries`: how stored summaries hold up against their own inputs.

For each results database: the share of stored summaries (chunk and document) that fall back
to extractive text, that copy their input, and that state a fact their input does not hold.
- input: a chunk summary's input is its chunk's text; a document summary's is the document's
  whole text (a reviewer reads it against the document, not against the chunk summaries it was
  reduced from).
- fallback: method extractive_fallback (the model failed, was over budget or was rejected);
  extractive_short (input too short for a model call) is counted apart.
- copy: over 60% of the summary's 6-word sequences appear in its input (the judge's own test,
  tasks.summarize.judge.copies_input; extractive summaries are copies by construction, so the
  share is also given for model summaries alone).
- invented: at least one number, month or name of the summary is not in its input
  (compliance.briefs.facts).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from compliance.briefs.facts import invented_facts
from compliance.store import db as database
from compliance.store.texts import texts_for
from compliance.textnorm import words
from tasks.summarize.judge import copies_input


def _pairs(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, int, int]]:
    """(kind, method, summary, text_sha256, start, end) of the current documents' summaries."""
    return conn.execute(
        """
        SELECT 'chunk', s.method, s.summary, d.text_sha256, c.char_start, c.char_end
        FROM chunks c JOIN documents d USING (doc_id) JOIN summaries s USING (summary_key)
        WHERE d.is_current
        QUALIFY row_number() OVER (PARTITION BY s.summary_key ORDER BY c.chunk_id) = 1
        UNION ALL
        SELECT 'document', s.method, s.summary, d.text_sha256, 0, -1
        FROM document_summaries ds JOIN documents d USING (doc_id)
        JOIN summaries s ON s.summary_key = ds.summary_key
        WHERE d.is_current
        """).fetchall()


def summary_shares(db_path: Path) -> dict[str, Any]:
    """The shares for one results database, per kind and overall."""
    conn = database.reader(db_path)
    try:
        pairs = _pairs(conn)
        by_text: dict[str, list[tuple[str, str, str, int, int]]] = {}
        for kind, method, summary, sha, start, end in pairs:
            by_text.setdefault(sha, []).append((kind, method, summary, start, end))
        counts: dict[str, Counter[str]] = {"chunk": Counter(), "document": Counter()}
        examples: list[dict[str, Any]] = []
        for sha, text in texts_for(conn, [(sha, sha) for sha in by_text]):
            for kind, method, summary, start, end in by_text[sha]:
                source = (text or "")[start:] if end < 0 else (text or "")[start:end]
                count = counts[kind]
                count["summaries"] += 1
                count[method] += 1
                model = method == "llm"
                count["model"] += int(model)
                if copies_input(words(summary), words(source)):
                    count["copies"] += 1
                    count["model_copies"] += int(model)
                invented = invented_facts(summary, source)
                if invented:
                    count["invented"] += 1
                    if len(examples) < 5:
                        examples.append({"kind": kind, "method": method, "facts": invented[:5],
                                         "summary": summary[:200]})
    finally:
        conn.close()
    total: Counter[str] = counts["chunk"] + counts["document"]
    return {"chunk": _shares(counts["chunk"]), "document": _shares(counts["document"]),
            "all": _shares(total), "invented_examples": examples}


def shares_by_database(databases: list[Path]) -> dict[str, dict[str, Any]]:
    """summary_shares for each results database, keyed by its path as given."""
    return {str(path): summary_shares(path) for path in databases}


def _shares(count: Counter[str]) -> dict[str, Any]:
    n = count["summaries"]

    def share(key: str, of: int) -> float | None:
        return round(count[key] / of, 4) if of else None

    return {"summaries": n, "model_summaries": count["model"],
            "fallback": share("extractive_fallback", n), "short": share("extractive_short", n),
            "copies": share("copies", n), "model_copies": share("model_copies", count["model"]),
            "invented": share("invented", n)}


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per database: summaries, fallback, copy and invented-fact shares."""
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.1%}"

    lines = ["| set | summaries | model | fallback | short input | copies input | "
             "model copies | invented facts |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for name, result in results.items():
        row = result["all"]
        lines.append(f"| {name} | {row['summaries']} | {row['model_summaries']} | "
                     f"{pct(row['fallback'])} | {pct(row['short'])} | {pct(row['copies'])} | "
                     f"{pct(row['model_copies'])} | {pct(row['invented'])} |")
    return "\n".join(lines)
