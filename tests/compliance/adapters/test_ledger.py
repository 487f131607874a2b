"""The price table and the ledger: exact costs, unknown models, local calls at zero cost."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from compliance.adapters.ledger import LocalCall, record_local_call
from compliance.adapters.prices import (
    LOCAL_PRICE_VERSION,
    PriceTable,
    UnknownModelPriceError,
    load_price_table,
)
from compliance.store.db import apply_migrations


def test_price_table_cost_is_exact():
    table = load_price_table()
    assert table.cost("claude-haiku-4-5", 1000, 500) == Decimal("0.0035")
    assert table.cost("claude-haiku-4-5-20251001", 1000, 500) == Decimal("0.0035")  # alias
    assert table.cost("claude-haiku-4-5", 1000, 500, batch=True) == Decimal("0.00175")
    assert table.cost("claude-haiku-4-5", 0, 0, cache_write_tokens=1000) == Decimal("0.00125")
    assert table.cost("claude-haiku-4-5", 0, 0, cache_write_tokens=1000,
                      cache_ttl="1h") == Decimal("0.002")
    assert table.cost("claude-haiku-4-5", 0, 0, cache_read_tokens=1000) == Decimal("0.0001")
    cost = table.cost("claude-haiku-4-5", 1, 1)
    assert isinstance(cost, Decimal)
    assert cost == Decimal("0.000006")


def test_price_table_unknown_model_is_an_error():
    table = load_price_table()
    with pytest.raises(UnknownModelPriceError, match="gpt-imaginary"):
        table.cost("gpt-imaginary", 1000, 500)
    with pytest.raises(UnknownModelPriceError):
        PriceTable(version="empty", batch_discount=Decimal(0)).price("claude-haiku-4-5")


@pytest.mark.slow
def test_local_calls_are_booked_at_zero_cost(tmp_path):
    conn = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    try:
        apply_migrations(conn)
        call_id = record_local_call(conn, LocalCall(
            run_id="run-1", purpose="chunk_summary", model="m", model_sha256="abc",
            prompt_version="p1", input_tokens=100, output_tokens=20, duration_seconds=1.5,
            cpu_seconds=2.5, status="settled"))
        row = conn.execute(
            "SELECT provider, cost_usd, price_version, cpu_seconds, status FROM llm_calls "
            "WHERE call_id = ?", [call_id]).fetchone()
    finally:
        conn.close()
    assert row == ("local", Decimal("0"), LOCAL_PRICE_VERSION, 2.5, "settled")
