"""No secret leaves the server: a broad API session on a live server (connections with passwords
and secret extras, users with passwords, variables named like secrets, failed logins, invalid
requests carrying secrets, the config), then a DAG run triggered with secrets in its `conf` (and
one refused for a param holding a secret) that a scheduler runs to the end, its task instances and
every try's log read through the API. Every response body, every server and scheduler log line
(both at DEBUG), every task log file, the audit log and the database itself are searched for the
secret strings.

The places a secret is expected, as in Airflow: a variable's own value, which the variable
endpoints answer, and a run's `conf`, which the DAG run endpoints answer; their successful answers
are not searched for those secrets (their refusals are), and the `variable` and `dag_run` tables
store them as sent.
"""
from __future__ import annotations

import base64
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine

from app import create_app, runs
from app.config import ConfigError, load_config
from app.dags.structure import DagSpec, ParamSpec
from app.errors import BadRequest
from app.extensions import db, normalize_db_url
from app.models import Base
from tests.conftest import FERNET_KEY, base_overrides
from tests.live import free_port, live_database_url, live_env, live_server, stop_process

STABLEFLOW = str(Path(sys.executable).with_name("stableflow"))

SECRETS = {
    name: f"S3cr3t-{name}-7f1c"
    for name in (
        "conn_password", "conn_password_2", "extra_password", "extra_api_key", "extra_token", "test_password",
        "test_extra", "bad_password", "dup_password", "user_password", "user_password_2", "bad_user_password",
        "wrong_password", "wrong_password_unknown", "variable_secret", "bad_variable_secret",
        "conf_password", "conf_api_token", "conf_nested_token", "bad_param_token",
    )
}
# What a run's conf holds: the DAG run endpoints answer it and `dag_run` stores it, as in Airflow.
CONF_SECRETS = {"conf_password", "conf_api_token", "conf_nested_token"}
RUN_PATH = re.compile(r"/api/v1/dags/[^/]+/dagRuns(/[^/]+)?$")
# A DAG whose param is named like a secret; `load` fails its first try so that a run has two logs.
DAG_FILE = """\
dag_id: secret_run
schedule: null
start_date: 2024-01-01
is_paused_upon_creation: false
params:
  api_token: {default: not-a-secret-default-value, type: string, minLength: 8}
tasks:
  - {task_id: extract, operator: BashOperator, duration: 1, log: [connecting as app]}
  - {task_id: load, upstream: [extract], duration: 1, outcome: flaky, fail_tries: 1, retries: 1, retry_delay: 1}
"""


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


def run_session(server, api: str, session: RecordingSession) -> None:
    """Trigger a run with secrets in its conf, let a scheduler run it to the end, read it back."""
    s = SECRETS
    runs_url = f"{api}/dags/secret_run/dagRuns"
    assert session.post(runs_url, json={"dag_run_id": "refused",
                                    "conf": {"api_token": [s["bad_param_token"]]}}).status_code == 400
    conf = {"password": s["conf_password"], "api_token": s["conf_api_token"],
            "nested": {"token": s["conf_nested_token"]}, "region": "eu"}
    assert session.post(runs_url, json={"dag_run_id": "with_secrets", "conf": conf}).status_code == 200
    with open(server.home / "scheduler.log", "wb") as output:
        scheduler = subprocess.Popen([STABLEFLOW, "scheduler"], env=server.env, stdout=output, stderr=subprocess.STDOUT)
    server.extra_processes.append(scheduler)
    deadline = time.monotonic() + 60
    while requests.get(f"{runs_url}/with_secrets", auth=server.auth, timeout=30).json()["state"] != "success":
        assert scheduler.poll() is None, (server.home / "scheduler.log").read_text()
        assert time.monotonic() < deadline, "the run did not finish within 60 s"
        time.sleep(0.1)
    stop_process(scheduler)
    session.get(f"{runs_url}/with_secrets")
    session.get(runs_url)
    tis = session.get(f"{runs_url}/with_secrets/taskInstances").json()["task_instances"]
    for ti in tis:
        for try_number in range(1, ti["try_number"] + 1):
            for accept in ("application/json", "text/plain"):
                assert session.get(f"{runs_url}/with_secrets/taskInstances/{ti['task_id']}/logs/{try_number}",
                                   params={"full_content": "true"}, headers={"Accept": accept}).ok
    session.get(f"{runs_url}/with_secrets/taskInstances/load/tries")
    session.get(f"{api}/dags/secret_run/details")
    assert sorted((ti["task_id"], ti["try_number"]) for ti in tis) == [("extract", 1), ("load", 2)]


def read_back(api: str, session: RecordingSession) -> None:
    for path in ("/config", "/config/section/core/option/fernet_key", "/config/section/webserver/option/secret_key",
                 "/eventLogs?limit=100", "/eventLogs?limit=100&order_by=-event_log_id"):
        session.get(api + path, headers={"Accept": "application/json"})
        session.get(api + path, headers={"Accept": "text/plain"})


def answered_by_design(response: requests.Response) -> set[str]:
    """The secrets a successful answer carries on purpose: a variable's value, a run's conf."""
    path = urlsplit(response.url).path
    if not response.ok:
        return set()
    if path.startswith("/api/v1/variables"):
        return {"variable_secret"}
    return CONF_SECRETS if RUN_PATH.search(path) else set()


