"""Hostile and odd files, generated at test time: each ends as a status with a reason a user
understands, within the limits of IngestSettings, and the rest of the files go on.

Extraction is tested in this process (extract_file, as a parser worker calls it); what needs
the ingest stage (attachments, files that change or vanish, memory limits) runs ingest_files
on a real DuckDB file with real parser workers.
"""

from __future__ import annotations

import io
import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import hostile_files as hf
import pytest
from helpers import query

from compliance.extract.dispatch import extract_bytes, extract_file
from compliance.extract.isolation import run_isolated
from compliance.extract.model import ExtractLimits
from compliance.settings import IngestSettings
from compliance.store.db import Database
from compliance.vocab import DocumentStatus
from tasks.discover import discover_files
from tasks.ingest import IngestResult, ingest_files

RUN_ID = "test-hostile"


def _extract(path: Path, **settings: object):
    limits = ExtractLimits.from_settings(IngestSettings(**settings))
    return extract_file((str(path), path.name, 1_000_000, limits))


def _ingest(root: Path, db_path: Path, progress=lambda message: None,
            **settings: object) -> IngestResult:
    db = Database(db_path)
    try:
        files = discover_files(root, ["*"], [])
        return ingest_files(db, RUN_ID, root.resolve(), files, [],
                            IngestSettings(parse_workers=1, **settings), progress=progress)
    finally:
        db.close()


def _rows(db_path: Path) -> dict[str, tuple]:
    """rel_path -> (status, error, sha256, mtime_ns, parent_doc_id) of the current rows."""
    return {row[0]: row[1:] for row in query(db_path, """
        SELECT rel_path, status, error, sha256, mtime_ns, parent_doc_id FROM documents
        WHERE is_current""")}


# --- zip bombs ---------------------------------------------------------------------------


def _peak_bytes_while(function, *args):
    tracemalloc.start()
    try:
        value = function(*args)
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_docx_is_too_large_and_never_unpacked(tmp_path):
    bomb = hf.zip_bomb_docx(tmp_path, unpacked_mb=200)
    data = bomb.read_bytes()
    assert len(data) < 1_000_000
    assert zipfile.ZipFile(bomb).getinfo("word/document.xml").file_size == 200 << 20
    extraction, peak = _peak_bytes_while(extract_bytes, data, bomb.name)
    assert (extraction.format, extraction.status) == ("docx", DocumentStatus.TOO_LARGE)
    assert extraction.error.startswith("zip bomb: 'word/document.xml' declares 209.7 MB "
                                       "uncompressed from ")
    assert "ratio 1,0" in extraction.error and "max_zip_ratio 200" in extraction.error
    assert "KeyError" not in extraction.error
    # Judged from the zip directory alone: 200 MB were never inflated.
    assert peak < 5_000_000, peak


def test_zip_that_declares_4_gb_is_too_large_from_its_directory_alone(tmp_path):
    liar = hf.lying_zip_docx(tmp_path)
    assert liar.stat().st_size < 10_000
    extraction, peak = _peak_bytes_while(extract_bytes, liar.read_bytes(), liar.name)
    assert extraction.status == DocumentStatus.TOO_LARGE
    assert "declares 4.2 GB uncompressed from" in extraction.error
    assert peak < 5_000_000, peak


def test_zip_limits_are_the_settings(tmp_path):
    bomb = hf.zip_bomb_docx(tmp_path, unpacked_mb=30)
    # A ratio limit above deflate's best (about 1,030:1): the total size limit catches it.
    extraction = _extract(bomb, max_zip_ratio=5000, max_unpacked_mb=20)
    assert extraction.status == DocumentStatus.TOO_LARGE
    assert "over the max_unpacked_mb limit of 20.0 MB" in extraction.error
    assert not extraction.error.startswith("zip bomb")


def test_a_docx_missing_a_part_says_so_in_words():
    # The package names no main document part: python-docx raises a bare KeyError.
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w") as package:
        package.writestr("[Content_Types].xml", "<Types xmlns='http://schemas.openxmlformats."
                         "org/package/2006/content-types'/>")
        package.writestr("word/document.xml", "<w:document/>")
    extraction = extract_bytes(target.getvalue(), "contract.docx")
    assert extraction.status == DocumentStatus.CORRUPT
    assert extraction.error.startswith("not a valid Word document: a part it refers to is "
                                       "missing (no relationship of type")


# --- PDFs: many pages, deep nesting -----------------------------------------------------------


