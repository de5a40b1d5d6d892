"""The stableflow command line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import cli as app_cli
from app.cli import cli
from app.config import ConfigError


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


@pytest.fixture
def restored_environ():
    """`standalone` exports its settings into os.environ for its children; undo that."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _start_standalone(runner, monkeypatch) -> tuple[str, list[list[str]]]:
    """Run `stableflow standalone` with the server and scheduler spawns recorded, not started."""
    spawned: list[list[str]] = []

    class FakeChild:
        def __init__(self, cmd, env=None):
            spawned.append(cmd)

    monkeypatch.setattr(app_cli.subprocess, "Popen", FakeChild)
    monkeypatch.setattr(app_cli, "_supervise", lambda children: None)
    result = runner.invoke(cli, ["standalone"])
    assert result.exit_code == 0, result.output
    return result.output, spawned


def _admin_password_works(password: str) -> bool:
    from app.passwords import verify_password
    from app.users import find_user

    with app_cli.app_context():
        admin = find_user("admin")
        return verify_password(admin.id, admin.password, password)


def test_standalone_saves_the_admin_password_once_and_reuses_it(runner, monkeypatch, tmp_path, restored_environ):
    monkeypatch.setenv("STABLEFLOW__CORE__LOAD_EXAMPLES", "False")
    saved = tmp_path / "standalone_admin_password.txt"

    first, spawned = _start_standalone(runner, monkeypatch)
    password = saved.read_text().strip()
    assert len(password) >= 16
    assert saved.stat().st_mode & 0o777 == 0o600
    assert "username: admin\n" in first
    assert f"password: {password}\n" in first
    assert [cmd[1:3] for cmd in spawned] == [["-m", "gunicorn"], ["-m", "app.cli"]]
    assert _admin_password_works(password)

    second, _ = _start_standalone(runner, monkeypatch)
    assert saved.read_text().strip() == password
    assert f"password: {password}\n" in second
    assert _admin_password_works(password)


def test_webserver_with_an_unimportable_auth_backend_stops_before_gunicorn(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env.update(
        STABLEFLOW_HOME=str(tmp_path),
        STABLEFLOW__API__AUTH_BACKENDS="auth_backends.basic_auth,mycompany.sso_backend",
        STABLEFLOW__WEBSERVER__WEB_SERVER_PORT="1",  # a gunicorn started by mistake could not bind
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("stableflow")), "webserver"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: Cannot import auth backend 'mycompany.sso_backend' ([api] auth_backends): "
        "No module named 'mycompany'\n"
    )


def test_webserver_with_an_unusable_lockout_limit_stops_before_gunicorn(runner, monkeypatch):
    executed = []
    monkeypatch.setenv("STABLEFLOW__API__MAX_FAILED_LOGINS", "ten")
    monkeypatch.setattr(app_cli.os, "execv", lambda path, args: executed.append(args))
    result = runner.invoke(cli, ["webserver"])
    assert isinstance(result.exception, ConfigError)
    assert "max_failed_logins" in str(result.exception)
    assert executed == []


def test_webserver_with_importable_auth_backends_execs_gunicorn(runner, monkeypatch):
    executed = []
    monkeypatch.setenv("STABLEFLOW__API__AUTH_BACKENDS", "auth_backends.basic_auth,auth_backends.session")
    monkeypatch.setattr(app_cli.os, "execv", lambda path, args: executed.append(args))
    result = runner.invoke(cli, ["webserver", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert [args[1:3] for args in executed] == [["-m", "gunicorn"]]
    assert "127.0.0.1:8123" in executed[0]
