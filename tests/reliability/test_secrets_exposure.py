"""No secret leaves the server: a broad API session on a live server (connections with passwords
and secret extras, users with passwords, variables named like secrets, failed logins, invalid
requests carrying secrets, the config), then every response body, every server log line (at DEBUG),
the audit log and the database itself are searched for the secret strings.

The one place a secret is expected: a variable's own value, which the variable endpoints answer
(Airflow does not mask variable values in the API); their successful answers are left out of the
response search (their refusals are searched), and the `variable` table stores values as sent.
"""
from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine

from app import create_app
from app.config import ConfigError, load_config
from app.extensions import db, normalize_db_url
from app.models import Base
from tests.conftest import FERNET_KEY, base_overrides
from tests.live import free_port, live_database_url, live_env, live_server

STABLEFLOW = str(Path(sys.executable).with_name("stableflow"))

SECRETS = {
    name: f"S3cr3t-{name}-7f1c"
    for name in (
        "conn_password", "conn_password_2", "extra_password", "extra_api_key", "extra_token", "test_password",
        "test_extra", "bad_password", "dup_password", "user_password", "user_password_2", "bad_user_password",
        "wrong_password", "wrong_password_unknown", "variable_secret", "bad_variable_secret",
    )
}


class RecordingSession(requests.Session):
    """A session that keeps every response it received."""

    def __init__(self, auth):
        super().__init__()
        self.auth = auth
        self.responses: list[requests.Response] = []

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        response = super().request(method, url, *args, **kwargs)
        self.responses.append(response)
        return response


def api_session(server, api: str, session: RecordingSession) -> None:
    s = SECRETS
    extra = f'{{"password": "{s["extra_password"]}", "api_key": "{s["extra_api_key"]}", "nested": {{"token": "{s["extra_token"]}"}}, "region": "eu"}}'
    assert session.post(f"{api}/connections", json={
        "connection_id": "db", "conn_type": "postgres", "host": "db.example", "login": "app",
        "password": s["conn_password"], "extra": extra}).status_code == 200
    session.get(f"{api}/connections/db")
    session.get(f"{api}/connections")
    assert session.patch(f"{api}/connections/db?update_mask=password",
                         json={"connection_id": "db", "conn_type": "postgres", "password": s["conn_password_2"]}).ok
    session.patch(f"{api}/connections/db", json={"connection_id": "db", "conn_type": "postgres", "extra": extra})
    session.post(f"{api}/connections/test", json={"connection_id": "t", "conn_type": "sqlite", "host": "/nonexistent",
                                                 "password": s["test_password"],
                                                 "extra": f'{{"secret": "{s["test_extra"]}"}}'})
    assert session.post(f"{api}/connections", json={"connection_id": "bad", "conn_type": "http",
                                                    "password": [s["bad_password"]]}).status_code == 400
    assert session.post(f"{api}/connections", json={"connection_id": "db", "conn_type": "http",
                                                    "password": s["dup_password"]}).status_code == 409

    assert session.post(f"{api}/users", json={
        "username": "carol", "email": "carol@example.com", "first_name": "Carol", "last_name": "Ops",
        "password": s["user_password"], "roles": [{"name": "Viewer"}]}).status_code == 200
    assert session.patch(f"{api}/users/carol?update_mask=password", json={"password": s["user_password_2"]}).ok
    assert session.post(f"{api}/users", json={
        "username": "dave", "email": "dave@example.com", "first_name": "D", "last_name": "E",
        "password": {"value": s["bad_user_password"]}, "roles": []}).status_code == 400
    session.get(f"{api}/users/carol")
    session.get(f"{api}/users")
    assert requests.get(f"{api}/dags", auth=("carol", s["user_password_2"]), timeout=30).status_code == 200
    for _ in range(3):
        session.responses.append(requests.get(f"{api}/pools", auth=("carol", s["wrong_password"]), timeout=30))
        session.responses.append(requests.get(f"{api}/pools", auth=("nobody", s["wrong_password_unknown"]), timeout=30))

    assert session.post(f"{api}/variables", json={"key": "db_password", "value": s["variable_secret"]}).ok
    assert session.patch(f"{api}/variables/db_password",
                         json={"key": "db_password", "value": s["variable_secret"]}).ok
    assert session.post(f"{api}/variables", json={"key": "api_token",
                                                  "value": [s["bad_variable_secret"]]}).status_code == 400

    for path in ("/config", "/config/section/core/option/fernet_key", "/config/section/webserver/option/secret_key",
                 "/eventLogs?limit=100", "/eventLogs?limit=100&order_by=-event_log_id"):
        session.get(api + path, headers={"Accept": "application/json"})
        session.get(api + path, headers={"Accept": "text/plain"})


