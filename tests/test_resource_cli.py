"""`stableflow pools|variables|connections ...` and `rotate-fernet-key`, with Airflow's file formats."""
from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import Connection, Pool, Variable
from tests.conftest import FERNET_KEY, database_url

# Files as `airflow pools|variables|connections export` write them (Airflow 2.x).
AIRFLOW_POOLS = """{
    "default_pool": {"description": "Default pool", "include_deferred": false, "slots": 128},
    "etl": {"description": "ETL jobs", "include_deferred": true, "slots": 4},
    "old_style": {"description": "exported before include_deferred existed", "slots": -1}
}"""
AIRFLOW_VARIABLES = """{
    "config": {"a": 1, "b": [1, 2]},
    "count": 3,
    "greeting": "hello",
    "path/with/slashes": "ünïcödé"
}"""
AIRFLOW_CONNECTIONS = """{
    "http_default": {
        "conn_type": "http", "description": null, "extra": null, "host": "https://www.httpbin.org/",
        "login": null, "password": null, "port": null, "schema": null
    },
    "my_postgres": {
        "conn_type": "postgres", "description": "warehouse", "extra": "{\\"sslmode\\": \\"require\\", \\"token\\": \\"t0k\\"}",
        "host": "db.example.com", "login": "etl", "password": "s3cret-pw", "port": 5432, "schema": "analytics"
    }
}"""


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", database_url())
    monkeypatch.setenv("STABLEFLOW__CORE__FERNET_KEY", FERNET_KEY)
    monkeypatch.setenv("STABLEFLOW__WEBSERVER__SECRET_KEY", "test-secret-key")
    return CliRunner()


def run(runner, *args, code=0):
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(app, *columns):
    with app.app_context():
        stmt = select(*columns).order_by(columns[0])
        return [tuple(row) for row in db.session.execute(stmt)]


def decrypt(token, key=FERNET_KEY):
    return Fernet(key.encode()).decrypt(token.encode()).decode()


# -- pools -------------------------------------------------------------------------------------------
def test_pools_set_get_list_delete(app, runner):
    assert run(runner, "pools", "set", "etl", 4, "ETL jobs", "--include-deferred").output == "Pool etl set\n"
    run(runner, "pools", "set", "etl", 5, "more")
    assert json.loads(run(runner, "pools", "get", "etl", "-o", "json").stdout) == [
        {"pool": "etl", "slots": 5, "description": "more", "include_deferred": False}
    ]
    assert run(runner, "pools", "list").stdout == (
        "pool          slots  description   include_deferred\n"
        "------------  -----  ------------  ----------------\n"
        "default_pool  128    Default pool  False\n"
        "etl           5      more          False\n"
    )
    assert run(runner, "pools", "delete", "etl").output == "Pool etl deleted\n"
    assert rows(app, Pool.pool) == [("default_pool",)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pools", "get", "nope"], "Error: Pool 'nope' does not exist"),
        (["pools", "delete", "nope"], "Error: Pool 'nope' does not exist"),
        (["pools", "delete", "default_pool"], "Error: default_pool cannot be deleted"),
        (["pools", "set", "p", "-2", "d"], "Error: {'slots': ['Slots must be -1 (unlimited) or a number of slots (0 or more).']}"),
    ],
)
def test_pool_errors(app, runner, args, message):
    assert run(runner, *args, code=1).output.strip() == message
    assert rows(app, Pool.pool) == [("default_pool",)]


