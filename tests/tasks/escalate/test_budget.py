"""local_budget_seconds: a run stops calling the model once the budget is spent, the rest stays
pending, and the next run without a budget finishes it."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from helpers import query, run_pipeline, scalar

BUDGET_SECONDS = 3.0


def _pending_chunks(db_path) -> int:
    return scalar(db_path, """
        SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)
        WHERE d.is_current AND c.summary_status = 'pending'
        """)


def _run_row(db_path, run_id) -> tuple:
    rows = query(db_path, """
        SELECT status, summaries_pending, local_model_seconds, model_calls
        FROM runs WHERE run_id = ?
        """, [run_id])
    assert len(rows) == 1
    return rows[0]


def _seed_summary_cache(db_path, donor_db_path) -> int:
    """Copy the summaries of the session's full run over the same files into db_path.

    They have the same cache keys (same chunk texts, model file, prompt and settings), so the
    following run takes them from the cache instead of spending minutes of CPU re-creating them;
    everything not in the cache is summarized by the model as usual.
    """
    conn = duckdb.connect(str(db_path))
    try:
        conn.execute(f"ATTACH '{donor_db_path}' AS donor (READ_ONLY)")
        before = conn.execute("SELECT count(*) FROM summaries").fetchone()[0]
        conn.execute("INSERT INTO summaries SELECT * FROM donor.summaries ON CONFLICT DO NOTHING")
        after = conn.execute("SELECT count(*) FROM summaries").fetchone()[0]
        conn.execute("DETACH donor")
    finally:
        conn.close()
    return after - before


def test_budget_leaves_work_pending_for_the_next_run(samples_run, prefect_harness, samples_dir,
                                                     tmp_path):
    source = tmp_path / "samples"
    shutil.copytree(samples_dir, source)
    db_path = tmp_path / "budget.duckdb"

    first = run_pipeline(source, db_path, local_budget_seconds=BUDGET_SECONDS)
    pending = _pending_chunks(db_path)
    assert pending > 0
    status, run_pending, model_seconds, model_calls = _run_row(db_path, first["run_id"])
    assert status == "completed"
    assert run_pending == first["summaries_pending"] == pending
    assert model_calls == first["model_calls"] >= 1
    durations = [row[0] for row in query(db_path, """
        SELECT duration_seconds FROM llm_calls WHERE run_id = ? ORDER BY call_id
        """, [first["run_id"]])]
    assert len(durations) == model_calls
    # Each call is allotted part of what is left and stops when it has used it: the budget is
    # passed by at most one step of the model (a prompt's evaluation), never by a whole call.
    assert sum(durations[:-1]) < BUDGET_SECONDS
    assert model_seconds == pytest.approx(sum(durations), abs=0.01)
    assert model_seconds < BUDGET_SECONDS + 10
    unsummarized_docs = scalar(db_path, """
        SELECT count(*) FROM documents d
        WHERE d.is_current AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
          AND NOT EXISTS (SELECT 1 FROM document_summaries s WHERE s.doc_id = d.doc_id)
        """)
    assert unsummarized_docs > 0

    _, donor_db, _ = samples_run
    assert _seed_summary_cache(db_path, donor_db) > 0

    second = run_pipeline(source, db_path)
    assert _pending_chunks(db_path) == 0
    status, run_pending, _, model_calls = _run_row(db_path, second["run_id"])
    assert (status, run_pending, second["summaries_pending"]) == ("completed", 0, 0)
    assert second["summaries_done"] == pending
    assert second["summaries_cached"] > 0
    assert second["docs_new"] == 0
    assert model_calls == second["model_calls"] == scalar(
        db_path, "SELECT count(*) FROM llm_calls WHERE run_id = ?", [second["run_id"]])
    assert scalar(db_path, """
        SELECT count(*) FROM documents d
        WHERE d.is_current AND EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)
          AND NOT EXISTS (SELECT 1 FROM document_summaries s WHERE s.doc_id = d.doc_id)
        """) == 0


@pytest.mark.parametrize("batch", [1, 4])
def test_a_call_stops_at_the_budget_and_leaves_its_chunk_pending(prefect_harness, tmp_path,
                                                                 batch):
    """A budget of a millisecond: the first call is allotted all of it and stops at its first
    token (the prompt alone takes longer), booked with its tokens; nothing is stored for it,
    and no later call starts. Single-stream and batched."""
    from helpers import SUMMARY_TEXTS

    source = tmp_path / "inbox"
    for rel_path, text in SUMMARY_TEXTS.items():
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (source / rel_path).write_text(text + "\n")
    db_path = tmp_path / "tiny-budget.duckdb"
    run = run_pipeline(source, db_path, local_budget_seconds=0.001, escalation="off",
                       summarize="all", local_batch_size=batch)

    calls = query(db_path, """
        SELECT status, input_tokens, output_tokens, error FROM llm_calls WHERE run_id = ?
        """, [run["run_id"]])
    assert len(calls) == run["model_calls"] >= 1
    for status, _, _, error in calls:
        assert status == "settled" and error.startswith("stopped at the local budget after")
    assert calls[0][1] > 0  # the prompt was evaluated and is booked
    if batch == 1:
        assert len(calls) == 1  # the budget was spent: no second call started
    assert scalar(db_path, "SELECT count(*) FROM summaries WHERE kind = 'chunk' "
                           "AND method = 'llm'") == 0
    assert _pending_chunks(db_path) == len(SUMMARY_TEXTS)
    assert run["summaries_pending"] == len(SUMMARY_TEXTS)
