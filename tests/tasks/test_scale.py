"""A large plain-text file through ingest, chunk and flag: memory bounded, every chunk flagged
from its own slice of the stored text, with the offsets a small file gives (issue #15, item 2).

The file is generated here (real contract paragraphs with varied numbers), never committed. The
rule packs run without their entity rules: spaCy's pass costs ~40 ms a chunk, and what is under
test is how chunk texts reach the rules, not the rules.
"""

from __future__ import annotations

import resource
from collections import Counter
from pathlib import Path

import pytest
from scale_helpers import write_contract_text

from compliance import context
from compliance.rules.loader import load_rules
from compliance.rules.matching import RuleSet
from compliance.settings import PipelineParams
from tasks import chunk, flag, ingest, inventory
from tasks.summarize.chunks import pending_chunk_groups

pytestmark = pytest.mark.slow  # the chunk stage counts tokens with the real GGUF model

SIZE_BYTES = 6_000_000


def _rss_mb(field: str) -> float:
    """VmRSS or VmHWM (peak) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux: clear_refs 5); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _run_stages(source: Path, db_path: Path) -> context.RunContext:
    """Ingest, chunk and flag a folder with the entity-free rule packs; the closed context."""
    params = PipelineParams(source=str(source), db_path=str(db_path), summarize="off",
                            escalation="off", scorer="off")
    inputs = context.load_inputs(params)
    rules = inputs.rules
    inputs.rules = RuleSet([rule for rule in rules.rules if not rule.entities],
                           rules.pack_versions, rules.whole_document)
    with context.running(params, inputs, "test") as ctx:
        plan = inventory.take_inventory.fn(ctx, params)
        result = ingest.ingest_documents.fn(ctx, params, plan)
        assert not result.failures, result.failures
        chunk.chunk_documents.fn(ctx, params)
        flag.flag_chunks.fn(ctx, params)
        return ctx


def _flags(db_path: Path, rel_path: str) -> tuple[str, list[tuple[str, int, int, str]]]:
    """A document's stored text and its flags (rule, start, end, matched text)."""
    from helpers import query

    (text,) = query(db_path, "SELECT t.text FROM documents d JOIN texts t USING (text_sha256) "
                    "WHERE d.rel_path = ?", [rel_path])[0]
    rows = query(db_path, "SELECT f.rule_id, f.char_start, f.char_end, f.matched_text "
                 "FROM flags f JOIN documents d USING (doc_id) WHERE d.rel_path = ? "
                 "ORDER BY f.char_start, f.char_end, f.rule_id", [rel_path])
    return text, rows


def test_large_text_is_flagged_chunk_by_chunk_with_bounded_memory(tmp_path: Path) -> None:
    from helpers import query

    from compliance.adapters.local_llm import get_local_model

    big = tmp_path / "big"
    big.mkdir()
    written = write_contract_text(big / "contract.txt", SIZE_BYTES)
    db_path = tmp_path / "big.duckdb"
    # Load what any run loads (tokenizer, rule packs, Prefect's logger) before measuring.
    warm = tmp_path / "warm"
    warm.mkdir()
    (warm / "note.txt").write_text("Either party may terminate this Agreement for convenience.")
    ctx = _run_stages(warm, tmp_path / "warm.duckdb")
    get_local_model(ctx.model).count_tokens(["warm up"])
    measured = _reset_peak()
    before = _rss_mb("VmRSS")

    _run_stages(big, db_path)

    growth = _rss_mb("VmHWM") - before
    size_mb = written / 1e6
    print(f"{size_mb:.1f} MB of text: peak RSS grew {growth:.0f} MB")
    if measured:
        # The text in the parent (str and the DuckDB copy), the chunk slices and their hits:
        # a few times the text, never the quadratic blow-up or the run's texts multiplied.
        assert growth < 12 * size_mb + 200, f"peak RSS grew {growth:.0f} MB for {size_mb} MB"

    text, flags = _flags(db_path, "contract.txt")
    assert len(text.encode()) >= written - 10  # all of it stored: no cut, no too_large
    chunks = query(db_path, "SELECT chunk_id, char_start, char_end FROM chunks ORDER BY seq")
    assert len(chunks) > 2000
    assert query(db_path, "SELECT count(*) FROM triage")[0][0] == len(chunks)
    assert len(flags) > 1000
    # Every flag's offsets point at its matched text in the stored text.
    assert all(text[start:end] == matched for _, start, end, matched in flags)
    # Every 97th chunk: its stored flags are the rules' hits in its own slice, shifted.
    rules = RuleSet([r for r in load_rules().rules if not r.entities], {})
    by_chunk = Counter()
    for _, start, end in chunks[::97]:
        expected = sorted((h.rule_id, start + h.start, start + h.end)
                          for h in rules.scan(text[start:end]))
        stored = sorted((rule, a, b) for rule, a, b, _ in flags if start <= a < end)
        assert stored == expected
        by_chunk[bool(expected)] += 1
    assert by_chunk[True] > 5

    # The flag and summarize stages fetch offsets, never texts, per chunk.
    from compliance.store import db as database

    conn = database.reader(str(db_path))
    try:
        doc_id = conn.execute("SELECT doc_id FROM documents").fetchone()[0]
        offsets = flag.chunks_to_flag(conn, doc_id, "another-policy")
        assert len(offsets) == len(chunks)
        assert all(isinstance(value, int) for row in offsets for value in row)
        groups = pending_chunk_groups(conn)
        assert groups and all(len(row[0]) == 64 and isinstance(row[4], int) for row in groups)
    finally:
        conn.close()

    # The same text as a small file: the same flags, at the same places in its chunk.
    per_chunk = Counter(next(c for c in chunks if c[1] <= a < c[2])
                        for _, a, _, _ in flags if chunks[len(chunks) // 2][1] <= a)
    middle = per_chunk.most_common(1)[0][0]  # the most flagged chunk of the second half
    piece = text[middle[1]:middle[2]]
    small = tmp_path / "small"
    small.mkdir()
    (small / "piece.txt").write_text(piece)
    _run_stages(small, tmp_path / "small.duckdb")
    small_text, small_flags = _flags(tmp_path / "small.duckdb", "piece.txt")
    in_middle = [(rule, matched) for rule, a, _, matched in flags if middle[1] <= a < middle[2]]
    assert in_middle
    assert sorted((rule, " ".join(m.split())) for rule, _, _, m in small_flags) == sorted(
        (rule, " ".join(m.split())) for rule, m in in_middle)
    assert all(small_text[a:b] == m for _, a, b, m in small_flags)
