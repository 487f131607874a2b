"""Extract text from one file: detect its format from its bytes, parse it, judge its status."""

from __future__ import annotations

import email
import email.policy
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

# Statuses, one vocabulary for every document version.
OK, PARTIAL, DUPLICATE, EMPTY = "ok", "partial", "duplicate", "empty"
ENCRYPTED, CORRUPT, UNSUPPORTED, NEEDS_OCR = "encrypted", "corrupt", "unsupported", "needs_ocr"
TOO_LARGE, TIMEOUT, REMOVED = "too_large", "timeout", "removed"
STATUSES = (OK, PARTIAL, DUPLICATE, EMPTY, ENCRYPTED, CORRUPT, UNSUPPORTED, NEEDS_OCR,
            TOO_LARGE, TIMEOUT, REMOVED)
TEXT_STATUSES = (OK, PARTIAL)

SUPPORTED_FORMATS = ("pdf", "docx", "pptx", "html", "eml", "msg", "md", "txt")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,40}:[ \t]?")
_EMAIL_HEADERS = {b"from", b"to", b"subject", b"received", b"message-id", b"mime-version",
                  b"return-path", b"date", b"delivered-to", b"reply-to", b"cc"}
_PYPDF_REPAIR_HINTS = ("xref", "startxref", "eof", "invalid object", "repair", "trailer",
                       "unexpected", "damaged")


@dataclass
class Segment:
    """A structural piece of a document's text: a paragraph, title, list item, table or page."""

    start: int
    end: int
    kind: str
    page: int | None = None
    section: str | None = None


@dataclass
class Attachment:
    """A file embedded in a document: ingested as a child document."""

    name: str
    data: bytes


@dataclass
class Extraction:
    """What parsing one file gave: text with its structure, or a status saying why not."""

    format: str
    status: str
    extractor: str
    text: str = ""
    segments: list[Segment] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    page_count: int | None = None
    language: str | None = None
    error: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class _Piece:
    text: str
    kind: str
    page: int | None = None


class _TextBuilder:
    """Joins pieces into one stored text, keeping each piece's offsets and page ranges."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[Segment] = []
        self.section: str | None = None

    def add(self, piece: _Piece) -> None:
        text = piece.text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if piece.kind == "Title":
            self.section = text[:200]
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        self.segments.append(Segment(start, self.length, piece.kind, piece.page, self.section))

    def text(self) -> str:
        return "".join(self.parts)

    def pages(self) -> list[tuple[int, int, int]]:
        spans: dict[int, list[int]] = {}
        for seg in self.segments:
            if seg.page is not None:
                span = spans.setdefault(seg.page, [seg.start, seg.end])
                span[0], span[1] = min(span[0], seg.start), max(span[1], seg.end)
        return [(page, s, e) for page, (s, e) in sorted(spans.items())]


class ExtractionFailed(Exception):
    """Parsing stopped with a known status (encrypted, corrupt, unsupported...)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _looks_like_email(head: bytes) -> bool:
    lines = head.lstrip().splitlines()[:13]
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]  # an mbox separator line before the headers
    names = set()
    for line in lines:
        if not line.strip():
            break
        if _HEADER_LINE.match(line):
            names.add(line.split(b":", 1)[0].strip().lower())
        elif not line[:1].isspace():
            return False
    return len(names & _EMAIL_HEADERS) >= 2


def _decode_head(head: bytes) -> str | None:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if b"\x00" in head[:4096]:
        return None
    return head.decode("utf-8", errors="ignore")


def _ole_format(data: bytes, ext: str) -> tuple[str, str | None]:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        return ext or "ole", f"unreadable OLE container: {exc}"
    names = {"/".join(parts) for parts in ole.listdir(streams=True, storages=True)}
    ole.close()
    if "EncryptedPackage" in names:
        return (ext if ext in ("docx", "pptx", "xlsx") else "ooxml"), "encrypted"
    if "__properties_version1.0" in names or any(n.startswith("__substg1.0_") for n in names):
        return "msg", None
    if "WordDocument" in names:
        return "doc", None
    if "PowerPoint Document" in names:
        return "ppt", None
    if "Workbook" in names or "Book" in names:
        return "xls", None
    return "ole", None


