"""Chunking: token bounds, long segments, boilerplate paragraphs, titles."""

from __future__ import annotations

from compliance.extract.model import Segment
from compliance.textnorm import words
from tasks.chunk import BOILERPLATE_MIN_WORDS, chunk_segments, paragraph_hash


def count_words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def _document(paragraphs: list[tuple[str, str]]) -> tuple[str, list[Segment]]:
    """Text joined by blank lines, with one segment per (kind, text), as extraction builds it."""
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    section = None
    for kind, paragraph in paragraphs:
        if parts:
            parts.append("\n\n")
            offset += 2
        if kind == "Title":
            section = paragraph
        segments.append(Segment(offset, offset + len(paragraph), kind, None, section))
        parts.append(paragraph)
        offset += len(paragraph)
    return "".join(parts), segments


def _sentence(n_words: int, seed: int) -> str:
    return " ".join(f"w{seed}x{i}" for i in range(n_words - 1)) + " end."


def _assert_chunks_cover(text, segments, chunks, max_tokens):
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    previous_end = 0
    for chunk in chunks:
        assert previous_end <= chunk.char_start < chunk.char_end <= len(text)
        previous_end = chunk.char_end
        piece = text[chunk.char_start:chunk.char_end]
        assert piece.strip()
        assert not piece[0].isspace(), "a chunk starts on text"
        assert chunk.token_count <= max_tokens
        assert count_words([piece])[0] <= max_tokens
    # Every character of every segment is inside some chunk.
    for segment in segments:
        for position in (segment.start, segment.end - 1):
            assert any(c.char_start <= position < c.char_end for c in chunks)


def test_chunks_respect_max_tokens():
    sizes = [5, 30, 12, 8, 25, 3, 17, 40, 9, 11, 22, 6]
    text, segments = _document([("Text", _sentence(n, i)) for i, n in enumerate(sizes)])
    chunks = chunk_segments(text, segments, count_words, 48, set())
    _assert_chunks_cover(text, segments, chunks, 48)
    assert len(chunks) > 1
    assert not any(c.is_boilerplate for c in chunks)


def test_over_long_segment_is_split_to_fit():
    long_paragraph = " ".join(f"word{i}" for i in range(130))  # one 130-word "sentence"
    text, segments = _document([("Text", "Intro paragraph here."), ("Text", long_paragraph),
                                ("Text", "Closing words.")])
    chunks = chunk_segments(text, segments, count_words, 32, set())
    _assert_chunks_cover(text, segments, chunks, 32)
    assert len(chunks) >= 5


def test_boilerplate_paragraph_is_a_chunk_of_its_own():
    disclaimer = ("CONFIDENTIAL: this document contains proprietary information of the company "
                  "and must not be shared outside the organisation without written approval.")
    assert len(words(disclaimer)) >= BOILERPLATE_MIN_WORDS
    boilerplate = {paragraph_hash(disclaimer)}
    text, segments = _document([
        ("Text", "First short paragraph."),
        ("Text", disclaimer),
        ("Text", "Second short paragraph."),
        ("Text", "Third short paragraph."),
    ])
    chunks = chunk_segments(text, segments, count_words, 200, boilerplate)
    _assert_chunks_cover(text, segments, chunks, 200)
    pieces = [(text[c.char_start:c.char_end], c.is_boilerplate) for c in chunks]
    assert pieces == [
        ("First short paragraph.", False),
        (disclaimer, True),
        ("Second short paragraph.\n\nThird short paragraph.", False),
    ]


def test_short_repeated_paragraphs_are_not_boilerplate():
    assert paragraph_hash("some text") is None
    assert paragraph_hash(_sentence(BOILERPLATE_MIN_WORDS, 1)) is not None


def test_a_title_starts_a_new_chunk_once_a_quarter_is_used():
    text, segments = _document([
        ("Title", "Section one"),
        ("Text", _sentence(20, 1)),
        ("Title", "Section two"),
        ("Text", _sentence(10, 2)),
    ])
    chunks = chunk_segments(text, segments, count_words, 64, set())
    assert [c.section for c in chunks] == ["Section one", "Section two"]
    assert text[chunks[1].char_start:].startswith("Section two")
