"""Scale-out: the flow with its parsing, rule scans and model calls on a local Dask cluster of two
worker processes stores what the local (threads) run stores: the same documents, chunks, flags
and triage decisions, and summaries for the same chunks. Each worker loads the model once; the
database is written only by the flow process."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import SUMMARY_TEXTS as TEXTS
from helpers import query, run_pipeline


def _stored(db_path: Path) -> dict[str, list[tuple]]:
    return {
        "documents": query(db_path, """
            SELECT rel_path, status, sha256, text_sha256 FROM documents ORDER BY rel_path"""),
        "chunks": query(db_path, """
            SELECT d.rel_path, c.seq, c.char_start, c.char_end, c.token_count, c.chunk_hash,
                   c.summary_status, c.summary_key
            FROM chunks c JOIN documents d USING (doc_id) ORDER BY d.rel_path, c.seq"""),
        "flags": query(db_path, """
            SELECT d.rel_path, c.seq, f.rule_id, f.char_start, f.char_end, f.matched_text
            FROM flags f JOIN chunks c USING (chunk_id) JOIN documents d ON d.doc_id = f.doc_id
            ORDER BY ALL"""),
        "triage": query(db_path, """
            SELECT d.rel_path, c.seq, t.score, t.decision, t.reasons::VARCHAR
            FROM triage t JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
            ORDER BY ALL"""),
        "summarized": query(db_path, """
            SELECT s.summary_key, s.kind, s.input_hash FROM summaries s ORDER BY ALL"""),
        "calls": query(db_path, """
            SELECT purpose, count(*) FROM llm_calls WHERE provider = 'local' GROUP BY 1
            ORDER BY 1"""),
    }


def test_dask_run_stores_what_the_local_run_stores(prefect_harness, tmp_path):
    source = tmp_path / "inbox"
    for rel_path, text in TEXTS.items():
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (source / rel_path).write_text(text + "\n")
    quick = {"escalation": "off", "summarize": "all"}
    local = run_pipeline(source, tmp_path / "local.duckdb", **quick)
    spread = run_pipeline(source, tmp_path / "dask.duckdb", task_runner="dask", dask_workers=2,
                          **quick)

    assert (local["model_calls"], spread["model_calls"]) == (3, 3)
    expected, actual = _stored(tmp_path / "local.duckdb"), _stored(tmp_path / "dask.duckdb")
    for table in expected:
        assert actual[table] == expected[table], table
    assert {row[-2] for row in actual["chunks"]} == {"done"}
    assert any(row[3] == "escalate" for row in actual["triage"])

    # The calls ran in the worker processes, not here; each loaded the model once.
    here = {worker.rsplit(":", 1)[1] for worker in local["summary_workers"]}
    workers = {worker.rsplit(":", 1)[1] for worker in spread["summary_workers"]}
    assert here == {str(os.getpid())}
    assert workers and str(os.getpid()) not in workers and len(workers) <= 2
    assert sum(spread["summary_workers"].values()) == 3
    assert set(spread["model_loads"].values()) == {1}

    # Every file was parsed and every document scanned on the cluster's workers (the parse in a
    # parser process of the worker's own), none here.
    cluster = set(workers)
    for key in ("parsed_on", "scanned_on"):
        assert {w.rsplit(":", 1)[1] for w in local[key]} == {str(os.getpid())}, key
        assert sum(local[key].values()) == sum(spread[key].values()) == len(TEXTS), key
        cluster |= {w.rsplit(":", 1)[1] for w in spread[key]}
    assert str(os.getpid()) not in cluster and len(cluster) <= 2
