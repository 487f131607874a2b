"""What extraction produces: the Extraction record, its segments and attachments, and the
builder that joins parsed pieces into one stored text with offsets and page ranges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from compliance.vocab import DocumentStatus


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


class ExtractionFailed(Exception):
    """Parsing stopped with a known status (encrypted, corrupt, unsupported...)."""

    def __init__(self, status: DocumentStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


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
