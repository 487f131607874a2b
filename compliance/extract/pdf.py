"""The PDF adapter (pypdf): text per page split into paragraphs, embedded files, and the
damage pypdf repairs silently on read reported as problems."""

from __future__ import annotations

import io
import logging
import re

from compliance.extract.model import (
    Attachment,
    ExtractionFailed,
    Parsed,
    Piece,
    describe_exception,
    nested_too_deeply,
)
from compliance.vocab import DocumentStatus

# pypdf logs a repaired structure as a warning and reads on: these words mark such warnings.
_PYPDF_REPAIR_HINTS = ("xref", "startxref", "eof", "invalid object", "repair", "trailer",
                       "unexpected", "damaged")
_LINE_ENDS_SENTENCE = re.compile(r"[.!?:;)\]\"\u201d]\s*$")


class _RecordWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def extract_pdf(data: bytes, max_pages: int | None = None) -> Parsed:
    """A PDF's paragraphs with their page numbers (of the first max_pages pages), its embedded
    files and what was damaged."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import FileNotDecryptedError

    recorder = _RecordWarnings()
    pypdf_logger = logging.getLogger("pypdf")
    pypdf_logger.addHandler(recorder)
    try:
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                        raise ExtractionFailed(DocumentStatus.ENCRYPTED,
                                               "PDF needs a password to open")
                except (FileNotDecryptedError, NotImplementedError) as exc:
                    raise ExtractionFailed(DocumentStatus.ENCRYPTED,
                                           f"PDF cannot be decrypted: {exc}") from None
            page_count = len(reader.pages)
        except ExtractionFailed:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            raise ExtractionFailed(DocumentStatus.CORRUPT,
                                   f"unreadable PDF: {_pdf_error(exc)}") from None
        if page_count == 0:
            raise ExtractionFailed(DocumentStatus.CORRUPT, "PDF has no readable pages")
        pieces: list[Piece] = []
        problems: list[str] = []
        read_pages = page_count if max_pages is None else min(page_count, max_pages)
        if read_pages < page_count:
            problems.append(f"only the first {read_pages:,} of {page_count:,} pages were read "
                            f"(max_pages {max_pages})")
        failed_pages: list[str] = []
        for number in range(1, read_pages + 1):
            try:
                page_text = reader.pages[number - 1].extract_text() or ""
            except MemoryError:
                raise
            except Exception as exc:
                failed_pages.append(f"page {number}: {_pdf_error(exc)}")
                continue
            for paragraph in pdf_paragraphs(page_text):
                pieces.append(Piece(paragraph, "Page", number))
        if failed_pages:
            # One line per page would bury the reason when every page of a long file fails.
            more = f" (and {len(failed_pages) - 3} more pages)" if len(failed_pages) > 3 else ""
            problems.append("; ".join(failed_pages[:3]) + more)
        attachments: list[Attachment] = []
        try:
            for name, blobs in reader.attachments.items():
                for index, blob in enumerate(blobs):
                    label = name if len(blobs) == 1 else f"{name}.{index + 1}"
                    attachments.append(Attachment(label, blob))
        except MemoryError:
            raise
        except Exception as exc:
            problems.append(f"attachments unreadable: {_pdf_error(exc)}")
    finally:
        pypdf_logger.removeHandler(recorder)
    repairs = [m for m in recorder.messages if any(h in m.lower() for h in _PYPDF_REPAIR_HINTS)]
    if repairs:
        problems.append("PDF structure repaired on read: " + "; ".join(sorted(set(repairs))[:3]))
    return Parsed(pieces, "pypdf", problems, attachments, page_count)


def _pdf_error(exc: Exception) -> str:
    # pypdf's own errors read well with their class name ("PdfStreamError: Stream has ended
    # unexpectedly"); other exceptions are put in words.
    if type(exc).__module__.startswith("pypdf") and not nested_too_deeply(exc):
        return f"{type(exc).__name__}: {exc}"
    return describe_exception(exc)


def pdf_paragraphs(page_text: str) -> list[str]:
    """Paragraphs of a PDF page: blank lines, or a line that ends a sentence, end one.

    pypdf gives one line per text line and rarely blank lines; over-splitting is harmless (the
    chunker packs paragraphs back together) and lets a repeated disclaimer be recognized.
    """
    paragraphs: list[str] = []
    current: list[str] = []
    for line in page_text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append("\n".join(current))
                current = []
            continue
        current.append(line)
        if _LINE_ENDS_SENTENCE.search(line):
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs
