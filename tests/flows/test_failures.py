"""A run that fails midway ends Failed with a clear message, keeps what it stored and reports it;
the next run resumes from there."""

from __future__ import annotations

from helpers import query, run_pipeline

from compliance.settings import PipelineParams


def test_a_failed_run_says_where_and_why_and_keeps_what_it_stored(prefect_harness, tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.artifacts import REPORT_KEY
    from flows.pipeline import compliance_pipeline

    source = tmp_path / "inbox"
    source.mkdir()
    (source / "a.txt").write_text("Minutes of the steering meeting: the budget was agreed.\n")
    (source / "b.txt").write_text("The archive moves to the new storage cluster in March.\n")
    db_path = tmp_path / "results.duckdb"
    quick = {"summarize": "off", "escalation": "off"}
    # The model is needed after ingestion (to count chunk tokens): the run fails there.
    state = compliance_pipeline(
        PipelineParams(source=str(source), db_path=str(db_path),
                       model=str(tmp_path / "moved-away.gguf"), **quick), return_state=True)
    assert state.is_failed()
    assert "failed in chunk-documents: ModelError: model file not found" in state.message
    assert "Work stored before the failure is kept" in state.message
    [(run_id, status, error)] = query(db_path, "SELECT run_id, status, error FROM runs")
    assert status == "failed" and "model file not found" in error
    assert query(db_path, "SELECT rel_path, status FROM documents ORDER BY 1") == [
        ("a.txt", "ok"), ("b.txt", "ok")]
    with get_client(sync_client=True) as client:
        published = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    [report] = [artifact for artifact in published if artifact.key == REPORT_KEY]
    assert f"`{run_id}`: failed" in report.data and "The run failed" in report.data

    resumed = run_pipeline(source, db_path, **quick)
    assert (resumed["docs_new"], resumed["docs_unchanged"]) == (0, 2)
    assert resumed["chunks_new"] == 2
