"""The clause scorer in the real flow: operating point, audit sample, recall estimate, retriage,
and retraining on the database's own labels (the real SDK against a local fake of the API)."""

from __future__ import annotations

import json

import pytest
from helpers import FIXTURES_DIR, query, scalar
from typer.testing import CliRunner

from compliance.scoring.policy import resolve_scorer
from tests.fake_anthropic import FakeAnthropicServer

KEY = "sk-ant-test-TRIAGE-0123456789abcdef"
CONTRACTS = FIXTURES_DIR / "contracts" / "cuad_small.jsonl"


def _write_contracts(folder):
    for line in CONTRACTS.read_text().splitlines():
        record = json.loads(line)
        (folder / f"{record['doc_id']}.txt").write_text(record["text"], encoding="utf-8")


@pytest.fixture(scope="module")
def audited_run(prefect_harness, tmp_path_factory):
    """One sync run over four contracts, then a retriage at another recall target."""
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline
    from flows.retriage import compliance_retriage

    source = tmp_path_factory.mktemp("contracts")
    _write_contracts(source)
    db_path = tmp_path_factory.mktemp("db") / "results.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAnthropicServer(api_key=KEY) as server:
        common = {"source": str(source), "db_path": str(db_path), "summarize": "off",
                  "escalation": "sync", "anthropic_base_url": server.base_url,
                  "budget_usd": None, "audit_share": 0.2}
        first = compliance_pipeline(PipelineParams(**common))
        second = compliance_retriage(PipelineParams(**common, recall_target=0.9))
    mp.undo()
    return db_path, first, second


def test_a_run_records_the_scorer_and_its_operating_point(audited_run):
    db_path, first, _ = audited_run
    scorer = resolve_scorer(None)
    point = scorer.operating_point(0.95)
    row = query(db_path, "SELECT scorer_version, recall_target, scorer_threshold, "
                         "expected_recall, expected_share FROM runs WHERE run_id = ?",
                [first["run_id"]])[0]
    assert row == (scorer.version, 0.95, pytest.approx(point.threshold),
                   pytest.approx(point.expected_recall), pytest.approx(point.expected_share))
    # Every chunk's decision names the scorer and its threshold; every unit is kept with its score.
    assert scalar(db_path, "SELECT count(*) FROM triage WHERE run_id = ? AND "
                           "(scorer_version IS DISTINCT FROM ? OR scorer_threshold IS NULL)",
                  [first["run_id"], scorer.version]) == 0
    escalated, total = query(db_path, "SELECT count(*) FILTER (WHERE escalated), count(*) "
                                      "FROM triage_units WHERE run_id = ?",
                             [first["run_id"]])[0]
    assert 0 < escalated < total
    assert scalar(db_path, "SELECT count(*) FROM triage_units WHERE run_id = ? AND "
                           "escalated <> (score >= ?)", [first["run_id"], point.threshold]) == 0


def test_the_audit_sample_is_judged_booked_as_audit_and_estimates_recall(audited_run):
    db_path, first, _ = audited_run
    run_id = first["run_id"]
    sampled = scalar(db_path, "SELECT sum(sampled) FROM audit_bands WHERE run_id = ?", [run_id])
    windows = query(db_path, "SELECT status, inclusion_probability, audit_band FROM "
                             "escalation_windows WHERE run_id = ? AND purpose = 'audit'", [run_id])
    assert sampled > 0 and len(windows) == sampled
    assert {status for status, _, _ in windows} == {"done"}
    assert all(0 < p <= 1 for _, p, _ in windows)
    # No audited unit was one triage escalated.
    assert scalar(db_path, "SELECT count(*) FROM escalation_windows w JOIN triage_units u "
                           "ON u.chunk_id = w.chunk_id AND u.char_start = w.char_start "
                           "AND u.triage_version = w.rules_version "
                           "WHERE w.purpose = 'audit' AND u.escalated") == 0
    audit_calls = query(db_path, "SELECT count(*), sum(cost_usd) FROM llm_calls WHERE run_id = ? "
                                 "AND purpose = 'audit'", [run_id])[0]
    assert audit_calls[0] >= 1 and audit_calls[1] > 0
    # Requests carry one purpose: no audit window shares a call with an escalation window.
    assert scalar(db_path, "SELECT count(*) FROM escalation_windows w JOIN llm_calls c "
                           "USING (call_id) WHERE (w.purpose = 'audit') <> "
                           "(c.purpose = 'audit')") == 0
    estimate = query(db_path, "SELECT estimate, lower_bound, runs_pooled, status, audited "
                              "FROM recall_estimates WHERE run_id = ? AND category = 'all'",
                     [run_id])[0]
    assert 0 <= estimate[1] <= estimate[0] <= 1
    assert estimate[2] == 1 and estimate[3] in ("ok", "below_target") and estimate[4] == sampled
    status = scalar(db_path, "SELECT recall_status FROM runs WHERE run_id = ?", [run_id])
    assert status == estimate[3]
    assert "triage recall    estimate" in first["summary"]