def test_pdf_pages_past_max_pages_are_skipped_and_said(tmp_path):
    pdf = hf.many_pages_pdf(tmp_path, pages=3000)
    extraction = _extract(pdf, max_pages=100)
    assert extraction.status == DocumentStatus.PARTIAL
    assert extraction.page_count == 3000
    assert [page for page, _, _ in extraction.pages] == list(range(1, 101))
    assert "Page 100 of the long report." in extraction.text
    assert "Page 101 of" not in extraction.text
    assert extraction.error == "only the first 100 of 3,000 pages were read (max_pages 100)"


def test_deeply_nested_pdf_arrays_are_corrupt_with_a_reason(tmp_path):
    extraction = _extract(hf.nested_pdf(tmp_path, depth=20_000, kind="array"))
    assert extraction.status == DocumentStatus.CORRUPT
    assert extraction.error == ("unreadable PDF: its structure is nested too deeply to read "
                                "(RecursionError)")


def test_deeply_nested_pdf_dictionaries_are_read(tmp_path):
    extraction = _extract(hf.nested_pdf(tmp_path, depth=20_000, kind="dict"))
    assert extraction.status == DocumentStatus.OK
    assert "Nested but readable?" in extraction.text


# --- files that are not what they say, or nothing ----------------------------------------


@pytest.mark.parametrize("name", ["random.docx", "random.pdf"])
def test_random_bytes_under_a_document_name_are_unsupported(tmp_path, name):
    extraction = _extract(hf.random_bytes(tmp_path, name))
    assert extraction.status == DocumentStatus.UNSUPPORTED
    suffix = Path(name).suffix
    assert extraction.error == f"the bytes match no supported format (the name says {suffix})"


def test_zero_byte_file_is_empty(tmp_path):
    extraction = _extract(hf.zero_byte(tmp_path))
    assert (extraction.status, extraction.error) == (DocumentStatus.EMPTY, "file has no content")
    assert extraction.source_sha256 == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_html_scripts_are_not_text(tmp_path):
    page = hf.script_html(tmp_path, scripts=400)
    assert page.read_text().count(hf.SCRIPT_WORDS) == 400
    extraction = _extract(page)
    assert extraction.status == DocumentStatus.OK
    assert "gifts above 50 EUR must be declared" in extraction.text
    assert hf.SCRIPT_WORDS not in extraction.text
    assert "document.title" not in extraction.text


def test_text_past_max_text_mb_is_cut_and_said(tmp_path):
    page = tmp_path / "long.html"
    paragraphs = "".join(f"<p>Paragraph {i} of the long page says the same thing again.</p>"
                         for i in range(200))
    page.write_text(f"<html><body>{paragraphs}</body></html>")
    extraction = _extract(page, max_text_mb=0.002)
    assert extraction.status == DocumentStatus.PARTIAL
    assert len(extraction.text) <= 2000
    assert extraction.text.startswith("Paragraph 0 of the long page")
    assert "text cut at 2,000 characters (max_text_mb)" in extraction.error


# --- encodings -----------------------------------------------------------------------------


def test_utf16_text_with_a_byte_order_mark_is_decoded(tmp_path):
    extraction = _extract(hf.utf16_text(tmp_path))
    assert extraction.status == DocumentStatus.OK
    assert extraction.text.count(hf.UTF16_TEXT.strip()) == 4
    assert "\x00" not in extraction.text and "\ufffd" not in extraction.text


def test_cp1252_french_letter_is_decoded(tmp_path):
    extraction = _extract(hf.cp1252_text(tmp_path, text=hf.CP1252_MEMO_FR))
    assert extraction.status == DocumentStatus.OK
    assert "renouvel\u00e9 automatiquement \u00e0 l\u2019\u00e9ch\u00e9ance" in extraction.text
    assert "1\u00a0500\u00a0\u20ac par jour" in extraction.text


def test_cp1252_english_memo_with_curly_quotes_is_decoded(tmp_path):
    extraction = _extract(hf.cp1252_text(tmp_path, text=hf.CP1252_MEMO_EN))
    assert extraction.status == DocumentStatus.OK
    assert "the na\u00efve d\u00e9j\u00e0-vu clause" in extraction.text


# --- the parser worker's memory limit --------------------------------------------------------


