"""Fixtures of the escalation tests: a Prefect harness, the fake API, a triaged database."""

from __future__ import annotations

import shutil

import pytest
from escalation_helpers import KEY, SAMPLES, run_flow

from tests.fake_anthropic import FakeAnthropicServer


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture()
def fake():
    with FakeAnthropicServer(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def triaged_db(harness, tmp_path_factory):
    """A database with flagged, redacted windows and no escalation yet."""
    source = tmp_path_factory.mktemp("triage-src")
    shutil.copytree(SAMPLES, source, dirs_exist_ok=True)
    db_path = tmp_path_factory.mktemp("triage-db") / "results.duckdb"
    run_flow(source, db_path, escalation="off")
    return db_path
