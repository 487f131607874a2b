"""Run the real pipeline over a labelled set and read back what triage selected.

The pipeline runs once (ingest, chunking, flagging; summaries and escalation off unless asked),
into a DuckDB file of its own. Triage decisions are then recomputed from the stored flags with
the same function the flag stage uses, so a sweep over the threshold needs no second run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from compliance.adapters.prices import load_price_table
from compliance.evaluation.labelled import LabelledDocument
from compliance.evaluation.metrics import (
    Evaluation,
    Selection,
    TriagedDocument,
    evaluate,
    labelled_spans,
    touches,
)
from compliance.rules.loader import load_rules
from compliance.rules.matching import Hit
from compliance.scoring.policy import TriagePolicy
from compliance.settings import TriageSettings
from compliance.vocab import TEXT_STATUSES, sql_list
from tasks.escalate.costs import estimated_request_cost, estimated_sync_cost
from tasks.flag import decide_document, window_reasons


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored, with its hits (chunk offsets) and the local model's risk signals."""

    doc_id: int
    start: int
    end: int
    hits: list[Hit]
    model_signals: list[str]


@dataclass
class StoredRun:
    """Everything triage needs, read from one evaluation database."""

    texts: dict[int, str]
    labelled: dict[int, LabelledDocument]
    chunks: list[StoredChunk]
    failed: list[tuple[str, str, str | None]]


def run_pipeline(documents: list[LabelledDocument], workdir: Path, model: str | None,
                 summarize: bool, scorer: str | None = None, recall_target: float = 0.95) -> Path:
    """Write the documents into a source folder and run the compliance-pipeline flow on it."""
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline

    source = workdir / "source"
    source.mkdir(parents=True, exist_ok=True)
    for document in documents:
        document.write_to(source)
    db_path = workdir / "eval.duckdb"
    compliance_pipeline(PipelineParams(
        source=str(source), db_path=str(db_path), model=model,
        summarize="all" if summarize else "off", escalation="off",
        local_budget_seconds=None, scorer=scorer, recall_target=recall_target))
    return db_path


def read_run(db_path: Path, documents: list[LabelledDocument],
             policy_version: str | None = None) -> StoredRun:
    """Texts, chunks, flags (of the run's triage policy) and model signals of the documents."""
    by_name = {document.file_name: document for document in documents}
    conn = duckdb.connect(str(db_path), read_only=True)
    try:
        rules_version = policy_version or load_rules().version
        rows = conn.execute(
            "SELECT d.doc_id, d.rel_path, t.text FROM documents d JOIN texts t "
            "USING (text_sha256) WHERE d.is_current AND d.parent_doc_id IS NULL").fetchall()
        failed = conn.execute(
            "SELECT rel_path, status, error FROM documents "
            "WHERE is_current AND parent_doc_id IS NULL AND status NOT IN "
            + sql_list(TEXT_STATUSES)
        ).fetchall()
        hits: dict[int, list[Hit]] = defaultdict(list)
        for (chunk_id, rule_id, category, severity, action, start, end, pack,
             pack_version) in conn.execute(
                "SELECT f.chunk_id, f.rule_id, f.category, f.severity, f.action, "
                "f.char_start - c.char_start, f.char_end - c.char_start, f.pack, "
                "f.pack_version FROM flags f JOIN chunks c USING (chunk_id) "
                "WHERE f.rules_version = ?", [rules_version]).fetchall():
            hits[chunk_id].append(Hit(rule_id, category, severity, action, start, end, pack,
                                      pack_version, None))
        chunks = [
            StoredChunk(doc_id, start, end, sorted(hits[chunk_id],
                                                   key=lambda h: (h.start, h.end, h.rule_id)),
                        json.loads(signals) if signals and method == "llm" else [])
            for chunk_id, doc_id, start, end, signals, method in conn.execute(
                "SELECT c.chunk_id, c.doc_id, c.char_start, c.char_end, s.risk_signals, "
                "s.method FROM chunks c JOIN documents d USING (doc_id) "
                "LEFT JOIN summaries s USING (summary_key) WHERE d.is_current "
                "ORDER BY c.doc_id, c.char_start").fetchall()
        ]
    finally:
        conn.close()
    texts = {doc_id: text for doc_id, _, text in rows}
    labelled = {doc_id: by_name[path] for doc_id, path, _ in rows if path in by_name}
    return StoredRun(texts, labelled, chunks, failed)


def triage(run: StoredRun, settings: TriageSettings, rules: bool = True,
           model_signals: bool = False,
           policy: TriagePolicy | None = None) -> list[TriagedDocument]:
    """Recompute triage per chunk; optionally let the local model's risk signals escalate.

    With model_signals, a chunk whose summary lists risk signals is escalated whole (the
    model does not say where in the chunk the risk is).
    """
    documents = {doc_id: TriagedDocument(labelled, run.texts[doc_id], [])
                 for doc_id, labelled in run.labelled.items()}
    whole_document = load_rules().whole_document if rules else []
    by_document: dict[int, list[StoredChunk]] = defaultdict(list)
    for chunk in run.chunks:
        if chunk.doc_id in documents:
            by_document[chunk.doc_id].append(chunk)
    for doc_id, chunks in by_document.items():
        document = documents[doc_id]
        texts = [document.text[chunk.start:chunk.end] for chunk in chunks]
        scanned = [(text, chunk.hits if rules else [])
                   for text, chunk in zip(texts, chunks, strict=True)]
        verdicts = decide_document(scanned, settings, whole_document, policy,
                                   [chunk.start for chunk in chunks], len(document.text))
        for chunk, text, verdict in zip(chunks, texts, verdicts, strict=True):
            windows = list(verdict.windows)
            if model_signals and chunk.model_signals:
                windows = [(0, len(text))]
            document.chunks += 1
            document.chunk_spans.append((chunk.start, chunk.end))
            document.chunks_escalated += bool(windows)
            for start, end in windows:
                _, categories = window_reasons(verdict, chunk.hits, start, end)
                document.windows.append(Selection(chunk.start + start, chunk.start + end,
                                                  frozenset(categories)))
            document.recorded.extend(
                Selection(chunk.start + h.start, chunk.start + h.end, frozenset({h.category}))
                for h in chunk.hits if h.action == "record")
    return list(documents.values())


def score(documents: list[TriagedDocument], tiers: frozenset[str],
          count_tokens: Callable[[list[str]], list[int]], cloud_model: str,
          max_spans_per_request: int, by_category: bool = False) -> Evaluation:
    """Metrics plus the estimated cloud cost against sending every chunk (naive_new).

    The cloud model's answer is expected to be a finding where the request's text holds a
    labelled clause and a dismissal elsewhere, on both sides: the naive pipeline sees every
    labelled clause, the routed one only those it selected.
    """
    evaluation = evaluate(documents, tiers, count_tokens, category_of_window=by_category)
    price = load_price_table().price(cloud_model)
    windows: list[tuple[int, bool]] = []
    naive = Decimal(0)
    for doc in documents:
        labelled = labelled_spans(doc, tiers)
        windows += [(s.end - s.start, touches(s.start, s.end, labelled)) for s in doc.windows]
        naive += sum((estimated_request_cost(price, end - start, 1,
                                             touches(start, end, labelled))
                      for start, end in doc.chunk_spans), Decimal(0))
    escalated = estimated_sync_cost(price, windows, max_spans_per_request)
    evaluation.escalated_usd = float(escalated)
    evaluation.naive_new_usd = float(naive)
    return evaluation