def test_a_worker_over_its_memory_limit_is_reported_and_replaced():
    items = [("hog", 2048), ("small", 16), ("hog again", 2048), ("last", 8)]
    outcomes = {o.key: o for o in run_isolated(hf.allocate_mb, items, workers=1,
                                               timeout_seconds=120, memory_mb=512)}
    for key in ("hog", "hog again"):
        assert outcomes[key].memory_exceeded and outcomes[key].value is None
        assert outcomes[key].error == "parsing needed more than the 512 MB memory limit"
    # The next items ran in a fresh worker under the same limit.
    assert (outcomes["small"].value, outcomes["last"].value) == (16, 8)
    assert not outcomes["small"].memory_exceeded


@pytest.mark.slow
def test_a_file_over_parse_memory_mb_is_too_large_and_the_run_goes_on(tmp_path, samples_dir):
    root = tmp_path / "src"
    root.mkdir()
    # A 600 MB bomb with the bomb checks lifted: the parser inflates it, past a 1,024 MB cap.
    hf.zip_bomb_docx(root, "inflates.docx", unpacked_mb=600)
    shutil.copy(samples_dir / "policies" / "data-retention-policy.docx", root / "policy.docx")
    db_path = tmp_path / "hostile.duckdb"
    result = _ingest(root, db_path, parse_memory_mb=1024, max_zip_ratio=1e9,
                     max_unpacked_mb=1e6)
    rows = _rows(db_path)
    status, error = rows["inflates.docx"][:2]
    assert status == DocumentStatus.TOO_LARGE
    assert error == ("parsing needed more than the 1,024 MB memory limit (parse_memory_mb); "
                     "the file was skipped")
    assert rows["policy.docx"][0] == DocumentStatus.OK  # the same cap, a normal document
    assert (result.new, result.failed) == (2, 1)


# --- attachments: depth and count -------------------------------------------------------------


