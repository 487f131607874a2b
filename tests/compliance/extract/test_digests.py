"""Digests made by the parser worker: the same hashes the stages compute, and no spaCy import
for a PDF."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from compliance.extract.digests import digest_text
from compliance.extract.dispatch import extract_attachment, extract_job
from compliance.rules.risk_hints import risk_hint_score
from compliance.textnorm import normalized_text_hash, sha256_text
from tasks.chunk import BOILERPLATE_MIN_WORDS, paragraph_hash

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"
TEXT = ("MASTER SERVICES AGREEMENT\n\nThe Supplier shall indemnify the Customer against every "
        "claim arising from its breach of this Agreement, and this clause survives termination "
        "of the Agreement for any reason whatsoever.\n\nShort line.\n")


def test_the_worker_digests_are_the_hashes_the_stages_use() -> None:
    extraction = extract_job((extract_attachment, (TEXT.encode(), "msa.txt", 1 << 20)))
    digests = extraction.digests
    assert digests == digest_text(extraction.text, extraction.segments)
    assert digests.text_sha256 == sha256_text(extraction.text)
    assert digests.text_hash == normalized_text_hash(extraction.text)
    assert digests.risk_hints == risk_hint_score(extraction.text) > 0
    assert len(digests.segment_keys) == len(extraction.segments) >= 2
    for seg, key, count in zip(extraction.segments, digests.segment_keys,
                               digests.segment_words, strict=True):
        paragraph = extraction.text[seg.start:seg.end]
        # The boilerplate stage finds the same paragraph by the same hash.
        assert paragraph_hash(paragraph) == (key if count >= BOILERPLATE_MIN_WORDS else None)


def test_nothing_to_digest_in_a_file_without_text() -> None:
    assert extract_job((extract_attachment, (b"", "empty.txt", 1 << 20))).digests is None


def test_reading_a_pdf_does_not_load_unstructured_or_spacy() -> None:
    """A worker that reads PDFs only starts in a fraction of the time (no spaCy import)."""
    pdf = SAMPLES / "promo" / "cardiozen-brochure.pdf"
    code = ("import sys\n"
            "from compliance.extract.dispatch import extract_file, extract_job\n"
            f"e = extract_job((extract_file, ({str(pdf)!r}, 'a.pdf', 1 << 20)))\n"
            "assert e.text and e.digests, e.status\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('unstructured', 'spacy')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
