"""prefect.yaml and the parameter form: the nightly schedule and its batch parameters, the
on-demand defaults, entrypoints that import, and bad values rejected with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from compliance.settings import PipelineParams


@pytest.fixture(scope="module")
def deployments(project_root) -> dict[str, dict]:
    config = yaml.safe_load((project_root / "prefect.yaml").read_text())
    return {d["name"]: d for d in config["deployments"]}


@pytest.fixture(scope="module")
def form():
    """The parameter schema Prefect stores with a deployment and renders as the run form."""
    from prefect.utilities.callables import parameter_schema

    from flows.pipeline import compliance_pipeline

    return parameter_schema(compliance_pipeline).model_dump()


def test_nightly_runs_at_two_with_batch_escalation_and_a_night_budget(deployments):
    nightly = deployments["nightly"]
    [schedule] = nightly["schedules"]
    assert schedule["cron"] == "0 2 * * *"
    assert schedule["timezone"]  # an IANA name, configurable
    params = PipelineParams(**nightly["parameters"]["params"])
    assert params.escalation == "batch"
    assert params.summarize == "all"
    assert 0 < params.local_budget_seconds < 10 * 3600
    assert params.local_budget_seconds < params.stage_timeout_seconds


def test_on_demand_has_no_schedule_and_manual_defaults(deployments):
    on_demand = deployments["on-demand"]
    assert not on_demand.get("schedules")
    params = PipelineParams(**on_demand["parameters"]["params"])
    assert (params.escalation, params.summarize, params.task_runner) == ("sync", "all", "threads")
    assert params.budget_usd is not None and params.local_budget_seconds is not None


def test_every_entrypoint_imports_and_its_parameters_fit_the_form(deployments, form,
                                                                   project_root, monkeypatch):
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.schema_tools.validation import validate

    monkeypatch.chdir(project_root)  # where the pull step puts a worker
    for deployment in deployments.values():
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert flow.name == "compliance-pipeline"
        validate(deployment["parameters"], form, raise_on_error=True)
        assert deployment["work_pool"]["name"] == "compliance-process"
        assert deployment["enforce_parameter_schema"] is True


def test_no_secret_is_templated_into_job_variables_or_parameters(project_root, deployments):
    for deployment in deployments.values():
        job_variables = deployment["work_pool"].get("job_variables") or {}
        text = yaml.safe_dump([job_variables, deployment["parameters"]]).lower()
        assert "key" not in text and "secret" not in text and "prefect.blocks" not in text
    assert "{{ prefect.blocks" not in (project_root / "prefect.yaml").read_text()


def test_the_form_has_help_text_defaults_and_constraints(form):
    fields = form["definitions"]["PipelineParams"]["properties"]
    assert all(field.get("description") for field in fields.values())
    assert fields["escalation"]["enum"] == ["sync", "batch", "off"]
    assert fields["task_runner"]["enum"] == ["threads", "dask"]
    assert fields["budget_usd"]["anyOf"][0]["minimum"] == 0
    assert fields["summarize"]["default"] == "all"


def test_bad_parameters_are_rejected_with_a_clear_message(form, tmp_path: Path):
    from prefect.utilities.schema_tools.validation import ValidationError as SchemaError
    from prefect.utilities.schema_tools.validation import validate

    # What the server answers the UI's form (and `prefect deployment run`) with.
    for bad, message in [
        ({"budget_usd": -1}, "'params.budget_usd'. Failure reason: -1 is less than the minimum"),
        ({"escalation": "often"}, "'params.escalation'. Failure reason: 'often' is not one of"),
        ({"local_budget_seconds": -5}, "'params.local_budget_seconds'"),
        ({"sources": "typo"}, "('sources' was unexpected)"),
    ]:
        with pytest.raises(SchemaError) as error:
            validate({"params": bad}, form, raise_on_error=True)
        assert message in str(error.value), str(error.value)
    # What a direct call or the CLI gets.
    with pytest.raises(ValidationError, match="only used with task_runner 'dask'"):
        PipelineParams(dask_address="tcp://10.0.0.5:8786")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        PipelineParams(budget_usd=-1)
    from compliance.cli.main import app

    result = CliRunner().invoke(app, ["run", str(tmp_path), "--budget-usd", "-1"])
    assert result.exit_code == 2
    assert "greater than or equal to 0" in result.output
