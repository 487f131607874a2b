"""The results database for analysts and reviewers: views, reviews, the CLI readers, schema docs.

Databases come from real pipeline runs (tests/conftest.py's analyst_db: `make run`'s kind of
run over data/samples, then a run that escalates to the local fake Anthropic API).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT, query, run_pipeline, scalar
from typer.testing import CliRunner

from compliance.cli.main import app
from compliance.read.results import ANALYST_VIEWS
from compliance.store.db import reader
from compliance.store.schema_doc import SCHEMA_DOC, fresh_schema, undocumented
from tests.fake_anthropic import FakeAnthropicServer

ROOT = PROJECT_ROOT
SAMPLES = ROOT / "data" / "samples"
SSN = "219-09-9999"  # planted in data/samples/hr/employee-onboarding.eml
COMPLIANCE = str(Path(sys.executable).parent / "compliance")
runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture()
def db_copy(analyst_db, tmp_path):
    """A writable copy of the analyst database (the session's original stays untouched)."""
    _, db_path = analyst_db
    copy = tmp_path / "results.duckdb"
    shutil.copy(db_path, copy)
    return copy


# --- schema documentation -------------------------------------------------------------------

def test_schema_doc_matches_the_migrations():
    assert SCHEMA_DOC.read_text(encoding="utf-8") == fresh_schema(), (
        "docs/schema.md is out of date: run `python -m compliance.store.schema_doc`")


def test_every_table_view_and_column_has_a_meaning():
    conn = duckdb.connect()
    from compliance.store.db import apply_migrations

    apply_migrations(conn)
    assert undocumented(conn) == []
    views = {row[0] for row in conn.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert set(ANALYST_VIEWS) <= views


def test_schema_doc_of_a_real_database_equals_the_committed_page(analyst_db):
    from compliance.store.schema_doc import render_schema

    conn = reader(analyst_db[1])
    try:
        assert render_schema(conn) == SCHEMA_DOC.read_text(encoding="utf-8")
    finally:
        conn.close()


# --- the views answer their questions on a real database ------------------------------------

def test_views_answer_their_questions(analyst_db):
    _, db = analyst_db
    for view in ANALYST_VIEWS:
        assert scalar(db, f"SELECT count(*) FROM {view}") > 0, view

    # findings: rule and model findings, every one with a stable id, pages for paginated files
    by_source = dict(query(db, "SELECT detected_by, count(*) FROM findings GROUP BY 1"))
    assert by_source["rule"] > 0 and by_source["model"] > 0
    assert scalar(db, "SELECT count(*) FROM findings WHERE finding_id IS NULL") == 0
    assert scalar(db, "SELECT count(*) FROM findings WHERE rel_path LIKE '%.pdf' "
                      "AND page IS NULL") == 0
    assert scalar(db, "SELECT count(*) FROM findings WHERE quote LIKE ?", [f"%{SSN}%"]) == 1
    verdicts = {r[0] for r in query(db, "SELECT DISTINCT escalation_verdict FROM findings")}
    # Every rule finding of the samples now lies in a window the clause scorer or a rule sent,
    # so 'not_escalated' need not occur; no other verdict may.
    assert "confirmed_by_model" in verdicts
    assert verdicts <= {"confirmed_by_model", "dismissed_by_model", "not_escalated",
                        "failed", "pending"}

    # escalations: every judged window's cost share adds up to the ledger's cloud spend
    cloud = scalar(db, "SELECT sum(cost_usd) FROM llm_calls WHERE provider <> 'local'")
    assert cloud > 0
    shares = scalar(db, "SELECT sum(cost_share_usd) FROM escalations")
    assert abs(shares - cloud) < Decimal("1e-6")

    # cost_by_run and cost_by_day_and_model agree with the ledger to the cent fraction
    assert scalar(db, "SELECT sum(total_cost_usd) FROM cost_by_run") == scalar(
        db, "SELECT sum(cost_usd) FROM llm_calls")
    assert scalar(db, "SELECT sum(cost_usd) FROM cost_by_day_and_model") == scalar(
        db, "SELECT sum(cost_usd) FROM llm_calls")
    providers = {r[0] for r in query(db, "SELECT DISTINCT provider FROM cost_by_day_and_model")}
    assert providers == {"local", "anthropic"}

    # savings_by_run: nothing claimed for the run without a key (nothing went out); for the
    # escalating run the parts add up to the whole
    rows = query(db, "SELECT savings_claimed, naive_all_usd, spend_usd, saved_by_dedupe_usd, "
                     "saved_by_routing_usd, cache_saved_usd, saved_total_usd "
                     "FROM savings_by_run ORDER BY started_at")
    assert [row[0] for row in rows] == [False, True]
    assert rows[0][3:] == (None, None, None, None)
    _, naive_all, spend, dedupe, routing, cache, total = rows[1]
    assert spend > 0 and total == naive_all - spend
    assert dedupe + routing + cache == total

    # document_status: the corrupt sample is not assessed (never "no findings"); risk verdicts
    status = {r[0]: r[1:] for r in query(
        db, "SELECT rel_path, status, risk_verdict, open_findings, error FROM document_status")}
    assert status["broken/quarterly-report.pdf"][:2] == ("corrupt", "not_assessed")
    assert status["broken/quarterly-report.pdf"][3]
    assert status["promo/cardiozen-brochure.pdf"][1] == "critical"
    for rel_path, (doc_status, verdict, open_findings, _) in status.items():
        if doc_status in ("ok", "partial") and open_findings == 0:
            assert verdict == "none", rel_path

    # cache_efficiency: the first run summarized, the escalating run reused every summary
    runs = query(db, "SELECT summaries_done, summaries_cached, escalation_windows_sent "
                     "FROM cache_efficiency ORDER BY started_at")
    assert runs[0][0] > 0 and runs[-1][2] > 0

    # rule_precision: one row per rule with findings, the model's opinion counted
    assert scalar(db, "SELECT sum(model_confirmed) FROM rule_precision") > 0


# --- the review workflow ----------------------------------------------------------------------

def test_review_round_trips_through_the_cli_with_an_audit_trail(db_copy):
    target, other = [r[0] for r in query(
        db_copy, "SELECT finding_id FROM findings WHERE detected_by = 'rule' "
                 "ORDER BY severity_rank DESC, finding_id LIMIT 2")]
    code, out = cli("review", target, "--disposition", "confirmed", "--reviewer", "alice",
                    "--note", "real off-label claim", "--db", db_copy)
    assert code == 0, out
    assert f"finding {target}: open -> confirmed by alice" in out
    code, out = cli("review", target, "--disposition", "resolved", "--reviewer", "bob",
                    "--db", db_copy)
    assert code == 0 and "confirmed -> resolved" in out
    code, out = cli("review", other, "--disposition", "false_positive", "--reviewer", "alice",
                    "--db", db_copy)
    assert code == 0, out

    trail = query(db_copy, "SELECT finding_id, from_disposition, to_disposition, reviewer, "
                           "note FROM finding_reviews ORDER BY review_id")
    assert trail == [(target, "open", "confirmed", "alice", "real off-label claim"),
                     (target, "confirmed", "resolved", "bob", None),
                     (other, "open", "false_positive", "alice", None)]
    assert dict(query(db_copy, "SELECT finding_id, disposition FROM findings "
                               "WHERE finding_id IN (?, ?)", [target, other])) == {
        target: "resolved", other: "false_positive"}

    code, out = cli("findings", "--status", "false_positive", "--json", "--db", db_copy)
    assert code == 0 and f'"finding_id": {other}' in out and f'"finding_id": {target}' not in out
    rule = scalar(db_copy, "SELECT detector FROM findings WHERE finding_id = ?", [other])
    assert scalar(db_copy, "SELECT false_positive FROM rule_precision WHERE rule_id = ?",
                  [rule]) >= 1

    code, out = cli("review", 999999, "--disposition", "confirmed", "--reviewer", "alice",
                    "--db", db_copy)
    assert code == 1 and "no finding with id 999999" in out
    code, out = cli("review", target, "--disposition", "confirmed", "--reviewer", " ",
                    "--db", db_copy)
    assert code == 1 and "reviewer" in out
    assert scalar(db_copy, "SELECT count(*) FROM finding_reviews") == 3


def test_a_finding_keeps_its_history_in_a_new_version(prefect_harness, tmp_path):
    source = tmp_path / "docs"
    (source / "contracts").mkdir(parents=True)
    contract = source / "contracts" / "msa.txt"
    shutil.copy(SAMPLES / "contracts" / "master-services-agreement.txt", contract)
    db = tmp_path / "results.duckdb"
    run_pipeline(source, db, summarize="off", escalation="off")
    kept, reopened = [r[0] for r in query(
        db, "SELECT finding_id FROM findings ORDER BY severity_rank DESC, finding_id LIMIT 2")]
    assert cli("review", kept, "--disposition", "false_positive", "--reviewer", "alice",
               "--db", db)[0] == 0
    assert cli("review", reopened, "--disposition", "confirmed", "--reviewer", "alice",
               "--db", db)[0] == 0
    assert cli("review", reopened, "--disposition", "resolved", "--reviewer", "bob",
               "--db", db)[0] == 0

    time.sleep(0.01)
    contract.write_text(contract.read_text(encoding="utf-8")
                        + "\n\n99. NOTICES\n\n99.1 Notices are given in writing.\n",
                        encoding="utf-8")
    run_pipeline(source, db, summarize="off", escalation="off")
    assert scalar(db, "SELECT max(version) FROM documents WHERE is_current") == 2
    rows = dict(query(db, "SELECT finding_id, (version, disposition, reviews) FROM findings "
                          "WHERE finding_id IN (?, ?)", [kept, reopened]))
    assert rows[kept] == (2, "false_positive", 1)
    # resolved, yet found again in the new version: open again, with its history kept
    assert rows[reopened] == (2, "open", 2)
    assert [r[0] for r in query(db, "SELECT to_disposition FROM finding_reviews "
                                    "WHERE finding_id = ? ORDER BY review_id",
                                [reopened])] == ["confirmed", "resolved"]
    # the new version's findings did not get new ids
    assert scalar(db, "SELECT count(*) FROM finding_ids") == scalar(
        db, "SELECT count(*) FROM findings")


# --- the readers -------------------------------------------------------------------------------

def test_readers_get_a_clear_message_while_a_run_writes(db_copy):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time, duckdb
            from compliance.store.runlock import DatabaseLock
            lock = DatabaseLock({str(db_copy)!r}); lock.try_acquire("flow run 1234 (nightly)")
            conn = duckdb.connect({str(db_copy)!r})
            print("holding", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for args in (["findings"], ["report"], ["sql", "SELECT 1"],
                     ["summary", "1", "--wait-seconds", "0"],
                     ["export", "--to", str(db_copy.parent / "out")], ["search", "liability"]):
            code, out = cli(*args, "--db", db_copy)
            assert code == 2, (args, out)
            assert "is being written by flow run 1234 (nightly)" in out, out
            assert "Traceback" not in out
        code, out = cli("review", "1", "--disposition", "confirmed", "--reviewer", "a",
                        "--db", db_copy)
        assert code == 2 and "Traceback" not in out
    finally:
        holder.kill()
        holder.wait()


def test_one_connection_runs_several_read_only_queries(analyst_db, tmp_path):
    from compliance.read.results import open_results, run_readonly_sql

    conn = open_results(analyst_db[1])
    try:
        assert run_readonly_sql(conn, "SELECT 1 AS one").rows == [(1,)]
        assert run_readonly_sql(conn, "SELECT count(*) FROM runs").rows[0][0] >= 1
        with pytest.raises(duckdb.Error):
            run_readonly_sql(conn, f"COPY runs TO '{tmp_path / 'leak.csv'}'")
    finally:
        conn.close()


def test_missing_database_is_a_clear_error(tmp_path):
    code, out = cli("findings", "--db", tmp_path / "nope.duckdb")
    assert code == 2 and "no results database" in out


def test_sql_is_read_only(db_copy, tmp_path):
    code, out = cli("sql", "SELECT count(*) AS n FROM findings", "--format", "csv",
                    "--db", db_copy)
    assert code == 0
    assert out.splitlines() == ["n", str(scalar(db_copy, "SELECT count(*) FROM findings"))]
    before = scalar(db_copy, "SELECT count(*) FROM runs")
    code, out = cli("sql", "DELETE FROM runs", "--db", db_copy)
    assert code == 1 and "read-only" in out and "Traceback" not in out
    code, out = cli("sql", f"COPY runs TO '{tmp_path / 'leak.csv'}'", "--db", db_copy)
    assert code == 1 and not (tmp_path / "leak.csv").exists()
    code, out = cli("sql", "SELECT * FROM no_such_view", "--db", db_copy)
    assert code == 1 and "no_such_view" in out
    assert scalar(db_copy, "SELECT count(*) FROM runs") == before


def test_findings_filters(analyst_db):
    _, db = analyst_db
    code, out = cli("findings", "--severity", "high", "--json", "--limit", "1000", "--db", db)
    assert code == 0
    shown = [int(m) for m in re.findall(r'"finding_id": (\d+)', out)]
    assert sorted(shown) == sorted(r[0] for r in query(
        db, "SELECT finding_id FROM findings WHERE severity IN ('high', 'critical')"))
    code, out = cli("findings", "--since", "2999-01-01", "--db", db)
    assert code == 0 and "No findings match." in out
    code, out = cli("findings", "--db", db)
    assert code == 0 and SSN not in out  # masked unless --unmask


def test_report_shows_the_last_run_and_the_last_days(analyst_db, tmp_path):
    _, db = analyst_db
    page = tmp_path / "out" / "report.html"
    code, out = cli("report", "--db", db, "--html", page)
    assert code == 0, out
    assert f"wrote {page}" in out
    html = page.read_text(encoding="utf-8")
    assert html.count('class="mark"') == scalar(db, "SELECT count(*) FROM cost_by_day_and_model")
    assert SSN not in html
    last = scalar(db, "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")
    assert f"Last run {last}" in out
    day = scalar(db, "SELECT max(day) FROM cost_by_day_and_model")
    assert str(day) in out
    open_high = scalar(db, "SELECT count(*) FROM findings WHERE severity = 'high' "
                           "AND disposition IN ('open', 'confirmed')")
    assert f"{open_high} high" in out
    assert "broken/quarterly-report.pdf" in out and "corrupt" in out


def test_export_masks_personal_data_unless_asked(analyst_db, tmp_path):
    _, db = analyst_db
    masked, plain = tmp_path / "masked", tmp_path / "plain"
    code, out = cli("export", "--to", masked, "--format", "parquet", "--db", db)
    assert code == 0, out
    assert cli("export", "--to", plain, "--format", "csv", "--unmask", "--db", db)[0] == 0
    conn = duckdb.connect()
    for view in ANALYST_VIEWS:
        assert conn.execute(f"SELECT count(*) FROM '{masked / view}.parquet'").fetchone()[0] \
            == scalar(db, f"SELECT count(*) FROM {view}")
    quotes = [r[0] for r in conn.execute(
        f"SELECT quote FROM '{masked / 'findings.parquet'}'").fetchall()]
    assert not any(SSN in q for q in quotes) and any("[SSN]" in q for q in quotes)
    assert SSN in (plain / "findings.csv").read_text(encoding="utf-8")
    for exported in masked.iterdir():
        text = conn.execute(f"SELECT string_agg(CAST(t AS VARCHAR), ' ') FROM "
                            f"'{exported}' t").fetchone()[0] or ""
        assert SSN not in text, exported.name


def test_stored_summary_is_printed_at_once(analyst_db):
    _, db = analyst_db
    doc_id, rel_path, stored = query(
        db, "SELECT d.doc_id, d.rel_path, s.summary FROM documents d "
            "JOIN document_summaries USING (doc_id) JOIN summaries s USING (summary_key) "
            "WHERE d.is_current ORDER BY d.doc_id LIMIT 1")[0]
    calls = scalar(db, "SELECT count(*) FROM llm_calls")
    code, out = cli("summary", rel_path, "--db", db)
    assert code == 0 and stored in out and "stored by run" in out
    assert cli("summary", str(doc_id), "--db", db)[1] == out
    assert scalar(db, "SELECT count(*) FROM llm_calls") == calls
    code, out = cli("summary", "broken/quarterly-report.pdf", "--db", db)
    assert code == 1 and "corrupt" in out


def test_summary_shows_the_brief_with_its_risks_and_masks_people(analyst_db):
    _, db = analyst_db
    code, out = cli("summary", "contracts/master-services-agreement.txt", "--db", db)
    assert code == 0, out
    brief = out[out.index("Brief"):out.index("Abstract")]
    assert "Governing law" in brief and "England and Wales" in brief
    assert "MASTER SERVICES AGREEMENT" in brief and "[rule, chars " in brief
    open_categories = {row[0] for row in query(
        db, "SELECT DISTINCT category FROM findings f JOIN documents d USING (doc_id) "
            "WHERE d.rel_path = 'contracts/master-services-agreement.txt' "
            "AND disposition IN ('open', 'confirmed')")}
    assert open_categories and all(category in brief for category in open_categories)
    # A plain-text contract has no pages: each risk says where its chunk starts.
    starts = {row[0] for row in query(
        db, "SELECT c.char_start FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE d.rel_path = 'contracts/master-services-agreement.txt' AND d.is_current")}
    risk_lines = [line for line in brief.split("Risks found")[1].splitlines()[1:] if line.strip()]
    assert risk_lines and all(
        int(line.split(" char ")[1].split()[0]) in starts for line in risk_lines), risk_lines
    sender = scalar(db, "SELECT value FROM document_briefs WHERE field = 'person' "
                        "AND value LIKE '%(sender)'")
    address = sender.split("<")[1].split(">")[0]
    code, out = cli("summary", "hr/employee-onboarding.eml", "--db", db)
    assert code == 0 and "(sender)" in out and address not in out
    code, out = cli("summary", "hr/employee-onboarding.eml", "--db", db, "--unmask")
    assert code == 0 and address in out


def test_a_missing_summary_is_computed_once_for_many_askers(prefect_harness, tmp_path):
    source = tmp_path / "docs"
    source.mkdir()
    (source / "memo.txt").write_text(
        "Quarterly compliance memo.\n\nAll sales representatives must complete the updated "
        "anti-bribery training by 30 June. Gifts to healthcare professionals above fifty euros "
        "need written approval from the compliance officer before they are offered. Regional "
        "managers collect the signed training certificates, keep them for five years and report "
        "any refused gift or hospitality request to the compliance officer within one week.\n",
        encoding="utf-8")
    db = tmp_path / "results.duckdb"
    run_pipeline(source, db, summarize="off", escalation="off")
    assert scalar(db, "SELECT count(*) FROM document_summaries") == 0
    # Asked only to read: the brief is shown, and the missing summary is said to be missing.
    code, out = cli("summary", "memo.txt", "--db", db, "--no-compute")
    assert code == 1 and "Brief" in out and "no stored summary yet" in out

    askers = [subprocess.Popen([COMPLIANCE, "summary", "memo.txt", "--db", str(db)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, env={**os.environ, "COMPLIANCE_LLM_THREADS": "1"})
              for _ in range(3)]
    outputs = [asker.communicate(timeout=600) for asker in askers]
    assert all(asker.returncode == 0 for asker in askers), outputs
    stored = scalar(db, "SELECT s.summary FROM document_summaries JOIN summaries s "
                        "USING (summary_key)")
    assert all(stored in out for out, _ in outputs)
    computed = [err for _, err in outputs if "computed now" in err]
    assert len(computed) == 1, outputs
    assert scalar(db, "SELECT count(*) FROM runs WHERE orchestrator = 'cli (summary on demand)'") \
        == 1
    calls = scalar(db, "SELECT count(*) FROM llm_calls l JOIN runs r USING (run_id) "
                       "WHERE r.orchestrator = 'cli (summary on demand)' AND provider = 'local'")
    assert calls >= 1
    assert scalar(db, "SELECT model_calls FROM runs WHERE orchestrator = "
                      "'cli (summary on demand)'") == calls


def test_search_answers_from_the_database_without_a_model(analyst_db):
    _, db = analyst_db
    calls = scalar(db, "SELECT count(*) FROM llm_calls")
    code, out = cli("search", "most favoured nation pricing", "--db", db)
    assert code == 0, out
    assert out.splitlines()[0].split()[3].startswith("contracts/master-services-agreement.txt")
    code, out = cli("search", "the and of", "--db", db)
    assert code == 1 and "Traceback" not in out
    assert scalar(db, "SELECT count(*) FROM llm_calls") == calls


# --- progress ------------------------------------------------------------------------------

@pytest.mark.slow
def test_long_runs_show_progress_bars_per_stage(tmp_path):
    source = tmp_path / "docs"
    source.mkdir()
    msa = (SAMPLES / "contracts" / "master-services-agreement.txt").read_text(encoding="utf-8")
    (source / "msa-extract.txt").write_text(msa[:2400], encoding="utf-8")
    (source / "memo.txt").write_text("A short memo about the canteen menu.\n", encoding="utf-8")
    key = "sk-ant-test-PROGRESS-0123456789"
    with FakeAnthropicServer(api_key=key) as server:
        done = subprocess.run(
            [COMPLIANCE, "run", str(source), "--db", str(tmp_path / "r.duckdb"), "--progress",
             "--anthropic-base-url", server.base_url],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
            env={**os.environ, "ANTHROPIC_API_KEY": key, "COMPLIANCE_LLM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stderr)
    chunks = scalar(tmp_path / "r.duckdb", "SELECT count(DISTINCT chunk_hash) FROM chunks")
    windows = scalar(tmp_path / "r.duckdb", "SELECT count(*) FROM escalation_windows")
    assert windows > 0
    assert re.search(r"documents parsed\s.*\b2/2\b", plain), plain[-2000:]
    assert re.search(rf"chunks summarized\s.*\b{chunks}/{chunks}\b", plain), plain[-2000:]
    assert re.search(rf"escalations sent\s.*\b{windows}/{windows}\b", plain), plain[-2000:]
    assert re.search(r"\d+\.\d/s", plain)


# --- the README's example queries ------------------------------------------------------------

def readme_queries() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Everyday questions", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"\*\*(.+?)\*\*\n\n```sql\n(.*?)```", section, flags=re.S)


def test_readme_lists_the_everyday_questions():
    questions = [question for question, _ in readme_queries()]
    for asked in ("What did last night's run cost?",
                  "Which documents have open high-severity findings?",
                  "How much did dedupe, caching and routing save this month?",
                  "Which files failed and why?",
                  "Which rules produce the most false positives?"):
        assert asked in questions


def test_readme_queries_run_as_written(db_copy):
    # A reviewer has dismissed one finding, so the false-positive question has an answer.
    finding = scalar(db_copy, "SELECT min(finding_id) FROM findings WHERE detected_by = 'rule'")
    assert cli("review", finding, "--disposition", "false_positive", "--reviewer", "alice",
               "--db", db_copy)[0] == 0
    for question, sql in readme_queries():
        code, out = cli("sql", sql, "--format", "json", "--db", db_copy)
        assert code == 0, (question, out)
        rows = [line for line in out.splitlines() if line.startswith("{")]
        assert rows, question
        assert any(value not in ("null", "0") for value in re.findall(r": ([^,}]+)", rows[0])), \
            (question, rows[0])
    top = cli("sql", dict(readme_queries())["Which rules produce the most false positives?"],
              "--format", "json", "--db", db_copy)[1].splitlines()[0]
    assert '"false_positive": 1' in top
