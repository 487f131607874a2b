"""Escalation to Claude through the real anthropic SDK against a local fake of the API."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from escalation_helpers import (
    KEY,
    SAMPLES,
    escalate_copy,
    run_flow,
    sent_messages,
    sent_messages_of,
    spans_sent,
)
from helpers import PROJECT_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.adapters.cloud import CloudClient, MalformedAnswerError, parse_answer, short_ids
from compliance.adapters.prices import load_price_table
from compliance.rules.loader import load_rules
from compliance.settings import EscalationSettings, PipelineParams
from compliance.store import db as database
from tasks.escalate import queue
from tasks.escalate import stage as escalate
from tests.fake_anthropic import FakeAnthropicServer

ROOT = PROJECT_ROOT
# Personal data planted in data/samples/hr/employee-onboarding.eml: it must never be sent.
PERSONAL = ["219-09-9999", "GB82 WEST 1234 5698 7654 32", "marisol.adeyemihart@mailbox.example",
            "555-0142"]


@pytest.fixture(scope="module")
def sync_run(harness, tmp_path_factory):
    """One sync run over the samples against the fake, shared by several tests."""
    source = tmp_path_factory.mktemp("sync-src")
    shutil.copytree(SAMPLES, source, dirs_exist_ok=True)
    db_path = tmp_path_factory.mktemp("sync-db") / "results.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAnthropicServer(api_key=KEY) as server:
        result = run_flow(source, db_path, escalation="sync", anthropic_base_url=server.base_url)
        requests_first = list(server.state.requests)
        rerun = run_flow(source, db_path, escalation="sync", anthropic_base_url=server.base_url)
        requests_after = list(server.state.requests)
    mp.undo()
    return {"source": source, "db": db_path, "result": result, "rerun": rerun,
            "requests": requests_first, "requests_after_rerun": requests_after,
            "server_spans": [s for r in requests_first if r["path"] == "/v1/messages"
                             for s in json.loads(r["body"]["messages"][0]["content"]
                                                 .split("Spans (JSON):\n", 1)[1])]}


def test_only_flagged_redacted_text_is_sent(sync_run):
    spans = sync_run["server_spans"]
    assert spans, "the samples contain flagged text: something must be escalated"
    conn = duckdb.connect(str(sync_run["db"]), read_only=True)
    total_chars = conn.execute(
        "SELECT sum(char_count) FROM texts t JOIN documents d USING (text_sha256) "
        "WHERE d.is_current").fetchone()[0]
    sent_chars = sum(len(s["text"]) for s in spans)
    assert sent_chars < total_chars / 2, "escalation sends windows, not whole documents"
    for span in spans:
        for value in PERSONAL:
            assert value not in span["text"]
    windows = conn.execute(
        "SELECT w.redacted_text, w.rule_ids, substring(t.text, w.char_start + 1, "
        "w.char_end - w.char_start) FROM escalation_windows w JOIN documents d USING (doc_id) "
        "JOIN texts t USING (text_sha256)").fetchall()
    sent_texts = {s["text"] for s in spans}
    for redacted, rule_ids, original in windows:
        assert redacted in sent_texts
        assert json.loads(rule_ids), "every window is there because an escalating rule hit it"
        assert not any(r.startswith("pii.") for r in json.loads(rule_ids))
        # The window is the stored text with personal data swapped for placeholders.
        placeholders = conn.execute(
            "SELECT placeholder, original FROM redactions r JOIN escalation_windows w "
            "USING (window_id) WHERE w.redacted_text = ?", [redacted]).fetchall()
        restored = redacted
        for placeholder, value in placeholders:
            restored = restored.replace(placeholder, value)
        assert " ".join(restored.split()) in " ".join(original.split()) or placeholders
    hr_windows = conn.execute(
        "SELECT count(*) FROM redactions").fetchone()[0]
    assert hr_windows >= 0


def test_ledger_agrees_with_reported_spend(sync_run):
    conn = duckdb.connect(str(sync_run["db"]), read_only=True)
    run_id = sync_run["result"]["run_id"]
    ledger = conn.execute(
        "SELECT sum(cost_usd), count(*) FROM llm_calls WHERE run_id = ? AND provider = "
        "'anthropic'", [run_id]).fetchone()
    reported = conn.execute("SELECT spend_usd, naive_new_usd, naive_all_usd FROM runs "
                            "WHERE run_id = ?", [run_id]).fetchone()
    assert ledger[0] == reported[0] > 0
    assert ledger[1] == len([r for r in sync_run["requests"] if r["path"] == "/v1/messages"])
    # The samples are written to be flagged (half their chunks carry a planted risk), so the
    # margin here is smaller than on real document mixes; make eval measures it on CUAD.
    assert reported[1] > reported[0] * 3, "routing must cost far less than naive escalation"
    statuses = {r[0] for r in conn.execute(
        "SELECT status FROM llm_calls WHERE provider = 'anthropic'").fetchall()}
    assert statuses == {"settled"}
    # Costs recomputed from the stored usage with the price table are exactly the booked ones.
    table = load_price_table()
    for model, inp, out, cw, cr, batch, cost in conn.execute(
            "SELECT model, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, "
            "is_batch, cost_usd FROM llm_calls WHERE provider = 'anthropic'").fetchall():
        assert table.cost(model, inp, out, cw, cr, batch) == cost


def test_rerun_spends_nothing(sync_run):
    assert sync_run["requests_after_rerun"] == sync_run["requests"]
    conn = duckdb.connect(str(sync_run["db"]), read_only=True)
    rerun_id = sync_run["rerun"]["run_id"]
    assert conn.execute("SELECT count(*) FROM llm_calls WHERE run_id = ?",
                        [rerun_id]).fetchone()[0] == 0
    assert conn.execute("SELECT spend_usd FROM runs WHERE run_id = ?",
                        [rerun_id]).fetchone()[0] == 0


def test_findings_stored_per_window(sync_run):
    conn = duckdb.connect(str(sync_run["db"]), read_only=True)
    open_windows = conn.execute(
        "SELECT count(*) FROM escalation_windows WHERE status <> 'done'").fetchone()[0]
    assert open_windows == 0
    findings = conn.execute(
        "SELECT count(*) FROM escalation_windows w JOIN escalation_results r USING (cache_key) "
        "WHERE r.is_finding").fetchone()[0]
    assert findings > 0
    statuses = {r[0] for r in conn.execute(
        "SELECT DISTINCT escalation_status FROM triage WHERE decision = 'escalate'").fetchall()}
    assert statuses == {"done"}
    # A dismissed span comes back as its id alone: stored as not a finding, with no fields.
    dismissed = conn.execute(
        "SELECT category, severity, rationale, quote, recommended_action "
        "FROM escalation_results WHERE NOT is_finding").fetchall()
    assert dismissed and all(row == (None,) * 5 for row in dismissed)
    full = conn.execute("SELECT count(*) FROM escalation_results WHERE is_finding AND "
                        "(rationale IS NULL OR quote IS NULL)").fetchone()[0]
    assert full == 0


def test_requests_name_spans_by_short_ids(sync_run):
    for body in sent_messages_of(sync_run["requests"]):
        spans = json.loads(body["messages"][0]["content"].split("Spans (JSON):\n", 1)[1])
        ids = [s["span_id"] for s in spans]
        assert len(set(ids)) == len(ids)
        assert all(4 <= len(i) < 10 for i in ids), "a 64-character key costs tokens both ways"


def test_short_ids_are_unique_prefixes_whatever_the_order() -> None:
    keys = ["abcd" + "0" * 60, "abcd" + "1" * 60, "ef01" + "2" * 60]
    ids = short_ids(keys)
    assert ids == {keys[0]: "abcd0", keys[1]: "abcd1", keys[2]: "ef012"}
    assert short_ids(list(reversed(keys))) == ids
    assert short_ids(["1234" + "a" * 60, "5678" + "a" * 60]) == {
        "1234" + "a" * 60: "1234", "5678" + "a" * 60: "5678"}


def _tool(data: dict) -> list[dict]:
    return [{"type": "tool_use", "name": "record_findings", "input": data}]


def test_parse_answer_maps_findings_and_dismissals_back_to_keys() -> None:
    keys = ["aaaa" + "0" * 60, "bbbb" + "0" * 60, "cccc" + "0" * 60]
    finding = {"span_id": "bbbb", "category": "non_compete", "severity": "high",
               "rationale": "Restricts competing.", "quote": "shall not compete",
               "recommended_action": "Track the restriction."}
    answers = parse_answer(_tool({"findings": [finding], "dismissed": ["cccc", "aaaa"]}), keys)
    assert list(answers) == keys
    assert answers[keys[1]]["finding"] is True
    assert answers[keys[1]]["quote"] == "shall not compete"
    assert answers[keys[0]] == {"finding": False, "category": None, "severity": None,
                                "rationale": None, "quote": None, "recommended_action": None}
    for bad, message in (({"findings": [finding], "dismissed": ["aaaa"]}, "no result"),
                         ({"findings": [finding], "dismissed": ["aaaa", "cccc", "bbbb"]},
                          "more than once"),
                         ({"findings": [finding], "dismissed": ["aaaa", "cccc", "dddd"]},
                          "not sent"),
                         ({"findings": [{"span_id": "bbbb"}], "dismissed": ["aaaa", "cccc"]},
                          "schema"),
                         ({"results": []}, "schema")):
        with pytest.raises(MalformedAnswerError, match=message):
            parse_answer(_tool(bad), keys)


def test_no_key_completes_locally(harness, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    source = tmp_path / "src"
    shutil.copytree(SAMPLES / "promo", source)
    result = run_flow(source, tmp_path / "db.duckdb", escalation="sync",
                      anthropic_base_url="http://127.0.0.1:9")
    assert "no Anthropic API key" in result["summary"]
    conn = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert conn.execute("SELECT count(*) FROM llm_calls WHERE provider = 'anthropic'"
                        ).fetchone()[0] == 0


def test_escalation_off_sends_nothing(harness, tmp_path, fake, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    source = tmp_path / "src"
    shutil.copytree(SAMPLES / "promo", source)
    run_flow(source, tmp_path / "db.duckdb", escalation="off", anthropic_base_url=fake.base_url)
    assert fake.state.requests == []


def test_retries_are_booked_per_attempt(triaged_db, tmp_path, fake):
    fake.state.faults.extend(["429", "500", "529"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=3)
    with db.cursor() as cur:
        rows = cur.execute("SELECT status, error, cost_usd FROM llm_calls WHERE run_id = ? "
                           "ORDER BY call_id", [run_id]).fetchall()
    database.close_writer(db_path)
    attempts = len(sent_messages(fake))
    assert len(rows) == attempts
    assert [r[0] for r in rows[:3]] == ["failed"] * 3
    assert {r[1] for r in rows[:3]} == {"HTTP 429", "HTTP 500", "HTTP 529"}
    assert all(r[2] == 0 for r in rows[:3])
    assert rows[3][0] == "settled"
    assert result.failed_requests == 0


def test_timeout_keeps_reservation(triaged_db, tmp_path, fake):
    fake.state.timeout_sleep = 3.0
    fake.state.faults.extend(["timeout"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=0, cloud_timeout_seconds=1.0)
    with db.cursor() as cur:
        first = cur.execute("SELECT status, cost_usd, bound_usd, error FROM llm_calls "
                            "WHERE run_id = ? ORDER BY call_id LIMIT 1", [run_id]).fetchone()
        requeued = cur.execute("SELECT count(*) FROM escalation_windows WHERE status = "
                               "'failed'").fetchone()[0]
    database.close_writer(db_path)
    assert first[0] == "reserved" and first[1] == first[2] > 0
    assert "Timeout" in first[3]
    assert requeued > 0, "the windows of a request that died go back in the queue"


def test_malformed_answer_requeues_and_is_booked(triaged_db, tmp_path, fake):
    fake.state.faults.extend(["malformed"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1)
    with db.cursor() as cur:
        first = cur.execute("SELECT status, cost_usd FROM llm_calls WHERE run_id = ? "
                            "ORDER BY call_id LIMIT 1", [run_id]).fetchone()
    database.close_writer(db_path)
    assert first[0] == "settled" and first[1] > 0, "a malformed answer was still paid for"
    assert result.failed_requests == 1


def test_deferred_windows_go_first_next_run(triaged_db, tmp_path, fake):
    # No request fits a $0.001 budget at its upper bound: everything is deferred, nothing sent.
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=0, budget_usd=Decimal("0.001"))
    assert result.deferred == result.windows_total > 0 and result.done == 0
    assert fake.state.requests == []
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM llm_calls WHERE run_id = ?",
                           [run_id]).fetchone()[0] == 0
        statuses = {r[0] for r in cur.execute(
            "SELECT DISTINCT escalation_status FROM triage WHERE decision = 'escalate'"
        ).fetchall()}
        assert statuses == {"deferred"}
        # Newer windows arrive (pending) beside the deferred ones: deferred go first.
        cur.execute("UPDATE escalation_windows SET status = 'pending' WHERE window_id % 2 = 0")
        deferred = {r[0] for r in cur.execute(
            "SELECT redacted_text FROM escalation_windows WHERE status = 'deferred'").fetchall()}
        windows = queue.open_windows(cur, load_rules().version)
    assert deferred and {w[1] for w in windows[:len(deferred)]} == deferred
    prices = load_price_table()
    client = CloudClient(db, KEY, fake.base_url, prices)
    second = escalate.escalate(db, "run-2", load_rules().version,
                               EscalationSettings(cloud_concurrency=1, budget_usd=None,
                                                  max_spans_per_request=2),
                               client, prices, log=lambda message: None)
    database.close_writer(db_path)
    assert second.deferred == 0 and second.done == result.windows_total
    first_request = {s["text"] for s in spans_sent(fake)[:2]}
    assert first_request <= deferred


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.sampled_from(["ok", "429", "500", "529", "drop", "reset", "truncated",
                                        "malformed", "text", "unknown_span", "bad_quote",
                                        "401"]),
                       max_size=8),
       budget=st.decimals(min_value=Decimal("0.005"), max_value=Decimal("0.08"), places=3),
       concurrency=st.integers(min_value=1, max_value=4))
def test_budget_never_exceeded_under_faults(triaged_db, tmp_path_factory, faults, budget,
                                            concurrency):
    workdir = tmp_path_factory.mktemp("prop")
    with FakeAnthropicServer(api_key=KEY) as server:
        server.state.faults.extend(f for f in faults if f != "ok")
        db, db_path, run_id, result = escalate_copy(
            triaged_db, workdir, server, cloud_concurrency=concurrency, cloud_max_retries=2,
            budget_usd=budget, cloud_timeout_seconds=5.0)
        with db.cursor() as cur:
            spent, rows = cur.execute(
                "SELECT coalesce(sum(cost_usd), 0), count(*) FROM llm_calls WHERE run_id = ?",
                [run_id]).fetchone()
            unsettled_done = cur.execute(
                "SELECT count(*) FROM escalation_windows WHERE status = 'done' AND call_id IS "
                "NULL").fetchone()[0]
            unanswered_done = cur.execute(
                "SELECT count(*) FROM escalation_windows w LEFT JOIN escalation_results r "
                "USING (cache_key) WHERE w.status = 'done' AND r.cache_key IS NULL"
            ).fetchone()[0]
        database.close_writer(db_path)
        attempts = len(sent_messages(server))
    assert spent <= budget
    assert rows == attempts, "every attempt the server saw is a ledger row"
    assert unsettled_done == 0
    assert unanswered_done == 0, "a window is closed only with a stored answer"


@pytest.fixture(scope="module")
def batch_runs(harness, tmp_path_factory):
    source = tmp_path_factory.mktemp("batch-src")
    shutil.copytree(SAMPLES, source, dirs_exist_ok=True)
    db_path = tmp_path_factory.mktemp("batch-db") / "results.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAnthropicServer(api_key=KEY, batch_polls=3) as server:
        first = run_flow(source, db_path, escalation="batch", anthropic_base_url=server.base_url,
                         batch_wait_seconds=0)
        conn = database.reader(db_path)
        open_after_first = conn.execute("SELECT count(*) FROM batches WHERE status <> 'ended'"
                                        ).fetchone()[0]
        conn.close()
        second = run_flow(source, db_path, escalation="batch",
                          anthropic_base_url=server.base_url, batch_wait_seconds=30)
    mp.undo()
    return {"db": db_path, "first": first, "second": second,
            "open_after_first": open_after_first}


def test_unfinished_batch_is_collected_by_next_run(batch_runs):
    assert batch_runs["open_after_first"] == 1
    conn = duckdb.connect(str(batch_runs["db"]), read_only=True)
    assert conn.execute("SELECT count(*) FROM batches WHERE status <> 'ended'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM escalation_windows WHERE status <> 'done'"
                        ).fetchone()[0] == 0
    # The batch's cost is booked to the run that submitted it.
    first_id = batch_runs["first"]["run_id"]
    booked = conn.execute("SELECT count(*), sum(cost_usd) FROM llm_calls WHERE run_id = ? "
                          "AND status = 'settled' AND is_batch", [first_id]).fetchone()
    assert booked[0] > 0 and booked[1] > 0


def test_batch_gives_sync_findings_at_half_price(batch_runs, sync_run):
    def findings(db_path: Path) -> dict[str, bool]:
        conn = duckdb.connect(str(db_path), read_only=True)
        return dict(conn.execute(
            "SELECT w.redacted_text, r.is_finding FROM escalation_windows w "
            "JOIN escalation_results r USING (cache_key)").fetchall())

    def cost(db_path: Path) -> Decimal:
        conn = duckdb.connect(str(db_path), read_only=True)
        return conn.execute("SELECT sum(cost_usd) FROM llm_calls WHERE provider = 'anthropic'"
                            ).fetchone()[0]

    assert findings(batch_runs["db"]) == findings(sync_run["db"])
    assert cost(batch_runs["db"]) * 2 == pytest.approx(cost(sync_run["db"]), abs=Decimal("1e-8"))


def test_malformed_pack_names_file_and_rule(tmp_path):
    from compliance.rules.loader import RulePackError

    shutil.copytree(ROOT / "data" / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "zz-broken.yaml").write_text(
        "rules:\n  - id: broken.rule\n    category: x\n    severity: high\n"
        "    description: bad regex\n    patterns: ['(unclosed']\n")
    with pytest.raises(RulePackError) as error:
        load_rules(tmp_path / "rules")
    assert "zz-broken.yaml" in str(error.value) and "broken.rule" in str(error.value)


@pytest.mark.parametrize("policy", ["{min_distinct_rules: 0, max_chunks: 5}",
                                    "{min_distinct_rules: 2}", "yes",
                                    "{min_distinct_rules: 2, max_chunks: 5, pages: 3}"])
def test_malformed_whole_document_policy_names_the_file(tmp_path, policy):
    from compliance.rules.loader import RulePackError

    shutil.copytree(ROOT / "data" / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "zz-wide.yaml").write_text(
        f"whole_document: {policy}\nrules:\n  - id: wide.rule\n    category: x\n"
        "    severity: high\n    description: d\n    keywords: [wide]\n")
    with pytest.raises(RulePackError, match="zz-wide.yaml.*whole_document"):
        load_rules(tmp_path / "rules")


def test_shipped_pharma_pack_sends_short_promotional_pieces_whole():
    (policy,) = load_rules().whole_document
    assert (policy.pack, policy.min_distinct_rules, policy.max_chunks) == (
        "pharma-promotion", 2, 12)


def test_retriage_applies_new_rules_without_reparsing(sync_run, tmp_path, fake, monkeypatch):
    from flows.retriage import compliance_retriage

    db_path = tmp_path / "copy.duckdb"
    shutil.copy(sync_run["db"], db_path)
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "data" / "rules", rules)
    (rules / "extra.yaml").write_text(
        "pack: extra\nrules:\n  - id: extra.retention\n    category: records_retention\n"
        "    severity: high\n    description: Destruction of records\n"
        "    keywords: ['destroyed', 'deleted']\n")
    monkeypatch.setenv("COMPLIANCE_RULES_DIR", str(rules))
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    conn = duckdb.connect(str(db_path), read_only=True)
    before = conn.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM "
                          "chunks), (SELECT count(*) FROM texts)").fetchone()
    conn.close()
    result = compliance_retriage(PipelineParams(source=str(tmp_path), db_path=str(db_path),
                                                scorer="off",
                                                anthropic_base_url=fake.base_url))
    assert result["chunks_scanned"] == before[1]
    conn = duckdb.connect(str(db_path), read_only=True)
    after = conn.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM "
                         "chunks), (SELECT count(*) FROM texts)").fetchone()
    assert after == before
    new_version = load_rules(rules).version
    assert conn.execute("SELECT count(*) FROM flags WHERE rule_id = 'extra.retention' AND "
                        "rules_version = ?", [new_version]).fetchone()[0] > 0
    # The rules version is part of the escalation cache key: new rules, new judgements.
    sent = [s["text"] for s in spans_sent(fake)]
    assert any("destroyed" in t or "deleted" in t for t in sent)
    assert conn.execute("SELECT count(*) FROM escalation_windows WHERE rules_version = ? AND "
                        "status <> 'done'", [new_version]).fetchone()[0] == 0


def test_errored_and_expired_batch_entries_are_requeued(triaged_db, tmp_path, fake):
    fake.state.batch_faults.update({0: "errored", 1: "expired"})
    db, db_path, run_id, result = escalate_copy(
        triaged_db, tmp_path, fake, escalation="batch", max_spans_per_request=4,
        batch_wait_seconds=20)
    with db.cursor() as cur:
        rows = cur.execute("SELECT status, cost_usd, error FROM llm_calls WHERE run_id = ? "
                           "ORDER BY call_id", [run_id]).fetchall()
        requeued = cur.execute("SELECT count(*) FROM escalation_windows WHERE status = "
                               "'failed'").fetchone()[0]
        done = cur.execute("SELECT count(*) FROM escalation_windows WHERE status = 'done'"
                           ).fetchone()[0]
    database.close_writer(db_path)
    failed = [r for r in rows if r[0] == "failed"]
    assert len(failed) == 2 and all(r[1] == 0 for r in failed)
    assert {r[2] for r in failed} == {"batch entry errored", "batch entry expired"}
    assert all(r[0] in ("failed", "settled") for r in rows), "nothing left reserved"
    assert requeued > 0 and done > 0
    assert result.batches_pending == 0
