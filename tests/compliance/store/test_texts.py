"""Stored texts read a page at a time: every wanted text once, in row order, pages bounded, the
reads consistent while the same process writes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from compliance.store import texts as stored_texts
from compliance.store.db import Database


def _sha(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    """A real results database holding 40 texts of growing length."""
    database = Database(tmp_path / "texts.duckdb")
    with database.transaction() as cur:
        for i in range(40):
            text = f"text {i} " * (i + 1)
            cur.execute("INSERT INTO texts VALUES (?, ?, ?)", [_sha(i), text, len(text)])
    yield database
    database.close()


def test_every_wanted_text_comes_once_in_row_order(db: Database) -> None:
    wanted = [_sha(i) for i in (31, 2, 17, 2, 5)]
    with db.cursor() as cur:
        got = list(stored_texts.stream_texts(cur, wanted, page_chars=100, page_rows=2))
    assert [sha for sha, _ in got] == [_sha(2), _sha(5), _sha(17), _sha(31)]
    assert all(text == f"text {int(sha, 16)} " * (int(sha, 16) + 1) for sha, text in got)


def test_pages_hold_at_most_their_budget_and_a_long_text_alone() -> None:
    layout = [(0, "a", 10), (1, "b", 10), (2, "c", 500), (3, "d", 10), (4, "e", 10),
              (5, "f", 10)]
    pages = list(stored_texts._pages(layout, page_chars=25, page_rows=2))
    assert pages == [[0, 1], [2], [3, 4], [5]]


def test_items_share_their_text_and_missing_ones_come_last_as_none(db: Database) -> None:
    items = [("doc-a", _sha(3)), ("doc-b", None), ("doc-c", _sha(3)), ("doc-d", _sha(99)),
             ("doc-e", _sha(1))]
    with db.cursor() as cur:
        got = list(stored_texts.texts_for(cur, items))
    assert got[:3] == [("doc-e", "text 1 " * 2), ("doc-a", "text 3 " * 4),
                       ("doc-c", "text 3 " * 4)]
    assert sorted(got[3:], key=str) == [("doc-b", None), ("doc-d", None)]


def test_the_writer_can_write_between_pages(db: Database) -> None:
    """The flag stage stores each document while the next texts are still being read."""
    seen = []
    with db.cursor() as cur:
        for sha, _text in stored_texts.stream_texts(cur, [_sha(i) for i in range(40)],
                                                   page_chars=50, page_rows=3):
            seen.append(sha)
            with db.transaction() as writer:
                writer.execute("INSERT INTO texts VALUES (?, 'x', 1)", ["new-" + sha])
    assert seen == [_sha(i) for i in range(40)]
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM texts").fetchone()[0] == 80


def test_a_read_only_connection_reads_them_too(db: Database, tmp_path: Path) -> None:
    """`compliance verify` opens the file read-only."""
    db.close()
    conn = duckdb.connect(str(tmp_path / "texts.duckdb"), read_only=True)
    try:
        assert len(list(stored_texts.stream_texts(conn, [_sha(0), _sha(39)]))) == 2
    finally:
        conn.close()
