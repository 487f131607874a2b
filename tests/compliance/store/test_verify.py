"""`compliance verify`: a database written by a real run passes every check; one thing broken
in a copy (an UPDATE or an INSERT) fails exactly its check, naming the row, and exits 1."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import run_pipeline
from typer.testing import CliRunner

from compliance.cli.main import app
from compliance.store.verify import CHECKS

KEY = "sk-ant-test-VERIFY-0123456789abcdef"
runner = CliRunner()

# Short enough that no local model call is needed (extractive summaries), yet flagged: personal
# data, a contract clause and a promotional claim, escalated to the fake cloud judge.
SOURCES = {
    "contact.txt": "Contact Jane Doe at jane.doe@example.com or +44 20 7946 0958 about invoice "
                   "42.\n",
    "renewal.txt": "This Agreement renews automatically for successive one-year terms unless "
                   "cancelled. The Supplier's total liability under this Agreement is unlimited.\n",
    "promo.txt": "CardioZen cures heart failure and is guaranteed to work for every patient, with "
                 "no side effects at all.\n",
}


@pytest.fixture(scope="module")
def run_db(prefect_harness, tmp_path_factory) -> Path:
    """A database written by one real run that escalated to the fake Anthropic API."""
    from tests.fake_anthropic import FakeAnthropicServer

    base = tmp_path_factory.mktemp("verify")
    source = base / "inbox"
    source.mkdir()
    for name, text in SOURCES.items():
        (source / name).write_text(text)
    db = base / "results.duckdb"
    with FakeAnthropicServer(api_key=KEY) as server:
        os.environ["ANTHROPIC_API_KEY"] = KEY
        try:
            run_pipeline(source, db, escalation="sync", anthropic_base_url=server.base_url)
        finally:
            os.environ.pop("ANTHROPIC_API_KEY", None)
    return db


def verify(db: Path) -> tuple[int, list[str], str]:
    """Exit code, the mismatch lines, and all output of `compliance verify --db DB`."""
    result = runner.invoke(app, ["verify", "--db", str(db)])
    lines = [line for line in result.output.splitlines() if line.startswith("mismatch ")]
    return result.exit_code, lines, result.output


def test_a_database_from_a_real_run_passes_every_check_read_only(run_db):
    conn = duckdb.connect(str(run_db), read_only=True)
    try:
        counts = conn.execute("""
            SELECT (SELECT count(*) FROM flags), (SELECT count(*) FROM summaries),
                   (SELECT count(*) FROM escalation_windows WHERE status = 'done'),
                   (SELECT count(*) FROM llm_calls WHERE provider <> 'local'),
                   (SELECT sum(spend_usd) FROM runs)""").fetchone()
    finally:
        conn.close()
    assert all(counts), f"every check needs rows to look at: {counts}"
    before = hashlib.sha256(run_db.read_bytes()).hexdigest()
    code, mismatches, output = verify(run_db)
    assert (code, mismatches) == (0, []), output
    assert output.startswith(f"ok: {run_db} passes all {len(CHECKS)} checks")
    assert hashlib.sha256(run_db.read_bytes()).hexdigest() == before
    assert not Path(f"{run_db}.wal").exists()


# One thing broken per case: the SQL, the checks that must fail, and what the line must name.
BREAKAGES = {
    "summary_of_other_text": (
        "UPDATE summaries SET input_hash = md5(input_hash) WHERE summary_key = "
        "(SELECT min(summary_key) FROM chunks WHERE summary_status = 'done')",
        {"summaries"}, "summary"),
    "chunk_hash_not_its_text": (
        "UPDATE chunks SET chunk_hash = md5(chunk_hash) WHERE chunk_id = 2",
        {"summaries"}, "chunk 2 of document"),
    "flag_past_its_chunk": (
        "UPDATE flags SET char_end = char_end + 5000 WHERE flag_id = 1",
        {"flags"}, "flag 1 (chunk"),
    "flag_quotes_other_text": (
        "UPDATE flags SET char_start = char_start + 1 WHERE flag_id = 2",
        {"flags"}, "flag 2 (chunk"),
    "ledger_row_of_no_run": (
        "INSERT INTO llm_calls (run_id, purpose, provider, model, prompt_version, price_version, "
        "cost_usd, duration_seconds, cpu_seconds, status) VALUES ('run-nobody-made', "
        "'escalation', 'anthropic', 'claude-haiku-4-5', 'p', 'v', 0, 0, 0, 'reserved')",
        {"ledger"}, "run id run-nobody-made"),
    "run_total_not_ledger_sum": (
        "UPDATE runs SET spend_usd = spend_usd + 0.5 WHERE spend_usd > 0",
        {"run_totals"}, "but its ledger rows sum to"),
    "window_answered_and_pending": (
        "UPDATE escalation_windows SET status = 'pending' WHERE window_id = "
        "(SELECT min(window_id) FROM escalation_windows WHERE purpose = 'triage')",
        {"windows"}, "is pending but is marked answered"),
    "flag_stored_twice": (
        "INSERT INTO flags SELECT nextval('flag_id_seq'), * EXCLUDE (flag_id) FROM flags "
        "WHERE flag_id = 3",
        {"duplicates"}, "flags: 2 rows for chunk_id"),
    "run_left_running": (
        "UPDATE runs SET status = 'running', finished_at = NULL",
        {"runs"}, "is marked running since"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_one_broken_thing_fails_its_check_and_names_the_row(run_db, tmp_path, breakage):
    sql, checks, named = BREAKAGES[breakage]
    db = tmp_path / "copy.duckdb"
    shutil.copy(run_db, db)
    conn = duckdb.connect(str(db))
    try:
        conn.execute(sql)
    finally:
        conn.close()
    code, mismatches, output = verify(db)
    assert code == 1, output
    assert {line.removeprefix("mismatch ").split(":")[0] for line in mismatches} == checks, output
    assert any(named in line for line in mismatches), output
    assert f"mismatch(es) in {', '.join(sorted(checks, key=list(CHECKS).index))}" in output


def test_a_missing_database_is_an_error_not_a_pass(tmp_path):
    code, _, output = verify(tmp_path / "none.duckdb")
    assert code == 2 and "no results database" in output
