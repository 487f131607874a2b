"""Helpers for the escalation tests: a run against the fake API, the escalation stage alone on a
copy of a triaged database, and what the fake received (imported by name, as helpers is)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import PROJECT_ROOT

from tests.fake_anthropic import FakeAnthropicServer

SAMPLES = PROJECT_ROOT / "data" / "samples"
KEY = "sk-ant-test-PLANTED-0123456789abcdef"


def run_flow(source: Path, db_path: Path, **overrides: Any) -> dict[str, Any]:
    """A run with the rule packs alone: these tests pin the escalation mechanics on rule windows
    (the clause scorer and its audit have tests/flows/test_triage_audit.py)."""
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline

    values = {"source": str(source), "db_path": str(db_path), "summarize": "off",
              "scorer": "off", **overrides}
    return compliance_pipeline(PipelineParams(**values))


def sent_messages(server: FakeAnthropicServer) -> list[dict]:
    """The bodies of the Messages requests the fake received."""
    return sent_messages_of(server.state.requests)


def sent_messages_of(requests: list[dict]) -> list[dict]:
    return [r["body"] for r in requests if r["path"] == "/v1/messages"]


def spans_sent(server: FakeAnthropicServer) -> list[dict]:
    """Every span of every Messages request the fake received, in order."""
    spans = []
    for body in sent_messages(server):
        content = body["messages"][0]["content"]
        spans.extend(json.loads(content.split("Spans (JSON):\n", 1)[1]))
    return spans


def escalate_copy(db_template: Path, workdir: Path, server: FakeAnthropicServer,
                  key: str = KEY, **options: Any):
    """Run the escalation stage alone on a copy of a triaged database:
    (db, db_path, run_id, result); the caller closes the writer."""
    import shutil

    from compliance.adapters.cloud import CloudClient
    from compliance.adapters.prices import load_price_table
    from compliance.rules.loader import load_rules
    from compliance.settings import EscalationSettings
    from compliance.store import db as database
    from compliance.store.runs import open_run
    from tasks.escalate import stage as escalate

    db_path = workdir / "copy.duckdb"
    shutil.copy(db_template, db_path)
    db = database.writer(db_path)
    prices = load_price_table()
    settings = EscalationSettings(**{"escalation": "sync", "budget_usd": None, **options})
    client = CloudClient(db, key, server.base_url, prices,
                         max_retries=settings.cloud_max_retries,
                         timeout_seconds=settings.cloud_timeout_seconds)
    run_id = "run-" + workdir.name
    open_run(db, run_id, "test", "{}", orchestrator="test")
    result = escalate.escalate(db, run_id, load_rules().version, settings, client, prices,
                               log=lambda message: None)
    return db, db_path, run_id, result
