"""The README's "Operate" section, done by a test.

A real `prefect server` on a free port with its own home folder; the process work pool;
`prefect --no-prompt deploy --all`; a process worker; runs of `on-demand` created through the
API the UI's form posts to; then the DuckDB rows, the artifacts and the logs. A planted API key
(in the Secret block) and planted personal data must appear in neither artifacts nor logs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import query
from prefect_processes import PrefectProcesses, free_port, wait_for

from compliance.store.runlock import claim_path, limit_name
from flows.artifacts import ARTIFACT_KEYS, COUNTS_KEY, FAILED_KEY, PROGRESS_KEY, REPORT_KEY
from tests.fake_anthropic import FakeAnthropicServer

KEY = "sk-ant-test-OPERATE-PLANTED-9f8e7d6c5b4a3210"
SSN = "219-09-9999"
EMAIL = "jane.roe@example.com"
PLANTED = [KEY, SSN, EMAIL]


def write_sources(folder: Path) -> Path:
    """Three small files: a contract clause, a pharma claim with personal data, a broken PDF
    whose name carries personal data (file names reach logs and the failed-documents table)."""
    (folder / "contracts").mkdir(parents=True)
    (folder / "promo").mkdir()
    (folder / "claims").mkdir()
    (folder / "contracts" / "renewal.txt").write_text(
        "Services Agreement.\n\nThis Agreement renews automatically for successive one-year "
        "terms unless either party gives ninety days written notice of non-renewal.\n")
    (folder / "promo" / "cardiozen.txt").write_text(
        "CardioZen leaflet.\n\nCardioZen cures heart disease and is completely safe with no "
        f"side effects. Questions: Jane Roe, {EMAIL}, SSN {SSN}.\n")
    (folder / "claims" / f"{EMAIL}-claim-{SSN}.pdf").write_bytes(b"%PDF-1.4 truncated")
    return folder


@pytest.fixture(scope="module")
def stack(project_root, tmp_path_factory):
    """Server, work pool, deployments, Secret block and worker, as in the README."""
    home = tmp_path_factory.mktemp("operate")
    processes = PrefectProcesses(home, project_root, free_port())
    try:
        server = processes.start("server", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(processes.port))

        def server_up() -> bool:
            assert server.poll() is None, processes.log("server")
            return processes.healthy()

        wait_for(server_up, 240, "the Prefect server")
        processes.run("work-pool", "create", "compliance-process", "--type", "process")
        processes.run("--no-prompt", "deploy", "--all")
        secret = subprocess.run(
            [sys.executable, "-c", "import os; from prefect.blocks.system import Secret; "
             "Secret(value=os.environ['PLANTED_KEY']).save('anthropic-api-key', overwrite=True)"],
            env={**processes.env, "PLANTED_KEY": KEY}, capture_output=True, text=True,
            timeout=120)
        assert secret.returncode == 0, secret.stderr[-3000:]
        worker = processes.start("worker", "worker", "start", "--pool", "compliance-process")

        def worker_ready() -> bool:
            assert worker.poll() is None, processes.log("worker")
            pool = processes.client.get("/work_pools/compliance-process").json()
            return pool.get("status") == "READY"

        wait_for(worker_ready, 120, "the process worker")
        yield processes
    finally:
        processes.stop()


def test_deployments_are_registered_as_declared(stack, project_root):
    nightly = stack.deployment("nightly")
    on_demand = stack.deployment("on-demand")
    [schedule] = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["active"]
    assert nightly["parameters"]["params"]["escalation"] == "batch"
    assert nightly["parameters"]["params"]["local_budget_seconds"] > 0
    assert on_demand["schedules"] == []
    assert on_demand["parameters"]["params"]["escalation"] == "sync"
    for deployment in (nightly, on_demand):
        assert deployment["entrypoint"] == "flows/pipeline.py:compliance_pipeline"
        assert deployment["work_pool_name"] == "compliance-process"
        assert deployment["enforce_parameter_schema"]
        [pull] = deployment["pull_steps"]
        assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == str(
            project_root)
        # The form: one model with help text on every field.
        form = deployment["parameter_openapi_schema"]["definitions"]["PipelineParams"]
        assert all(field.get("description") for field in form["properties"].values())
        assert KEY not in json.dumps(deployment)
    # The UI is served by the same server.
    ui = stack.client.get(stack.api_url.removesuffix("/api") + "/")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


def test_on_demand_run_from_the_form_reports_as_artifacts(stack, tmp_path):
    source = write_sources(tmp_path / "inbox")
    db_path = tmp_path / "results.duckdb"
    with FakeAnthropicServer(api_key=KEY) as fake:
        response = stack.create_run(stack.deployment("on-demand")["id"], {
            "source": str(source), "db_path": str(db_path), "escalation": "sync",
            "anthropic_base_url": fake.base_url, "summarize": "all",
            "local_budget_seconds": 120})
        assert response.status_code == 201, response.text
        flow_run_id = response.json()["id"]
        run = stack.wait_for_end(flow_run_id)
        requests = [r for r in fake.state.requests if r["path"] == "/v1/messages"]
    logs = stack.logs_of(flow_run_id)
    assert run["state_type"] == "COMPLETED", (run["state"], logs[-30:], stack.log("worker"))

    # What the database stored, for this flow run.
    [(status, docs_new, docs_failed, escalated)] = query(db_path, """
        SELECT status, docs_new, docs_failed, chunks_escalated FROM runs
        WHERE flow_run_id = ?""", [flow_run_id])
    assert (status, docs_new, docs_failed) == ("completed", 3, 1)
    assert escalated >= 1 and requests, "the key from the Secret block reached the fake API"
    statuses = dict(query(db_path, "SELECT rel_path, status FROM documents WHERE is_current"))
    assert statuses[f"claims/{EMAIL}-claim-{SSN}.pdf"] == "corrupt"
    assert statuses["contracts/renewal.txt"] == statuses["promo/cardiozen.txt"] == "ok"
    settled = query(db_path, "SELECT count(*) FROM llm_calls WHERE provider = 'anthropic' "
                             "AND status = 'settled'")[0][0]
    assert settled >= 1

    # The artifacts: stable keys, the report, the counts, the failures with reasons.
    found = {a["key"]: a for a in stack.artifacts_of(flow_run_id)}
    assert set(ARTIFACT_KEYS) <= set(found), sorted(found)
    report = found[REPORT_KEY]["data"]
    assert "## Documents" in report and "## Top findings" in report and "[EMAIL]" in report
    counts = {row["measure"]: row["value"] for row in json.loads(found[COUNTS_KEY]["data"])}
    assert counts["documents new"] == 3 and counts["documents failed"] == 1
    assert counts["chunks escalated"] == escalated
    for measure in ("chunks new", "summary cache hits", "summaries done", "summaries pending",
                    "chunks flagged", "chunks deferred", "cloud spend usd",
                    "counterfactual naive_new usd", "saved vs naive_new"):
        assert measure in counts
    [failed] = json.loads(found[FAILED_KEY]["data"])
    assert failed["status"] == "corrupt" and failed["reason"]
    assert failed["path"].startswith("claims/[EMAIL]")  # the path, masked
    assert float(found[PROGRESS_KEY]["data"]) == 100.0

    # Neither the planted key nor the personal data reached the server's artifacts or logs.
    assert any("Finished in state Completed" in line for line in logs)
    published = json.dumps(list(found.values())) + "\n".join(logs)
    for secret in PLANTED:
        assert secret not in published, secret
    # Nor the database (the local store keeps personal data, never the key).
    for table in ("runs", "llm_calls", "escalation_results", "documents"):
        assert query(db_path, f"SELECT count(*) FROM {table} t WHERE t::VARCHAR LIKE ?",
                     [f"%{KEY}%"])[0][0] == 0, table


def test_the_server_rejects_bad_parameters_with_a_clear_message(stack, tmp_path):
    deployment_id = stack.deployment("on-demand")["id"]
    negative = stack.create_run(deployment_id, {"source": str(tmp_path), "budget_usd": -1})
    assert negative.status_code == 409
    assert "params.budget_usd" in negative.text and "less than the minimum of 0" in negative.text
    unknown = stack.create_run(deployment_id, {"source": str(tmp_path), "escalation": "often"})
    assert unknown.status_code == 409
    assert "params.escalation" in unknown.text and "'often' is not one of" in unknown.text


def test_a_source_folder_missing_on_the_worker_fails_the_run_at_once(stack, tmp_path):
    missing = tmp_path / "not-mounted"
    # Started as the README says, with `prefect deployment run`.
    params = json.dumps({"source": str(missing), "db_path": str(tmp_path / "never.duckdb")})
    started = stack.run("deployment", "run", "compliance-pipeline/on-demand",
                        "--param", f"params={params}")
    [flow_run_id] = re.findall(r"UUID: ([0-9a-f-]{36})", started.stdout)
    run = stack.wait_for_end(flow_run_id)
    assert run["state_type"] == "FAILED"
    assert f"source folder {missing} does not exist on" in run["state"]["message"]
    assert not (tmp_path / "never.duckdb").exists()


def test_two_runs_on_one_database_wait_for_each_other(stack, tmp_path):
    source = tmp_path / "small"
    (source / "notes").mkdir(parents=True)
    (source / "notes" / "a.txt").write_text("Minutes of the steering meeting.\n")
    db_path = tmp_path / "shared.duckdb"
    name = limit_name(db_path)
    # Hold the database's concurrency slot, as a long run would, while two runs start.
    created = stack.client.post("/v2/concurrency_limits/", json={"name": name, "limit": 1})
    assert created.status_code == 201, created.text
    held = stack.client.post("/v2/concurrency_limits/increment-with-lease", json={
        "names": [name], "slots": 1, "mode": "concurrency", "lease_duration": 900})
    assert held.status_code == 200, held.text
    deployment_id = stack.deployment("on-demand")["id"]
    params = {"source": str(source), "db_path": str(db_path), "summarize": "off",
              "escalation": "off"}
    created_runs = [stack.create_run(deployment_id, params) for _ in range(2)]
    assert all(r.status_code == 201 for r in created_runs), [r.text for r in created_runs]
    run_ids = [r.json()["id"] for r in created_runs]
    try:
        for run_id in run_ids:
            wait_for(lambda run_id=run_id: any(
                line.startswith("waiting: another run holds the concurrency limit")
                for line in stack.logs_of(run_id)), 300, f"run {run_id} to say it waits")
        assert not db_path.exists(), "no run touched the database while the slot was held"
    finally:
        stack.client.post("/v2/concurrency_limits/decrement-with-lease",
                          json={"lease_id": held.json()["lease_id"]})
    for run_id in run_ids:
        assert stack.wait_for_end(run_id)["state_type"] == "COMPLETED"
    rows = query(db_path, """
        SELECT flow_run_id, status, started_at, finished_at FROM runs ORDER BY started_at""")
    assert sorted(r[0] for r in rows) == sorted(run_ids)
    assert [r[1] for r in rows] == ["completed", "completed"]
    (_, _, _, first_finished), (_, _, second_started, _) = rows
    assert first_finished <= second_started, rows


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (its parser workers and theirs), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_a_deployment_run_killed_while_escalating_is_taken_over_by_the_next(stack, tmp_path):
    """kill -9 the flow-run process a worker started (and its children), mid-escalation: the
    next deployment run releases the dead run's slot on the real server, marks it interrupted
    and finishes its work without asking the cloud again what it answered."""
    source = write_sources(tmp_path / "inbox")
    db_path = tmp_path / "results.duckdb"
    deployment_id = stack.deployment("on-demand")["id"]
    with FakeAnthropicServer(api_key=KEY) as fake:
        fake.state.timeout_sleep = 3600
        fake.state.faults.extend(["none", "timeout"])  # the second request is never answered
        params = {"source": str(source), "db_path": str(db_path), "escalation": "sync",
                  "anthropic_base_url": fake.base_url, "summarize": "off", "audit_share": 0,
                  "max_spans_per_request": 1, "cloud_concurrency": 1}
        first = stack.create_run(deployment_id, params)
        assert first.status_code == 201, first.text
        killed_flow_run = first.json()["id"]
        wait_for(lambda: sum(r["path"] == "/v1/messages" for r in fake.state.requests) >= 2,
                 600, "the second cloud request")
        holder = json.loads(claim_path(db_path).read_text())
        assert holder["flow_run_id"] == killed_flow_run
        for pid in [holder["pid"], *descendants(holder["pid"])]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed = stack.wait_for_end(killed_flow_run)
        assert killed["state_type"] in ("CRASHED", "FAILED"), killed["state"]
        answered = [r for r in fake.state.requests if r["path"] == "/v1/messages"]

        second = stack.create_run(deployment_id, params)
        assert second.status_code == 201, second.text
        run = stack.wait_for_end(second.json()["id"])
        logs = stack.logs_of(second.json()["id"])
        sent = [r for r in fake.state.requests if r["path"] == "/v1/messages"]
    assert run["state_type"] == "COMPLETED", (run["state"], logs[-30:])
    assert any("taking over: released the concurrency slot" in line for line in logs), logs
    rows = query(db_path, "SELECT flow_run_id, status, stage FROM runs ORDER BY started_at")
    assert rows == [(killed_flow_run, "interrupted", "escalate-flagged"),
                    (second.json()["id"], "completed", "close-run")]
    # The answered request was not sent again; the hung one was, once; nothing waits.
    assert sent[:len(answered)] == answered
    assert answered[0]["body"] not in [r["body"] for r in sent[len(answered):]]
    assert answered[1]["body"] in [r["body"] for r in sent[len(answered):]]
    assert query(db_path, "SELECT count(*) FROM escalation_windows WHERE status <> 'done'"
                 ) == [(0,)]
    assert query(db_path, "SELECT count(*) FROM llm_calls WHERE status = 'reserved'") == [(1,)]
    limits = stack.client.post("/v2/concurrency_limits/filter", json={})
    assert limits.status_code == 200, limits.text
    [limit] = [c for c in limits.json() if c["name"] == limit_name(db_path)]
    assert limit["active_slots"] == 0, "no slot left taken by the dead run"


@pytest.fixture(autouse=True)
def _no_key_in_environment():
    assert "ANTHROPIC_API_KEY" not in os.environ  # the key comes from the Secret block