def database_texts(url: str) -> dict[str, str]:
    engine = create_engine(normalize_db_url(url))
    try:
        with engine.connect() as conn:
            return {table.name: repr(conn.execute(table.select()).fetchall()) for table in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_no_secret_in_responses_logs_audit_log_or_database(tmp_path):
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "secret_run.yaml").write_text(DAG_FILE)
    with live_server(home, db_url=live_database_url("secrets"), workers=2, LOGGING__LOGGING_LEVEL="DEBUG",
                     WEBSERVER__EXPOSE_CONFIG="non-sensitive-only", CORE__TEST_CONNECTION="Enabled",
                     API__MAX_FAILED_LOGINS="2", SCHEDULER__SIMULATION_SPEED="20",
                     SCHEDULER__SCHEDULER_HEARTBEAT_SEC="0.1") as server:
        server.cli("dags", "reserialize")
        session = RecordingSession(server.auth)
        api_session(server, server.api, session)
        run_session(server, server.api, session)
        read_back(server.api, session)
        variable_reads = [session.get(f"{server.api}/variables/db_password"), session.get(f"{server.api}/variables")]
        run_read = session.get(f"{server.api}/dags/secret_run/dagRuns/with_secrets")
        db_url = server.env["STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        stored = database_texts(db_url)
    logs = {"server log": (home / "webserver.log").read_text(), "scheduler log": (home / "scheduler.log").read_text()}
    task_logs = {f"task log {path.relative_to(home)}": path.read_text() for path in sorted(home.rglob("attempt=*.log"))}
    keys = {"secret_key": server.env["STABLEFLOW__WEBSERVER__SECRET_KEY"], "fernet_key": FERNET_KEY}

    leaks = []
    for response in session.responses:
        text = response.text + repr(dict(response.headers))
        leaks += [(response.request.method, response.url, name) for name, value in {**SECRETS, **keys}.items()
                  if value in text and name not in answered_by_design(response)]
    for where, text in {**logs, **task_logs}.items():
        leaks += [(where, name) for name, value in {**SECRETS, **keys}.items() if value in text]
    # Basic credentials are base64 in the request, never echoed: check the encoded forms too.
    leaks += [("server log", "basic:" + name) for name, value in SECRETS.items()
              if base64.b64encode(f"carol:{value}".encode()).decode() in logs["server log"]]
    for table, text in stored.items():
        allowed = {"variable": {"variable_secret"}, "dag_run": CONF_SECRETS}.get(table, set())
        leaks += [("table " + table, name) for name, value in SECRETS.items() if value in text and name not in allowed]

    assert len(session.responses) > 40
    assert "api.connection.create" in stored["log"]
    assert "failed_login" in stored["log"]
    assert "api.post_dag_run" in stored["log"]
    assert SECRETS["variable_secret"] in variable_reads[0].text
    assert run_read.json()["conf"]["password"] == SECRETS["conf_password"]
    # Both tries of `load` and the one of `extract` wrote their logs; the scheduler's output was captured.
    assert len(task_logs) == 3
    assert "Scheduler job" in logs["scheduler log"]
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


def fail_variable_inserts(app, monkeypatch, error_class: str, message: str) -> None:
    """Make every INSERT INTO variable raise the DB-API's `error_class` with `message`."""
    with app.app_context():
        dialect = db.engine.dialect
    execute = dialect.do_execute

    def failing_execute(cursor, statement, parameters, context=None):
        if statement.startswith("INSERT INTO variable"):
            raise getattr(dialect.loaded_dbapi, error_class)(message)
        execute(cursor, statement, parameters, context)

    monkeypatch.setattr(dialect, "do_execute", failing_execute)


def test_a_database_error_logs_no_statement_parameters(app, client, admin_headers, caplog, monkeypatch):
    fail_variable_inserts(app, monkeypatch, "OperationalError", "the database went away")
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/v1/variables", json={"key": "db_password", "value": "pw-db"}, headers=admin_headers)
    assert response.status_code == 503
    assert "the database went away" in caplog.text
    assert "SQL parameters hidden" in caplog.text
    assert "pw-db" not in caplog.text


def test_an_integrity_error_logs_only_the_first_line_of_the_database_message(app, client, admin_headers, caplog, monkeypatch):
    # PostgreSQL's own wording: the detail line quotes the failing row.
    fail_variable_inserts(app, monkeypatch, "IntegrityError",
                          'null value in column "x" violates not-null constraint\nDETAIL:  Failing row contains (pw-row).')
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/v1/variables", json={"key": "db_password", "value": "pw-row"}, headers=admin_headers)
    assert response.status_code == 409
    assert "violates not-null constraint" in caplog.text
    assert "pw-row" not in caplog.text


@pytest.mark.parametrize(("schema", "value", "detail"), [
    ({"type": "string"}, ["pw-1"], "Invalid input for param api_token: '***' is not of type 'string'"),
    ({"type": "string", "minLength": 8}, "pw-2", "Invalid input for param api_token: '***' is too short"),
])
def test_param_errors_hide_the_value_of_a_param_named_like_a_secret(app_ctx, schema, value, detail):
    spec = DagSpec(dag_id="d", fileloc="f", params={"api_token": ParamSpec(value="default-token", schema=schema)})
    with pytest.raises(BadRequest) as raised:
        runs.validate_conf(spec, {"api_token": value})
    assert raised.value.detail == detail


@pytest.mark.parametrize(("schema", "value", "detail"), [
    ({"type": "string"}, {"password": "pw-3", "x": 1},
     "Invalid input for param db: {'password': '***', 'x': 1} is not of type 'string'"),
    ({"type": "object", "properties": {"password": {"type": "string"}}}, {"password": ["pw-4"]},
     "Invalid input for param db: '***' is not of type 'string'"),
])
def test_param_errors_hide_secrets_inside_a_value(app_ctx, schema, value, detail):
    spec = DagSpec(dag_id="d", fileloc="f", params={"db": ParamSpec(value={}, schema=schema)})
    with pytest.raises(BadRequest) as raised:
        runs.validate_conf(spec, {"db": value})
    assert raised.value.detail == detail


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
