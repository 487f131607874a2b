"""The model-call ledger: one row per call and attempt, priced from a versioned table."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from compliance.paths import DATA_DIR

PRICE_FILE = DATA_DIR / "prices" / "anthropic.yaml"
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
        price = self.price(model)
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


def _decimal(value: float | int | str) -> Decimal:
    return Decimal(str(value))


@lru_cache(maxsize=4)
def load_price_table(path: Path = PRICE_FILE) -> PriceTable:
    """Read the versioned price file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    models: dict[str, ModelPrice] = {}
    for name, entry in raw["models"].items():
        price = ModelPrice(
            input=_decimal(entry["input"]),
            output=_decimal(entry["output"]),
            cache_write_5m=_decimal(entry["cache_write_5m"]),
            cache_write_1h=_decimal(entry["cache_write_1h"]),
            cache_read=_decimal(entry["cache_read"]),
        )
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
