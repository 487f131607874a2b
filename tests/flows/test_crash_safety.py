"""Crash safety: a run killed with kill -9 (whole process tree) at any stage leaves nothing lost
and nothing stuck. Its lock and concurrency slot are taken over by the next run, never while
their holder lives; the next run marks it interrupted, keeps its possibly billed reservations,
resumes its work without repeating an answered cloud call, and ends with the database an
uninterrupted run writes; `compliance verify` passes.

The CLI runs here use an ephemeral Prefect server (no PREFECT_API_URL), in a Prefect home of
their own, as `compliance run` does on a laptop or from cron.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import query

from compliance.store.runlock import (
    DatabaseLock,
    DatabaseLockTimeoutError,
    exclusive_run,
    limit_name,
    process_gone,
    process_start,
)

KEY = "sk-ant-test-CRASH-0123456789abcdef"
# A flow run that holds a database `hold` seconds (then, given a flow run id, says its state).
HOLD_SCRIPT = """
import sys, time
from prefect import flow, get_client
from prefect.runtime import flow_run
from compliance.store.runlock import exclusive_run

@flow
def hold(db: str, run: str, seconds: float, wait: float) -> None:
    flow_run_id = str(flow_run.get_id())
    with exclusive_run(db, run=run, flow_run_id=flow_run_id, timeout=wait,
                       on_wait=lambda why: print("waiting:", why, flush=True),
                       on_takeover=lambda done: print("taking over:", done, flush=True)):
        print("held by flow run", flow_run_id, flush=True)
        time.sleep(seconds)
    print("released", flush=True)

