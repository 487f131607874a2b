"""The extraction entry points: sniff a file's format, hand it to that format's adapter, and
judge the result's status; the parser workers call extract_file and extract_attachment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from compliance.extract.archive import extract_zip, unpack_problem
from compliance.extract.digests import digest_text
from compliance.extract.mail import extract_eml, extract_msg
from compliance.extract.model import (
    Extraction,
    ExtractionFailed,
    ExtractLimits,
    Parsed,
    Piece,
    TextBuilder,
    describe_exception,
)
from compliance.extract.office import extract_docx, extract_pptx
from compliance.extract.pdf import extract_pdf
from compliance.extract.reading import SourceUnreadable, read_source
from compliance.extract.sniff import sniff_format
from compliance.extract.text import extract_html, extract_markdown, extract_plain_text
from compliance.vocab import DocumentStatus

# One adapter per supported format but those that need a limit (plain text, PDF, zip).
_ADAPTERS: dict[str, Callable[[bytes], Parsed]] = {
    "eml": extract_eml,
    "msg": extract_msg,
    "docx": extract_docx,
    "pptx": extract_pptx,
    "html": extract_html,
    "md": extract_markdown,
}
SUPPORTED_FORMATS = (*_ADAPTERS, "txt", "pdf", "zip")
_ZIP_FORMATS = ("docx", "pptx", "zip")
# What a failed parse calls the file: "not a valid Word document: ...".
_FORMAT_NAMES = {"pdf": "PDF", "eml": "e-mail message", "msg": "Outlook message",
                 "docx": "Word document", "pptx": "PowerPoint presentation",
                 "html": "HTML page", "md": "Markdown file", "txt": "text file",
                 "zip": "zip archive"}


def _detect_language(text: str) -> str | None:
    sample = text[:5000]
    if len(sample.strip()) < 20:
        return None
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0  # langdetect is random unless seeded
        return detect(sample)
    except Exception:
        return None


def _parse(fmt: str, data: bytes, large_text_bytes: int, limits: ExtractLimits) -> Parsed:
    if fmt == "txt":
        return extract_plain_text(data, large_text_bytes)
    if fmt == "pdf":
        return extract_pdf(data, limits.max_pages)
    if fmt == "zip":
        return extract_zip(data, limits)
    return _ADAPTERS[fmt](data)


def _join(pieces: list[Piece], max_chars: int) -> tuple[TextBuilder, str | None]:
    """The pieces joined, up to max_chars of text; the problem when some were cut."""
    builder = TextBuilder()
    for index, piece in enumerate(pieces):
        room = max_chars - builder.length - (2 if builder.parts else 0)  # the blank line
        if len(piece.text) > room:
            if room > 0:
                builder.add(Piece(piece.text[:room], piece.kind, piece.page))
            dropped = len(piece.text) - max(room, 0) + sum(len(p.text) for p in pieces[index + 1:])
            return builder, (f"text cut at {max_chars:,} characters (max_text_mb): about "
                             f"{dropped:,} characters not kept")
        builder.add(piece)
    return builder, None


def extract_bytes(data: bytes, filename: str, large_text_bytes: int = 1_000_000,
                  limits: ExtractLimits | None = None) -> Extraction:
    """Parse one file's bytes into an Extraction; never raises for bad input.

    MemoryError is let through: the parser worker reports it as the memory limit reached.
    """
    from compliance.adapters.offline_nlp import configure_unstructured_offline

    limits = limits or ExtractLimits.from_settings()

    if not data or data.isspace():  # isspace, unlike strip, copies nothing
        return Extraction(format=sniff_format(data, filename)[0] if data else "empty",
                          status=DocumentStatus.EMPTY, extractor="none",
                          error="file has no content")
    fmt, problem = sniff_format(data, filename)
    if problem == "encrypted":
        return Extraction(fmt, DocumentStatus.ENCRYPTED, "none",
                          error="document is password-protected")
    if problem:
        return Extraction(fmt, DocumentStatus.CORRUPT, "none", error=problem)
    if fmt == "binary":
        named = Path(filename).suffix.lower()
        return Extraction(fmt, DocumentStatus.UNSUPPORTED, "none", error=(
            "the bytes match no supported format" + (f" (the name says {named})" if named else "")))
    if fmt not in SUPPORTED_FORMATS:
        return Extraction(fmt, DocumentStatus.UNSUPPORTED, "none",
                          error=f"format {fmt!r} is not supported")
    name = _FORMAT_NAMES.get(fmt, fmt)
    if fmt in _ZIP_FORMATS:
        try:
            too_big = unpack_problem(data, limits)
        except Exception as exc:
            return Extraction(fmt, DocumentStatus.CORRUPT, "none",
                              error=f"not a valid {name}: {describe_exception(exc)}"[:500])
        if too_big:
            return Extraction(fmt, DocumentStatus.TOO_LARGE, "none", error=too_big)
    if fmt in _ADAPTERS or fmt == "txt":  # unstructured's parsers: spaCy, offline
        configure_unstructured_offline()
    try:
        parsed = _parse(fmt, data, large_text_bytes, limits)
    except ExtractionFailed as failed:
        return Extraction(fmt, failed.status, "none", error=str(failed))
    except MemoryError:
        raise
    except Exception as exc:
        return Extraction(fmt, DocumentStatus.CORRUPT, "none",
                          error=f"not a valid {name}: {describe_exception(exc)}"[:500])
    builder, cut = _join(parsed.pieces, limits.max_text_chars)
    text = builder.text()
    pages = builder.pages()
    page_count = parsed.page_count
    if fmt == "pptx":
        page_count = max((p for p, _, _ in pages), default=0) or None
    problems = list(parsed.problems) + ([cut] if cut else [])
    attachments = parsed.attachments
    if len(attachments) > limits.max_attachments:
        problems.append(f"{len(attachments) - limits.max_attachments} of {len(attachments)} "
                        f"attachments not read (max_attachments {limits.max_attachments})")
        attachments = attachments[:limits.max_attachments]
    error = "; ".join(problems)[:1000] or None
    if not text.strip():
        if fmt == "pdf" and not problems:
            return Extraction(fmt, DocumentStatus.NEEDS_OCR, parsed.extractor,
                              page_count=page_count,
                              error="no text layer: the pages are images (OCR needed)",
                              attachments=attachments)
        status = DocumentStatus.CORRUPT if problems else DocumentStatus.EMPTY
        return Extraction(fmt, status, parsed.extractor, page_count=page_count,
                          error=error or "no text in document", attachments=attachments)
    return Extraction(
        format=fmt,
        status=DocumentStatus.PARTIAL if problems else DocumentStatus.OK,
        extractor=parsed.extractor,
        text=text,
        segments=builder.segments,
        pages=pages,
        page_count=page_count,
        language=_detect_language(text),
        error=error,
        attachments=attachments,
    )


def extract_file(job: tuple) -> Extraction:
    """Worker entry point: (path, name for format hints, large-text threshold[, limits]).

    The Extraction carries the sha256 of the bytes it parsed: the file may have changed since
    it was hashed.
    """
    path, filename, large_text_bytes, *rest = job
    limits: ExtractLimits = rest[0] if rest else ExtractLimits.from_settings()
    try:
        data = read_source(path, limits.max_file_bytes)
    except SourceUnreadable as failed:
        return Extraction("unknown", failed.status, "none", error=str(failed))
    extraction = extract_bytes(data, filename, large_text_bytes, limits)
    extraction.source_sha256 = hashlib.sha256(data).hexdigest()
    return extraction


def extract_attachment(job: tuple) -> Extraction:
    """Worker entry point for an attachment's bytes: (bytes, name, threshold[, limits])."""
    data, filename, large_text_bytes, *rest = job
    return extract_bytes(data, filename, large_text_bytes, rest[0] if rest else None)


def extract_job(payload: tuple[Callable[[tuple], Extraction], tuple]) -> Extraction:
    """Worker entry point for run_isolated: (extract_file or extract_attachment, its job).

    It lives here, not in the ingest stage, so that a parser worker imports only the extract
    package: not Prefect, whose import costs a second per worker and configures its logging.
    """
    function, arguments = payload
    extraction = function(arguments)
    if extraction.text:
        extraction.digests = digest_text(extraction.text, extraction.segments)
    return extraction
