"""The CLI's options come from the settings models: one name, default, help and limit each."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from compliance.cli.main import app
from compliance.cli.options import FLAGS
from compliance.settings import (
    DatabaseSettings,
    EscalationSettings,
    PipelineParams,
    TriageSettings,
)


def command_options(name: str) -> dict:
    command = typer.main.get_command(app).commands[name]
    return {param.name: param for param in command.params if param.param_type_name == "option"}


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


@pytest.mark.parametrize("field", [f for f in PipelineParams.model_fields if f != "source"])
def test_every_setting_is_a_run_option_with_its_default_and_help(field):
    option = command_options("run")[field]
    setting = PipelineParams.model_fields[field]
    assert flag_of(field) in option.opts
    assert option.help == setting.description
    default = setting.get_default(call_default_factory=True)
    if isinstance(default, list):  # repeatable: left out, the setting's default applies
        assert option.default is None
    else:
        assert option.default == default


def test_retriage_takes_the_triage_and_escalation_settings():
    options = set(command_options("retriage"))
    expected = {*DatabaseSettings.model_fields, *TriageSettings.model_fields,
                *EscalationSettings.model_fields} - {"lock_timeout_seconds",
                                                     "stage_timeout_seconds"}
    assert expected <= options


def test_limits_and_choices_come_from_the_settings(samples_dir):
    options = command_options("run")
    assert (options["max_chunk_tokens"].min, options["max_chunk_tokens"].max) == (64, 4096)
    runner = CliRunner()
    refused = runner.invoke(app, ["run", str(samples_dir), "--escalation", "nightly"])
    assert refused.exit_code == 2
    assert "sync" in refused.output and "batch" in refused.output
    too_small = runner.invoke(app, ["run", str(samples_dir), "--max-chunk-tokens", "8"])
    assert too_small.exit_code == 2 and "64" in too_small.output
