"""The summary cache: keys that name a summary by everything that shapes it, and storing one.

A summary is stored once per key in `summaries`; chunks and documents point at it by key, so
the same text summarized with the same model bytes, prompt and settings is never recomputed.
"""

from __future__ import annotations

import json

import duckdb

from compliance.adapters.local_llm import GENERATION_PARAMS
from compliance.adapters.model_registry import ModelSpec
from compliance.store.db import Database
from compliance.textnorm import sha256_text
from tasks.summarize.results import SummaryDraft


def params_hash() -> str:
    """Identity of the generation settings, part of every cache key."""
    return sha256_text(json.dumps(GENERATION_PARAMS, sort_keys=True))[:16]


def summary_key(kind: str, input_hash: str, spec: ModelSpec, prompt_version: str) -> str:
    """Cache key: same input, model bytes, prompt and settings give the same summary."""
    return sha256_text(f"{kind}|{input_hash}|{spec.sha256}|{prompt_version}|{params_hash()}")


def cached_summary(db: Database, key: str) -> str | None:
    """The summary stored under a key, or None when there is none yet."""
    with db.cursor() as cur:
        row = cur.execute("SELECT summary FROM summaries WHERE summary_key = ?", [key]).fetchone()
    return row[0] if row else None


def store_summary(cur: duckdb.DuckDBPyConnection, key: str, kind: str, input_hash: str,
                  spec: ModelSpec, prompt_version: str, draft: SummaryDraft, input_chars: int,
                  run_id: str) -> None:
    """Store a summary under its key (a summary already stored under it is kept)."""
    cur.execute(
        """
        INSERT INTO summaries (summary_key, kind, input_hash, model_sha256, prompt_version,
            params_hash, summary, key_points, risk_signals, method, input_chars, summary_chars,
            created_run_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """,
        [key, kind, input_hash, spec.sha256, prompt_version, params_hash(), draft.summary,
         json.dumps(draft.key_points), json.dumps(draft.risk_signals), draft.method,
         input_chars, len(draft.summary), run_id],
    )