def test_pools_import_airflow_file_and_export_it_back(app, runner, tmp_path):
    result = run(runner, "pools", "import", write(tmp_path, "pools.json", AIRFLOW_POOLS))
    assert result.stdout == "Pools: 2 created, 1 updated, 0 skipped\n"
    assert "Importing pools" in result.stderr
    assert rows(app, Pool.pool, Pool.slots, Pool.include_deferred) == [
        ("default_pool", 128, False),
        ("etl", 4, True),
        ("old_style", -1, False),
    ]
    out = tmp_path / "out.json"
    assert run(runner, "pools", "export", out).output == f"3 pools exported to {out}\n"
    expected = json.loads(AIRFLOW_POOLS)
    expected["old_style"]["include_deferred"] = False
    assert json.loads(out.read_text()) == expected
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object of pools, not list"),
        ('{"a": {"slots": 1}, "b": {"description": "no slots"}}', "Nothing imported: pool 'b' is invalid: expected"),
        ('{"a": {"slots": 1}, "b": {"slots": -3}}', "Nothing imported: pool 'b' is invalid: {'slots': ['Slots must be -1"),
        ('{"a": {"slots": 1, "colour": "red"}}', "Nothing imported: pool 'a' is invalid: unknown field(s) ['colour']"),
        ('{"a": {"slots": "many"}}', "Nothing imported: pool 'a' is invalid: {'slots': ['Not a valid integer.']}"),
    ],
)
def test_malformed_pools_file_changes_nothing(app, runner, tmp_path, text, message):
    result = run(runner, "pools", "import", write(tmp_path, "bad.json", text), code=1)
    assert message in result.output
    assert rows(app, Pool.pool) == [("default_pool",)]


def test_import_of_a_missing_file(runner, tmp_path):
    assert "Cannot read" in run(runner, "pools", "import", tmp_path / "nope.json", code=1).output


# -- variables ---------------------------------------------------------------------------------------
def test_variables_set_get_list_delete(app, runner):
    run(runner, "variables", "set", "path/with/slashes", "value", "--description", "d")
    run(runner, "variables", "set", "conf", '{"b": 1,  "a": [1]}', "-j")
    assert rows(app, Variable.key, Variable.val, Variable.description) == [
        ("conf", '{"b": 1, "a": [1]}', None),
        ("path/with/slashes", "value", "d"),
    ]
    assert run(runner, "variables", "get", "path/with/slashes").output == "value\n"
    assert run(runner, "variables", "get", "conf", "-j").output == '{\n  "b": 1,\n  "a": [\n    1\n  ]\n}\n'
    assert run(runner, "variables", "get", "nope", "--default", "fallback").output == "fallback\n"
    assert run(runner, "variables", "get", "nope", code=1).output == "Error: Variable 'nope' does not exist\n"
    assert json.loads(run(runner, "variables", "list", "-o", "json").stdout) == [
        {"key": "conf"},
        {"key": "path/with/slashes"},
    ]
    run(runner, "variables", "delete", "conf")
    assert run(runner, "variables", "delete", "conf", code=1).output == "Error: Variable 'conf' does not exist\n"
    assert rows(app, Variable.key) == [("path/with/slashes",)]


def test_variables_set_rejects_bad_json(app, runner):
    assert run(runner, "variables", "set", "k", "{nope", "-j", code=1).output == "Error: VALUE is not valid JSON\n"
    assert rows(app, Variable.key) == []


def test_variables_import_airflow_file_and_export_it_back(app, runner, tmp_path):
    run(runner, "variables", "set", "greeting", "old")
    result = run(runner, "variables", "import", write(tmp_path, "vars.json", AIRFLOW_VARIABLES))
    assert result.stdout == "Variables: 3 created, 1 updated, 0 skipped\n"
    assert rows(app, Variable.key, Variable.val) == [
        ("config", '{"a": 1, "b": [1, 2]}'),
        ("count", "3"),
        ("greeting", "hello"),
        ("path/with/slashes", "ünïcödé"),
    ]
    out = tmp_path / "out.json"
    run(runner, "variables", "export", out)
    assert json.loads(out.read_text()) == json.loads(AIRFLOW_VARIABLES)


@pytest.mark.parametrize(
    ("action", "code", "output", "greeting"),
    [
        ("skip", 0, "Variables: 3 created, 0 updated, 1 skipped\n", "old"),
        ("fail", 1, "Error: Nothing imported: variable(s) exist already: greeting\n", "old"),
        ("overwrite", 0, "Variables: 3 created, 1 updated, 0 skipped\n", "hello"),
    ],
)
def test_variables_import_existing_keys(app, runner, tmp_path, action, code, output, greeting):
    run(runner, "variables", "set", "greeting", "old")
    path = write(tmp_path, "vars.json", AIRFLOW_VARIABLES)
    result = run(runner, "variables", "import", path, "-a", action, code=code)
    assert result.stdout if code == 0 else result.output == output
    stored = dict(rows(app, Variable.key, Variable.val))
    assert stored["greeting"] == greeting
    assert len(stored) == (1 if code else 4)


