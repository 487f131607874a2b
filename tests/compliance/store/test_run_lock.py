"""One run per results database: the lock file and what the CLI says while another run holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import query

from compliance.store.runlock import DatabaseLock, DatabaseLockTimeoutError, limit_name


def test_limit_name_is_named_after_the_database(tmp_path: Path):
    name = limit_name(tmp_path / "Team Results.duckdb")
    assert name.startswith("compliance-db-team-results-")
    assert name == limit_name(str(tmp_path / "x" / ".." / "Team Results.duckdb"))
    assert name != limit_name(tmp_path / "other" / "Team Results.duckdb")


def test_the_lock_is_exclusive_and_says_who_holds_it(tmp_path: Path):
    db = tmp_path / "results.duckdb"
    first, second = DatabaseLock(db), DatabaseLock(db)
    assert first.try_acquire("run one")
    assert not second.try_acquire("run two")
    holder = second.holder()
    assert holder and holder["run"] == "run one" and holder["pid"] == os.getpid()
    told = []
    with pytest.raises(DatabaseLockTimeoutError, match="run one"):
        second.acquire("run two", timeout=0.2, on_wait=told.append)
    assert told and told[0]["run"] == "run one"
    first.release()
    assert second.try_acquire("run two")
    second.release()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "compliance.cli.main", "run", *args]


def test_the_cli_refuses_or_waits_while_another_run_holds_the_database(prefect_harness,
                                                                        project_root, tmp_path):
    from prefect.settings import PREFECT_API_URL

    source = tmp_path / "inbox"
    source.mkdir()
    (source / "note.txt").write_text("Minutes of the steering meeting: the budget was agreed.\n")
    db = tmp_path / "results.duckdb"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
           "PYTHONPATH": str(project_root)}
    args = [str(source), "--db", str(db), "--summarize", "off", "--escalation", "off"]
    other_run = DatabaseLock(db)
    assert other_run.try_acquire("the nightly run")
    try:
        refused = subprocess.run(_cli(*args, "--no-wait"), cwd=project_root, env=env,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert f"{db} is being written by the nightly run" in refused.stderr
        assert "not waiting (--no-wait)" in refused.stderr
        assert not db.exists()

        waiting = subprocess.Popen(_cli(*args), cwd=project_root, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        said: list[str] = []
        saw_waiting = threading.Event()

        def read_stderr() -> None:
            for line in waiting.stderr:
                said.append(line)
                if line.startswith("waiting: "):
                    saw_waiting.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            assert saw_waiting.wait(timeout=300), "".join(said)[-3000:]
            assert waiting.poll() is None and not db.exists()
        except BaseException:
            waiting.kill()
            raise
    finally:
        other_run.release()
    try:
        stdout, _ = waiting.communicate(timeout=600)
    finally:
        if waiting.poll() is None:
            os.killpg(waiting.pid, 9)
    reader.join(timeout=10)
    assert waiting.returncode == 0, "".join(said)[-3000:]
    assert "is being written by the nightly run" in said[0]
    assert "completed" in stdout
    assert query(db, "SELECT status, docs_new FROM runs") == [("completed", 1)]
