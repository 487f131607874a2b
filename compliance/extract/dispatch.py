"""The extraction entry points: sniff a file's format, hand it to that format's adapter, and
judge the result's status; the parser workers call extract_file and extract_attachment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compliance.extract.mail import extract_eml, extract_msg
from compliance.extract.model import Extraction, ExtractionFailed, Parsed, TextBuilder
from compliance.extract.office import extract_docx, extract_pptx
from compliance.extract.pdf import extract_pdf
from compliance.extract.sniff import sniff_format
from compliance.extract.text import extract_html, extract_markdown, extract_plain_text
from compliance.vocab import DocumentStatus

# One adapter per supported format but plain text, which also needs the large-text threshold.
_ADAPTERS: dict[str, Callable[[bytes], Parsed]] = {
    "pdf": extract_pdf,
    "eml": extract_eml,
    "msg": extract_msg,
    "docx": extract_docx,
    "pptx": extract_pptx,
    "html": extract_html,
    "md": extract_markdown,
}
SUPPORTED_FORMATS = (*_ADAPTERS, "txt")


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


def _parse(fmt: str, data: bytes, large_text_bytes: int) -> Parsed:
    if fmt == "txt":
        return extract_plain_text(data, large_text_bytes)
    return _ADAPTERS[fmt](data)


def extract_bytes(data: bytes, filename: str, large_text_bytes: int = 1_000_000) -> Extraction:
    """Parse one file's bytes into an Extraction; never raises for bad input."""
    from compliance.adapters.offline_nlp import configure_unstructured_offline

    if not data.strip():
        return Extraction(format=sniff_format(data, filename)[0] if data else "empty",
                          status=DocumentStatus.EMPTY, extractor="none",
                          error="file has no content")
    fmt, problem = sniff_format(data, filename)
    if problem == "encrypted":
        return Extraction(fmt, DocumentStatus.ENCRYPTED, "none",
                          error="document is password-protected")
    if problem:
        return Extraction(fmt, DocumentStatus.CORRUPT, "none", error=problem)
    if fmt not in SUPPORTED_FORMATS:
        return Extraction(fmt, DocumentStatus.UNSUPPORTED, "none",
                          error=f"format {fmt!r} is not supported")
    configure_unstructured_offline()
    try:
        parsed = _parse(fmt, data, large_text_bytes)
    except ExtractionFailed as failed:
        return Extraction(fmt, failed.status, "none", error=str(failed))
    except Exception as exc:
        return Extraction(fmt, DocumentStatus.CORRUPT, "none",
                          error=f"{type(exc).__name__}: {exc}"[:500])
    builder = TextBuilder()
    for piece in parsed.pieces:
        builder.add(piece)
    text = builder.text()
    pages = builder.pages()
    page_count = parsed.page_count
    if fmt == "pptx":
        page_count = max((p for p, _, _ in pages), default=0) or None
    problems = parsed.problems
    error = "; ".join(problems)[:1000] or None
    if not text.strip():
        if fmt == "pdf" and not problems:
            return Extraction(fmt, DocumentStatus.NEEDS_OCR, parsed.extractor,
                              page_count=page_count,
                              error="no text layer: the pages are images (OCR needed)",
                              attachments=parsed.attachments)
        status = DocumentStatus.CORRUPT if problems else DocumentStatus.EMPTY
        return Extraction(fmt, status, parsed.extractor, page_count=page_count,
                          error=error or "no text in document", attachments=parsed.attachments)
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
        attachments=parsed.attachments,
    )


def extract_file(job: tuple[str, str, int]) -> Extraction:
    """Worker entry point: (path, name for format hints, large-text threshold) -> Extraction."""
    path, filename, large_text_bytes = job
    return extract_bytes(Path(path).read_bytes(), filename, large_text_bytes)


def extract_attachment(job: tuple[bytes, str, int]) -> Extraction:
    """Worker entry point for an attachment's bytes."""
    data, filename, large_text_bytes = job
    return extract_bytes(data, filename, large_text_bytes)


def extract_job(payload: tuple[Callable[[tuple], Extraction], tuple]) -> Extraction:
    """Worker entry point for run_isolated: (extract_file or extract_attachment, its job).

    It lives here, not in the ingest stage, so that a parser worker imports only the extract
    package: not Prefect, whose import costs a second per worker and configures its logging.
    """
    function, arguments = payload
    return function(arguments)