def sniff_format(data: bytes, filename: str) -> tuple[str, str | None]:
    """The format of a file from its bytes (the extension only breaks ties between text kinds).

    Returns (format, problem): problem is 'encrypted' or a reason the container is unreadable.
    """
    ext = Path(filename).suffix.lower().lstrip(".")
    head = data[:8192]
    marker = head.find(b"%PDF-")
    # The header may follow up to 1 KB of junk, but text that merely mentions it is no PDF.
    if marker == 0 or (0 < marker < 1024 and re.search(rb"\d+\s+\d+\s+obj\b", data[:1 << 20])):
        return "pdf", None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            return (ext if ext in ("docx", "pptx", "xlsx") else "zip"), f"damaged zip: {exc}"
        if "word/document.xml" in names:
            return "docx", None
        if "ppt/presentation.xml" in names:
            return "pptx", None
        if "xl/workbook.xml" in names:
            return "xlsx", None
        return "zip", None
    if head.startswith(_OLE_MAGIC):
        return _ole_format(data, ext)
    for magic, fmt in ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"),
                       (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"{\\rtf", "rtf")):
        if head.startswith(magic):
            return fmt, None
    text = _decode_head(head)
    if text is None:
        return "binary", None
    # Headers first: an e-mail with an HTML body is still an e-mail.
    if _looks_like_email(head if not head.startswith(b"\xef\xbb\xbf") else head[3:]):
        return "eml", None
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or re.search(r"<(html|body|head)[\s>]",
                                                                     lowered[:4096]):
        return "html", None
    if ext in ("md", "markdown", "mdown"):
        return "md", None
    return "txt", None


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


class _RecordWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _extract_pdf(data: bytes) -> tuple[list[_Piece], int, list[str], list[Attachment]]:
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
                        raise ExtractionFailed(ENCRYPTED, "PDF needs a password to open")
                except (FileNotDecryptedError, NotImplementedError) as exc:
                    raise ExtractionFailed(ENCRYPTED, f"PDF cannot be decrypted: {exc}") from None
            page_count = len(reader.pages)
        except ExtractionFailed:
            raise
        except Exception as exc:
            raise ExtractionFailed(CORRUPT, f"unreadable PDF: {type(exc).__name__}: {exc}"
                                   ) from None
        if page_count == 0:
            raise ExtractionFailed(CORRUPT, "PDF has no readable pages")
        pieces: list[_Piece] = []
        problems: list[str] = []
        for number in range(1, page_count + 1):
            try:
                page_text = reader.pages[number - 1].extract_text() or ""
            except Exception as exc:
                problems.append(f"page {number}: {type(exc).__name__}: {exc}")
                continue
            for paragraph in _pdf_paragraphs(page_text):
                pieces.append(_Piece(paragraph, "Page", number))
        attachments: list[Attachment] = []
        try:
            for name, blobs in reader.attachments.items():
                for index, blob in enumerate(blobs):
                    label = name if len(blobs) == 1 else f"{name}.{index + 1}"
                    attachments.append(Attachment(label, blob))
        except Exception as exc:
            problems.append(f"attachments unreadable: {exc}")
    finally:
        pypdf_logger.removeHandler(recorder)
    repairs = [m for m in recorder.messages if any(h in m.lower() for h in _PYPDF_REPAIR_HINTS)]
    if repairs:
        problems.append("PDF structure repaired on read: " + "; ".join(sorted(set(repairs))[:3]))
    return pieces, page_count, problems, attachments


_MAIN_TAG = re.compile(r"<(/?)main\b", re.IGNORECASE)
_LINE_ENDS_SENTENCE = re.compile(r"[.!?:;)\]\"\u201d]\s*$")


def _pdf_paragraphs(page_text: str) -> list[str]:
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


def _ooxml_problems(data: bytes) -> list[str]:
    """Structural checks of an Office Open XML package that parsers silently skip over."""
    problems = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        if "[Content_Types].xml" not in names:
            problems.append("package has no [Content_Types].xml")
        if "_rels/.rels" not in names:
            problems.append("package has no _rels/.rels (malformed OOXML)")
        bad = archive.testzip()
        if bad:
            problems.append(f"damaged zip member {bad}")
    return problems


def _pptx_problems(data: bytes) -> list[str]:
    """Placeholders whose position cannot be resolved through their layout and master."""
    from pptx import Presentation

    problems = []
    presentation = Presentation(io.BytesIO(data))
    for number, slide in enumerate(presentation.slides, start=1):
        for shape in slide.shapes:
            if not shape.is_placeholder:
                continue
            geometry = (shape.left, shape.top, shape.width, shape.height)
            if any(value is None for value in geometry):
                problems.append(f"slide {number}: placeholder {shape.name!r} has no resolvable "
                                "geometry (broken layout inheritance)")
    return problems