def test_verdicts_become_labels_with_their_source(audited_run):
    db_path, _, _ = audited_run
    sources = dict(query(db_path, "SELECT source, count(*) FROM triage_labels GROUP BY 1"))
    assert sources.get("cloud_verdict", 0) > 0 and sources.get("audit_verdict", 0) > 0


def test_retriage_at_another_target_re_decides_every_chunk_once(audited_run):
    db_path, first, second = audited_run
    versions = query(db_path, "SELECT triage_version, scorer_threshold FROM runs "
                              "WHERE run_id IN (?, ?) ORDER BY started_at",
                     [first["run_id"], second["run_id"]])
    assert versions[0][0] != versions[1][0] and versions[1][1] > versions[0][1]
    chunks = scalar(db_path, "SELECT count(*) FROM chunks")
    per_version = query(db_path, "SELECT rules_version, count(*) FROM triage GROUP BY 1")
    assert sorted(n for _, n in per_version) == [chunks, chunks]
    # Flags are stored once per policy version, never twice for one chunk and rule.
    assert scalar(db_path, "SELECT count(*) FROM (SELECT chunk_id, rule_id, char_start, "
                           "rules_version FROM flags GROUP BY ALL HAVING count(*) > 1)") == 0
    # The second estimate pools its own version's runs only.
    assert scalar(db_path, "SELECT runs_pooled FROM triage_recall WHERE category = 'all'") == 1


def test_triage_train_stores_an_inactive_model_until_activated(audited_run, tmp_path):
    from compliance.cli.main import app

    db_path, _, _ = audited_run
    runner = CliRunner()
    trained = runner.invoke(app, ["triage", "train", "--db", str(db_path), "--data",
                                  str(CONTRACTS), "--folds", "2"])
    assert trained.exit_code == 0, trained.output
    version = trained.output.split("stored clause scorer ")[1].split()[0]
    labels = scalar(db_path, "SELECT count(*) FROM triage_labels")
    assert query(db_path, "SELECT labels_used, active FROM scorer_models WHERE version = ?",
                 [version]) == [(labels, False)]
    listed = runner.invoke(app, ["triage", "models", "--db", str(db_path)])
    assert version in listed.output and resolve_scorer(None).version in listed.output
    activated = runner.invoke(app, ["triage", "activate", version, "--db", str(db_path)])
    assert activated.exit_code == 0, activated.output
    assert scalar(db_path, "SELECT version FROM scorer_models WHERE active") == version
    # Runs now use it (no scorer named): a retriage re-decides under the new version.
    from compliance.settings import PipelineParams
    from flows.retriage import compliance_retriage

    result = compliance_retriage(PipelineParams(db_path=str(db_path), escalation="off"))
    assert scalar(db_path, "SELECT scorer_version FROM runs WHERE run_id = ?",
                  [result["run_id"]]) == version
    wrong = runner.invoke(app, ["triage", "activate", "nope", "--db", str(db_path)])
    assert wrong.exit_code == 2 and "no stored clause scorer" in wrong.output
    back = runner.invoke(app, ["triage", "activate", "--shipped", "--db", str(db_path)])
    assert back.exit_code == 0 and scalar(db_path, "SELECT count(*) FROM scorer_models "
                                                   "WHERE active") == 0


def test_without_verdicts_there_is_no_estimate_only_a_status(samples_run):
    # `make run` without a key: the audit sample waits with the escalations, and the run says
    # so instead of reporting a recall of 0 from a sample nobody has judged.
    _, db_path, result = samples_run
    row = query(db_path, "SELECT recall_status, recall_estimate, recall_lower_bound FROM runs "
                         "WHERE run_id = ?", [result["run_id"]])[0]
    assert row == ("awaiting_verdicts", None, None)
    assert scalar(db_path, "SELECT count(*) FROM escalation_windows WHERE purpose = 'audit' "
                           "AND status = 'pending'") > 0
    assert "triage recall    awaiting_verdicts" in result["summary"]
