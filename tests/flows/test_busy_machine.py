"""A busy machine: `compliance run` starts its own temporary Prefect server while other processes
hold every core, and says so in one line when that server cannot start.

These tests run the real CLI in a subprocess with no Prefect server configured (the ephemeral
mode a person's `compliance run` uses), each with its own PREFECT_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow

SERVER_APP = "prefect.server.api.server:create_app"
BURNERS = 3  # more busy processes than the machine's 2 cores


@contextmanager
def cores_held(count: int) -> Iterator[list[subprocess.Popen]]:
    """Busy-loop processes for the length of the block, each killed (by its pid) at the end."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(count)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a person's shell: no Prefect server, no API key, a fresh Prefect home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k != "ANTHROPIC_API_KEY"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


def compliance(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compliance.cli", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def server_processes(home: Path) -> list[int]:
    """Pids of Prefect API server processes started under this Prefect home."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours
            continue
        if SERVER_APP.encode() in cmdline and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def small_source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    shutil.copytree(PROJECT_ROOT / "data" / "samples" / "promo", source)
    return source


LOCAL_ONLY = ["--summarize", "off", "--escalation", "off", "--scorer", "off", "--no-progress"]


def test_run_completes_while_every_core_is_busy(tmp_path):
    source = small_source(tmp_path)
    db_path = tmp_path / "results.duckdb"
    env = cli_env(tmp_path / "prefect-home")
    with cores_held(BURNERS) as burners:
        result = compliance(["run", str(source), "--db", str(db_path), *LOCAL_ONLY], env,
                            timeout=800)
        still_burning = [b.poll() is None for b in burners]
    assert all(still_burning), "the cores stayed busy for the whole run"
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    conn = duckdb.connect(str(db_path), read_only=True)
    status, orchestrator = conn.execute("SELECT status, orchestrator FROM runs").fetchone()
    documents = conn.execute("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0]
    conn.close()
    assert (status, orchestrator) == ("completed", "prefect")
    assert documents == len(list(source.iterdir())) > 0
    assert server_processes(tmp_path / "prefect-home") == [], "the temporary server is stopped"


def test_server_that_cannot_start_fails_in_one_line(tmp_path):
    source = small_source(tmp_path)
    db_path = tmp_path / "results.duckdb"
    home = tmp_path / "prefect-home"
    # No Prefect API server answers within 0.05 s (importing it alone takes longer), on either try.
    result = compliance(["run", str(source), "--db", str(db_path), *LOCAL_ONLY,
                         "--prefect-startup-timeout-seconds", "0.05"], cli_env(home), timeout=300)
    assert result.returncode == 75, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the temporary Prefect API server did not start within "
                               "0.05 s (2 tries")
    assert "--prefect-startup-timeout-seconds" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert server_processes(home) == [], "a server that did not answer is not left running"
    if db_path.exists():  # no run was started, so none is recorded
        conn = duckdb.connect(str(db_path), read_only=True)
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        conn.close()


def test_startup_timeout_is_checked_against_the_setting(tmp_path):
    result = compliance(["run", str(small_source(tmp_path)), "--db", str(tmp_path / "r.duckdb"),
                         *LOCAL_ONLY, "--prefect-startup-timeout-seconds", "0"],
                        cli_env(tmp_path / "home"), timeout=120)
    assert result.returncode == 2
    assert "greater than 0" in result.stderr
