"""The text-format adapters: decoding bytes to text (BOMs, UTF-8, else a detected charset), and
HTML, Markdown and plain text read through unstructured (a very large plain text paragraph by
paragraph instead)."""

from __future__ import annotations

import re

from compliance.extract.model import Parsed, Piece, pieces_from_elements

_MAIN_TAG = re.compile(r"<(/?)main\b", re.IGNORECASE)
CP1252_CHAOS_MARGIN = 0.02


def decode_text(data: bytes) -> str:
    """A text file's bytes as text: by its BOM, as UTF-8, or in the charset detected."""
    from charset_normalizer import from_bytes

    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                       (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        matches = from_bytes(data[:200_000])
        best = matches.best()
        if best is None:
            return data.decode("latin-1", errors="replace")
        # Single-byte Latin code pages differ in a few letters, and the detector's margin between
        # them is small (an English memo with curly quotes scores cp1257 0.006 against cp1252
        # 0.022 chaos, and "naïve" would read "naļve"): Windows-1252 wins a near tie.
        western = next((m for m in matches if m.encoding == "cp1252"), None)
        if western is not None and western.chaos <= best.chaos + CP1252_CHAOS_MARGIN:
            return data.decode("cp1252", errors="replace")
        return data.decode(best.encoding, errors="replace")


def extract_html(data: bytes) -> Parsed:
    """An HTML page's elements, the whole body included."""
    from unstructured.partition.html import partition_html

    # unstructured keeps only <main> when a page has one, silently dropping footers and
    # asides, where disclaimers and legal terms live: read the whole body instead.
    html = _MAIN_TAG.sub(r"<\1div", decode_text(data))
    return Parsed(pieces_from_elements(partition_html(text=html)), "unstructured")


def extract_markdown(data: bytes) -> Parsed:
    """A Markdown file's elements."""
    from unstructured.partition.md import partition_md

    return Parsed(pieces_from_elements(partition_md(text=decode_text(data))), "unstructured")


def extract_plain_text(data: bytes, large_text_bytes: int) -> Parsed:
    """A plain-text file's elements; over large_text_bytes, just its paragraphs."""
    text = decode_text(data)
    if len(data) > large_text_bytes:
        # unstructured classifies every paragraph with spaCy (~10 ms each): a novel-sized
        # plain-text file takes minutes for structure plain text does not have.
        return Parsed([Piece(paragraph, "Text") for paragraph in re.split(r"\n\s*\n", text)],
                      "plain-text")
    from unstructured.partition.text import partition_text

    elements = partition_text(text=text, languages=["eng"], detect_language_per_element=False)
    return Parsed(pieces_from_elements(elements), "unstructured")
