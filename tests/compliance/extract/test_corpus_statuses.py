"""The flow over the shared corpus (summaries off): every file gets the status
formats/EXPECTED_STATUS.tsv accepts, and the dedupe links the corpus was built to show.

The two largest files (an 872-page handbook and War and Peace, about 5,700 of the corpus's 8,100
chunks) are left out of the flow by default: the rule-pack triage runs spaCy over every chunk,
which costs minutes for them alone. Their status is checked through the same extraction entry
point the flow's parser workers call. Set COMPLIANCE_TEST_FULL_CORPUS=1 to run them through the
flow as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import query, run_pipeline

from compliance.extract.dispatch import extract_file
from compliance.settings import DEFAULT_EXCLUDE

HEAVY = ["docx/uns__handbook-872p.docx", "txt/uns__war-and-peace-full.txt"]
FULL_CORPUS = os.environ.get("COMPLIANCE_TEST_FULL_CORPUS") == "1"


def _expected(formats: Path) -> list[tuple[str, set[str]]]:
    rows = []
    for line in (formats / "EXPECTED_STATUS.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rel_path, accepted = line.split("\t")
        rows.append((rel_path, set(accepted.split("|"))))
    return rows


@pytest.fixture(scope="module")
def corpus_run(prefect_harness, corpus_dir, tmp_path_factory):
    formats = corpus_dir / "formats"
    db_path = tmp_path_factory.mktemp("corpus") / "corpus.duckdb"
    exclude = list(DEFAULT_EXCLUDE) + ([] if FULL_CORPUS else HEAVY)
    result = run_pipeline(formats, db_path, summarize="off", parse_workers=2, exclude=exclude)
    print(f"\nrun {result['run_id']}: status counts (all documents, attachments included):")
    for status, count in query(db_path, "SELECT status, count(*) FROM documents GROUP BY 1 "
                                        "ORDER BY 2 DESC"):
        print(f"  {status:<12} {count}")
    return formats, db_path, result


def _doc(db_path, formats, rel_path) -> tuple:
    rows = query(db_path, """
        SELECT doc_id, status, duplicate_of, same_text_as, error FROM documents
        WHERE source_root = ? AND rel_path = ? AND is_current AND parent_doc_id IS NULL
        """, [str(formats), rel_path])
    assert len(rows) == 1, (rel_path, rows)
    return rows[0]


def test_every_file_has_an_accepted_status(corpus_run):
    formats, db_path, _ = corpus_run
    current = {row[0]: row[1:] for row in query(db_path, """
        SELECT rel_path, status, duplicate_of, error FROM documents
        WHERE source_root = ? AND is_current AND parent_doc_id IS NULL
        """, [str(formats)])}
    expected = _expected(formats)
    assert len(expected) > 50
    wrong = []
    for rel_path, accepted in expected:
        if rel_path in HEAVY and not FULL_CORPUS:
            continue
        if rel_path not in current:
            wrong.append((rel_path, "missing", accepted))
            continue
        status, duplicate_of, error = current[rel_path]
        if status in accepted or (status == "duplicate" and duplicate_of is not None):
            continue
        wrong.append((rel_path, status, accepted, error))
    assert wrong == []


@pytest.mark.slow
@pytest.mark.skipif(FULL_CORPUS, reason="the heavy files went through the flow")
@pytest.mark.parametrize("rel_path", HEAVY)
def test_heavy_files_extract_with_an_accepted_status(corpus_dir, rel_path):
    formats = corpus_dir / "formats"
    accepted = dict(_expected(formats))[rel_path]
    extraction = extract_file((str(formats / rel_path), rel_path, 1_000_000))
    assert extraction.status in accepted, extraction.error
    assert extraction.text.strip()


def test_failed_documents_say_why(corpus_run):
    formats, db_path, _ = corpus_run
    rows = query(db_path, """
        SELECT rel_path, status, error FROM documents
        WHERE source_root = ? AND is_current
          AND status IN ('corrupt', 'encrypted', 'unsupported', 'needs_ocr', 'empty', 'timeout')
        """, [str(formats)])
    assert rows
    assert [r for r in rows if not (r[2] or "").strip()] == []


def test_memo_with_a_duplicate_page_is_linked_to_the_memo(corpus_run):
    formats, db_path, _ = corpus_run
    memo_id, _, _, memo_same, _ = _doc(db_path, formats, "pdf/uns__fake-memo.pdf")
    dup_id, _, _, dup_same, _ = _doc(db_path, formats, "pdf/uns__fake-memo-with-duplicate-page.pdf")
    near = query(db_path, """
        SELECT similarity FROM near_duplicates
        WHERE (doc_id = ? AND similar_to_doc_id = ?) OR (doc_id = ? AND similar_to_doc_id = ?)
        """, [memo_id, dup_id, dup_id, memo_id])
    assert near or memo_same == dup_id or dup_same == memo_id


def test_pdf_and_markdown_letter_are_near_duplicates(corpus_run):
    formats, db_path, _ = corpus_run
    pdf_id = _doc(db_path, formats, "pdf/fda-crl__209128-DSUVIA.pdf")[0]
    md_id = _doc(db_path, formats, "md/fda-crl__209128-DSUVIA.md")[0]
    near = query(db_path, """
        SELECT similarity, method FROM near_duplicates
        WHERE (doc_id = ? AND similar_to_doc_id = ?) OR (doc_id = ? AND similar_to_doc_id = ?)
        """, [pdf_id, md_id, md_id, pdf_id])
    assert len(near) == 1
    assert near[0][0] >= 0.33 and near[0][1] == "minhash"


def test_repeated_paragraphs_within_one_document(corpus_run):
    formats, db_path, _ = corpus_run
    # uns__duplicate-paragraphs.docx repeats "some text" six times: two words, under
    # tasks.chunk.BOILERPLATE_MIN_WORDS, so by design they are not boilerplate chunks, and the
    # whole 99-character document is one chunk. The repeats are linked at the paragraph level:
    # every later copy records the first one's position (segments.duplicate_of_seq).
    doc_id, status, _, _, _ = _doc(db_path, formats, "docx/uns__duplicate-paragraphs.docx")
    assert status == "ok"
    repeats = query(db_path, """
        SELECT count(*) FROM segments s JOIN documents d USING (doc_id) JOIN texts t
            USING (text_sha256)
        WHERE s.doc_id = ? AND substring(t.text, s.char_start + 1,
                                         s.char_end - s.char_start) = 'some text'
        """, [doc_id])
    assert repeats == [(6,)]
    links = query(db_path, """
        SELECT s.seq, s.duplicate_of_seq FROM segments s JOIN texts t ON t.text_sha256 = (
            SELECT text_sha256 FROM documents WHERE doc_id = s.doc_id)
        WHERE s.doc_id = ? AND substring(t.text, s.char_start + 1,
                                         s.char_end - s.char_start) = 'some text'
        ORDER BY s.seq
        """, [doc_id])
    first = links[0][0]
    assert links[0][1] is None
    assert [dup for _, dup in links[1:]] == [first] * 5
    # A long paragraph repeated inside one document is boilerplate: each copy is a chunk of its
    # own and the later copy points to the first (which may sit in uns__fake-memo.pdf, when that
    # file was stored first: the parser workers finish in either order).
    memo_id = _doc(db_path, formats, "pdf/uns__fake-memo-with-duplicate-page.pdf")[0]
    repeated = query(db_path, """
        SELECT c.chunk_hash, count(*), count(c.duplicate_of_chunk),
               bool_and(c.is_boilerplate), bool_and(first.chunk_hash = c.chunk_hash)
        FROM chunks c LEFT JOIN chunks first ON first.chunk_id = c.duplicate_of_chunk
        WHERE c.doc_id = ? GROUP BY c.chunk_hash HAVING count(*) >= 2
        """, [memo_id])
    assert repeated
    for _, copies, linked, all_boilerplate, same_hash in repeated:
        assert all_boilerplate
        assert linked >= copies - 1 >= 1
        assert same_hash


def test_email_attachment_is_a_child_document(corpus_run):
    formats, db_path, _ = corpus_run
    parent_id = _doc(db_path, formats, "eml/uns__email-with-txt-attachment.eml")[0]
    children = query(db_path, """
        SELECT rel_path, status, parent_doc_id FROM documents WHERE parent_doc_id = ?
        """, [parent_id])
    assert children
    for rel_path, status, _ in children:
        assert rel_path.startswith("eml/uns__email-with-txt-attachment.eml#")
        assert status == "ok"


def test_no_model_summaries_when_summaries_are_off(corpus_run):
    _, db_path, result = corpus_run
    assert query(db_path, "SELECT count(*) FROM llm_calls WHERE purpose LIKE '%summary%'") == [
        (0,)]
    assert query(db_path, "SELECT count(*) FROM summaries") == [(0,)]
    assert result["model_calls"] == 0
    assert result["summaries_pending"] > 0  # chunked, waiting for a run with summaries on
