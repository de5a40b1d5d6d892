"""The stableflow command line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path}/cli.db")
    return CliRunner()


def test_config_get_value_prints_default(runner):
    result = runner.invoke(cli, ["config", "get-value", "api", "auth_backends"])
    assert result.exit_code == 0
    assert result.output == "auth_backends.deny_all\n"


def test_config_get_value_honours_environment(runner, monkeypatch):
    monkeypatch.setenv("STABLEFLOW__API__AUTH_BACKENDS", "auth_backends.basic_auth")
    result = runner.invoke(cli, ["config", "get-value", "api", "auth_backends"])
    assert result.output == "auth_backends.basic_auth\n"


def test_config_get_value_unknown_is_an_error(runner):
    result = runner.invoke(cli, ["config", "get-value", "api", "nope"])
    assert result.exit_code == 1
    assert "[api/nope] is not found" in result.output


def test_config_list_section(runner):
    result = runner.invoke(cli, ["config", "list", "--section", "api"])
    assert result.exit_code == 0
    assert result.output.startswith("[api]\n")
    assert "auth_backends = auth_backends.deny_all" in result.output
    assert "[core]" not in result.output


def test_db_migrate_twice_then_check_and_reset(runner):
    first = runner.invoke(cli, ["db", "migrate"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["db", "migrate"])
    assert second.exit_code == 0, second.output
    check = runner.invoke(cli, ["db", "check"])
    assert check.exit_code == 0
    assert "up to date" in check.output
    reset = runner.invoke(cli, ["db", "reset", "--yes"])
    assert reset.exit_code == 0, reset.output


def test_db_check_fails_before_migrate(runner):
    result = runner.invoke(cli, ["db", "check"])
    assert result.exit_code == 1
    assert "stableflow db migrate" in result.output


def test_version_command(runner):
    from app.version import __version__

    result = runner.invoke(cli, ["version"])
    assert result.output.strip() == __version__


def test_console_script_runs_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env["STABLEFLOW_HOME"] = str(tmp_path)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("stableflow")), "config", "get-value", "api", "auth_backends"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "auth_backends.deny_all\n"
