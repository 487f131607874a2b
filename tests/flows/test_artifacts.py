"""What a run publishes to the Prefect server: artifacts with stable keys, a progress bar that
moves, and logs and artifacts with personal data and secrets masked."""

from __future__ import annotations

import json
import logging

import pytest
from helpers import scalar

from compliance.rules import masking
from flows.artifacts import (
    COUNTS_KEY,
    FAILED_KEY,
    FINDINGS_KEY,
    PROGRESS_KEY,
    REPORT_KEY,
    RunProgress,
)


def _artifacts(flow_run_id: str) -> dict[str, object]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {artifact.key: artifact for artifact in found}


def test_the_samples_run_publishes_its_report(samples_run):
    source, db_path, result = samples_run
    found = _artifacts(result["flow_run_id"])
    assert {REPORT_KEY, COUNTS_KEY, FAILED_KEY, FINDINGS_KEY, PROGRESS_KEY} <= set(found)
    report = found[REPORT_KEY].data
    assert result["run_id"] in report and "completed" in report
    counts = {row["measure"]: row["value"] for row in json.loads(found[COUNTS_KEY].data)}
    assert counts["documents new"] == result["docs_new"] == 9
    assert counts["summaries done"] == result["summaries_done"]
    assert counts["summaries pending"] == 0
    assert counts["chunks flagged"] == result["chunks_flagged"]
    assert counts["local model calls"] == result["model_calls"]
    assert counts["cloud spend usd"] == 0
    failed = json.loads(found[FAILED_KEY].data)
    assert [(f["path"], f["status"]) for f in failed] == [
        ("broken/quarterly-report.pdf", "corrupt")]
    assert "unreadable PDF" in failed[0]["reason"]
    assert float(found[PROGRESS_KEY].data) == 100.0
    # The stored run and the report agree.
    assert scalar(db_path, "SELECT docs_failed FROM runs WHERE run_id = ?",
                  [result["run_id"]]) == 1


def test_the_progress_artifact_moves(prefect_harness):
    from prefect import flow
    from prefect.runtime import flow_run

    @flow
    def long_run() -> tuple[str, list[float]]:
        progress = RunProgress("test-run")
        seen = []
        tick = progress.between(60, 95)
        for done in (0, 1, 2, 4):
            tick(done, 4)
            seen.append(float(_artifacts(str(flow_run.get_id()))[PROGRESS_KEY].data))
        return str(flow_run.get_id()), seen

    _, seen = long_run()
    assert seen == [60.0, 68.8, 77.5, 95.0]


def test_personal_data_and_secrets_are_masked():
    masking.add_secret("sk-ant-test-MASKME-0123456789")
    text = ("Contact jane.roe@example.com, SSN 219-09-9999, card 4111 1111 1111 1111, "
            "key sk-ant-test-MASKME-0123456789; 42 files, run 20261127T111436Z-4c993a08.")
    masked = masking.mask(text)
    for planted in ("jane.roe@example.com", "219-09-9999", "4111 1111 1111 1111", "MASKME"):
        assert planted not in masked
    for placeholder in ("[EMAIL]", "[SSN]", "[CARD]", "[REDACTED]"):
        assert placeholder in masked
    assert masked.endswith("; 42 files, run 20261127T111436Z-4c993a08.")  # the rest is kept
    assert masking.mask("Jane Roe signed for Acme Corp.", names=True) == (
        "[PERSON] signed for Acme Corp.")


@pytest.mark.filterwarnings("ignore:Logger 'prefect.flow_runs' attempted to send logs")
def test_run_logs_are_masked_before_any_handler_sees_them():
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("prefect.flow_runs")
    handler = Capture()
    logger.addHandler(handler)
    try:
        masking.install_log_masking()
        logger.warning("mail %s about %s", "jane.roe@example.com", "219-09-9999")
        try:
            raise ValueError("bad row for jane.roe@example.com")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert records[0] == "mail [EMAIL] about [SSN]"
    assert "jane.roe" not in records[1] and "[EMAIL]" in records[1]
