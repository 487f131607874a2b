"""Ranked keyword search (BM25) over chunks and summaries, answered from DuckDB alone.

DuckDB's full-text extension cannot be installed offline, so the index is our own: every
distinct chunk text (by chunks.chunk_hash) and every summary (by summaries.summary_key) is
tokenized once into search_items (its length) and search_postings (term frequencies), by the
indexing stage (tasks/index.py) with the tokenizer defined here. Keys are content hashes, so an
item shared by several documents or versions is indexed once, and search maps hits back to the
current document versions that contain them.

Tokens: NFKC and case-folded; words are runs of letters and digits that may hold apostrophes
("o'clock"); a hyphen splits a word ("non-compete" is "non" and "compete", so either spelling
of a query matches); a possessive "'s" or trailing apostrophe is dropped; decimals and section
numbers keep their dots ("1.5", "3.12") and thousands separators are removed ("1,000" is
"1000"); a small list of English stopwords is dropped (negations such as "no" and "not" are
kept: "no side effects" matters here). Plain ASCII words are then stemmed, in this order:

1. plurals: -ies becomes -y ("policies"); -sses/-ches/-shes/-xes lose -es ("matches");
   otherwise one final -s goes, except after s, u or i ("claims" but not "status", "basis");
2. -ing or -ed goes when at least three letters with a vowel remain, and a doubled final
   consonant other than l, s or z is undoubled ("reporting", "stopped");
3. a final -e goes from words of five letters or more ("reduce", "reduces" and "reducing" all
   become "reduc").

Words of three letters or fewer, and words with digits, apostrophes or non-ASCII letters, are
not stemmed. The stemmer is deliberately light: it conflates the common inflections, never
looks words up, and always gives the same answer.

Scores are Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) with
corpus statistics (N, df, average length) taken per item kind over everything indexed (older
versions' texts included), so a chunk's score does not depend on whether summaries are searched
too. Repeated query terms count once. Hits are then mapped to current document versions only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import duckdb

K1 = 1.2
B = 0.75
ITEM_KINDS = ("chunk", "summary")
SNIPPET_CHARS = 200
MARK_OPEN = "«"
MARK_CLOSE = "»"

STOPWORDS = frozenset("""
a an and are as at be been being but by did do does doing for from had has have having he her
hers him his i if in into is it its itself me my of on or our ours she so than that the their
theirs them then there these they this those to was we were what when where which while who
whom why how with you your yours
""".split())

# Decimals and section numbers ("1.5", "3.12"), thousands ("1,000"), then words of letters and
# digits with internal apostrophes; "_" is a word character to \w but not a letter here.
_TOKEN = re.compile(r"\d+(?:\.\d+)+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|[^\W_]+(?:['’][^\W_]+)*")
_VOWELS = frozenset("aeiouy")
_SPACE = re.compile(r"\s+")
# What may separate two marked words for them to share one mark ("«Smart-Release coating»").
_JOINER = re.compile(r"[\s\-‐‑–]+")


@dataclass(frozen=True)
class SearchHit:
    """One ranked hit: an indexed chunk or summary as it occurs in a current document."""

    kind: str  # 'chunk' or 'summary'
    score: float
    doc_id: int
    source_root: str
    rel_path: str
    version: int
    chunk_id: int | None  # None for a document summary
    page: int | None  # the chunk's page_start
    section: str | None
    snippet: str  # about SNIPPET_CHARS of text, matched words wrapped in «»
    summary_kind: str | None  # 'chunk' or 'document' for summary hits, else None
    matched_terms: tuple[str, ...]


def stem(word: str) -> str:
    """The light suffix stem of one case-folded word (see the module docstring)."""
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWELS.intersection(base):
            word = base
            if word[-1] == word[-2] and word[-1] not in "lsz" and word[-1] not in _VOWELS:
                word = word[:-1]
            break
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


@lru_cache(maxsize=1 << 16)
def _term(token: str) -> str | None:
    """The index term of one folded token, or None for a stopword; cached: words repeat."""
    if token[0].isdigit() and "," in token:
        return token.replace(",", "")
    if token.endswith("'s"):
        token = token[:-2]
    if not token or token in STOPWORDS:
        return None
    return stem(token)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("’", "'")


def tokenize(text: str) -> list[str]:
    """The index terms of a text, in order; documents and queries share it."""
    terms = (_term(match.group()) for match in _TOKEN.finditer(_fold(text)))
    return [term for term in terms if term is not None]


def token_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """(term, start, end) for the terms of the text, offsets into the original (unfolded) text.

    The same terms as tokenize except where folding joins or splits words (rare: ligatures,
    fractions), which can only cost a snippet a mark.
    """
    for match in _TOKEN.finditer(text):
        for term in tokenize(match.group()):
            yield term, match.start(), match.end()


def summary_text(summary: str, key_points_json: str | None) -> str:
    """What a summary is indexed and quoted as: its text, then its key points, one a line."""
    try:
        points = json.loads(key_points_json) if key_points_json else []
    except ValueError:
        points = []
    if not isinstance(points, list):
        points = []
    return "\n".join([summary, *(str(p) for p in points if p)])


def unindexed_count(conn: duckdb.DuckDBPyConnection) -> int:
    """Distinct chunk texts plus summaries not yet indexed (the next run indexes them)."""
    return conn.execute(
        """
        SELECT (SELECT count(DISTINCT c.chunk_hash) FROM chunks c
                WHERE NOT EXISTS (SELECT 1 FROM search_items s WHERE s.item_kind = 'chunk'
                                  AND s.item_key = c.chunk_hash))
             + (SELECT count(*) FROM summaries m
                WHERE NOT EXISTS (SELECT 1 FROM search_items s WHERE s.item_kind = 'summary'
                                  AND s.item_key = m.summary_key))
        """).fetchone()[0]


_SEARCH_SQL = """
WITH q AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS term),
stats AS (
    SELECT item_kind, count(*) AS n, avg(term_count) AS avgdl FROM search_items
    WHERE ?::VARCHAR IS NULL OR item_kind = ?
    GROUP BY item_kind
),
postings AS (
    SELECT p.term, p.item_kind, p.item_key, p.tf, i.term_count
    FROM search_postings p
    JOIN q USING (term)
    JOIN search_items i USING (item_kind, item_key)
    WHERE ?::VARCHAR IS NULL OR p.item_kind = ?
),
df AS (SELECT item_kind, term, count(*) AS df FROM postings GROUP BY item_kind, term),
scored AS (
    SELECT p.item_kind, p.item_key,
           sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
               * p.tf * ($k1 + 1)
               / (p.tf + $k1 * (1 - $b + $b * p.term_count / s.avgdl))) AS score,
           list(DISTINCT p.term ORDER BY p.term) AS terms
    FROM postings p JOIN df USING (item_kind, term) JOIN stats s USING (item_kind)
    GROUP BY p.item_kind, p.item_key
),
chunk_hits AS (
    -- Each current document holding the item, at its first such chunk.
    SELECT x.item_kind, x.item_key, x.score, x.terms, NULL::VARCHAR AS summary_kind,
           c.doc_id, c.chunk_id, c.seq, c.page_start, c.section, c.char_start, c.char_end
    FROM scored x
    JOIN chunks c ON x.item_kind = 'chunk' AND c.chunk_hash = x.item_key
    JOIN documents d ON d.doc_id = c.doc_id AND d.is_current
    QUALIFY row_number() OVER (PARTITION BY x.item_key, c.doc_id ORDER BY c.seq, c.chunk_id) = 1
),
summary_hits AS (
    -- A summary reaches documents through the chunks that have it and as a document summary
    -- (a one-chunk document's summary is its chunk's): one hit per document, chunk preferred.
    SELECT * FROM (
        SELECT x.item_kind, x.item_key, x.score, x.terms, 'chunk' AS summary_kind,
               c.doc_id, c.chunk_id, c.seq, c.page_start, c.section,
               NULL::INTEGER AS char_start, NULL::INTEGER AS char_end
        FROM scored x
        JOIN chunks c ON x.item_kind = 'summary' AND c.summary_key = x.item_key
        JOIN documents d ON d.doc_id = c.doc_id AND d.is_current
        UNION ALL
        SELECT x.item_kind, x.item_key, x.score, x.terms, 'document', ds.doc_id, NULL, NULL,
               NULL, NULL, NULL, NULL
        FROM scored x
        JOIN document_summaries ds ON x.item_kind = 'summary' AND ds.summary_key = x.item_key
        JOIN documents d ON d.doc_id = ds.doc_id AND d.is_current
    )
    QUALIFY row_number() OVER (PARTITION BY item_key, doc_id
                               ORDER BY summary_kind = 'document', seq, chunk_id) = 1
),
top AS (
    SELECT h.*, d.source_root, d.rel_path, d.version, d.text_sha256
    FROM (SELECT * FROM chunk_hits UNION ALL SELECT * FROM summary_hits) h
    JOIN documents d USING (doc_id)
    ORDER BY h.score DESC, d.rel_path, d.source_root, h.seq NULLS FIRST, h.item_kind,
             h.doc_id, h.item_key
    LIMIT ?
)
SELECT t.item_kind, t.score, t.doc_id, t.source_root, t.rel_path, t.version, t.chunk_id,
       t.page_start, t.section, t.summary_kind, t.terms,
       CASE WHEN t.item_kind = 'chunk'
            THEN substring(x.text, t.char_start + 1, t.char_end - t.char_start) END,
       m.summary, CAST(m.key_points AS VARCHAR)