hold(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
for other in sys.argv[5:]:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(other).state
    print("flow run", other, "is", state.type.value, "-", state.message, flush=True)
"""


class Process:
    """A command in its own session (so kill -9 reaches its whole tree), its output collected
    line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, matches: Callable[[str], bool], what: str,
                      timeout: float = 900) -> str:
        """The first output line that matches, polled with a generous deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if matches(line):
                    return line
            if self.popen.poll() is not None:
                self._reader.join(timeout=10)
                found = [line for line in self.lines if matches(line)]
                if found:
                    return found[0]
                raise AssertionError(f"ended (exit {self.popen.returncode}) before {what}:\n"
                                     f"{self.output[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout:.0f} s:\n{self.output[-4000:]}")

    def kill_tree(self) -> None:
        """kill -9 the whole session: the run, its parser workers, its ephemeral server."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=60)
        self._reader.join(timeout=10)

    def finish(self, timeout: float = 1800) -> int:
        """Wait for the end; on a timeout, kill the tree and fail."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_tree()
            raise AssertionError(
                f"still running after {timeout:.0f} s:\n{self.output[-4000:]}") from None
        self._reader.join(timeout=10)
        return code


def ephemeral_env(home: Path, project_root: Path) -> dict[str, str]:
    """No Prefect server named: each process starts its own ephemeral one over `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PREFECT_LOGGING_LEVEL="INFO",
               # A loaded machine may take longer than Prefect's 20 s to start its server.
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600",
               PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS="2",
               PYTHONPATH=os.pathsep.join(
                   p for p in (str(project_root), os.environ.get("PYTHONPATH", "")) if p))
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def hold(db: Path, run: str, env: dict[str, str], project_root: Path, seconds: float = 3600,
         wait: float = 600, report_on: str | None = None) -> Process:
    """A flow run that takes the database's slot and lock, and keeps them `seconds`."""
    return Process([sys.executable, "-c", HOLD_SCRIPT, str(db), run, str(seconds), str(wait),
                    *([report_on] if report_on else [])], env, project_root)


def holding_flow_run(process: Process) -> str:
    """Wait until the process holds the database; its flow run id."""
    line = process.wait_for_line(lambda line: line.startswith("held by flow run "),
                                 "the database to be held", 600)
    return line.split()[-1]


# -- the slot and the lock of a dead run ---------------------------------------------------


def test_a_process_is_gone_once_dead_a_zombie_or_replaced():
    child = subprocess.Popen(["sleep", "60"])
    started = process_start(child.pid)
    try:
        assert started is not None
        assert not process_gone(child.pid, started)
        assert process_gone(child.pid, started + 1)  # the pid now names another process
        child.kill()
        deadline = time.monotonic() + 30
        while not process_gone(child.pid, started):  # a zombie until reaped: gone already
            assert time.monotonic() < deadline, "a killed, unreaped child still counts as alive"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    assert process_gone(child.pid, started)


def test_a_dead_runs_slot_on_an_ephemeral_server_is_taken_over(project_root, tmp_path):
    """The reported hang: the killed run's slot lived on in Prefect's database while its lease
    died with its ephemeral server; the next run would wait for ever."""
    env = ephemeral_env(tmp_path / "prefect-home", project_root)
    db = tmp_path / "results.duckdb"
    holder = hold(db, "the nightly run", env, project_root)
    try:
        dead_flow_run = holding_flow_run(holder)
    finally:
        holder.kill_tree()
    lock_record = DatabaseLock(db).holder()
    assert lock_record and lock_record["pid"] == holder.popen.pid

    nxt = hold(db, "the next run", env, project_root, seconds=0, wait=300,
               report_on=dead_flow_run)
    assert nxt.finish(900) == 0, nxt.output[-4000:]
    [takeover] = [line for line in nxt.lines if line.startswith("taking over:")]
    assert f"released the concurrency slot {limit_name(db)!r} of the nightly run" in takeover
    assert (f"process {holder.popen.pid} is no longer running on {socket.gethostname()}"
            in takeover)
    assert "released\n" in nxt.lines
    # The dead flow run no longer shows as running for ever.
    assert f"flow run {dead_flow_run} is CRASHED - " in nxt.output


def test_a_live_runs_slot_is_never_taken_and_a_dead_ones_lease_is_released(
        prefect_harness, project_root, tmp_path):
    """On a real server the dead holder's lease is still there: it is released, exactly once,
    as soon as the holder is provably gone (not when the lease would expire)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL

    env = {**ephemeral_env(tmp_path / "unused-home", project_root),
           "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    db = tmp_path / "results.duckdb"
    name = limit_name(db)

    def active_slots() -> int:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(name).active_slots

    holder = hold(db, "the nightly run", env, project_root)
    try:
        holding_flow_run(holder)
        said: list[str] = []
        with pytest.raises(DatabaseLockTimeoutError, match=name):
            with exclusive_run(db, "an impatient run", timeout=3, on_wait=said.append,
                               on_takeover=said.append):
                pytest.fail("entered while a live run held the database")
        assert said and all(line.startswith("another run holds the concurrency limit")
                            for line in said), said
        assert "the nightly run" in said[0]
        assert holder.popen.poll() is None and active_slots() == 1
    finally:
        holder.kill_tree()

    taken_over: list[str] = []
    with exclusive_run(db, "the next run", timeout=120, on_takeover=taken_over.append):
        assert active_slots() == 1
        assert DatabaseLock(db).holder()["run"] == "the next run"
    assert active_slots() == 0
    [done] = taken_over
    assert done.startswith(f"released the concurrency slot {name!r} of the nightly run "
                           f"(pid {holder.popen.pid} on {socket.gethostname()}")



def test_a_slot_is_released_only_once_the_holder_its_claim_names_is_gone(prefect_harness,
                                                                         tmp_path):
    """Holding the claim is not proof enough: the slot's recorded holder must be gone too."""
    from prefect import get_client

    from compliance.store.runlock import claim_path, ensure_concurrency_limit

    db = tmp_path / "results.duckdb"
    name = limit_name(db)
    ensure_concurrency_limit(name)

    def active_slots() -> int:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(name).active_slots

    # A holder that took the slot, then lost its claim file's flock (it is not ours to take).
    with get_client(sync_client=True) as client:
        lease_id = client.increment_concurrency_slots_with_lease(
            [name], 1, "concurrency", 600).json()["lease_id"]
    holder = subprocess.Popen(["sleep", "600"])
    try:
        claim_path(db).write_text(json.dumps({
            "run": "a run that lives", "pid": holder.pid, "host": socket.gethostname(),
            "started": process_start(holder.pid), "lease_id": lease_id}))
        with pytest.raises(DatabaseLockTimeoutError, match=name):
            with exclusive_run(db, "an impatient run", timeout=3):
                pytest.fail("entered while the slot's holder lives")
        assert active_slots() == 1
        assert json.loads(claim_path(db).read_text())["run"] == "a run that lives"
    finally:
        holder.kill()
        holder.wait()
    taken_over: list[str] = []
    with exclusive_run(db, "the next run", timeout=60, on_takeover=taken_over.append):
        assert active_slots() == 1
    assert active_slots() == 0
    assert taken_over == [
        f"released the concurrency slot {name!r} of a run that lives (pid {holder.pid} on "
        f"{socket.gethostname()}, since ?): process {holder.pid} is no longer running on "
        f"{socket.gethostname()}"]


# -- kill -9 a `compliance run` in ingest, escalation and summarization, then run again -----


@pytest.fixture(scope="module")
def crash_source(samples_dir, tmp_path_factory) -> Path:
    """A sample note with flagged clauses, the broken sample PDF and many one-line memos.

    The memos (each under the length worth a model call) keep ingestion busy long enough to be
    killed in the middle of it, and cost no model call.
    """
    source = tmp_path_factory.mktemp("crash") / "inbox"
    for rel_path in ("notes/meeting-notes.md", "broken/quarterly-report.pdf"):
        (source / rel_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples_dir / rel_path, source / rel_path)
    (source / "memos").mkdir()
    for n in range(60):
        (source / "memos" / f"memo-{n:02d}.txt").write_text(
            f"Memo {n}: the archive of team {n} moves to storage cluster {n % 7} on day {n}.\n")
    return source


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


def start_run(source: Path, db: Path, home: Path, project_root: Path,
              base_url: str, escalation: str = "sync") -> Process:
    """`compliance run` as a user starts it: its own ephemeral Prefect server, a key, the cloud
    at `base_url`; one span per request, one request at a time, no audit sample (random per
    run), so that two databases can be compared row for row."""
    env = {**ephemeral_env(home, project_root), "ANTHROPIC_API_KEY": KEY}
    return Process([sys.executable, "-m", "compliance.cli.main", "run", str(source),
                    "--db", str(db), "--escalation", escalation, "--anthropic-base-url", base_url,
                    "--audit-share", "0", "--max-spans-per-request", "1",
                    "--cloud-concurrency", "1", "--no-progress"], env, project_root)


def sent_spans(fake) -> list[str]:
    """The text of every span the fake was sent, in order, one entry per time it was sent."""
    from tests.fake_anthropic import _spans

    return [span["text"] for request in list(fake.state.requests)
            if request["path"] == "/v1/messages" for span in _spans(request["body"])]


def messages_received(fake) -> int:
    return sum(r["path"] == "/v1/messages" for r in list(fake.state.requests))


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """What a run leaves, by natural keys (paths, offsets, hashes) rather than row ids."""
    queries = {
        "documents": """SELECT rel_path, version, is_current, status, error, sha256,
                               text_sha256 FROM documents""",
        "chunks": """SELECT d.rel_path, c.seq, c.char_start, c.char_end, c.token_count,
                            c.chunk_hash, c.is_boilerplate, c.summary_status, c.summary_key,
                            first.rel_path, first_chunk.seq
                     FROM chunks c JOIN documents d USING (doc_id)
                     LEFT JOIN chunks first_chunk ON first_chunk.chunk_id = c.duplicate_of_chunk
                     LEFT JOIN documents first ON first.doc_id = first_chunk.doc_id""",
        "flags": """SELECT d.rel_path, f.rule_id, f.char_start, f.char_end, f.matched_text,
                           f.rules_version FROM flags f JOIN documents d USING (doc_id)""",
        "triage": """SELECT d.rel_path, c.seq, t.rules_version, t.score, t.decision,
                            t.escalation_status
                     FROM triage t JOIN chunks c USING (chunk_id)
                     JOIN documents d USING (doc_id)""",
        "summaries": "SELECT summary_key, kind, input_hash, method, summary FROM summaries",
        "document_summaries": """SELECT d.rel_path, s.summary_key FROM document_summaries s
                                 JOIN documents d USING (doc_id)""",
        "windows": """SELECT d.rel_path, w.char_start, w.char_end, w.purpose, w.status,
                             w.redacted_sha256, w.cache_key
                      FROM escalation_windows w JOIN documents d USING (doc_id)""",
        "answers": """SELECT cache_key, is_finding, category, severity, rationale, quote,
                             recommended_action FROM escalation_results""",
        "findings": """SELECT finding_key, rel_path, detected_by, detector, category, severity,
                              quote, escalation_verdict FROM findings""",
        "settled_cloud_usd": """SELECT coalesce(sum(cost_usd), 0) FROM llm_calls
                                WHERE provider <> 'local' AND status = 'settled'""",
    }
    return {name: sorted(query(db, sql), key=repr) for name, sql in queries.items()}


def verify_db(db: Path, project_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance.cli.main", "verify", "--db",
                           str(db)], cwd=project_root, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(project_root)})


@pytest.fixture(scope="module")
def uninterrupted(crash_source, prefect_home, project_root, tmp_path_factory):
    """One run that nobody kills: (db, spans sent)."""
    from tests.fake_anthropic import FakeAnthropicServer

    db = tmp_path_factory.mktemp("uninterrupted") / "results.duckdb"
    with FakeAnthropicServer(api_key=KEY) as fake:
        run = start_run(crash_source, db, prefect_home, project_root, fake.base_url)
        assert run.finish() == 0, run.output[-4000:]
        spans = sent_spans(fake)
    assert len(spans) >= 2, "the test needs two cloud requests or more"
    return db, spans


def is_stage_line(stage: str, also: str = "") -> Callable[[str], bool]:
    """A log line of a stage's task run (Prefect names it after the task, with a suffix)."""
    return lambda line: f"Task run '{stage}-" in line and also in line


def runs_of(db: Path) -> list[tuple]:
    return query(db, "SELECT run_id, status, stage, interrupted_by, error FROM runs "
                     "ORDER BY started_at")


def test_runs_killed_in_ingest_escalation_and_summaries_resume_to_the_same_database(
        uninterrupted, crash_source, prefect_home, project_root, tmp_path):
    from tests.fake_anthropic import FakeAnthropicServer

    baseline_db, baseline_spans = uninterrupted
    db = tmp_path / "results.duckdb"
    total_files = len([p for p in crash_source.rglob("*") if p.is_file()])
    with FakeAnthropicServer(api_key=KEY) as fake:
        fake.state.timeout_sleep = 3600  # a request that is never answered before the kill

        def start() -> Process:
            return start_run(crash_source, db, prefect_home, project_root, fake.base_url)

        # 1. Killed in the middle of ingestion, once the first documents are stored.
        first = start()
        first.wait_for_line(is_stage_line("ingest-documents", " ok "), "a document stored")
        first.kill_tree()
        [(killed_ingest, status, stage, _, _)] = runs_of(db)
        assert (status, stage) == ("running", "ingest-documents")
        stored = query(db, "SELECT count(*) FROM documents")[0][0]
        assert 0 < stored < total_files, "killed before or after ingestion, not during it"
        unmarked = verify_db(db, project_root)
        assert unmarked.returncode == 1
        assert f"mismatch runs: run {killed_ingest} is marked running" in unmarked.stdout

        # 2. Killed while waiting for the cloud: the first request was answered, the second
        #    is never answered.
        fake.state.faults.extend(["none", "timeout"])
        second = start()
        deadline = time.monotonic() + 900
        while messages_received(fake) < 2:
            assert second.popen.poll() is None, second.output[-4000:]
            assert time.monotonic() < deadline, second.output[-4000:]
            time.sleep(0.1)
        second.kill_tree()
        assert "taking over: released the concurrency slot" in second.output
        (_, status, _, by, error), (killed_cloud, status2, stage2, _, _) = runs_of(db)
        assert (status, by, status2, stage2) == ("interrupted", killed_cloud, "running",
                                                 "escalate-flagged")
        assert error.startswith("interrupted in stage ingest-documents (started ")
        assert query(db, "SELECT status, count(*) FROM llm_calls WHERE run_id = ? AND "
                         "provider <> 'local' GROUP BY 1 ORDER BY 1", [killed_cloud]) == [
            ("reserved", 1), ("settled", 1)]
        answered, hung = sent_spans(fake)

        # 3. Killed while summarizing, after the first summary was stored.
        third = start()
        third.wait_for_line(is_stage_line("summarize-text", "Finished in state Completed"),
                            "a summary computed")
        third.kill_tree()
        assert "taking over: released the concurrency slot" in third.output
        killed_summaries, status3, stage3, _, _ = runs_of(db)[-1]
        assert (status3, stage3) == ("running", "summarize-chunks")

        # 4. Left alone, the next run finishes the work.
        last = start()
        assert last.finish() == 0, last.output[-4000:]
        assert "taking over: released the concurrency slot" in last.output
        spans = sent_spans(fake)

    runs = runs_of(db)
    assert [(r[1], r[2]) for r in runs] == [
        ("interrupted", "ingest-documents"), ("interrupted", "escalate-flagged"),
        ("interrupted", "summarize-chunks"), ("completed", "close-run")]
    assert [r[3] for r in runs] == [killed_cloud, killed_summaries, runs[-1][0], None]
    assert f"run {killed_summaries} was interrupted in stage summarize-chunks" in last.output
    # The killed request's reservation stays, as possibly billed, and in its run's spend.
    [(reserved, bound, spend)] = query(db, """
        SELECT c.status, c.bound_usd, r.spend_usd FROM llm_calls c JOIN runs r USING (run_id)
        WHERE c.run_id = ? AND c.status = 'reserved'""", [killed_cloud])
    assert bound > 0 and spend >= bound
    assert query(db, "SELECT count(*) FROM llm_calls WHERE status = 'reserved'") == [(1,)]
    # No answered span was asked again; the unanswered one was, once.
    assert answered != hung
    assert sorted(spans) == sorted([*baseline_spans, hung])
    # The same rows as the run nobody killed; cloud spend apart from the killed request.
    got, expected = snapshot(db), snapshot(baseline_db)
    for table in expected:
        assert got[table] == expected[table], table
    assert got["settled_cloud_usd"][0][0] > Decimal(0)
    checked = verify_db(db, project_root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok: ")


def batches_created(fake) -> int:
    return sum(r["path"] == "/v1/messages/batches" for r in list(fake.state.requests))


def test_a_run_killed_while_its_batch_is_processing_is_collected_by_the_next(
        crash_source, prefect_home, project_root, tmp_path):
    """Batch mode: the run is killed after its batch was submitted, while it polls. The next
    run collects that batch (booked to the run that submitted it) instead of sending the
    windows again, and ends with the database an uninterrupted batch run writes."""
    from tests.fake_anthropic import FakeAnthropicServer

    baseline_db = tmp_path / "baseline.duckdb"
    with FakeAnthropicServer(api_key=KEY) as fake:
        baseline = start_run(crash_source, baseline_db, prefect_home, project_root,
                             fake.base_url, escalation="batch")
        assert baseline.finish() == 0, baseline.output[-4000:]
        assert batches_created(fake) == 1

    db = tmp_path / "results.duckdb"
    with FakeAnthropicServer(api_key=KEY, batch_polls=0) as fake:  # never ends, for now
        first = start_run(crash_source, db, prefect_home, project_root, fake.base_url,
                          escalation="batch")
        deadline = time.monotonic() + 900
        while not any(batch["polls"] for batch in list(fake.state.batches.values())):
            assert first.popen.poll() is None, first.output[-4000:]
            assert time.monotonic() < deadline, first.output[-4000:]
            time.sleep(0.1)
        first.kill_tree()
        [(killed, status, stage, _, _)] = runs_of(db)
        assert (status, stage) == ("running", "escalate-flagged")
        in_flight = query(db, "SELECT status, count(*) FROM escalation_windows GROUP BY 1")
        assert [row[0] for row in in_flight] == ["sent"], in_flight
        assert query(db, "SELECT DISTINCT status FROM llm_calls WHERE run_id = ? AND "
                         "provider <> 'local'", [killed]) == [("reserved",)]

        fake.state.batch_polls = 1  # the batch has ended by the time the next run asks
        last = start_run(crash_source, db, prefect_home, project_root, fake.base_url,
                         escalation="batch")
        assert last.finish() == 0, last.output[-4000:]
        assert batches_created(fake) == 1, "the killed run's windows were not sent again"

    runs = runs_of(db)
    assert [(r[1], r[2]) for r in runs] == [("interrupted", "escalate-flagged"),
                                            ("completed", "close-run")]
    # The batch's entries are settled against the run that submitted them.
    assert query(db, "SELECT DISTINCT run_id, status FROM llm_calls WHERE provider <> 'local'"
                 ) == [(killed, "settled")]
    got, expected = snapshot(db), snapshot(baseline_db)
    for table in expected:
        assert got[table] == expected[table], table
    checked = verify_db(db, project_root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
