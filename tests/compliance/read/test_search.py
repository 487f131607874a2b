"""Keyword search: the tokenizer, BM25 in SQL against a plain Python BM25, and the real samples."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter

import duckdb
import pytest

from compliance.read import search
from compliance.store import db as database
from compliance.textnorm import normalized_text_hash, sha256_text
from tasks import index as search_index

# ---------------------------------------------------------------- tokenizer


@pytest.mark.parametrize(("text", "terms"), [
    ("The Supplier's policies are reviewed annually.",
     ["supplier", "policy", "review", "annually"]),
    # Hyphens split, so "non-compete" and "non compete" match each other.
    ("Non-compete and most-favoured-nation", ["non", "compet", "most", "favour", "nation"]),
    ("Reduces heart attacks by 90% within 1,000 days; see 3.12",
     ["reduc", "heart", "attack", "90", "within", "1000", "day", "see", "3.12"]),
    # Negations are not stopwords: they carry the meaning of a claim.
    ("No side effects, not ever", ["no", "side", "effect", "not", "ever"]),
    ("The parties’ o'clock don’t", ["party", "o'clock", "don't"]),
    ("status basis process processes matches", ["status", "basis", "process", "process",
                                                "match"]),
    ("reporting reported reports report", ["report"] * 4),
    ("stopped running agreed agree", ["stop", "run", "agre", "agre"]),
    ("Cardiozen café naïve_case", ["cardiozen", "café", "naïve", "case"]),
    ("", []),
    ("the of and to is", []),
])
def test_tokenize_known_cases(text, terms):
    assert search.tokenize(text) == terms


def test_tokenize_folds_case_width_and_ligatures():
    assert search.tokenize("ＣＡＲＤＩＯＺＥＮ") == search.tokenize("cardiozen") == ["cardiozen"]
    assert search.tokenize("ﬁling") == search.tokenize("FILING") == ["fil"]
    assert search.tokenize("Straße") == search.tokenize("STRASSE")


def test_stem_is_light_and_deterministic():
    assert [search.stem(w) for w in ("policies", "reduce", "reduces", "reducing", "reduced")] == [
        "policy", "reduc", "reduc", "reduc", "reduc"]
    # Short words, words with digits and non-ASCII words are left alone.
    assert [search.stem(w) for w in ("gas", "cb4s", "años", "thing")] == [
        "gas", "cb4s", "años", "thing"]


def test_token_spans_point_into_the_original_text():
    text = "Its unique SMART-Release coating"
    spans = list(search.token_spans(text))
    assert [(term, text[s:e]) for term, s, e in spans] == [
        ("uniqu", "unique"), ("smart", "SMART"), ("releas", "Release"), ("coat", "coating")]
    assert [t for t, _, _ in spans] == search.tokenize(text)


# ---------------------------------------------------------------- a tiny hand-made corpus

CONTRACT = ["The supplier shall indemnify the customer against all losses.",
            "Fees are payable within sixty days of invoice. Late fees accrue interest."]
BROCHURE_V1 = ["Cardiozen cures cholesterol forever."]
BROCHURE_V2 = ["Cardiozen reduces heart attacks by 90%. No side effects.",
               "Ask your doctor about Cardiozen side effects."]
RETENTION = ["Records are retained for seven years and then destroyed.",
             "Personal data is deleted after the retention period ends."]
CHUNK_SUMMARY = ("The supplier indemnifies the customer.", ["Indemnity covers losses."])
DOCUMENT_SUMMARY = ("A promotional brochure for Cardiozen claiming no side effects.",
                    ["Claims 90% fewer heart attacks.", "Says Cardiozen is safe."])


class Corpus:
    """Rows inserted straight into a migrated in-memory database."""

    def __init__(self) -> None:
        self.conn = duckdb.connect()
        database.apply_migrations(self.conn)
        self.texts: dict[tuple[str, str], str] = {}  # (item_kind, item_key) -> indexed text
        self.chunk_ids: dict[tuple[str, int], int] = {}  # (rel_path, version, seq) -> chunk_id

    def add_document(self, rel_path: str, chunks: list[str], version: int = 1,
                     is_current: bool = True) -> int:
        text = "\n\n".join(chunks)
        sha = sha256_text(text)
        self.conn.execute("INSERT INTO texts VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          [sha, text, len(text)])
        doc_id = self.conn.execute(
            """
            INSERT INTO documents (source_root, rel_path, version, is_current, text_sha256,
                                   status, first_run_id, last_seen_run_id)
            VALUES ('/src', ?, ?, ?, ?, 'ok', 'r1', 'r1') RETURNING doc_id
            """, [rel_path, version, is_current, sha]).fetchone()[0]
        start = 0
        for seq, chunk in enumerate(chunks):
            end = start + len(chunk)
            chunk_hash = normalized_text_hash(chunk)
            chunk_id = self.conn.execute(
                """
                INSERT INTO chunks (doc_id, seq, char_start, char_end, page_start, page_end,
                                    section, token_count, chunk_hash, summary_status,
                                    created_run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, 10, ?, 'pending', 'r1') RETURNING chunk_id
                """, [doc_id, seq, start, end, seq + 1, seq + 1, f"Section {seq + 1}",
                      chunk_hash]).fetchone()[0]
            self.chunk_ids[(rel_path, version, seq)] = chunk_id
            self.texts.setdefault(("chunk", chunk_hash), chunk)
            start = end + 2
        return doc_id

    def add_summary(self, key: str, kind: str, summary: str, points: list[str]) -> None:
        self.conn.execute(
            """
            INSERT INTO summaries (summary_key, kind, input_hash, model_sha256, prompt_version,
                                   params_hash, summary, key_points, risk_signals, method,
                                   input_chars, summary_chars, created_run_id)
            VALUES (?, ?, 'h', 'm', 'p', 'q', ?, ?, '[]', 'model', 1, 1, 'r1')
            """, [key, kind, summary, json.dumps(points)])
        self.texts[("summary", key)] = "\n".join([summary, *points])


@pytest.fixture
def corpus() -> Corpus:
    c = Corpus()
    c.add_document("contracts/msa.txt", CONTRACT)
    c.add_document("promo/brochure.txt", BROCHURE_V1, version=1, is_current=False)
    brochure = c.add_document("promo/brochure.txt", BROCHURE_V2, version=2)
    c.add_document("policies/retention.txt", RETENTION)
    # A duplicate: same chunk texts, so the same hashes, indexed once.
    c.add_document("policies/retention-copy.txt", RETENTION)
    c.add_summary("sum-chunk", "chunk", *CHUNK_SUMMARY)
    c.conn.execute("UPDATE chunks SET summary_key = 'sum-chunk', summary_status = 'done' "
                   "WHERE chunk_id = ?", [c.chunk_ids[("contracts/msa.txt", 1, 0)]])
    c.add_summary("sum-doc", "document", *DOCUMENT_SUMMARY)
    c.conn.execute("INSERT INTO document_summaries VALUES (?, 'sum-doc', 'r1')", [brochure])
    return c


def python_bm25(corpus: Corpus, kind: str, query: str) -> dict[str, float]:
    """Textbook BM25 over one item kind, written independently of the SQL."""
    docs = {key: Counter(search.tokenize(text))
            for (item_kind, key), text in corpus.texts.items() if item_kind == kind}
    n = len(docs)
    avgdl = sum(sum(tf.values()) for tf in docs.values()) / n
    scores: dict[str, float] = {}
    for term in set(search.tokenize(query)):
        df = sum(1 for tf in docs.values() if term in tf)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for key, tf in docs.items():
            if term in tf:
                dl = sum(tf.values())
                scores[key] = scores.get(key, 0.0) + idf * tf[term] * (1.2 + 1) / (
                    tf[term] + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))
    return scores


def _chunk_hash(text: str) -> str:
    return normalized_text_hash(text)


def test_index_pending_is_idempotent_and_content_addressed(corpus):
    conn = corpus.conn
    # 7 distinct chunk texts (the retention copy adds none) + 2 summaries.
    assert search.unindexed_count(conn) == 9
    assert search_index.index_pending(conn) == 9
    assert search.unindexed_count(conn) == 0
    postings = conn.execute("SELECT count(*) FROM search_postings").fetchone()[0]
    assert search_index.index_pending(conn) == 0
    assert conn.execute("SELECT count(*) FROM search_postings").fetchone()[0] == postings
    rows = conn.execute("SELECT item_kind, item_key, term_count FROM search_items").fetchall()
    assert {(k, key): n for k, key, n in rows} == {
        key: len(search.tokenize(text)) for key, text in corpus.texts.items()}
    tf = dict(conn.execute(
        "SELECT term, tf FROM search_postings WHERE item_key = ?",
        [_chunk_hash(CONTRACT[1])]).fetchall())
    assert tf == dict(Counter(search.tokenize(CONTRACT[1])))
    # A new document: only its new text is indexed; a leftover orphan posting is cleared.
    conn.execute("INSERT INTO search_postings VALUES ('orphan', 'chunk', 'nokey', 1)")
    corpus.add_document("notes/new.md", ["Brand new minutes.", RETENTION[0]])
    assert search.unindexed_count(conn) == 1
    assert search_index.index_pending(conn) == 1
    assert conn.execute("SELECT count(*) FROM search_postings WHERE term = 'orphan'"
                        ).fetchone()[0] == 0


@pytest.mark.parametrize("query", ["cardiozen side effects", "indemnify losses",
                                   "records retained destroyed", "90% heart attack",
                                   "fees fees invoice"])
def test_bm25_scores_match_a_python_bm25(corpus, query):
    search_index.index_pending(corpus.conn)
    hits = search.search(corpus.conn, query, limit=100)
    assert hits
    expected = {"chunk": python_bm25(corpus, "chunk", query),
                "summary": python_bm25(corpus, "summary", query)}
    hash_of_chunk = dict(corpus.conn.execute("SELECT chunk_id, chunk_hash FROM chunks").fetchall())
    doc_summary_of = dict(corpus.conn.execute(
        "SELECT doc_id, summary_key FROM document_summaries").fetchall())
    summary_of_chunk = dict(corpus.conn.execute(
        "SELECT chunk_id, summary_key FROM chunks WHERE summary_key IS NOT NULL").fetchall())
    for hit in hits:
        if hit.kind == "chunk":
            key = hash_of_chunk[hit.chunk_id]
        elif hit.summary_kind == "chunk":
            key = summary_of_chunk[hit.chunk_id]
        else:
            key = doc_summary_of[hit.doc_id]
        assert hit.score == pytest.approx(expected[hit.kind][key], abs=1e-9, rel=0)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Every scoring item of a current document is returned (the old version's is not).
    current_items = {k for k in expected["chunk"]
                     if k != _chunk_hash(BROCHURE_V1[0])} | set(expected["summary"])
    returned = {hash_of_chunk[h.chunk_id] if h.kind == "chunk"
                else summary_of_chunk.get(h.chunk_id) or doc_summary_of[h.doc_id]
                for h in hits}
    assert returned == current_items


def test_ranking_order_and_hit_fields(corpus):
    search_index.index_pending(corpus.conn)
    hits = search.search(corpus.conn, "Cardiozen side-effects", kind="chunk")
    # Both brochure chunks hold all three terms; the shorter one ranks first.
    assert [h.chunk_id for h in hits] == [corpus.chunk_ids[("promo/brochure.txt", 2, 1)],
                                          corpus.chunk_ids[("promo/brochure.txt", 2, 0)]]
    top = hits[0]
    assert (top.kind, top.rel_path, top.version, top.page, top.section, top.summary_kind) == (
        "chunk", "promo/brochure.txt", 2, 2, "Section 2", None)
    assert top.matched_terms == ("cardiozen", "effect", "side")
    assert top.snippet == "Ask your doctor about «Cardiozen side effects»."

    summaries = search.search(corpus.conn, "indemnify cardiozen", kind="summary")
    by_key = {(h.summary_kind, h.rel_path): h for h in summaries}
    assert set(by_key) == {("chunk", "contracts/msa.txt"), ("document", "promo/brochure.txt")}
    assert by_key[("chunk", "contracts/msa.txt")].chunk_id == corpus.chunk_ids[
        ("contracts/msa.txt", 1, 0)]
    assert by_key[("document", "promo/brochure.txt")].chunk_id is None
    assert "«Cardiozen»" in by_key[("document", "promo/brochure.txt")].snippet


def test_only_current_versions_are_returned(corpus):
    search_index.index_pending(corpus.conn)
    # The old brochure's only chunk is indexed (it counts in N) but never returned.
    assert corpus.conn.execute("SELECT count(*) FROM search_items WHERE item_key = ?",
                               [_chunk_hash(BROCHURE_V1[0])]).fetchone()[0] == 1
    assert search.search(corpus.conn, "cholesterol cures forever") == []
    assert {h.version for h in search.search(corpus.conn, "cardiozen")} == {2}


def test_a_shared_chunk_is_reported_once_per_current_document(corpus):
    search_index.index_pending(corpus.conn)
    hits = search.search(corpus.conn, "records retained")
    assert [h.rel_path for h in hits] == ["policies/retention-copy.txt",
                                          "policies/retention.txt"]
    assert hits[0].score == hits[1].score


def test_search_answers_from_a_stale_index(corpus):
    assert search.search(corpus.conn, "cardiozen") == []  # nothing indexed yet
    search_index.index_pending(corpus.conn)
    corpus.add_document("promo/leaflet.txt", ["Cardiozen leaflet text."])
    assert search.unindexed_count(corpus.conn) == 1
    assert "promo/leaflet.txt" not in {h.rel_path for h in search.search(corpus.conn,
                                                                          "cardiozen")}


@pytest.mark.parametrize("query", ["", "   ", "the and of", "?!"])
def test_a_query_without_searchable_words_is_refused(corpus, query):
    with pytest.raises(ValueError, match="no searchable words"):
        search.search(corpus.conn, query)


def test_bad_kind_and_limit_are_refused(corpus):
    with pytest.raises(ValueError, match="kind must be"):
        search.search(corpus.conn, "cardiozen", kind="document")
    with pytest.raises(ValueError, match="limit"):
        search.search(corpus.conn, "cardiozen", limit=0)


def test_snippet_is_short_and_centred_on_the_best_matches():
    text = ("Lorem ipsum dolor sit amet. " * 20 + "The liability cap is uncapped for fraud. "
            + "Consectetur adipiscing elit. " * 20)
    out = search.snippet(text, set(search.tokenize("liability fraud")))
    assert out.startswith("…") and out.endswith("…")
    assert "«liability»" in out and "«fraud»" in out
    assert len(out.replace("«", "").replace("»", "")) <= search.SNIPPET_CHARS + 2
    assert search.snippet("No match here at all.", {"zzz"}) == "No match here at all."


# ---------------------------------------------------------------- the real samples


@pytest.fixture(scope="module")
def samples_db(samples_run, tmp_path_factory):
    """A copy of the samples run's database, indexed by the flow itself."""
    _, db_path, _ = samples_run
    copy = tmp_path_factory.mktemp("search") / "results.duckdb"
    shutil.copy(db_path, copy)
    return copy