@pytest.mark.slow  # parser workers per attachment generation: ~15-40 s
def test_nested_attachments_are_read_down_to_max_attachment_depth(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    hf.nested_email(root)
    deep = _rows_after(_ingest, root, tmp_path / "deep.duckdb")
    chain = ["nested.eml", "nested.eml#bundle.zip", "nested.eml#bundle.zip#inner.eml",
             "nested.eml#bundle.zip#inner.eml#attachment-1"]
    assert sorted(deep) == chain
    assert all(deep[path][0] == DocumentStatus.OK for path in chain), deep
    innermost = query(tmp_path / "deep.duckdb", """
        SELECT t.text FROM documents d JOIN texts t USING (text_sha256) WHERE d.rel_path = ?
        """, [chain[-1]])[0][0]
    assert hf.INNERMOST_WORDS in innermost
    shallow = _rows_after(_ingest, root, tmp_path / "shallow.duckdb", max_attachment_depth=2)
    assert sorted(shallow) == chain[:3]
    status, error = shallow[chain[2]][:2]
    assert status == DocumentStatus.PARTIAL
    assert error == "1 attachments not read: nested deeper than max_attachment_depth (2)"


def _rows_after(ingest, root: Path, db_path: Path, **settings: object) -> dict[str, tuple]:
    ingest(root, db_path, **settings)
    return _rows(db_path)


@pytest.mark.slow  # parser workers per attachment generation: ~15-40 s
def test_attachments_past_max_attachments_are_skipped_and_said(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    hf.wide_email(root, attachments=30)
    rows = _rows_after(_ingest, root, tmp_path / "wide.duckdb", max_attachments=5)
    children = sorted(path for path in rows if "#" in path)
    assert children == [f"wide.eml#note-{i:02d}.txt" for i in range(1, 6)]
    status, error = rows["wide.eml"][:2]
    assert status == DocumentStatus.PARTIAL
    assert error == "25 of 30 attachments not read (max_attachments 5)"


def test_zip_members_past_max_attachments_are_skipped_and_said(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        for i in range(12):
            writer.writestr(f"notes/{i:02d}.txt", f"note {i}")
    extraction = _extract(archive, max_attachments=4)
    assert extraction.status == DocumentStatus.PARTIAL
    assert [a.name for a in extraction.attachments] == [f"notes/{i:02d}.txt" for i in range(4)]
    assert extraction.error == "8 of 12 files not read (max_attachments 4)"
    assert "notes/11.txt" in extraction.text  # the listing names every file


# --- files that vanish, change or cannot be read -------------------------------------------


@pytest.mark.slow  # parser workers per attachment generation: ~15-40 s
def test_files_that_vanish_or_change_while_ingested_say_so(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (root / name).write_text(f"File {name}: the retention period is seven years.\n")
    db_path = tmp_path / "moving.duckdb"

    def meddle(message: str) -> None:
        # One parser worker takes the files in order, and is given the next before an outcome
        # is stored: while a.txt is stored, the worker has b.txt; c.txt and d.txt were hashed
        # but not yet sent to it.
        if message.endswith(" a.txt"):
            (root / "c.txt").unlink()
            with (root / "d.txt").open("a") as handle:
                handle.write("A line added while the run was reading the folder.\n")

    result = _ingest(root, db_path, progress=meddle)
    rows = _rows(db_path)
    assert rows["a.txt"][0] == rows["b.txt"][0] == DocumentStatus.OK
    status, error, sha, _, _ = rows["c.txt"]
    assert status == DocumentStatus.REMOVED
    assert error == ("file vanished while it was being read (deleted or moved after it was "
                     "listed)")
    status, error, sha, mtime_ns, _ = rows["d.txt"]
    assert status == DocumentStatus.PARTIAL
    assert error.startswith("file changed while being read (sha256 ")
    assert error.endswith("); the next run reads it again")
    assert (sha, mtime_ns) == (None, None)
    assert result.vanished == 1

    # The next run reads d.txt again, whole, and stores its sha256.
    from tasks.inventory import compare_with_stored, known_versions

    db = Database(db_path)
    try:
        with db.cursor() as cur:
            known = known_versions(cur, str(root.resolve()))
        plan = compare_with_stored(discover_files(root, ["*"], []), known, ["*"], [], False)
        assert [f.rel_path for f, _ in plan.suspect] == ["d.txt"]
        ingest_files(db, "next-run", root.resolve(), plan.new, plan.suspect,
                     IngestSettings(parse_workers=1))
    finally:
        db.close()
    status, error, sha, _, _ = _rows(db_path)["d.txt"]
    assert (status, error) == (DocumentStatus.OK, None)
    assert sha is not None


def test_a_file_gone_before_it_is_hashed_is_removed(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "gone.txt").write_text("Here when listed.\n")
    (root / "stays.txt").write_text("Here throughout.\n")
    db = Database(tmp_path / "gone.duckdb")
    try:
        files = discover_files(root, ["*"], [])
        (root / "gone.txt").unlink()
        result = ingest_files(db, RUN_ID, root.resolve(), files, [], IngestSettings())
    finally:
        db.close()
    rows = _rows(tmp_path / "gone.duckdb")
    assert rows["gone.txt"][:2] == (DocumentStatus.REMOVED, "file vanished while it was being "
                                    "read (deleted or moved after it was listed)")
    assert rows["stays.txt"][0] == DocumentStatus.OK
    assert (result.vanished, result.new, result.failed) == (1, 1, 0)


def test_unreadable_files_are_rows_with_the_reason(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    hf.unreadable(root)
    # /proc/self/mem fails to read at offset 0 with EIO, even for root.
    os.symlink("/proc/self/mem", root / "io-error.txt")
    (root / "fine.txt").write_text("A readable file.\n")
    result = _ingest(root, tmp_path / "unreadable.duckdb")
    rows = _rows(tmp_path / "unreadable.duckdb")
    assert rows["io-error.txt"][:2] == (DocumentStatus.CORRUPT,
                                        "cannot read the file: Input/output error")
    assert rows["fine.txt"][0] == DocumentStatus.OK
    if os.geteuid() != 0:  # root reads a file whatever its mode
        assert rows["no-permission.txt"][:2] == (
            DocumentStatus.CORRUPT, "cannot read the file: permission denied (fix its "
            "permissions, then run with --verify-hashes)")
        assert result.failed == 2
    else:
        assert rows["no-permission.txt"][0] == DocumentStatus.OK


def test_odd_file_names_and_a_symlink_loop(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    hf.odd_names(root)
    hf.symlink_loop(root)
    logged: list[str] = []
    _ingest(root, tmp_path / "names.duckdb", progress=logged.append)
    rows = _rows(tmp_path / "names.duckdb")
    expected = {*hf.ODD_NAMES, "not-utf8-\\xff\\xfe.txt", "looped/inside.txt"}
    assert set(rows) == expected
    assert all(row[0] == DocumentStatus.OK for row in rows.values()), rows
    # A newline in a name is stored as is but logged escaped: one file, one log line.
    assert any(line.endswith("line\\x0abreak.txt") for line in logged)
    assert not any("\n" in line for line in logged)
