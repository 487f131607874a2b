"""The model-call ledger: one row per call and attempt, priced from the versioned table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from compliance.adapters.prices import LOCAL_PRICE_VERSION, PriceTable


@dataclass
class LocalCall:
    """What one local model call used."""

    run_id: str
    purpose: str
    model: str
    model_sha256: str
    prompt_version: str
    input_tokens: int
    output_tokens: int
    duration_seconds: float
    cpu_seconds: float
    status: str
    error: str | None = None
    chunk_id: int | None = None
    doc_id: int | None = None
    summary_key: str | None = None


def record_local_call(cur: duckdb.DuckDBPyConnection, call: LocalCall) -> int:
    """Book a local model call: it costs $0 and records its CPU seconds."""
    row = cur.execute(
        """
        INSERT INTO llm_calls (run_id, purpose, chunk_id, doc_id, summary_key, provider, model,
            model_sha256, prompt_version, input_tokens, output_tokens, price_version, cost_usd,
            duration_seconds, cpu_seconds, status, error)
        VALUES (?, ?, ?, ?, ?, 'local', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
        RETURNING call_id
        """,
        [
            call.run_id, call.purpose, call.chunk_id, call.doc_id, call.summary_key, call.model,
            call.model_sha256, call.prompt_version, call.input_tokens, call.output_tokens,
            LOCAL_PRICE_VERSION, call.duration_seconds, call.cpu_seconds, call.status, call.error,
        ],
    ).fetchone()
    return int(row[0])


def reserve_cloud_call(cur: duckdb.DuckDBPyConnection, run_id: str, model: str,
                       prompt_version: str, price_version: str, bound: Decimal, attempt: int,
                       is_batch: bool, sent_sha256: str | None, custom_id: str | None = None,
                       batch_id: str | None = None, purpose: str = "escalation") -> int:
    """Book a cloud call before it is sent, at its upper bound: money that may be spent."""
    row = cur.execute(
        """
        INSERT INTO llm_calls (run_id, purpose, provider, model, prompt_version, attempt,
            is_batch, price_version, cost_usd, bound_usd, duration_seconds, cpu_seconds, status,
            sent_sha256, custom_id, batch_id)
        VALUES (?, ?, 'anthropic', ?, ?, ?, ?, ?, ?, ?, 0, 0, 'reserved', ?, ?, ?)
        RETURNING call_id
        """,
        [run_id, purpose, model, prompt_version, attempt, is_batch, price_version, bound, bound,
         sent_sha256, custom_id, batch_id],
    ).fetchone()
    return int(row[0])


def settle_cloud_call(cur: duckdb.DuckDBPyConnection, call_id: int, table: PriceTable,
                      model: str, usage: dict[str, int], is_batch: bool, request_id: str | None,
                      seconds: float, error: str | None = None) -> Decimal:
    """Replace a reservation with the cost of the usage the API reported."""
    cost = table.cost(
        model,
        input_tokens=usage.get("input_tokens", 0),
        output_tokens=usage.get("output_tokens", 0),
        cache_write_tokens=usage.get("cache_creation_input_tokens", 0),
        cache_read_tokens=usage.get("cache_read_input_tokens", 0),
        batch=is_batch,
    )
    cur.execute(
        """
        UPDATE llm_calls SET status = 'settled', cost_usd = ?, input_tokens = ?,
            output_tokens = ?, cache_write_tokens = ?, cache_read_tokens = ?, request_id = ?,
            duration_seconds = ?, error = ?
        WHERE call_id = ?
        """,
        [cost, usage.get("input_tokens", 0), usage.get("output_tokens", 0),
         usage.get("cache_creation_input_tokens", 0), usage.get("cache_read_input_tokens", 0),
         request_id, seconds, error, call_id],
    )
    return cost


def fail_cloud_call(cur: duckdb.DuckDBPyConnection, call_id: int, error: str,
                    request_id: str | None, seconds: float) -> None:
    """An attempt the API answered with an error: errors are not billed, so it costs $0."""
    cur.execute(
        """
        UPDATE llm_calls SET status = 'failed', cost_usd = 0, error = ?, request_id = ?,
            duration_seconds = ?
        WHERE call_id = ?
        """,
        [error[:500], request_id, seconds, call_id],
    )


def note_unsettled(cur: duckdb.DuckDBPyConnection, call_id: int, error: str,
                   seconds: float) -> None:
    """An attempt that died without an answer keeps its reservation: it may have been billed."""
    cur.execute("UPDATE llm_calls SET error = ?, duration_seconds = ? WHERE call_id = ?",
                [error[:500], seconds, call_id])


def cloud_spend(cur: duckdb.DuckDBPyConnection, run_id: str | None = None,
                day: str | None = None) -> Decimal:
    """Settled plus reserved cloud spend of a run, or of a UTC day (YYYY-MM-DD)."""
    if run_id is not None:
        row = cur.execute(
            "SELECT coalesce(sum(cost_usd), 0) FROM llm_calls "
            "WHERE provider <> 'local' AND run_id = ?", [run_id]).fetchone()
    else:
        row = cur.execute(
            "SELECT coalesce(sum(cost_usd), 0) FROM llm_calls WHERE provider <> 'local' "
            "AND CAST(timezone('UTC', created_at) AS DATE) = CAST(? AS DATE)", [day]).fetchone()
    return Decimal(row[0])
