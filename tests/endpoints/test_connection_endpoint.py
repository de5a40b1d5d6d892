"""/connections, /connections/{connection_id} and /connections/test."""
from __future__ import annotations

import http.server
import json
import logging
import socket
import sqlite3
import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import connection_check
from app.errors import TYPE_BY_STATUS
from app.extensions import db
from app.models import Connection, EventLog
from app.providers import PROVIDERS
from tests.conftest import FERNET_KEY, basic_auth, count_queries, database_url, make_app

PASSWORD = "hunter2-not-for-eyes"
EXTRA_SECRET = "tok-0123456789-secret"
EXTRA = json.dumps({"api_key": EXTRA_SECRET, "region": "eu", "nested": {"password": PASSWORD, "ok": 1}})
SHOWN_EXTRA = json.dumps({"api_key": "***", "region": "eu", "nested": {"password": "***", "ok": 1}})


def problem(status, detail, instance, title=None):
    titles = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    return {
        "detail": detail,
        "instance": instance,
        "status": status,
        "title": title or titles[status],
        "type": TYPE_BY_STATUS[status],
    }


def connection(connection_id="c1", **fields):
    body = {
        "connection_id": connection_id,
        "conn_type": "http",
        "description": None,
        "host": None,
        "login": None,
        "schema": None,
        "port": None,
    }
    body.update(fields)
    return body


def create(client, **fields):
    body = {"connection_id": "c1", "conn_type": "http", **fields}
    response = client.post("/api/v1/connections", json=body, headers=basic_auth("admin"))
    assert response.status_code == 200, response.json
    return response


def raw_row(app, conn_id="c1"):
    with app.app_context():
        return db.session.execute(select(Connection).where(Connection.conn_id == conn_id)).scalar()


def events(app):
    with app.app_context():
        return [tuple(r) for r in db.session.execute(select(EventLog.event, EventLog.extra).order_by(EventLog.id))]


