"""The answer cache: one answer per redacted text, model, prompt and rules version, reused."""

from __future__ import annotations

import json
from typing import Any

from compliance.adapters.cloud import PROMPT_VERSION, Span
from compliance.store.db import Database
from compliance.textnorm import sha256_text
from tasks.escalate.result import EscalationResult


def cache_key(redacted_text: str, model: str, rules_version: str) -> str:
    """Same redacted text, model, prompt and rules: the same answer, no new call."""
    return sha256_text(f"{redacted_text}|{model}|{PROMPT_VERSION}|{rules_version}")


def answer_from_cache(db: Database, windows: list[tuple], model: str, rules_version: str,
                      result: EscalationResult) -> tuple[dict[str, list[int]], list[Span]]:
    """Close the windows the cache answers; return the rest as (windows per key, spans).

    Windows with the same key share one span, so identical text is asked about once.
    """
    groups: dict[str, list[int]] = {}
    spans: list[Span] = []
    for window_id, text, rule_ids, purpose in windows:
        key = cache_key(text, model, rules_version)
        with db.cursor() as cur:
            cached = cur.execute("SELECT call_id, is_finding FROM escalation_results "
                                 "WHERE cache_key = ?", [key]).fetchone()
        if cached:
            with db.cursor() as cur:
                cur.execute("UPDATE escalation_windows SET status = 'done', cache_key = ?, "
                            "call_id = ? WHERE window_id = ?", [key, cached[0], window_id])
            result.cached += 1
            result.cached_spans.append((len(text), bool(cached[1])))
            continue
        if key not in groups:
            groups[key] = []
            spans.append(Span(key, groups[key], json.loads(rule_ids), text,
                              "audit" if purpose == "audit" else "escalation"))
        groups[key].append(window_id)
    return groups, spans


def store_answers(db: Database, run_id: str, model: str, rules_version: str, call_id: int,
                  groups: dict[str, list[int]], answers: dict[str, dict[str, Any]]) -> int:
    """Keep each answer under its key and close its windows; return how many are findings."""
    findings = 0
    with db.transaction() as cur:
        for key, answer in answers.items():
            cur.execute(
                """
                INSERT INTO escalation_results (cache_key, model, prompt_version, rules_version,
                    is_finding, category, severity, rationale, quote, recommended_action,
                    call_id, created_run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """,
                [key, model, PROMPT_VERSION, rules_version, bool(answer["finding"]),
                 answer["category"], answer["severity"], _cut(answer["rationale"], 2000),
                 _cut(answer["quote"], 2000), _cut(answer["recommended_action"], 1000),
                 call_id, run_id],
            )
            findings += bool(answer["finding"])
            cur.execute(
                "UPDATE escalation_windows SET status = 'done', cache_key = ?, call_id = ? "
                "WHERE window_id IN (SELECT unnest(?))",
                [key, call_id, groups[key]],
            )
    return findings


def _cut(text: str | None, limit: int) -> str | None:
    """A model-written field cut to its column's length; a dismissal's absent field stays NULL."""
    return None if text is None else text[:limit]
