"""The versioned price table (data/prices/): what a model call costs, exactly, in USD.

An unknown cloud model is an error, never $0; local calls cost 0 at LOCAL_PRICE_VERSION (their
compute has its own budget in seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

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