def test_malformed_variables_file_changes_nothing(app, runner, tmp_path):
    path = write(tmp_path, "bad.json", json.dumps({"ok": "v", "k" * 251: "too long a key"}))
    result = run(runner, "variables", "import", path, code=1)
    assert f"Nothing imported: variable '{'k' * 251}' is invalid" in result.output
    assert rows(app, Variable.key) == []


# -- connections -------------------------------------------------------------------------------------
def test_connections_set_get_list_delete(app, runner):
    assert run(runner, "connections", "set", "c1", "--conn-host", "h", code=1).output == (
        "Error: --conn-type is required for a new connection\n"
    )
    run(
        runner, "connections", "set", "c1", "--conn-type", "http", "--conn-host", "h", "--conn-password", "pw-123",
        "--conn-extra", '{"api_key": "k-123", "a": 1}',
    )
    run(runner, "connections", "set", "c1", "--conn-port", "8080")
    [row] = rows(app, Connection.conn_id, Connection.host, Connection.port, Connection.password)
    assert row[:3] == ("c1", "h", 8080)
    assert decrypt(row[3]) == "pw-123"
    shown = run(runner, "connections", "get", "c1", "-o", "json").stdout
    assert json.loads(shown) == [
        {
            "conn_id": "c1", "conn_type": "http", "description": None, "host": "h", "schema": None,
            "login": None, "port": 8080, "extra": '{"api_key": "***", "a": 1}',
        }
    ]
    listed = run(runner, "connections", "list").stdout
    assert listed.splitlines()[2].split() == ["c1", "http", "h", "8080"]
    for text in (shown, listed):
        assert "pw-123" not in text
        assert "k-123" not in text
    run(runner, "connections", "delete", "c1")
    assert run(runner, "connections", "delete", "c1", code=1).output == "Error: Connection 'c1' does not exist\n"


def test_connection_id_is_checked(app, runner):
    result = run(runner, "connections", "set", "bad id", "--conn-type", "http", code=1)
    assert "has to be made of alphanumeric characters" in result.output


def test_connections_import_airflow_file_and_export_it_back(app, runner, tmp_path):
    result = run(runner, "connections", "import", write(tmp_path, "conns.json", AIRFLOW_CONNECTIONS))
    assert result.stdout == "Connections: 2 created, 0 updated, 0 skipped\n"
    with app.app_context():
        stored = db.session.execute(select(Connection).where(Connection.conn_id == "my_postgres")).scalar()
        assert "s3cret-pw" not in stored.password
        assert decrypt(stored.password) == "s3cret-pw"
        assert decrypt(stored.extra) == '{"sslmode": "require", "token": "t0k"}'
    out = tmp_path / "out.json"
    run(runner, "connections", "export", out)
    assert json.loads(out.read_text()) == json.loads(AIRFLOW_CONNECTIONS)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_connections_import_skips_existing_unless_overwrite(app, runner, tmp_path):
    run(runner, "connections", "set", "my_postgres", "--conn-type", "postgres", "--conn-host", "old")
    path = write(tmp_path, "conns.json", AIRFLOW_CONNECTIONS)
    assert run(runner, "connections", "import", path).stdout == "Connections: 1 created, 0 updated, 1 skipped\n"
    assert rows(app, Connection.conn_id, Connection.host)[1] == ("my_postgres", "old")
    assert run(runner, "connections", "import", path, "--overwrite").stdout == (
        "Connections: 0 created, 2 updated, 0 skipped\n"
    )
    assert rows(app, Connection.conn_id, Connection.host)[1] == ("my_postgres", "db.example.com")


def test_connections_import_accepts_extra_as_an_object(app, runner, tmp_path):
    path = write(tmp_path, "c.json", json.dumps({"c": {"conn_type": "fs", "extra": {"path": "/data"}}}))
    run(runner, "connections", "import", path)
    [(token,)] = rows(app, Connection.extra)
    assert decrypt(token) == '{"path": "/data"}'