FROM top t
LEFT JOIN texts x ON t.item_kind = 'chunk' AND x.text_sha256 = t.text_sha256
LEFT JOIN summaries m ON t.item_kind = 'summary' AND m.summary_key = t.item_key
ORDER BY t.score DESC, t.rel_path, t.source_root, t.seq NULLS FIRST, t.item_kind, t.doc_id,
         t.item_key
""".replace("$k1", repr(K1)).replace("$b", repr(B))


def search(conn: duckdb.DuckDBPyConnection, query: str, limit: int = 10,
           kind: str | None = None) -> list[SearchHit]:
    """Hits for the query, best first, on current document versions; read-only, no model call.

    kind limits the search to 'chunk' or 'summary' items. An item shared by several current
    documents gives one hit per document (at its first chunk there), so equal scores can repeat.
    """
    if kind is not None and kind not in ITEM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ITEM_KINDS)} or None, not {kind!r}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    terms = sorted(set(tokenize(query)))
    if not terms:
        raise ValueError(f"the query {query!r} has no searchable words: it is empty or only "
                         "common words (stopwords such as 'the', 'and', 'of')")
    rows = conn.execute(_SEARCH_SQL, [terms, kind, kind, kind, kind, limit]).fetchall()
    hits = []
    for (item_kind, score, doc_id, source_root, rel_path, version, chunk_id, page, section,
         summary_kind, matched, chunk_text, summary, key_points) in rows:
        text = chunk_text if item_kind == "chunk" else summary_text(summary or "", key_points)
        hits.append(SearchHit(
            kind=item_kind, score=float(score), doc_id=doc_id, source_root=source_root,
            rel_path=rel_path, version=version, chunk_id=chunk_id, page=page, section=section,
            snippet=snippet(text or "", set(matched)), summary_kind=summary_kind,
            matched_terms=tuple(matched)))
    return hits


def _best_anchor(spans: Sequence[tuple[str, int, int]], reach: int) -> int:
    """Index of the match opening the stretch of reach chars with the most distinct matches."""
    best, best_key = 0, (-1, -1)
    for i, (_, start, _) in enumerate(spans):
        inside = []
        for term, _, end in spans[i:]:  # spans are in text order
            if end > start + reach:
                break
            inside.append(term)
        key = (len(set(inside)), len(inside))
        if key > best_key:  # strictly better: ties keep the earliest stretch
            best, best_key = i, key
    return best


def snippet(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> str:
    """About width characters of the text around its best matches, matched words in «»."""
    spans = [(term, s, e) for term, s, e in token_spans(text) if term in terms]
    lead = width // 5  # context shown before the first match
    start = 0
    if spans:
        anchor = spans[_best_anchor(spans, width - lead)][1]
        start = max(0, anchor - lead)
        while start > 0 and not text[start - 1].isspace() and start < anchor:
            start += 1  # begin at a word start
    end = min(len(text), start + width)
    while end < len(text) and end > start and not text[end].isspace():
        end -= 1  # end at a word end
    if end <= start:  # one word longer than the window: cut it
        end = min(len(text), start + width)
    marks: list[list[int]] = []
    for _, s, e in spans:
        if s < start or e > end:
            continue
        if marks and _JOINER.fullmatch(text[marks[-1][1]:s]):
            marks[-1][1] = e
        elif not marks or s >= marks[-1][1]:
            marks.append([s, e])
    pieces = []
    cursor = start
    for s, e in marks:
        pieces.append(_SPACE.sub(" ", text[cursor:s]))
        pieces.append(MARK_OPEN + _SPACE.sub(" ", text[s:e]) + MARK_CLOSE)
        cursor = e
    pieces.append(_SPACE.sub(" ", text[cursor:end]))
    body = "".join(pieces).strip()
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")