class TestGetConnections:
    def test_list_items_carry_neither_extra_nor_password(self, client, admin_headers):
        create(client, host="h", port=80, login="l", password=PASSWORD, extra=EXTRA, description="d")
        response = client.get("/api/v1/connections", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {
            "connections": [connection(host="h", port=80, login="l", description="d")],
            "total_entries": 1,
        }

    @pytest.mark.parametrize(
        ("query", "ids"),
        [
            ("?limit=2", ["a", "b"]),
            ("?offset=1&limit=1", ["b"]),
            ("?order_by=-connection_id", ["c", "b", "a"]),
            ("?order_by=conn_type", ["b", "c", "a"]),
            ("?order_by=-port", ["a", "c", "b"]),
            ("?order_by=host&limit=0", ["c", "a", "b"]),
        ],
    )
    def test_paging_and_ordering(self, client, admin_headers, query, ids):
        for conn_id, conn_type, host, port in [("a", "z", "y", 3), ("b", "m", "z", 1), ("c", "n", "x", 2)]:
            body = {"connection_id": conn_id, "conn_type": conn_type, "host": host, "port": port}
            client.post("/api/v1/connections", json=body, headers=admin_headers)
        response = client.get(f"/api/v1/connections{query}", headers=admin_headers)
        assert [c["connection_id"] for c in response.json["connections"]] == ids
        assert response.json["total_entries"] == 3

    def test_unknown_order_by_is_400(self, client, admin_headers):
        response = client.get("/api/v1/connections?order_by=password", headers=admin_headers)
        assert response.json == problem(
            400,
            "Ordering with 'password' is disallowed or the attribute does not exist on the model",
            "/api/v1/connections",
        )

    def test_negative_limit_is_400(self, client, admin_headers):
        assert client.get("/api/v1/connections?limit=-1", headers=admin_headers).status_code == 400

    def test_query_count_is_constant(self, app, client, admin_headers):
        create(client, password=PASSWORD, extra=EXTRA)
        with count_queries(app) as small:
            client.get("/api/v1/connections", headers=admin_headers)
        for i in range(25):
            create(client, connection_id=f"c{i + 2}", password=PASSWORD, extra=EXTRA)
        with count_queries(app) as large:
            assert len(client.get("/api/v1/connections", headers=admin_headers).json["connections"]) == 26
        assert small.count == large.count


class TestGetConnection:
    def test_extra_is_masked_and_password_never_shown(self, client, admin_headers):
        create(client, host="h", password=PASSWORD, extra=EXTRA)
        response = client.get("/api/v1/connections/c1", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {**connection(host="h"), "extra": SHOWN_EXTRA}

    @pytest.mark.parametrize(("extra", "shown"), [(None, None), ("not json", "not json"), ("[1, 2]", "[1, 2]")])
    def test_extra_that_is_not_an_object(self, client, admin_headers, extra, shown):
        create(client, extra=extra)
        assert client.get("/api/v1/connections/c1", headers=admin_headers).json["extra"] == shown

    def test_masking_can_be_turned_off(self, client):
        create(client, extra=EXTRA)
        plain = make_app(core={"hide_sensitive_var_conn_fields": False}).test_client()
        assert plain.get("/api/v1/connections/c1", headers=basic_auth("admin")).json["extra"] == EXTRA

    def test_extra_sensitive_names_from_config(self, client):
        create(client, extra=json.dumps({"region": "eu", "tenant": "t1"}))
        custom = make_app(core={"sensitive_var_conn_names": "tenant"}).test_client()
        shown = custom.get("/api/v1/connections/c1", headers=basic_auth("admin")).json["extra"]
        assert shown == json.dumps({"region": "eu", "tenant": "***"})

    def test_not_found(self, client, admin_headers):
        response = client.get("/api/v1/connections/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(
            404,
            "The Connection with connection_id: `nope` was not found",
            "/api/v1/connections/nope",
            "Connection not found",
        )


class TestPostConnection:
    def test_creates_with_secrets_encrypted_at_rest(self, app, client):
        response = create(client, host="h", port=5432, login="me", schema="db", password=PASSWORD, extra=EXTRA)
        assert response.json == {**connection(host="h", port=5432, login="me", schema="db"), "extra": SHOWN_EXTRA}
        row = raw_row(app)
        assert PASSWORD not in row.password
        assert EXTRA_SECRET not in row.extra
        fernet = Fernet(FERNET_KEY.encode())
        assert fernet.decrypt(row.password.encode()).decode() == PASSWORD
        assert fernet.decrypt(row.extra.encode()).decode() == EXTRA

    def test_id_may_use_word_characters_dots_and_dashes(self, client):
        assert create(client, connection_id="my.conn-1_é").json["connection_id"] == "my.conn-1_é"

    def test_duplicate_is_409(self, app, client, admin_headers):
        create(client, host="first")
        response = client.post(
            "/api/v1/connections", json={"connection_id": "c1", "conn_type": "x"}, headers=admin_headers
        )
        assert response.status_code == 409
        assert response.json == problem(409, "Connection already exist. ID: c1", "/api/v1/connections")
        assert raw_row(app).host == "first"

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"connection_id": "c"}, "{'conn_type': ['Missing data for required field.']}"),
            ({"conn_type": "http"}, "{'connection_id': ['Missing data for required field.']}"),
            (
                {"connection_id": "bad id!", "conn_type": "http"},
                "The key 'bad id!' has to be made of alphanumeric characters, dashes, dots and underscores "
                "exclusively",
            ),
            ({"connection_id": "x" * 201, "conn_type": "http"}, "The key has to be less than 200 characters"),
            ({"connection_id": "c", "conn_type": "http", "nope": 1}, "{'nope': ['Unknown field.']}"),
            ({"connection_id": "c", "conn_type": "http", "port": "80"}, "'80' is not of type 'integer' - 'port'"),
        ],
    )
    def test_bad_body_is_400(self, app, client, admin_headers, body, detail):
        response = client.post("/api/v1/connections", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/connections")
        with app.app_context():
            assert db.session.execute(select(Connection)).first() is None

    def test_without_fernet_key_nothing_is_stored(self, app):
        # A server only starts without a key on SQLite (app/secrets_check.py); drop it afterwards so
        # the endpoint's own refusal is tested on every database.
        keyless_app = make_app()
        keyless_app.extensions["stableflow.conf"].set("core", "fernet_key", "")
        keyless = keyless_app.test_client()
        body = {"connection_id": "c1", "conn_type": "http", "password": PASSWORD}
        response = keyless.post("/api/v1/connections", json=body, headers=basic_auth("admin"))
        assert response.status_code == 500
        assert response.json["detail"].startswith("[core] fernet_key is not set")
        assert raw_row(app) is None


class TestPatchConnection:
    def test_without_mask_updates_the_fields_sent(self, app, client, admin_headers):
        create(client, host="h", login="l", password=PASSWORD)
        body = {"connection_id": "c1", "conn_type": "postgres", "port": 1, "password": "new-password"}
        response = client.patch("/api/v1/connections/c1", json=body, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {**connection(conn_type="postgres", host="h", login="l", port=1), "extra": None}
        assert Fernet(FERNET_KEY.encode()).decrypt(raw_row(app).password.encode()) == b"new-password"

    def test_mask_updates_only_masked_fields(self, app, client, admin_headers):
        create(client, host="h", login="l")
        body = {"host": "new-host", "login": "ignored"}
        response = client.patch("/api/v1/connections/c1?update_mask=host", json=body, headers=admin_headers)
        assert response.json == {**connection(host="new-host", login="l"), "extra": None}

    def test_sending_back_a_masked_extra_keeps_the_secrets(self, app, client, admin_headers):
        create(client, extra=EXTRA)
        shown = json.loads(client.get("/api/v1/connections/c1", headers=admin_headers).json["extra"])
        shown["region"] = "us"
        response = client.patch(
            "/api/v1/connections/c1?update_mask=extra", json={"extra": json.dumps(shown)}, headers=admin_headers
        )
        assert response.json["extra"] == SHOWN_EXTRA.replace('"eu"', '"us"')
        stored = json.loads(Fernet(FERNET_KEY.encode()).decrypt(raw_row(app).extra.encode()))
        assert stored == {"api_key": EXTRA_SECRET, "region": "us", "nested": {"password": PASSWORD, "ok": 1}}

    @pytest.mark.parametrize(
        ("query", "body", "detail"),
        [
            ("", {"connection_id": "other"}, "The connection_id cannot be updated."),
            ("?update_mask=host", {"connection_id": "other", "host": "x"}, "The connection_id cannot be updated."),
            ("?update_mask=connection_id", {"connection_id": "c1"}, "'connection_id' is unknown or cannot be updated."),
            ("?update_mask=nope", {"host": "x"}, "'nope' is unknown or cannot be updated."),
            ("?update_mask=login", {"host": "x"}, "'login' is in update_mask but not in the request body."),
            ("", {"nope": 1}, "{'nope': ['Unknown field.']}"),
        ],
    )
    def test_bad_request_changes_nothing(self, app, client, admin_headers, query, body, detail):
        create(client, host="h")
        response = client.patch(f"/api/v1/connections/c1{query}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/connections/c1")
        assert raw_row(app).host == "h"

    def test_not_found(self, client, admin_headers):
        response = client.patch("/api/v1/connections/nope", json={"host": "x"}, headers=admin_headers)
        assert response.status_code == 404
        assert response.json["detail"] == "The Connection with connection_id: `nope` was not found"


class TestDeleteConnection:
    def test_deletes(self, app, client, admin_headers):
        create(client)
        response = client.delete("/api/v1/connections/c1", headers=admin_headers)
        assert response.status_code == 204
        assert response.data == b""
        assert raw_row(app) is None
        assert events(app)[-1] == ("api.connection.delete", '{"connection_id": "c1"}')

    def test_not_found(self, client, admin_headers):
        response = client.delete("/api/v1/connections/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(
            404,
            "The Connection with connection_id: `nope` was not found",
            "/api/v1/connections/nope",
            "Connection not found",
        )


def test_secrets_never_reach_responses_logs_or_events(app, client, admin_headers, caplog):
    caplog.set_level(logging.DEBUG)
    texts = [
        create(client, password=PASSWORD, extra=EXTRA).get_data(as_text=True),
        client.get("/api/v1/connections", headers=admin_headers).get_data(as_text=True),
        client.get("/api/v1/connections/c1", headers=admin_headers).get_data(as_text=True),
        client.patch(
            "/api/v1/connections/c1", json={"password": PASSWORD, "extra": EXTRA}, headers=admin_headers
        ).get_data(as_text=True),
        client.patch(
            "/api/v1/connections/c1?update_mask=password", json={"password": PASSWORD}, headers=admin_headers
        ).get_data(as_text=True),
        client.get("/api/v1/eventLogs", headers=admin_headers).get_data(as_text=True),
    ]
    texts += [str(row) for row in events(app)] + [caplog.text]
    assert [event for event, _ in events(app)] == ["api.connection.create", "api.connection.edit", "api.connection.edit"]
    for text in texts:
        assert PASSWORD not in text
        assert EXTRA_SECRET not in text
    assert events(app)[0] == (
        "api.connection.create",
        '{"conn_type": "http", "connection_id": "c1", "extra": "***", "password": "***"}',
    )


# -- POST /connections/test --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def testing_app():
    return make_app(core={"test_connection": "Enabled"})


@pytest.fixture
def tester(testing_app):
    return testing_app.test_client()


def run_test(client, **fields):
    body = {"connection_id": "t", **fields}
    response = client.post("/api/v1/connections/test", json=body, headers=basic_auth("admin"))
    assert response.status_code == 200, response.json
    return response.json


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        if self.path == "/private" and not self.headers.get("Authorization"):
            self.send_response(401)
        else:
            self.send_response(200 if self.path in ("/", "/private") else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_testing_is_disabled_by_default(client, admin_headers):
    response = client.post("/api/v1/connections/test", json={"connection_id": "t", "conn_type": "http"}, headers=admin_headers)
    assert response.status_code == 403
    assert response.json == problem(
        403,
        "Testing connections is disabled on this server: set [core] test_connection = Enabled to allow it.",
        "/api/v1/connections/test",
    )


def test_http_head_succeeds(tester, http_port):
    url = f"http://127.0.0.1:{http_port}"
    assert run_test(tester, conn_type="http", host="127.0.0.1", port=http_port) == {
        "status": True,
        "message": f"Connection successfully tested: HEAD {url} answered HTTP 200",
    }


def test_http_sends_login_and_password(tester, http_port):
    host = f"http://127.0.0.1:{http_port}/private"
    assert run_test(tester, conn_type="http", host=host)["status"] is False
    assert run_test(tester, conn_type="http", host=host, login="u", password=PASSWORD)["status"] is True


def test_http_error_status_is_a_failure(tester, http_port):
    url = f"http://127.0.0.1:{http_port}/missing"
    assert run_test(tester, conn_type="http", host=url) == {
        "status": False,
        "message": f"HEAD {url} answered HTTP 404 Not Found",
    }


def test_unreachable_http(tester):
    port = closed_port()
    result = run_test(tester, conn_type="https", host="127.0.0.1", port=port, schema="http")
    assert result["status"] is False
    assert result["message"].startswith(f"HEAD http://127.0.0.1:{port} failed: ")


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"conn_type": "http", "host": "example.org"}, "http://example.org"),
        ({"conn_type": "https", "host": "example.org", "port": 8443}, "https://example.org:8443"),
        ({"conn_type": "http", "host": "example.org", "schema": "https"}, "https://example.org"),
        ({"conn_type": "http", "host": "http://example.org:81/x", "port": 9}, "http://example.org:81/x"),
        ({"conn_type": "HTTP", "host": "https://example.org/api", "port": 9}, "https://example.org:9/api"),
    ],
)
def test_http_url(fields, url):
    assert connection_check._http_url(fields) == url


