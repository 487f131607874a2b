"""Reading many stored document texts: in pages by row position, never one lookup per text.

Measured on the 1,000-file scale share (bench/bench_scale_share.py), DuckDB 2.0: a lookup of one
text by its key costs ~11 ms (the index finds the row, but the whole compressed vector of up to
2,048 texts around it is decoded to return it), and a stage that fetched its texts one by one
grew with the database (index-for-search and link-near-duplicates went from 1.3 ms to 31 ms a
document by row 933). Reading the wanted rows by their row ids, a page at a time, decodes each
vector once per page: the 943 texts of that share come back in 0.05 s instead of 10 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import duckdb

K = TypeVar("K")

# Text characters held per page: bounds the memory a reader holds, whatever the run's size.
PAGE_CHARS = 16_000_000
PAGE_ROWS = 512


def _pages(layout: list[tuple[int, str, int]], page_chars: int, page_rows: int
           ) -> Iterator[list[int]]:
    """Row ids in pages of at most page_chars characters (a longer text is a page of its own)."""
    page: list[int] = []
    chars = 0
    for rowid, _sha, char_count in layout:
        if page and (chars + char_count > page_chars or len(page) >= page_rows):
            yield page
            page, chars = [], 0
        page.append(rowid)
        chars += char_count
    if page:
        yield page


def stream_texts(conn: duckdb.DuckDBPyConnection, shas: Iterable[str],
                 page_chars: int = PAGE_CHARS, page_rows: int = PAGE_ROWS
                 ) -> Iterator[tuple[str, str]]:
    """(text_sha256, text) of each stored text among `shas`, in the table's row order.

    Reads on its own connection in one read transaction, so the row ids stay those of one
    snapshot while the caller writes on `conn`; the texts must be committed. A sha with no
    stored text is left out.
    """
    wanted = sorted(set(shas))
    if not wanted:
        return
    reader = conn.cursor()
    try:
        reader.execute("BEGIN TRANSACTION")
        layout = reader.execute(
            "SELECT rowid, text_sha256, char_count FROM texts "
            "WHERE text_sha256 IN (SELECT unnest(?::VARCHAR[])) ORDER BY rowid",
            [wanted]).fetchall()
        for page in _pages(layout, page_chars, page_rows):
            rows = reader.execute(
                "SELECT text_sha256, text FROM texts WHERE rowid IN (SELECT unnest(?::BIGINT[])) "
                "ORDER BY rowid", [page]).fetchall()
            yield from rows
        reader.execute("COMMIT")
    finally:
        reader.close()


def texts_for(conn: duckdb.DuckDBPyConnection, items: Iterable[tuple[K, str | None]]
              ) -> Iterator[tuple[K, str | None]]:
    """(item, its text) for (item, text_sha256) pairs, read with stream_texts.

    Items sharing a text come together; the order is the texts' row order, then the items'.
    An item whose text is not stored (or has no sha) comes last, with None.
    """
    by_text: dict[str | None, list[K]] = {}
    for item, sha in items:
        by_text.setdefault(sha, []).append(item)
    for sha, text in stream_texts(conn, [sha for sha in by_text if sha is not None]):
        for item in by_text.pop(sha):
            yield item, text
    for unread in by_text.values():
        for item in unread:
            yield item, None
