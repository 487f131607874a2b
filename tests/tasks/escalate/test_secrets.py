"""Secrets: API keys planted in the environment and in a Prefect Secret block never reach a log,
the results database, an artifact, an exception text or the HTML report, whatever goes wrong."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import duckdb
from escalation_helpers import SAMPLES, run_flow

from compliance.adapters.cloud import SECRET_BLOCK_NAME
from tests.fake_anthropic import FakeAnthropicServer

ENV_KEY = "sk-ant-test-ENVIRONMENT-PLANTED-5f1c0e"
BLOCK_KEY = "sk-ant-test-SECRETBLOCK-PLANTED-9a4d7b"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# name: (key in the environment, or None for the Secret block; the key the server accepts;
#        faults; settings)
CASES = {
    "env key refused": (ENV_KEY, "another-key", [], {}),
    "block key refused": (None, "another-key", [], {}),
    "bad base url": (ENV_KEY, ENV_KEY, [], {"cloud_max_retries": 0}),
    "timeout": (ENV_KEY, ENV_KEY, ["timeout"], {"cloud_timeout_seconds": 1,
                                                "cloud_max_retries": 0}),
    "malformed answer": (ENV_KEY, ENV_KEY, ["malformed"], {}),
    "key echoed in an error": (ENV_KEY, ENV_KEY, ["echo_key"], {}),
    "key echoed in a header": (ENV_KEY, ENV_KEY, ["echo_key_header"], {}),
    "key echoed while collecting a batch": (ENV_KEY, ENV_KEY, [], {"escalation": "batch",
                                                                   "batch_wait_seconds": 3}),
    "block key accepted": (None, BLOCK_KEY, [], {}),
}


def prefect_database_bytes() -> bytes:
    """The Prefect test server's SQLite files: its logs, artifacts, states and parameters."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    path = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_planted_keys_never_leave_a_trace(harness, tmp_path, monkeypatch, capfd):
    from prefect.blocks.system import Secret

    from compliance.read.html_report import render_html_report

    Secret(value=BLOCK_KEY).save(SECRET_BLOCK_NAME, overwrite=True)
    source = tmp_path / "src"
    shutil.copytree(SAMPLES / "promo", source / "promo")
    shutil.copytree(SAMPLES / "contracts", source / "contracts")
    texts: list[str] = []
    notes: dict[str, str] = {}
    open_batches: dict[str, int] = {}
    pending: dict[str, int] = {}
    databases = []
    for index, (name, (env_key, accepted, faults, settings)) in enumerate(CASES.items()):
        if env_key:
            monkeypatch.setenv("ANTHROPIC_API_KEY", env_key)
        else:
            monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        db_path = tmp_path / f"run-{index}.duckdb"
        with FakeAnthropicServer(api_key=accepted) as server:
            server.state.faults.extend(faults)
            server.state.timeout_sleep = 3.0
            if settings.get("escalation") == "batch":
                server.state.batch_results_fault = "echo_key"
            url = (f"http://127.0.0.1:{closed_port()}" if name == "bad base url"
                   else server.base_url)
            try:
                result = run_flow(source, db_path, **{"escalation": "sync",
                                                      "anthropic_base_url": url, **settings})
                texts.append(json.dumps(result, default=str))
            except Exception as exc:  # a failed run's message is searched like the rest
                texts.append(f"{type(exc).__name__}: {exc}")
                raise
        databases.append(db_path)
        conn = duckdb.connect(str(db_path), read_only=True)
        status, note = conn.execute("SELECT status, coalesce(escalation_note, '') FROM runs"
                                    ).fetchone()
        open_batches[name] = conn.execute("SELECT count(*) FROM batches WHERE status <> "
                                          "'ended'").fetchone()[0]
        pending[name] = conn.execute("SELECT count(*) FROM triage WHERE escalation_status = "
                                     "'pending'").fetchone()[0]
        texts.append(render_html_report(conn))
        texts.extend(row[0] or "" for row in conn.execute("SELECT error FROM llm_calls").fetchall())
        conn.close()
        assert status == "completed", name
        notes[name] = note
    out = capfd.readouterr()
    texts += [out.out, out.err]
    prefect_db = prefect_database_bytes()

    # Each error path was taken: the keys were loaded, sent and refused, or the call failed.
    for name in ("env key refused", "block key refused"):
        assert "401" in notes[name] and pending[name] > 0, "refused: flagged chunks wait"
    for name in ("bad base url", "timeout", "malformed answer", "key echoed in an error"):
        assert "1 cloud request(s) failed" in notes[name], name
    assert "Connection" in notes["bad base url"] and "Timeout" in notes["timeout"]
    assert notes["key echoed in a header"] == "" and notes["block key accepted"] == ""
    # The batch was sent; collecting it failed with the key in the error, and it waits.
    assert open_batches["key echoed while collecting a batch"] == 1
    for key in (ENV_KEY, BLOCK_KEY):
        for text in texts:
            assert key not in text
        for db_path in databases:
            for file in db_path.parent.glob(db_path.name + "*"):
                assert key.encode() not in file.read_bytes(), file
        # The Secret block's own value is stored encrypted, so any copy in clear is a leak.
        assert key.encode() not in prefect_db
