"""Large plain-text contracts, generated at test (or benchmark) time, never committed.

Real contract paragraphs (CUAD records) repeated with varied numbers, so that chunks differ
(no chunk dedupe shortcut) while the rule packs still find what they find in real contracts.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
SMALL_CONTRACTS = TESTS_DIR / "fixtures" / "contracts" / "cuad_small.jsonl"
_NUMBER = re.compile(r"\d+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def contract_paragraphs(jsonl: Path = SMALL_CONTRACTS, limit: int = 2000) -> list[str]:
    """Non-blank paragraphs of the contracts in a CUAD-style JSON-lines file."""
    paragraphs: list[str] = []
    with jsonl.open(encoding="utf-8") as lines:
        for line in lines:
            for paragraph in _PARAGRAPH_BREAK.split(json.loads(line)["text"]):
                if paragraph.strip():
                    paragraphs.append(paragraph.strip())
            if len(paragraphs) >= limit:
                break
    return paragraphs[:limit]


def write_contract_text(path: Path, size_bytes: int, paragraphs: list[str] | None = None,
                        seed: int = 0) -> int:
    """Write about size_bytes of UTF-8 contract text to path; return the bytes written.

    Paragraphs are taken in order, round after round, each number in them replaced by a
    seeded random one, and joined by blank lines.
    """
    paragraphs = paragraphs or contract_paragraphs()
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        while written < size_bytes:
            for paragraph in paragraphs:
                text = _NUMBER.sub(lambda _: str(rng.randrange(1, 10_000)), paragraph) + "\n\n"
                out.write(text)
                written += len(text.encode("utf-8"))
                if written >= size_bytes:
                    break
    return written