def test_the_flow_indexed_every_chunk_and_summary(samples_db):
    conn = database.reader(samples_db)
    try:
        chunk_hashes = {r[0] for r in conn.execute("SELECT chunk_hash FROM chunks").fetchall()}
        summary_keys = {r[0] for r in conn.execute("SELECT summary_key FROM summaries").fetchall()}
        assert chunk_hashes and summary_keys
        indexed = conn.execute("SELECT item_kind, item_key FROM search_items").fetchall()
        assert {k for kind, k in indexed if kind == "chunk"} == chunk_hashes
        assert {k for kind, k in indexed if kind == "summary"} == summary_keys
        assert search.unindexed_count(conn) == 0
    finally:
        conn.close()


@pytest.mark.parametrize(("query", "rel_path"), [
    ("Smart-Release coating", "promo/cardiozen-brochure.pdf"),
    ("exclusive provider of statistical programming services",
     "contracts/master-services-agreement.txt"),
    ("hospitalised with muscle pain and dark urine", "notes/meeting-notes.md"),
])
def test_a_distinctive_phrase_ranks_its_document_first_read_only(samples_db, query, rel_path):
    conn = database.reader(samples_db)
    try:
        started = time.perf_counter()
        hits = search.search(conn, query)
        elapsed = time.perf_counter() - started
        assert hits[0].rel_path == rel_path
        assert hits[0].snippet.count("«") >= 1
        assert elapsed < 5
        with pytest.raises(duckdb.Error):  # it really is read-only
            conn.execute("DELETE FROM search_items")
    finally:
        conn.close()


def test_searching_calls_no_model(samples_db, monkeypatch):
    from compliance.adapters import local_llm

    def no_model(*args, **kwargs):
        raise AssertionError("search must not load or call a model")

    monkeypatch.setattr(local_llm, "get_local_model", no_model)
    db = database.Database(samples_db)
    try:
        with db.cursor() as cur:
            calls = cur.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
            assert calls > 0  # the run summarized with the local model
        with db.transaction() as cur:
            assert search_index.index_pending(cur) == 0  # the flow left nothing to do
        with db.cursor() as cur:
            for query in ("no side effects", "data retention schedule", "audit rights"):
                assert search.search(cur, query)
            assert cur.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == calls
    finally:
        db.close()
