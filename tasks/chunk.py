"""Split a document's stored text into token-bounded chunks along its structure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from compliance.adapters.local_llm import get_local_model
from compliance.context import RunContext
from compliance.extract.model import Segment
from compliance.settings import ChunkSettings
from compliance.store.db import Database
from compliance.store.texts import texts_for
from compliance.textnorm import normalized_text_hash, words
from compliance.vocab import readable_current
from tasks.stage import as_task

# A paragraph this long that appears more than once (in one document or across documents) is
# boilerplate: a disclaimer, a footer, a signature block. It gets a chunk of its own so that its
# summary is computed once for every document that repeats it.
BOILERPLATE_MIN_WORDS = 12
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
# Chunks inserted per statement: bounds the parameters of a document of any size.
BATCH_CHUNKS = 5000


@dataclass
class Chunk:
    """A contiguous span of the stored text, with its place in the source."""

    seq: int
    char_start: int
    char_end: int
    page_start: int | None
    page_end: int | None
    section: str | None
    token_count: int
    is_boilerplate: bool


def paragraph_hash(text: str) -> str | None:
    """The boilerplate identity of a paragraph, or None when it is too short to count."""
    if len(words(text)) < BOILERPLATE_MIN_WORDS:
        return None
    return normalized_text_hash(text)


def _split_long(start: int, end: int, text: str, max_tokens: int,
                count: Callable[[list[str]], list[int]]) -> list[tuple[int, int, int]]:
    """Cut an over-long segment at sentence ends, then at spaces, into pieces of <= max_tokens."""
    bounds = [start]
    for match in _SENTENCE_END.finditer(text, start, end):
        bounds.append(match.end())
    bounds.append(end)
    sentences = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    known = dict(zip(sentences, count([text[a:b] for a, b in sentences]), strict=True))
    pieces: list[tuple[int, int]] = []
    for a, b in sentences:
        tokens = known[(a, b)]
        if tokens <= max_tokens:
            pieces.append((a, b))
            continue
        # One sentence longer than a chunk (a table row, a run-on clause): cut at spaces.
        step = max(1, (b - a) * max_tokens // (tokens + 1))
        cursor = a
        while cursor < b:
            cut = min(b, cursor + step)
            space = text.rfind(" ", cursor + step // 2, cut) if cut < b else -1
            cut = space + 1 if space > cursor else cut
            pieces.append((cursor, cut))
            cursor = cut
    # Whole sentences keep their count; only the pieces cut at spaces are counted again.
    fresh = [piece for piece in pieces if piece not in known]
    known |= dict(zip(fresh, count([text[a:b] for a, b in fresh]), strict=True))
    counts = [known[piece] for piece in pieces]
    result: list[tuple[int, int, int]] = []
    for (a, b), n in zip(pieces, counts, strict=True):
        if n <= max_tokens or b - a < 2:
            result.append((a, b, n))
        else:  # token density varies (scripts, numbers): halve until it fits
            middle = text.rfind(" ", a + 1, (a + b) // 2 + 1)
            middle = middle + 1 if middle > a else (a + b) // 2
            result.extend(_split_long(a, middle, text, max_tokens, count))
            result.extend(_split_long(middle, b, text, max_tokens, count))
    return result


def chunk_segments(
    text: str,
    segments: list[Segment],
    count_tokens: Callable[[list[str]], list[int]],
    max_tokens: int,
    boilerplate: set[str],
) -> list[Chunk]:
    """Greedy packing of segments into chunks of at most max_tokens.

    A new chunk starts at a section title or an e-mail part once the current one holds a quarter
    of the budget, and every boilerplate paragraph is a chunk of its own.
    """
    units: list[tuple[int, int, int, Segment, bool]] = []
    counts = count_tokens([text[s.start:s.end] for s in segments])
    for segment, tokens in zip(segments, counts, strict=True):
        is_boiler = paragraph_hash(text[segment.start:segment.end]) in boilerplate
        if tokens <= max_tokens:
            units.append((segment.start, segment.end, tokens, segment, is_boiler))
        else:
            for a, b, n in _split_long(segment.start, segment.end, text, max_tokens,
                                       count_tokens):
                units.append((a, b, n, segment, False))

    chunks: list[Chunk] = []
    current: list[tuple[int, int, int, Segment, bool]] = []

    def flush() -> None:
        if not current:
            return
        pages = [u[3].page for u in current if u[3].page is not None]
        # Separators between units cost about one token each.
        tokens = sum(u[2] for u in current) + len(current) - 1
        chunks.append(Chunk(
            seq=len(chunks),
            char_start=current[0][0],
            char_end=current[-1][1],
            page_start=min(pages) if pages else None,
            page_end=max(pages) if pages else None,
            section=current[0][3].section,
            token_count=tokens,
            is_boilerplate=len(current) == 1 and current[0][4],
        ))
        current.clear()

    used = 0
    for unit in units:
        _, _, tokens, segment, is_boiler = unit
        structural_break = segment.kind in ("Title", "EmailHeader") and used >= max_tokens // 4
        if is_boiler or structural_break or (current and used + tokens + 1 > max_tokens):
            flush()
            used = 0
        current.append(unit)
        used += tokens + (1 if used else 0)
        if is_boiler:
            flush()
            used = 0
    flush()
    return chunks


def boilerplate_hashes(cur: duckdb.DuckDBPyConnection, min_documents: int) -> set[str]:
    """Paragraphs repeated within one document, or shared by min_documents distinct texts."""
    rows = cur.execute(
        f"""
        WITH current_paragraphs AS (
            SELECT p.para_hash, d.doc_id, d.text_hash
            FROM paragraphs p JOIN documents d USING (doc_id)
            WHERE {readable_current("d")}
        ),
        within AS (
            SELECT para_hash FROM current_paragraphs GROUP BY para_hash, doc_id
            HAVING count(*) >= 2
        ),
        across AS (
            SELECT para_hash FROM current_paragraphs GROUP BY para_hash
            HAVING count(DISTINCT text_hash) >= ?
        )
        SELECT para_hash FROM within UNION SELECT para_hash FROM across
        """,
        [min_documents],
    ).fetchall()
    return {row[0] for row in rows}


def documents_to_chunk(cur: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """(doc_id, text_sha256) of current documents with text and no chunks yet (new ones, or
    left by an interrupted run)."""
    return cur.execute(
        f"""
        SELECT d.doc_id, d.text_sha256 FROM documents d
        WHERE {readable_current("d")}
          AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
        ORDER BY d.doc_id
        """
    ).fetchall()


def chunk_document(db: Database, run_id: str, doc_id: int, text: str,
                   count_tokens: Callable[[list[str]], list[int]], max_tokens: int,
                   boilerplate: set[str]) -> int:
    """Chunk one stored document and store its chunks, linking repeats to their first copy."""
    with db.cursor() as cur:
        segments = [
            Segment(start, end, kind, page, section)
            for start, end, kind, page, section in cur.execute(
                "SELECT char_start, char_end, kind, page_number, section FROM segments "
                "WHERE doc_id = ? ORDER BY seq",
                [doc_id],
            ).fetchall()
        ]
    chunks = chunk_segments(text, segments, count_tokens, max_tokens, boilerplate)
    hashes = [normalized_text_hash(text[c.char_start:c.char_end]) for c in chunks]
    with db.transaction() as cur:
        for start in range(0, len(chunks), BATCH_CHUNKS):
            _store_chunks(cur, run_id, doc_id, chunks[start:start + BATCH_CHUNKS],
                          hashes[start:start + BATCH_CHUNKS])
    return len(chunks)


def _store_chunks(cur: duckdb.DuckDBPyConnection, run_id: str, doc_id: int, chunks: list[Chunk],
                  hashes: list[str]) -> None:
    """Insert a batch of one document's chunks, each repeat pointing to its hash's first chunk.

    Ids are drawn first, so that a chunk knows the id of an earlier repeat in its own batch;
    a statement per chunk is DuckDB's slow path (about 4 ms a chunk).
    """
    ids = sorted(row[0] for row in cur.execute(
        "SELECT nextval('chunk_id_seq') FROM range(?)", [len(chunks)]).fetchall())
    first = dict(cur.execute(
        "SELECT chunk_hash, min(chunk_id) FROM chunks "
        "WHERE chunk_hash IN (SELECT unnest(?::VARCHAR[])) GROUP BY chunk_hash",
        [sorted(set(hashes))]).fetchall())
    duplicate_of: list[int | None] = []
    for chunk_id, chunk_hash in zip(ids, hashes, strict=True):
        duplicate_of.append(first.get(chunk_hash))
        first.setdefault(chunk_hash, chunk_id)
    cur.execute(
        """
        INSERT INTO chunks (chunk_id, doc_id, seq, char_start, char_end, page_start, page_end,
            section, token_count, chunk_hash, is_boilerplate, duplicate_of_chunk,
            summary_status, created_run_id)
        SELECT unnest(?::BIGINT[]), ?, unnest(?::INTEGER[]), unnest(?::INTEGER[]),
            unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::INTEGER[]),
            unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::VARCHAR[]),
            unnest(?::BOOLEAN[]), unnest(?::BIGINT[]), 'pending', ?
        """,
        [ids, doc_id, [c.seq for c in chunks], [c.char_start for c in chunks],
         [c.char_end for c in chunks], [c.page_start for c in chunks],
         [c.page_end for c in chunks], [c.section for c in chunks],
         [c.token_count for c in chunks], hashes, [c.is_boilerplate for c in chunks],
         duplicate_of, run_id],
    )


@as_task("chunk-documents")
def chunk_documents(ctx: RunContext, settings: ChunkSettings) -> int:
    """Chunk every stored document that has no chunks yet."""
    chunks = 0
    with ctx.db.cursor() as reader:
        documents = documents_to_chunk(reader)
        boilerplate = boilerplate_hashes(reader, settings.boilerplate_min_documents)
        if documents:
            model = get_local_model(ctx.model)  # its tokenizer counts the chunk budget
            # Texts a page at a time, one document's chunks in memory (see compliance.store.texts).
            for doc_id, text in texts_for(reader, documents):
                if text is None:  # its text row is gone: `compliance verify` names it
                    continue
                chunks += chunk_document(ctx.db, ctx.run_id, doc_id, text, model.count_tokens,
                                         settings.max_chunk_tokens, boilerplate)
    ctx.counts.chunks_new = chunks
    return chunks