def _elements_to_pieces(elements: list) -> list[_Piece]:
    pieces = []
    for element in elements:
        text = getattr(element, "text", "") or ""
        if not text.strip():
            continue
        page = getattr(element.metadata, "page_number", None)
        pieces.append(_Piece(text, getattr(element, "category", "Text") or "Text", page))
    return pieces


def _email_header_piece(message: EmailMessage) -> _Piece | None:
    lines = []
    for name in ("From", "To", "Cc", "Date", "Subject"):
        value = message.get(name)
        if value:
            lines.append(f"{name}: {value}")
    return _Piece("\n".join(lines), "EmailHeader") if lines else None


def _extract_eml(data: bytes) -> tuple[list[_Piece], list[str], list[Attachment]]:
    from unstructured.partition.email import partition_email

    message = email.message_from_bytes(data, policy=email.policy.default)
    content_type = message.get_content_type()
    if content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime",
                        "multipart/encrypted"):
        raise ExtractionFailed(ENCRYPTED, f"e-mail body is encrypted ({content_type})")
    attachments: list[Attachment] = []
    problems: list[str] = []
    for index, part in enumerate(message.iter_attachments()):
        payload = part.get_payload(decode=True)
        if payload is None:
            if part.get_content_type() == "message/rfc822":
                payload = part.get_payload()[0].as_bytes()  # type: ignore[index]
            else:
                problems.append(f"attachment {index + 1} has no readable payload")
                continue
        attachments.append(Attachment(part.get_filename() or f"attachment-{index + 1}", payload))
    pieces: list[_Piece] = []
    header = _email_header_piece(message)
    if header:
        pieces.append(header)
    elements = partition_email(file=io.BytesIO(data), process_attachments=False)
    pieces.extend(_elements_to_pieces(elements))
    return pieces, problems, attachments


def _extract_msg(data: bytes) -> tuple[list[_Piece], list[str], list[Attachment]]:
    from oxmsg import Message
    from unstructured.partition.msg import partition_msg

    try:
        message = Message.load(io.BytesIO(data))
        message_class = message.message_class or ""
    except Exception as exc:
        raise ExtractionFailed(CORRUPT, f"unreadable Outlook message: {type(exc).__name__}: {exc}"
                               ) from None
    if "SMIME" in message_class.upper() or "RPMSG" in message_class.upper():
        raise ExtractionFailed(ENCRYPTED, f"Outlook message is encrypted ({message_class})")
    problems: list[str] = []
    attachments: list[Attachment] = []
    try:
        for index, attachment in enumerate(message.attachments):
            blob = attachment.file_bytes
            if not blob:
                continue  # an embedded Outlook item: oxmsg exposes no file bytes for it
            attachments.append(Attachment(attachment.file_name or f"attachment-{index + 1}", blob))
    except Exception as exc:
        problems.append(f"attachments unreadable: {type(exc).__name__}: {exc}")
    header_lines = [f"From: {message.sender}" if message.sender else "",
                    f"Date: {message.sent_date}" if message.sent_date else "",
                    f"Subject: {message.subject}" if message.subject else ""]
    pieces = [_Piece("\n".join(line for line in header_lines if line), "EmailHeader")]
    try:
        elements = partition_msg(file=io.BytesIO(data), process_attachments=False)
    except Exception as exc:
        raise ExtractionFailed(CORRUPT, f"unreadable Outlook message: {type(exc).__name__}: {exc}"
                               ) from None
    pieces.extend(_elements_to_pieces(elements))
    return pieces, problems, attachments


def _plain_text_pieces(text: str) -> list[_Piece]:
    return [_Piece(paragraph, "Text") for paragraph in re.split(r"\n\s*\n", text)]


def _decode_text(data: bytes) -> str:
    from charset_normalizer import from_bytes

    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                       (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[:200_000]).best()
        return data.decode(best.encoding if best else "latin-1", errors="replace")