def database_texts(url: str) -> dict[str, str]:
    engine = create_engine(normalize_db_url(url))
    try:
        with engine.connect() as conn:
            return {table.name: repr(conn.execute(table.select()).fetchall()) for table in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_no_secret_in_responses_logs_audit_log_or_database(tmp_path):
    home = tmp_path / "home"
    with live_server(home, db_url=live_database_url("secrets"), workers=2, LOGGING__LOGGING_LEVEL="DEBUG",
                     WEBSERVER__EXPOSE_CONFIG="non-sensitive-only", CORE__TEST_CONNECTION="Enabled",
                     API__MAX_FAILED_LOGINS="2") as server:
        session = RecordingSession(server.auth)
        api_session(server, server.api, session)
        variable_reads = [session.get(f"{server.api}/variables/db_password"), session.get(f"{server.api}/variables")]
        db_url = server.env["STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        stored = database_texts(db_url)
    log = Path(home / "webserver.log").read_text()
    keys = {"secret_key": server.env["STABLEFLOW__WEBSERVER__SECRET_KEY"], "fernet_key": FERNET_KEY}

    leaks = []
    for response in session.responses:
        if response.ok and "/api/v1/variables" in response.url:
            continue  # a variable's value is what its endpoints answer
        text = response.text + repr(dict(response.headers))
        leaks += [(response.request.method, response.url, name) for name, value in {**SECRETS, **keys}.items()
                  if value in text]
    leaks += [("server log", name) for name, value in {**SECRETS, **keys}.items() if value in log]
    # Basic credentials are base64 in the request, never echoed: check the encoded forms too.
    leaks += [("server log", "basic:" + name) for name, value in SECRETS.items()
              if base64.b64encode(f"carol:{value}".encode()).decode() in log]
    for table, text in stored.items():
        allowed = {"variable_secret"} if table == "variable" else set()
        leaks += [("table " + table, name) for name, value in SECRETS.items() if value in text and name not in allowed]

    assert len(session.responses) > 30
    assert "api.connection.create" in stored["log"]
    assert "failed_login" in stored["log"]
    assert SECRETS["variable_secret"] in variable_reads[0].text
    assert leaks == []


# -- redacted validation messages ---------------------------------------------------------------
@pytest.mark.parametrize(("url", "body", "detail"), [
    ("/api/v1/connections", {"connection_id": "c", "conn_type": "http", "password": ["pw-1"]},
     "'***' is not of type 'string' - 'password'"),
    ("/api/v1/connections", {"connection_id": "c", "conn_type": "http", "extra": {"password": "pw-2", "x": 1}},
     "{'password': '***', 'x': 1} is not of type 'string' - 'extra'"),
    ("/api/v1/users/viewer?update_mask=password", {"password": {"v": "pw-3"}},
     "'***' is not of type 'string' - 'password'"),
    ("/api/v1/variables", {"key": "db_password", "value": ["pw-4"]}, "'***' is not of type 'string' - 'value'"),
    ("/api/v1/variables", {"key": "db_host", "value": ["h"]}, "['h'] is not of type 'string' - 'value'"),
    ("/api/v1/pools", {"name": "p", "slots": "x"}, "'x' is not of type 'integer' - 'slots'"),
])
def test_validation_errors_hide_secret_values(client, admin_headers, caplog, url, body, detail):
    method = client.patch if "update_mask" in url else client.post
    with caplog.at_level(logging.DEBUG):
        response = method(url, json=body, headers=admin_headers)
    assert response.status_code == 400
    assert response.get_json()["detail"] == detail
    assert not [r for r in caplog.records if "pw-" in r.getMessage()]


# -- keys: per installation, shared by the nodes of a shared database ---------------------------
PG_URL = "postgresql://postgres@127.0.0.1:1/not_contacted"


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("STABLEFLOW_CONFIG", raising=False)
    return tmp_path


def test_first_run_on_sqlite_generates_keys_of_its_own(fresh_home):
    conf = load_config(environ={})
    assert len(conf.get("webserver", "secret_key")) >= 32
    assert len(conf.get("core", "fernet_key")) == 44


def test_first_run_on_a_shared_database_generates_no_keys(fresh_home):
    conf = load_config(environ={"STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN": PG_URL})
    assert (fresh_home / "stableflow.cfg").exists()
    assert conf.get("webserver", "secret_key") == ""
    assert conf.get("core", "fernet_key") == ""


@pytest.mark.parametrize(("keys", "message"), [
    ({"webserver": {"secret_key": ""}, "core": {"fernet_key": ""}},
     "[webserver] secret_key and [core] fernet_key are not set. Every node of a shared database must use the same keys"),
    ({"webserver": {"secret_key": ""}}, "[webserver] secret_key is not set."),
    ({"core": {"fernet_key": " "}}, "[core] fernet_key is not set."),
])
def test_a_node_of_a_shared_database_without_keys_refuses_to_start(fresh_home, keys, message):
    overrides = base_overrides(database={"sql_alchemy_conn": PG_URL})
    for section, values in keys.items():
        overrides[section].update(values)
    with pytest.raises(ConfigError) as error:
        create_app(overrides)
    assert str(error.value).startswith(message)


def test_a_single_sqlite_node_without_a_secret_key_runs_on_a_process_key(fresh_home, caplog):
    app = create_app(base_overrides(database={"sql_alchemy_conn": f"sqlite:///{fresh_home}/single.db"},
                                    webserver={"secret_key": ""}))
    assert len(app.config["SECRET_KEY"]) >= 32
    assert "secret_key is not set; using a key that lasts only as long as this process" in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_webserver_of_a_shared_database_without_keys_exits_with_the_reason(tmp_path):
    env = live_env(tmp_path, PG_URL, WEBSERVER__SECRET_KEY="", CORE__FERNET_KEY="")
    result = subprocess.run([STABLEFLOW, "webserver", "-p", str(free_port()), "-w", "1"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "[webserver] secret_key and [core] fernet_key are not set" in result.stderr
    assert not (tmp_path / "stableflow.cfg").read_text().count("_key")
