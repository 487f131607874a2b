"""What extraction produces: the Extraction record, its segments and attachments, and the
builder that joins parsed pieces into one stored text with offsets and page ranges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from compliance.settings import IngestSettings
from compliance.vocab import DocumentStatus

# A zip member smaller than this is never called a bomb: small XML parts compress very well.
ZIP_BOMB_MIN_BYTES = 10_000_000


@dataclass(frozen=True)
class ExtractLimits:
    """The bounds one file's extraction keeps to, taken from the ingest settings."""

    max_file_bytes: int
    max_text_chars: int
    max_pages: int
    max_unpacked_bytes: int
    max_zip_ratio: float
    max_attachments: int

    @classmethod
    def from_settings(cls, settings: IngestSettings | None = None) -> ExtractLimits:
        """The limits of these settings (the defaults when none are given)."""
        settings = settings or IngestSettings()
        return cls(
            max_file_bytes=settings.max_file_bytes,
            max_text_chars=int(settings.max_text_mb * 1_000_000),
            max_pages=settings.max_pages,
            max_unpacked_bytes=int(settings.max_unpacked_mb * 1_000_000),
            max_zip_ratio=settings.max_zip_ratio,
            max_attachments=settings.max_attachments,
        )


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
    status: DocumentStatus
    extractor: str
    text: str = ""
    segments: list[Segment] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    page_count: int | None = None
    language: str | None = None
    error: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    source_sha256: str | None = None  # of the bytes parsed: the file may change after hashing
    # compliance.extract.digests.TextDigests of text and segments, when the worker made them.
    digests: Any = None


class ExtractionFailed(Exception):
    """Parsing stopped with a known status (encrypted, corrupt, unsupported...)."""

    def __init__(self, status: DocumentStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


_QUOTES = "'\""


def nested_too_deeply(exc: BaseException) -> bool:
    """True when exc is, or was raised while handling, a RecursionError (parsers re-wrap it)."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 20:
        if isinstance(cause, RecursionError):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


def describe_exception(exc: BaseException) -> str:
    """What a parser's exception means, in words a user can act on (not a bare KeyError)."""
    name = type(exc).__name__
    detail = str(exc).strip() or name
    if nested_too_deeply(exc):
        return "its structure is nested too deeply to read (RecursionError)"
    if isinstance(exc, KeyError):
        return f"a part it refers to is missing ({detail.strip(_QUOTES)})"
    if name == "BadZipFile" or (name == "error" and type(exc).__module__ == "zlib"):
        return f"its zip container is damaged ({detail})"
    if name in ("XMLSyntaxError", "ParseError", "ExpatError"):
        return f"its XML is malformed ({detail})"
    if isinstance(exc, UnicodeError):
        return f"its text is in no encoding it declares or that could be detected ({detail})"
    return f"{detail} ({name})" if detail != name else name


def size_words(count: float) -> str:
    """A byte count for people: 4.2 GB, 40 kB, 512 bytes."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


@dataclass
class Piece:
    """One piece of text a format adapter read, before it is joined into the stored text."""

    text: str
    kind: str
    page: int | None = None


@dataclass
class Parsed:
    """What one format adapter read from a file, before its text is joined and judged."""

    pieces: list[Piece]
    extractor: str
    problems: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    page_count: int | None = None


def pieces_from_elements(elements: Iterable[Any]) -> list[Piece]:
    """Pieces from the elements an unstructured partitioner returns, skipping blank ones."""
    pieces = []
    for element in elements:
        text = getattr(element, "text", "") or ""
        if not text.strip():
            continue
        page = getattr(element.metadata, "page_number", None)
        pieces.append(Piece(text, getattr(element, "category", "Text") or "Text", page))
    return pieces


class TextBuilder:
    """Joins pieces into one stored text, keeping each piece's offsets and page ranges."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[Segment] = []
        self.section: str | None = None

    def add(self, piece: Piece) -> None:
        """Append a piece (stripped; blank ones are dropped); a title starts a new section."""
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
        """The stored text: the pieces joined by blank lines."""
        return "".join(self.parts)

    def pages(self) -> list[tuple[int, int, int]]:
        """(page, start, end) for every page a segment came from, in page order."""
        spans: dict[int, list[int]] = {}
        for seg in self.segments:
            if seg.page is not None:
                span = spans.setdefault(seg.page, [seg.start, seg.end])
                span[0], span[1] = min(span[0], seg.start), max(span[1], seg.end)
        return [(page, s, e) for page, (s, e) in sorted(spans.items())]