def test_sqlite(tester, tmp_path):
    path = tmp_path / "ok.db"
    sqlite3.connect(path).close()
    (tmp_path / "junk.db").write_text("not a database at all, just text" * 100)
    assert run_test(tester, conn_type="sqlite", host=str(path)) == {"status": True, "message": "Connection successfully tested"}
    assert run_test(tester, conn_type="sqlite", host=str(tmp_path / "missing.db")) == {
        "status": False,
        "message": f"No SQLite database file at {tmp_path / 'missing.db'}",
    }
    junk = run_test(tester, conn_type="sqlite", host=str(tmp_path / "junk.db"))
    assert junk == {"status": False, "message": f"{tmp_path / 'junk.db'} cannot be read as a SQLite database: file is not a database"}
    assert not (tmp_path / "missing.db").exists()


def test_fs(tester, tmp_path):
    assert run_test(tester, conn_type="fs", extra=json.dumps({"path": str(tmp_path)})) == {
        "status": True,
        "message": f"Connection successfully tested: {tmp_path} exists",
    }
    assert run_test(tester, conn_type="fs", host=str(tmp_path / "nope")) == {
        "status": False,
        "message": f"The path {tmp_path / 'nope'} does not exist on the server.",
    }


def test_postgres_refusal_is_reported(tester):
    port = closed_port()
    result = run_test(tester, conn_type="postgres", host="127.0.0.1", port=port, login="u", password=PASSWORD)
    assert result["status"] is False
    assert result["message"].startswith("PostgreSQL refused the connection: ")
    assert PASSWORD not in result["message"]


