"""Text normalization and the hashes that identify text."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w]+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: equal for the same words in another container."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words(text: str) -> list[str]:
    """The word tokens of normalized text, punctuation and markup dropped."""
    return [w for w in _NON_WORD.split(normalize_text(text)) if w]


def sha256_text(text: str) -> str:
    """Hex sha256 of a string's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes: the identity of a file or an attachment."""
    return hashlib.sha256(data).hexdigest()


def normalized_text_hash(text: str) -> str:
    """Hash of the normalized text, markup-insensitive: the identity of a text across formats."""
    return sha256_text(" ".join(words(text)))
