"""Access under gunicorn with two workers: a custom backend from outside the project, credentials
memoized per worker process that still stop working at once, and a backend that fails to load."""
from __future__ import annotations

import subprocess
import sys

import requests

from tests.conftest import TEST_PASSWORD
from tests.live import _STABLEFLOW, free_port, live_env, live_server
from tests.test_auth_backends import BASIC, BEARER, write_token_backend

ROUNDS = 30  # sync workers take one connection each; enough requests reach both workers


def _statuses(server, path, auth=None, headers=None) -> set[int]:
    return {
        requests.get(server.api + path, auth=auth, headers=headers, timeout=10).status_code
        for _ in range(ROUNDS)
    }


def _set_active(server, username: str, active: bool) -> None:
    """Flip `active` in the server's database, as an operator's SQL would (the API cannot)."""
    code = (
        "from sqlalchemy import update\n"
        "from app.cli import app_context\n"
        "from app.extensions import db\n"
        "from app.models import User\n"
        "with app_context():\n"
        f"    db.session.execute(update(User).where(User.username == {username!r}).values(active={active!r}))\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=server.env, check=True, timeout=120, capture_output=True)


def test_custom_backend_on_pythonpath_under_gunicorn(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_token_backend(plugins)
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.setenv("API_TOKENS", "t0k3n=admin")
    with live_server(tmp_path / "home", API__AUTH_BACKENDS="token_backend,auth_backends.basic_auth") as server:
        assert _statuses(server, "/users", headers={"Authorization": "Bearer t0k3n"}) == {200}
        assert _statuses(server, "/users", auth=server.auth) == {200}
        denied = requests.get(server.api + "/users", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == f"{BEARER}, {BASIC}"


def test_memoized_credentials_stop_working_in_every_worker(tmp_path):
    # No lockout: the many refused attempts below would otherwise lock the user out for good.
    with live_server(tmp_path, workers=2, API__MAX_FAILED_LOGINS="0") as server:
        server.cli("users", "create", "-u", "vic", "-e", "vic@example.com", "-f", "Vic", "-l", "Tor",
                   "-r", "Viewer", "-p", TEST_PASSWORD)
        old = ("vic", TEST_PASSWORD)
        assert _statuses(server, "/users", auth=old) == {403}  # known, memoized, not allowed

        changed = requests.patch(
            server.api + "/users/vic?update_mask=password", json={"password": "fresh"}, auth=server.auth, timeout=10
        )
        assert changed.status_code == 200
        assert _statuses(server, "/users", auth=old) == {401}
        assert _statuses(server, "/users", auth=("vic", "fresh")) == {403}

        _set_active(server, "vic", False)
        assert _statuses(server, "/users", auth=("vic", "fresh")) == {401}
        _set_active(server, "vic", True)
        assert _statuses(server, "/users", auth=("vic", "fresh")) == {403}

        server.cli("users", "delete", "--username", "vic")
        assert _statuses(server, "/users", auth=("vic", "fresh")) == {401}


def test_webserver_exits_naming_a_backend_that_cannot_load(tmp_path):
    env = live_env(tmp_path, API__AUTH_BACKENDS="auth_backends.basic_auth,no_such_backend_xyz")
    result = subprocess.run(
        [_STABLEFLOW, "webserver", "-p", str(free_port()), "-w", "1"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "Cannot import auth backend 'no_such_backend_xyz'" in result.stderr