@pytest.mark.skipif(not database_url().startswith("postgresql"), reason="needs the PostgreSQL test database")
def test_postgres_success(tester):
    from sqlalchemy.engine import make_url

    url = make_url(database_url())
    fields = {"host": url.host, "port": url.port, "login": url.username, "password": url.password, "schema": url.database}
    result = run_test(tester, conn_type="postgres", **{k: v for k, v in fields.items() if v is not None})
    assert result == {"status": True, "message": "Connection successfully tested"}


def test_unknown_type(tester):
    assert run_test(tester, conn_type="mysql") == {
        "status": False,
        "message": "Connections of type 'mysql' cannot be tested by stableflow; "
        "it tests fs, http, https, postgres, postgresql, sqlite.",
    }


def test_test_body_is_validated(tester):
    response = tester.post("/api/v1/connections/test", json={"conn_type": "http"}, headers=basic_auth("admin"))
    assert response.status_code == 400
    assert response.json["detail"] == "{'connection_id': ['Missing data for required field.']}"


def test_every_provider_connection_type_can_be_tested():
    assert {t for provider in PROVIDERS for t in provider.conn_types} == set(connection_check.CHECKS)


# -- access ------------------------------------------------------------------------------------------
OPERATIONS = [
    ("get", "/api/v1/connections", None),
    ("get", "/api/v1/connections/c1", None),
    ("post", "/api/v1/connections", {"connection_id": "c2", "conn_type": "http"}),
    ("patch", "/api/v1/connections/c1", {"host": "x"}),
    ("delete", "/api/v1/connections/c1", None),
    ("post", "/api/v1/connections/test", {"connection_id": "t", "conn_type": "fs"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_no_credentials_is_401(client, method, path, body):
    response = client.open(path, method=method.upper(), json=body)
    assert response.status_code == 401
    assert response.json["title"] == "Unauthorized"


@pytest.mark.parametrize("username", ["test_no_permissions", "viewer", "user"])
@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_permission_is_403(app, client, tester, method, path, body, username):
    create(client, host="h")
    response = tester.open(path, method=method.upper(), json=body, headers=basic_auth(username))
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert raw_row(app).host == "h"
    assert raw_row(app, "c2") is None