def test_connections_import_accepts_uris_as_airflow_does(app, runner, tmp_path):
    entries = {
        "pg": "postgresql://etl:p%40ss@db.example.com:5432/analytics?sslmode=require&token=t0k",
        "web": "google-cloud-platform://https://example.com/api",
        "raw": "http://h?__extra__=%7B%22a%22%3A+1%7D",
    }
    run(runner, "connections", "import", write(tmp_path, "uris.json", json.dumps(entries)))
    out = tmp_path / "out.json"
    run(runner, "connections", "export", out)
    assert json.loads(out.read_text()) == {
        "pg": {
            "conn_type": "postgres", "description": None, "extra": '{"sslmode": "require", "token": "t0k"}',
            "host": "db.example.com", "login": "etl", "password": "p@ss", "port": 5432, "schema": "analytics",
        },
        "raw": {
            "conn_type": "http", "description": None, "extra": '{"a": 1}', "host": "h", "login": None,
            "password": None, "port": None, "schema": "",
        },
        "web": {
            "conn_type": "google_cloud_platform", "description": None, "extra": None,
            "host": "https://example.com", "login": None, "password": None, "port": None, "schema": "api",
        },
    }


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"ok": {"conn_type": "http"}, "bad id": {"conn_type": "http"}}, "Nothing imported: connection 'bad id' is invalid: The key"),
        ({"c": "not a uri"}, "Nothing imported: connection 'c' is invalid: not a connection URI (type://"),
        ({"c": "x://u:pw@h://z"}, "Nothing imported: connection 'c' is invalid: not a connection URI (type://"),
        ({"c": 5}, "Nothing imported: connection 'c' is invalid: expected an object of connection fields or a URI"),
        ({"c": {"host": "h"}}, "Nothing imported: connection 'c' is invalid: {'conn_type': ['Missing data"),
        ({"c": {"conn_type": "http", "colour": 1}}, "Nothing imported: connection 'c' is invalid: {'colour': ['Unknown field.']}"),
    ],
)
def test_malformed_connections_file_changes_nothing(app, runner, tmp_path, entries, message):
    result = run(runner, "connections", "import", write(tmp_path, "bad.json", json.dumps(entries)), code=1)
    assert message in result.output
    assert rows(app, Connection.conn_id) == []


def test_large_import_is_one_transaction(app, runner, tmp_path):
    entries = {f"v{i:04d}": str(i) for i in range(1500)}
    assert run(runner, "variables", "import", write(tmp_path, "big.json", json.dumps(entries))).stdout == (
        "Variables: 1500 created, 0 updated, 0 skipped\n"
    )
    assert len(rows(app, Variable.key)) == 1500


# -- key rotation ------------------------------------------------------------------------------------
def test_rotate_fernet_key(app, runner, monkeypatch):
    run(runner, "connections", "set", "c1", "--conn-type", "http", "--conn-password", "pw", "--conn-extra", "{}")
    run(runner, "connections", "set", "c2", "--conn-type", "http")
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("STABLEFLOW__CORE__FERNET_KEY", f"{new_key},{FERNET_KEY}")
    assert run(runner, "rotate-fernet-key").output == "2 connections re-encrypted\n"
    [(_, password, extra), (_, none_password, none_extra)] = rows(
        app, Connection.conn_id, Connection.password, Connection.extra
    )
    assert decrypt(password, new_key) == "pw"
    assert decrypt(extra, new_key) == "{}"
    assert (none_password, none_extra) == (None, None)
    monkeypatch.setenv("STABLEFLOW__CORE__FERNET_KEY", new_key)
    assert json.loads(run(runner, "connections", "get", "c1", "-o", "json").stdout)[0]["extra"] == "{}"


def test_database_refusal_changes_nothing(app, runner, tmp_path, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def refuse():
        raise IntegrityError("INSERT ...", {"val": "s3cret"}, Exception("duplicate key value"))

    monkeypatch.setattr(db.session, "commit", refuse)
    path = write(tmp_path, "vars.json", json.dumps({"a": "s3cret"}))
    result = run(runner, "variables", "import", path, code=1)
    assert result.output.endswith("Error: Nothing imported: the database refused the import: duplicate key value\n")
    monkeypatch.undo()
    assert rows(app, Variable.key) == []
