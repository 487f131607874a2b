"""The model-call ledger: one row per call and attempt, priced from a versioned table."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from compliance.environment import PRICES_DIR

PRICE_FILE = PRICES_DIR / "anthropic.yaml"
LOCAL_PRICE_VERSION = "local-0"
_MILLION = Decimal(1_000_000)
_QUANTUM = Decimal("0.000000001")


class UnknownModelPriceError(LookupError):
    """A cloud model has no price: it must never be booked as $0."""


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for one cloud model."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    min_cacheable_tokens: int = 1024
    # (above_input_tokens, rates) pairs, ascending: long-context pricing.
    tiers: tuple[tuple[int, ModelPrice], ...] = ()

    def for_prompt(self, prompt_tokens: int) -> ModelPrice:
        """The rates that apply to a request with this many prompt tokens."""
        chosen = self
        for threshold, rates in self.tiers:
            if prompt_tokens > threshold:
                chosen = rates
        return chosen

    def dearest(self) -> ModelPrice:
        """The highest rates of any tier: what an upper bound must use."""
        return self.tiers[-1][1] if self.tiers else self


@dataclass(frozen=True)
class PriceTable:
    """A versioned set of cloud prices."""

    version: str
    batch_discount: Decimal
    models: dict[str, ModelPrice] = field(default_factory=dict)

    def price(self, model: str) -> ModelPrice:
        """The price of a model or alias; unknown models are an error."""
        try:
            return self.models[model]
        except KeyError:
            known = ", ".join(sorted(self.models))
            raise UnknownModelPriceError(
                f"no price for cloud model {model!r} in {self.version}; known: {known}"
            ) from None

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
        batch: bool = False,
        cache_ttl: str = "5m",
    ) -> Decimal:
        """Exact USD cost of one call's usage."""
        price = self.price(model).for_prompt(input_tokens + cache_write_tokens + cache_read_tokens)
        write_rate = price.cache_write_1h if cache_ttl == "1h" else price.cache_write_5m
        total = (
            Decimal(input_tokens) * price.input
            + Decimal(output_tokens) * price.output
            + Decimal(cache_write_tokens) * write_rate
            + Decimal(cache_read_tokens) * price.cache_read
        ) / _MILLION
        if batch:
            total *= 1 - self.batch_discount
        return total.quantize(_QUANTUM, rounding=ROUND_HALF_UP)


    def upper_bound(self, model: str, input_bytes: int, overhead_tokens: int, max_tokens: int,
                    batch: bool = False) -> Decimal:
        """A true upper bound of one request's cost, before it is sent.

        A token is at least one byte, so the UTF-8 length bounds the input tokens; every input
        token is priced at the dearest input rate (a cache write) and the output at max_tokens.
        """
        price = self.price(model).dearest()
        input_rate = max(price.input, price.cache_write_5m, price.cache_write_1h)
        total = (Decimal(input_bytes + overhead_tokens) * input_rate
                 + Decimal(max_tokens) * price.output) / _MILLION
        if batch:
            total *= 1 - self.batch_discount
        return total.quantize(_QUANTUM, rounding=ROUND_HALF_UP) + _QUANTUM


def _decimal(value: float | int | str) -> Decimal:
    return Decimal(str(value))


@lru_cache(maxsize=4)
def load_price_table(path: Path = PRICE_FILE) -> PriceTable:
    """Read the versioned price file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    models: dict[str, ModelPrice] = {}

    def rates(entry: dict, tiers: tuple[tuple[int, ModelPrice], ...] = ()) -> ModelPrice:
        return ModelPrice(
            input=_decimal(entry["input"]),
            output=_decimal(entry["output"]),
            cache_write_5m=_decimal(entry["cache_write_5m"]),
            cache_write_1h=_decimal(entry["cache_write_1h"]),
            cache_read=_decimal(entry["cache_read"]),
            min_cacheable_tokens=int(entry.get("min_cacheable_tokens", 1024)),
            tiers=tiers,
        )

    for name, entry in raw["models"].items():
        tiers = tuple(sorted((int(t["above_input_tokens"]), rates(t))
                             for t in entry.get("tiers", [])))
        price = rates(entry, tiers)
        for alias in [name, *entry.get("aliases", [])]:
            models[alias] = price
    return PriceTable(
        version=str(raw["version"]),
        batch_discount=_decimal(raw.get("batch_discount", 0)),
        models=models,
    )


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
