"""compliance/extract: format sniffing from bytes, statuses, text offsets, pages and attachments."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from compliance.extract.dispatch import extract_bytes, extract_file
from compliance.extract.model import Extraction
from compliance.extract.sniff import sniff_format
from compliance.vocab import DocumentStatus


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def _check_offsets(extraction: Extraction) -> None:
    """Every segment is a non-empty, already-stripped slice of the stored text, in order."""
    text = extraction.text
    assert extraction.segments, "a document with text has segments"
    previous_end = 0
    for segment in extraction.segments:
        assert 0 <= segment.start < segment.end <= len(text)
        assert segment.start >= previous_end, "segments do not overlap and keep text order"
        piece = text[segment.start:segment.end]
        assert piece.strip()
        assert piece.strip() == piece
        previous_end = segment.end
    # Segments are joined by one blank line: the text is exactly the pieces and separators.
    joined = "\n\n".join(text[s.start:s.end] for s in extraction.segments)
    assert joined == text


# --- sniff_format ---------------------------------------------------------------------------


def test_sniff_pdf_magic_wins_over_extension():
    assert sniff_format(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "report.docx") == ("pdf", None)
    # A few bytes of junk before the header (as some producers write) are tolerated when the
    # rest looks like a PDF (indirect objects follow).
    assert sniff_format(b"\x00\x00garbage%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "scan.bin") == (
        "pdf", None)


@pytest.mark.parametrize(
    ("members", "filename", "expected"),
    [
        (["[Content_Types].xml", "word/document.xml"], "letter.bin", "docx"),
        (["[Content_Types].xml", "ppt/presentation.xml"], "deck.docx", "pptx"),
        (["[Content_Types].xml", "xl/workbook.xml"], "sheet.pptx", "xlsx"),
        (["readme.txt"], "archive.docx", "zip"),
    ],
)
def test_sniff_zip_containers_by_their_members(members, filename, expected):
    assert sniff_format(_zip(members), filename) == (expected, None)


def test_sniff_damaged_zip_reports_a_problem():
    fmt, problem = sniff_format(b"PK\x03\x04" + b"\x00" * 40, "contract.docx")
    assert fmt == "docx"
    assert problem and "damaged zip" in problem


def test_sniff_ole_encrypted_office_document(corpus_dir):
    path = corpus_dir / "formats/edge/encrypted__bug53475-password-is-pass.docx"
    assert sniff_format(path.read_bytes(), path.name) == ("docx", "encrypted")


def test_sniff_ole_outlook_message(corpus_dir):
    path = corpus_dir / "formats/msg/poi__53784-draft-letter.msg"
    assert sniff_format(path.read_bytes(), "letter.bin") == ("msg", None)


@pytest.mark.parametrize("filename", ["note.txt", "message", "mail.md"])
def test_sniff_email_headers(filename):
    data = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n"
            b"Subject: Quarterly numbers\r\nDate: Mon, 2 Jun 2025 10:00:00 +0000\r\n\r\nHello Bob")
    assert sniff_format(data, filename) == ("eml", None)


def test_sniff_email_with_utf8_bom():
    data = b"\xef\xbb\xbfFrom: a@example.com\nSubject: hi\nTo: b@example.com\n\nbody"
    assert sniff_format(data, "x.txt") == ("eml", None)


def test_sniff_one_header_line_is_not_an_email():
    assert sniff_format(b"Subject: notes\n\nJust some notes.", "notes.txt") == ("txt", None)
    assert sniff_format(b"Note: this is text\nwith lines\n", "notes.txt") == ("txt", None)


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><p>Hi</p></body></html>",
        b"  \n<html lang='en'><p>Hi</p></html>",
        b"<div>intro</div>\n<body class='x'><p>Hi</p></body>",
    ],
)
def test_sniff_html(data):
    assert sniff_format(data, "page.txt") == ("html", None)


def test_sniff_markdown_versus_text_by_extension():
    data = b"# Minutes\n\n- item one\n- item two\n"
    assert sniff_format(data, "minutes.md") == ("md", None)
    assert sniff_format(data, "minutes.MARKDOWN") == ("md", None)
    assert sniff_format(data, "minutes.txt") == ("txt", None)
    assert sniff_format(data, "minutes") == ("txt", None)


def test_sniff_images_and_binary():
    assert sniff_format(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "logo.pdf") == ("png", None)
    assert sniff_format(b"\xff\xd8\xff\xe0" + b"\x00" * 20, "photo.txt") == ("jpeg", None)
    assert sniff_format(b"{\\rtf1\\ansi hello}", "doc.txt") == ("rtf", None)
    assert sniff_format(b"\x01\x02\x00\x00\x03binary", "blob.txt") == ("binary", None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("derived-wrong-ext__docx-bytes-named.pdf", "docx"),
        ("derived-wrong-ext__pdf-bytes-named.docx", "pdf"),
    ],
)
def test_sniff_wrong_extension_files_from_the_corpus(corpus_dir, name, expected):
    path = corpus_dir / "formats" / "edge" / name
    assert sniff_format(path.read_bytes(), path.name) == (expected, None)


def test_wrong_extension_files_extract_with_the_right_parser(corpus_dir):
    docx_named_pdf = corpus_dir / "formats/edge/derived-wrong-ext__docx-bytes-named.pdf"
    extraction = extract_bytes(docx_named_pdf.read_bytes(), docx_named_pdf.name)
    assert (extraction.format, extraction.status, extraction.extractor) == (
        "docx", DocumentStatus.OK, "unstructured")
    pdf_named_docx = corpus_dir / "formats/edge/derived-wrong-ext__pdf-bytes-named.docx"
    extraction = extract_bytes(pdf_named_docx.read_bytes(), pdf_named_docx.name)
    assert (extraction.format, extraction.status, extraction.extractor) == (
        "pdf", DocumentStatus.OK, "pypdf")


# --- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n "])
def test_empty_bytes_are_empty(data):
    extraction = extract_bytes(data, "blank.txt")
    assert extraction.status == DocumentStatus.EMPTY
    assert extraction.text == ""
    assert extraction.segments == []
    assert extraction.error


def test_zero_byte_file_has_format_empty():
    assert extract_bytes(b"", "nothing.pdf").format == "empty"


def test_encrypted_pdf_from_the_corpus(corpus_dir):
    path = corpus_dir / "formats/edge/encrypted-userpw__libreoffice-writer-password.pdf"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert extraction.format == "pdf"
    assert extraction.status == DocumentStatus.ENCRYPTED
    assert extraction.text == ""
    assert "password" in (extraction.error or "").lower()


def test_owner_password_only_pdf_is_readable(corpus_dir):
    path = corpus_dir / "formats/edge/encrypted-ownerpw-only__copy-protected.pdf"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert extraction.status == DocumentStatus.OK
    assert extraction.text.strip()


def test_encrypted_ooxml_is_encrypted(corpus_dir):
    path = corpus_dir / "formats/edge/encrypted__bug53475-password-is-pass.docx"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert (extraction.format, extraction.status) == ("docx", DocumentStatus.ENCRYPTED)


def test_truncated_sample_pdf_is_corrupt(samples_dir):
    path = samples_dir / "broken" / "quarterly-report.pdf"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert extraction.format == "pdf"
    assert extraction.status == DocumentStatus.CORRUPT
    assert extraction.error and extraction.error.strip()
    assert extraction.text == ""


def test_unsupported_formats_say_so():
    extraction = extract_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "chart.png")
    assert (extraction.format, extraction.status) == ("png", DocumentStatus.UNSUPPORTED)
    assert "png" in (extraction.error or "")


def test_damaged_docx_is_corrupt_not_an_exception():
    extraction = extract_bytes(b"PK\x03\x04" + b"\x00" * 100, "contract.docx")
    assert extraction.status == DocumentStatus.CORRUPT
    assert extraction.error


# --- text, offsets and pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    "rel_path",
    [
        "policies/data-retention-policy.pdf",
        "policies/data-retention-policy.docx",
        "policies/anti-bribery-policy.html",
        "notes/meeting-notes.md",
        "contracts/master-services-agreement.txt",
        "hr/employee-onboarding.eml",
        "sop/sop-adverse-event-reporting.docx",
    ],
)
def test_segment_offsets_index_into_the_text(samples_dir, rel_path):
    path = samples_dir / rel_path
    extraction = extract_file((str(path), rel_path, 1_000_000))
    assert extraction.status == DocumentStatus.OK, extraction.error
    assert extraction.format == Path(rel_path).suffix.lstrip(".")
    _check_offsets(extraction)
    assert extraction.language == "en"


def test_large_plain_text_uses_the_plain_text_extractor(samples_dir):
    path = samples_dir / "contracts" / "master-services-agreement.txt"
    data = path.read_bytes()
    extraction = extract_bytes(data, path.name, large_text_bytes=len(data) - 1)
    assert (extraction.status, extraction.extractor) == (DocumentStatus.OK, "plain-text")
    _check_offsets(extraction)


def test_pdf_pages_cover_every_page_number(samples_dir):
    path = samples_dir / "promo" / "cardiozen-brochure.pdf"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert extraction.status == DocumentStatus.OK
    assert extraction.page_count == 2
    numbers = [page for page, _, _ in extraction.pages]
    assert numbers == list(range(1, extraction.page_count + 1))
    previous_end = 0
    for page, start, end in extraction.pages:
        assert previous_end <= start < end <= len(extraction.text)
        previous_end = end
        # A page's span is exactly the union of its segments.
        on_page = [s for s in extraction.segments if s.page == page]
        assert on_page
        assert (min(s.start for s in on_page), max(s.end for s in on_page)) == (start, end)
    assert all(s.page in numbers for s in extraction.segments)
    _check_offsets(extraction)


def test_eml_attachment_is_extracted(samples_dir):
    path = samples_dir / "hr" / "employee-onboarding.eml"
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert (extraction.format, extraction.status) == ("eml", DocumentStatus.OK)
    assert [a.name for a in extraction.attachments] == ["benefits-summary.txt"]
    attachment = extraction.attachments[0]
    assert attachment.data.strip()
    child = extract_bytes(attachment.data, f"{path.name}#{attachment.name}")
    assert (child.format, child.status) == ("txt", DocumentStatus.OK)
    assert child.text.strip()
    # The attachment's text is the child's, not repeated in the parent's body.
    assert "Subject:" in extraction.text
    _check_offsets(extraction)


def test_html_footer_disclaimer_is_kept(samples_dir):
    path = samples_dir / "policies" / "anti-bribery-policy.html"
    assert b"<footer" in path.read_bytes()
    extraction = extract_bytes(path.read_bytes(), path.name)
    assert extraction.status == DocumentStatus.OK
    assert "CONFIDENTIAL" in extraction.text


def test_html_main_element_does_not_hide_the_rest():
    html = (b"<html><body><header><p>Header note about the policy.</p></header>"
            b"<main><p>The main policy text lives here.</p></main>"
            b"<footer><p>Legal disclaimer in the footer.</p></footer></body></html>")
    extraction = extract_bytes(html, "page.html")
    assert extraction.status == DocumentStatus.OK
    assert "main policy text" in extraction.text
    assert "disclaimer in the footer" in extraction.text


def test_text_in_a_legacy_encoding_is_decoded():
    data = "Caf\u00e9 r\u00e9sum\u00e9 na\u00efve: the d\u00e9j\u00e0 vu clause.\n".encode("cp1252")
    extraction = extract_bytes(data * 3, "notes.txt")
    assert extraction.status == DocumentStatus.OK
    assert "Caf\u00e9" in extraction.text
    assert "\ufffd" not in extraction.text


# --- regressions: bugs found while writing these tests, now fixed -----------------------------

HTML_EMAIL = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: Launch plan\r\n"
              b"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: text/html; charset=utf-8\r\n\r\n"
              b"<html><body><p>The launch is approved.</p></body></html>\r\n")

MBOX_EMAIL = (b"From alice@example.com Mon Jun  2 10:00:00 2025\n"
              b"From: alice@example.com\nTo: bob@example.com\nSubject: Launch plan\n"
              b"Date: Mon, 2 Jun 2025 10:00:00 +0000\nMIME-Version: 1.0\n"
              b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
              b"VGhlIGxhdW5jaCBpcyBhcHByb3ZlZC4K\n")


def test_email_with_an_html_body_is_an_email():
    assert sniff_format(HTML_EMAIL, "launch.eml") == ("eml", None)


def test_email_with_an_mbox_from_line_is_an_email():
    extraction = extract_bytes(MBOX_EMAIL, "launch.eml")
    assert extraction.format == "eml"
    assert "The launch is approved." in extraction.text


def test_text_that_mentions_the_pdf_header_is_not_a_pdf():
    data = b"# PDF checklist\n\nEvery valid file starts with the %PDF-1.7 header line.\n"
    extraction = extract_bytes(data, "checklist.md")
    assert (extraction.format, extraction.status) == ("md", DocumentStatus.OK)
