"""Batched local summaries (`local_batch_size`): the chunks of a window are decoded together in
one llama.cpp batch, and the run stores and books what the one-at-a-time run does: one ledger
row per chunk with the same prompt tokens, the batch's time shared out over its calls."""

from __future__ import annotations

from helpers import SUMMARY_TEXTS, query, run_pipeline

# Each over MIN_CHARS_FOR_MODEL, so each is a model call; four distinct chunks, one batch.
TEXTS = {
    **SUMMARY_TEXTS,
    "hr/policy.txt": (
        "Remote work policy. Employees may work from home up to three days a week with their "
        "manager's approval. Equipment is provided by the IT department and remains company "
        "property. Expenses for home internet are reimbursed up to forty pounds a month. Staff "
        "must keep confidential papers in a locked drawer when working from home."),
}


def _calls(db_path) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in query(db_path, """
        SELECT d.rel_path, l.status, l.input_tokens, l.output_tokens, l.duration_seconds
        FROM llm_calls l JOIN documents d USING (doc_id)
        WHERE l.provider = 'local' AND l.purpose = 'chunk_summary'""")}


def _summaries(db_path) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in query(db_path, """
        SELECT d.rel_path, s.method, s.summary FROM chunks c JOIN documents d USING (doc_id)
        JOIN summaries s ON s.summary_key = c.summary_key""")}


def test_a_batched_run_books_and_stores_what_a_single_stream_run_does(prefect_harness, tmp_path):
    source = tmp_path / "inbox"
    for rel_path, text in TEXTS.items():
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (source / rel_path).write_text(text + "\n")
    quick = {"escalation": "off", "summarize": "all"}
    single = run_pipeline(source, tmp_path / "single.duckdb", **quick)
    batched = run_pipeline(source, tmp_path / "batched.duckdb", local_batch_size=4, **quick)

    assert single["model_calls"] == batched["model_calls"] >= len(TEXTS)
    one, many = _calls(tmp_path / "single.duckdb"), _calls(tmp_path / "batched.duckdb")
    assert set(one) == set(many) == set(TEXTS)
    for path in TEXTS:
        assert many[path][0] == "settled" and many[path][3] > 0, path
        assert many[path][1] == one[path][1], "the same prompt, counted the same way"
    # The batch's seconds are shared out by tokens: no two calls of a batch cost the same
    # unless their tokens are equal, and together they are the stage's model time.
    assert abs(sum(c[3] for c in many.values()) - batched["local_model_seconds"]) < 0.05
    stored_one, stored_many = _summaries(tmp_path / "single.duckdb"), _summaries(
        tmp_path / "batched.duckdb")
    assert set(stored_one) == set(stored_many) == set(TEXTS)
    # Batched arithmetic may flip a near tie in a greedy choice (see bench_local_batch.py):
    # most answers are the same text; every one is a stored summary of its own chunk.
    same = sum(stored_one[p] == stored_many[p] for p in TEXTS)
    assert same >= len(TEXTS) - 1, (stored_one, stored_many)
