"""The search-indexing stage: add new chunk texts and summaries to the keyword search index.

Every distinct chunk text (by chunks.chunk_hash) and every summary (by summaries.summary_key)
is tokenized once, with compliance.read.search's tokenizer, into search_items (its length) and
search_postings (its term frequencies). Keys are content hashes, so an item shared by several
documents or versions is indexed once; the query side (compliance.read.search) maps hits back
to current document versions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import duckdb

from compliance.context import RunContext
from compliance.read.search import summary_text, tokenize
from compliance.store.texts import texts_for
from tasks.stage import as_task

# Items tokenized and inserted per round trip: bounds memory on big corpora while keeping the
# per-statement overhead (the cost that dominates executemany) negligible.
BATCH_ITEMS = 500
# (chunk_hash, text_sha256, char_start, char_end) of a chunk to index.
_PendingChunk = tuple[str, str | None, int, int]


def _pending_chunks(cur: duckdb.DuckDBPyConnection) -> list[_PendingChunk]:
    """(chunk_hash, text_sha256, char_start, char_end) of the first chunk of each new hash."""
    # Chunks with one hash have the same normalized text; the first chunk's raw text stands in.
    return cur.execute(
        """
        SELECT c.chunk_hash, d.text_sha256, c.char_start, c.char_end
        FROM chunks c JOIN documents d USING (doc_id)
        WHERE NOT EXISTS (SELECT 1 FROM search_items s
                          WHERE s.item_kind = 'chunk' AND s.item_key = c.chunk_hash)
        QUALIFY row_number() OVER (PARTITION BY c.chunk_hash ORDER BY c.chunk_id) = 1
        ORDER BY d.text_sha256 NULLS LAST, c.char_start, c.chunk_hash
        """).fetchall()


def _chunk_texts(cur: duckdb.DuckDBPyConnection, chunks: list[_PendingChunk]
                 ) -> Iterator[tuple[str, str]]:
    """(chunk_hash, chunk text) of the pending chunks, their document texts read a page at a time.

    Sliced here, not with SQL substring(): DuckDB counts characters from the start of the UTF-8
    string on every call, quadratic over a long document (40x slower on the corpus). A chunk
    whose text is missing is indexed as empty, so that it is not pending forever.
    """
    by_text: dict[str | None, list[_PendingChunk]] = {}
    for chunk in chunks:
        by_text.setdefault(chunk[1], []).append(chunk)
    for sha, text in texts_for(cur, [(sha, sha) for sha in by_text]):
        for key, _sha, start, end in by_text[sha]:
            yield key, (text or "")[start:end]


def _pending_summaries(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Keys of the summaries not yet indexed."""
    return [row[0] for row in cur.execute(
        """
        SELECT m.summary_key FROM summaries m
        WHERE NOT EXISTS (SELECT 1 FROM search_items s
                          WHERE s.item_kind = 'summary' AND s.item_key = m.summary_key)
        ORDER BY 1
        """).fetchall()]


def _summary_texts(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> list[tuple[str, str]]:
    """(summary_key, indexed text) for a batch of pending summaries."""
    rows = cur.execute(
        """
        SELECT summary_key, summary, CAST(key_points AS VARCHAR) FROM summaries
        WHERE summary_key IN (SELECT unnest(?::VARCHAR[]))
        """, [keys]).fetchall()
    return [(key, summary_text(summary, points)) for key, summary, points in rows]


def _store(cur: duckdb.DuckDBPyConnection, kind: str, items: list[tuple[str, str]]) -> None:
    """Tokenize items and insert their postings and lengths, each table in one statement."""
    terms: list[str] = []
    keys: list[str] = []
    tfs: list[int] = []
    item_keys: list[str] = []
    lengths: list[int] = []
    for key, text in items:
        counts = Counter(tokenize(text))
        for term, tf in counts.items():
            terms.append(term)
            keys.append(key)
            tfs.append(tf)
        item_keys.append(key)
        lengths.append(sum(counts.values()))
    # Lists bound as parameters and unnested: ~60x faster than executemany, and no pandas or
    # pyarrow needed. Postings first: an interrupted batch leaves orphans that the next run
    # removes, never an indexed item without its postings.
    if terms:
        cur.execute(
            "INSERT INTO search_postings (term, item_kind, item_key, tf) "
            "SELECT unnest(?::VARCHAR[]), ?, unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
            [terms, kind, keys, tfs])
    cur.execute(
        "INSERT INTO search_items (item_kind, item_key, term_count) "
        "SELECT ?, unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
        [kind, item_keys, lengths])


def index_pending(cur: duckdb.DuckDBPyConnection) -> int:
    """Index every chunk text and summary not yet in search_items; return how many were added.

    Idempotent and content-addressed. Run it inside a transaction (the pipeline does).
    """
    cur.execute(
        """
        DELETE FROM search_postings p
        WHERE NOT EXISTS (SELECT 1 FROM search_items i
                          WHERE i.item_kind = p.item_kind AND i.item_key = p.item_key)
        """)
    chunks = _pending_chunks(cur)
    batch: list[tuple[str, str]] = []
    for item in _chunk_texts(cur, chunks):
        batch.append(item)
        if len(batch) == BATCH_ITEMS:
            _store(cur, "chunk", batch)
            batch = []
    if batch:
        _store(cur, "chunk", batch)
    summaries = _pending_summaries(cur)
    for start in range(0, len(summaries), BATCH_ITEMS):
        _store(cur, "summary", _summary_texts(cur, summaries[start:start + BATCH_ITEMS]))
    return len(chunks) + len(summaries)


@as_task("index-for-search")
def index_for_search(ctx: RunContext) -> int:
    """Add new chunk texts and summaries to the keyword search index."""
    with ctx.db.transaction() as cur:
        return index_pending(cur)
