"""A real Prefect server, work pool, deployments and process worker, started as the README's
"Operate" section says, for the end-to-end tests. Every process is cleaned up, even on failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
              interval: float = 0.5) -> Any:
    """Poll until condition() is truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class PrefectProcesses:
    """Processes started in their own process groups, with logs under a folder."""

    def __init__(self, home: Path, project_root: Path, port: int) -> None:
        self.home = home
        self.project_root = project_root
        self.port = port
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(home / "prefect-home"),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            # Quick pick-up and quick retries of a freed concurrency slot, to keep the test short.
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS="2",
            # `prefect deploy` resolves {{ $PWD }} from the deploying shell, as a person's would.
            PWD=str(project_root),
            # The worker's flow runs import this checkout (a real install has it installed).
            PYTHONPATH=os.pathsep.join(
                p for p in (str(project_root), os.environ.get("PYTHONPATH", "")) if p),
        )
        env.pop("ANTHROPIC_API_KEY", None)
        self.env = env
        self.client = httpx.Client(base_url=self.api_url, timeout=30)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Start a long-running `prefect` command in its own process group."""
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen([str(BIN / "prefect"), *args], cwd=self.project_root,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a `prefect` command to completion in the project root; fail on a non-zero exit."""
        done = subprocess.run([str(BIN / "prefect"), *args], cwd=self.project_root, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def healthy(self) -> bool:
        try:
            return self.client.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop every process group, the worker's flow-run processes included."""
        self.client.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)

    # --- the API the UI uses ---------------------------------------------------------------

    def deployment(self, name: str) -> dict[str, Any]:
        response = self.client.get(f"/deployments/name/compliance-pipeline/{name}")
        response.raise_for_status()
        return response.json()

    def create_run(self, deployment_id: str, params: dict[str, Any]) -> httpx.Response:
        """What the UI's "Custom run" form posts, posted again after a server error.

        A local server on SQLite answers 500 now and then while its own services hold the
        database ("database is locked", PrefectHQ/prefect#18934); the insert was rolled back,
        and a person at the form would simply click again.
        """
        for _ in range(4):
            response = self.client.post(f"/deployments/{deployment_id}/create_flow_run",
                                        json={"parameters": {"params": params}})
            if response.status_code < 500:
                return response
            time.sleep(2)
        return response

    def flow_run(self, flow_run_id: str) -> dict[str, Any]:
        response = self.client.get(f"/flow_runs/{flow_run_id}")
        response.raise_for_status()
        return response.json()

    def wait_for_end(self, flow_run_id: str, timeout: float = 600) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            run = self.flow_run(flow_run_id)
            return run if run["state_type"] in TERMINAL else None

        try:
            return wait_for(ended, timeout, f"flow run {flow_run_id} to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{self.log('worker')}") from None

    def logs_of(self, flow_run_id: str) -> list[str]:
        """Every log line of a flow run and its task runs, as the UI's Logs tab shows them."""
        messages: list[str] = []
        while True:
            response = self.client.post("/logs/filter", json={
                "logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200,
                "offset": len(messages), "sort": "TIMESTAMP_ASC"})
            response.raise_for_status()
            page = [entry["message"] for entry in response.json()]
            messages += page
            if len(page) < 200:
                return messages

    def artifacts_of(self, flow_run_id: str) -> list[dict[str, Any]]:
        response = self.client.post("/artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
        response.raise_for_status()
        return response.json()
