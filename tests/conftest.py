"""Shared fixtures: a Prefect test server, the corpus and samples, and one real run of the samples.

Every fixture uses the real components: the GGUF model in models/, DuckDB files under pytest's
tmp_path, and Prefect's own test harness (a temporary API server with a throw-away database).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# Before anything imports unstructured or Prefect: no notices, no analytics pings.
os.environ["UNSTRUCTURED_DISABLE_NOTICE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The flow escalates to the cloud whenever an API key is configured: the suite must never spend
# money or reach the network, so a key from the developer's shell is not passed on.
os.environ.pop("ANTHROPIC_API_KEY", None)
# llama.cpp's worker threads wait for each other at every step: on a 2-core machine where anything
# else runs, two threads slow generation down badly (a 5-call benchmark: 41 s with two threads and
# one busy process beside them, 24 s with one thread; 15 s vs 16 s when idle). Override to compare.
os.environ.setdefault("COMPLIANCE_LLM_THREADS", "1")

import pytest  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
# Source roots are stored resolved: resolve the corpus path the same way.
CORPUS_DIR = (PROJECT_ROOT.parent / "shared" / "corpus").resolve()
SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"

# Helper modules (isolation_helpers, helpers) are imported by name, here and in the spawned
# worker processes of compliance.extract.isolation (which inherit sys.path), whatever pytest's
# rootdir.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


# Fixtures that run a real Prefect server or harness, the full pipeline, the local model, a Dask
# cluster or Chromium. A test using any of them belongs to the full tier (`make test`); the rest
# form the fast tier (`make test-fast`, `pytest -m "not slow"`). A test that needs one of those
# parts without such a fixture carries `@pytest.mark.slow` itself.
SLOW_FIXTURES = frozenset({
    "prefect_harness", "samples_run", "analyst_db", "corpus_run", "harness", "sync_run",
    "triaged_db", "batch_runs", "browser", "stack", "db_copy", "samples_db", "deployments",
    "form",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS_DIR / "formats").is_dir():
        pytest.skip(f"the shared test corpus is not present at {CORPUS_DIR} "
                    "(expected <project>/../shared/corpus/formats)")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES_DIR


@pytest.fixture(scope="session", autouse=True)
def _close_local_models():
    """Free the llama.cpp models the runs loaded before the interpreter tears modules down
    (llama-cpp-python's finalizers print 'Exception ignored' when they run at exit)."""
    yield
    from compliance.adapters.local_llm import close_models

    close_models()


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API server for the whole session (started on first use)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def samples_run(prefect_harness, tmp_path_factory):
    """One full run (summaries on) over a copy of data/samples: (source, db_path, result)."""
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline

    base = tmp_path_factory.mktemp("samples-run")
    source = base / "samples"
    shutil.copytree(SAMPLES_DIR, source)
    db_path = base / "results.duckdb"
    result = compliance_pipeline(PipelineParams(source=str(source), db_path=str(db_path)))
    return source, db_path, result


ANALYST_KEY = "sk-ant-test-ANALYST-0123456789abcdef"


@pytest.fixture(scope="session")
def analyst_db(samples_run, tmp_path_factory):
    """A database as analysts see it after `make run` and then a run with a key: (source, db).

    A copy of samples_run's database (summaries done, nothing escalated: no key) gets a second
    run over the same samples that escalates in sync mode to the local fake Anthropic API, so
    every view has rows: two runs, cloud and local calls, windows, model findings, cache counts.
    """
    from compliance.settings import PipelineParams
    from flows.pipeline import compliance_pipeline
    from tests.fake_anthropic import FakeAnthropicServer

    source, first_db, _ = samples_run
    db_path = tmp_path_factory.mktemp("analyst") / "results.duckdb"
    shutil.copy(first_db, db_path)
    with FakeAnthropicServer(api_key=ANALYST_KEY) as server:
        os.environ["ANTHROPIC_API_KEY"] = ANALYST_KEY
        try:
            compliance_pipeline(PipelineParams(source=str(source), db_path=str(db_path),
                                               escalation="sync",
                                               anthropic_base_url=server.base_url))
        finally:
            os.environ.pop("ANTHROPIC_API_KEY", None)
    return source, db_path
