"""The command line, through click's runner, on both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import runstack
from runstack.cli import main
from runstack.cli.maintenance import parse_duration
from runstack.store.sql.migrate import SCHEMA_HEAD

DOC = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")


def invoke(uri: str, *args: str) -> click.testing.Result:
    return CliRunner().invoke(main, [*args, "--tracking-uri", uri])


def _commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_command_is_documented() -> None:
    documented = set(re.findall(r"^## (runstack .+)$", DOC, flags=re.MULTILINE))
    commands = set(_commands(main, "runstack"))
    assert commands - documented == set(), "commands missing from docs/cli.md"
    assert documented - commands == set(), "docs/cli.md documents commands that do not exist"


def test_experiment_lifecycle(client: runstack.TrackingClient, tracking: str) -> None:
    created = invoke(tracking, "experiments", "create", "cli-exp")
    assert created.exit_code == 0, created.output
    experiment_id = created.output.strip()
    assert client.get_experiment(experiment_id).name == "cli-exp"

    assert invoke(tracking, "experiments", "rename", "cli-exp", "cli-renamed").exit_code == 0
    assert client.get_experiment(experiment_id).name == "cli-renamed"

    assert invoke(tracking, "experiments", "delete", experiment_id).exit_code == 0
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    listed = json.loads(
        invoke(tracking, "experiments", "list", "--view", "deleted", "--format", "json").output
    )
    assert [e["name"] for e in listed] == ["cli-renamed"]

    assert invoke(tracking, "experiments", "restore", "cli-renamed").exit_code == 0
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_duplicate_name_is_one_line_error(tracking: str) -> None:
    assert invoke(tracking, "experiments", "create", "dup").exit_code == 0
    result = invoke(tracking, "experiments", "create", "dup")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: An experiment named 'dup' already exists (id 1)."
    ]
    assert "Traceback" not in result.output


def test_runs_list_show_delete_restore(tracking: str, client: runstack.TrackingClient) -> None:
    with runstack.start_run(run_name="parent") as parent:
        runstack.log_param("lr", 0.1)
        runstack.log_metric("loss", 0.25, step=4)
        runstack.log_input(runstack.Dataset("iris", "c0ffee", "http", "{}"), context="training")
        with runstack.start_run(run_name="child", nested=True) as child:
            pass
    listed = json.loads(invoke(tracking, "runs", "list", "--format", "json").output)
    assert {r["info"]["run_id"] for r in listed} == {parent.info.run_id, child.info.run_id}
    (as_json,) = [r for r in listed if r["info"]["run_id"] == parent.info.run_id]
    assert as_json["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"

    csv_out = invoke(tracking, "runs", "list", "--format", "csv").output.splitlines()
    assert csv_out[0].startswith("run_id,experiment_id,run_name,status")
    assert "metrics.loss" in csv_out[0] and "params.lr" in csv_out[0]

    shown = invoke(tracking, "runs", "show", parent.info.run_id)
    assert shown.exit_code == 0, shown.output
    for text in ("parent", "FINISHED", "lr", "0.1", "loss", "0.25", "child runs", "child"):
        assert text in shown.output
    for text in ("datasets", "iris", "c0ffee", "training"):
        assert text in shown.output

    assert invoke(tracking, "runs", "delete", child.info.run_id).exit_code == 0
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    assert invoke(tracking, "runs", "restore", child.info.run_id).exit_code == 0
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "active"


def test_unknown_run_is_one_line_error(tracking: str) -> None:
    result = invoke(tracking, "runs", "show", "0" * 32)
    assert result.exit_code == 1
    assert result.output.startswith("Error: Run '000") and result.output.count("\n") == 1


def test_gc_removes_deleted_runs_and_frees_names(
    tracking: str, client: runstack.TrackingClient
) -> None:
    experiment_id = client.create_experiment("to-remove")
    kept = client.create_run("0")
    doomed = client.create_run(experiment_id)
    lonely = client.create_run("0")
    client.log_metric(lonely.info.run_id, "m", 1.0)
    client.delete_run(lonely.info.run_id)
    client.delete_experiment(experiment_id)

    result = invoke(tracking, "gc")
    assert result.exit_code == 0, result.output
    assert "Removed 2 run(s) and 1 experiment(s)" in result.output
    for run in (doomed, lonely):
        with pytest.raises(runstack.ResourceNotFoundError):
            client.get_run(run.info.run_id)
    assert client.get_run(kept.info.run_id).info.lifecycle_stage == "active"
    assert client.get_experiment_by_name("to-remove") is None
    assert client.create_experiment("to-remove") != experiment_id


def test_gc_older_than_keeps_recent_deletions(
    tracking: str, client: runstack.TrackingClient
) -> None:
    run = client.create_run("0")
    client.delete_run(run.info.run_id)
    result = invoke(tracking, "gc", "--older-than", "1d")
    assert result.exit_code == 0
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("1d12h", 129600), ("90m", 5400), ("45s", 45), ("2w", 1209600)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3x", "d", "10", "1d 2"])
def test_bad_duration_is_rejected(text: str) -> None:
    with pytest.raises(runstack.InvalidParameterError, match="Invalid duration"):
        parse_duration(text)


def test_db_upgrade_reports_version(tracking: str, client: runstack.TrackingClient) -> None:
    client.get_experiment("0")  # opens the store: a fresh database gets the newest schema
    result = invoke(tracking, "db", "upgrade")
    assert result.exit_code == 0
    assert result.output == f"Schema already at version {SCHEMA_HEAD}.\n"