def _extract_with_unstructured(fmt: str, data: bytes, large_text_bytes: int) -> list[_Piece]:
    if fmt == "docx":
        from unstructured.partition.docx import partition_docx

        return _elements_to_pieces(partition_docx(file=io.BytesIO(data)))
    if fmt == "pptx":
        from unstructured.partition.pptx import partition_pptx

        return _elements_to_pieces(partition_pptx(file=io.BytesIO(data)))
    if fmt == "html":
        from unstructured.partition.html import partition_html

        # unstructured keeps only <main> when a page has one, silently dropping footers and
        # asides, where disclaimers and legal terms live: read the whole body instead.
        html = _MAIN_TAG.sub(r"<\1div", _decode_text(data))
        return _elements_to_pieces(partition_html(text=html))
    if fmt == "md":
        from unstructured.partition.md import partition_md

        return _elements_to_pieces(partition_md(text=_decode_text(data)))
    text = _decode_text(data)
    if len(data) > large_text_bytes:
        # unstructured classifies every paragraph with spaCy (~10 ms each): a novel-sized
        # plain-text file takes minutes for structure plain text does not have.
        return _plain_text_pieces(text)
    from unstructured.partition.text import partition_text

    return _elements_to_pieces(partition_text(text=text, languages=["eng"],
                                              detect_language_per_element=False))


def extract_bytes(data: bytes, filename: str, large_text_bytes: int = 1_000_000) -> Extraction:
    """Parse one file's bytes into an Extraction; never raises for bad input."""
    from compliance.adapters.offline_nlp import configure_unstructured_offline

    if not data.strip():
        return Extraction(format=sniff_format(data, filename)[0] if data else "empty",
                          status=EMPTY, extractor="none", error="file has no content")
    fmt, problem = sniff_format(data, filename)
    if problem == "encrypted":
        return Extraction(fmt, ENCRYPTED, "none", error="document is password-protected")
    if problem:
        return Extraction(fmt, CORRUPT, "none", error=problem)
    if fmt not in SUPPORTED_FORMATS:
        return Extraction(fmt, UNSUPPORTED, "none", error=f"format {fmt!r} is not supported")
    configure_unstructured_offline()
    problems: list[str] = []
    attachments: list[Attachment] = []
    page_count: int | None = None
    try:
        if fmt == "pdf":
            pieces, page_count, problems, attachments = _extract_pdf(data)
            extractor = "pypdf"
        elif fmt == "eml":
            pieces, problems, attachments = _extract_eml(data)
            extractor = "unstructured"
        elif fmt == "msg":
            pieces, problems, attachments = _extract_msg(data)
            extractor = "unstructured"
        else:
            if fmt in ("docx", "pptx"):
                problems = _ooxml_problems(data)
            if fmt == "pptx":
                problems += _pptx_problems(data)
            pieces = _extract_with_unstructured(fmt, data, large_text_bytes)
            extractor = "unstructured"
            if fmt == "txt" and len(data) > large_text_bytes:
                extractor = "plain-text"
    except ExtractionFailed as failed:
        return Extraction(fmt, failed.status, "none", error=str(failed))
    except Exception as exc:
        return Extraction(fmt, CORRUPT, "none", error=f"{type(exc).__name__}: {exc}"[:500])
    builder = _TextBuilder()
    for piece in pieces:
        builder.add(piece)
    text = builder.text()
    pages = builder.pages()
    if fmt == "pptx":
        page_count = max((p for p, _, _ in pages), default=0) or None
    error = "; ".join(problems)[:1000] or None
    if not text.strip():
        if fmt == "pdf" and not problems:
            return Extraction(fmt, NEEDS_OCR, extractor, page_count=page_count,
                              error="no text layer: the pages are images (OCR needed)",
                              attachments=attachments)
        status = CORRUPT if problems else EMPTY
        return Extraction(fmt, status, extractor, page_count=page_count,
                          error=error or "no text in document", attachments=attachments)
    return Extraction(
        format=fmt,
        status=PARTIAL if problems else OK,
        extractor=extractor,
        text=text,
        segments=builder.segments,
        pages=pages,
        page_count=page_count,
        language=_detect_language(text),
        error=error,
        attachments=attachments,
    )


def extract_file(job: tuple[str, str, int]) -> Extraction:
    """Worker entry point: (path, name for format hints, large-text threshold) -> Extraction."""
    path, filename, large_text_bytes = job
    return extract_bytes(Path(path).read_bytes(), filename, large_text_bytes)


def extract_attachment(job: tuple[bytes, str, int]) -> Extraction:
    """Worker entry point for an attachment's bytes."""
    data, filename, large_text_bytes = job
    return extract_bytes(data, filename, large_text_bytes)
