"""Hostile input: every case is a 4xx problem document and changes no stored row.

"Stored data" is every table but the audit log (a refused write is still recorded there, as in
Airflow), compared row by row before and after. The cases run on the backend of the test run, so
the PostgreSQL run proves that nothing reaches the database as an error there either.
"""
from __future__ import annotations

import contextlib
import json
import re

import pytest
import yaml
from itsdangerous import URLSafeSerializer

from app.extensions import db
from app.paths import spec_path
from app.request_guards import MAX_JSON_DEPTH
from app.snapshot import take_snapshot
from tests.conftest import make_app
from tests.runs.helpers import dag_folder, dags, run_try, trigger  # noqa: F401

API = "/api/v1"
SPEC = yaml.safe_load(spec_path().read_text())
METHODS = ("get", "post", "patch", "put", "delete")
INT32_MAX = 2**31 - 1
PROBLEM_KEYS = {"detail", "instance", "status", "title", "type"}
# Path parameters typed integer in the spec.
INTEGER_PARAMS = {"map_index", "task_try_number", "event_log_id", "import_error_id"}


def _resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _params(path: str, method: str) -> list[dict]:
    item = SPEC["paths"][path]
    return [_resolve(p) for p in item.get("parameters", []) + item[method].get("parameters", [])]


def concrete(path: str) -> str:
    """The path with every template filled: `1` for integers, `x` for strings."""
    return re.sub(r"{(\w+)}", lambda m: "1" if m.group(1) in INTEGER_PARAMS else "x", path)


OPERATIONS = [(method, path) for path, item in SPEC["paths"].items() for method in item if method in METHODS]
BODY_OPERATIONS = [(m, p) for m, p in OPERATIONS if "requestBody" in SPEC["paths"][p][m]]
BODY_IDS = [f"{m.upper()} {p}" for m, p in BODY_OPERATIONS]


def stored_rows(app) -> dict:
    with app.app_context():
        rows = take_snapshot(db.engine)
        db.session.remove()
    rows.pop("log")
    return rows


@contextlib.contextmanager
def unchanged(app, client, headers):
    # The caller's login bookkeeping (last_login) is written by this first request, not inside.
    assert client.get(f"{API}/version", headers=headers).status_code == 200
    client.get(f"{API}/pools", headers=headers)
    before = stored_rows(app)
    yield
    assert stored_rows(app) == before


def assert_problem(response, status: int | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == response.status_code
    return body


def send(client, method: str, path: str, headers: dict, **kwargs):
    return client.open(path, method=method.upper(), headers=headers, **kwargs)


# -- malformed bodies ---------------------------------------------------------------------------
MALFORMED = {
    "truncated": b'{"name": "p", "slots": ',
    "not_json": b"{name: p}",
    "invalid_utf8": b'{"name": "p\xff\xfe", "slots": 1}',
    "empty": b"",
    "trailing_garbage": b'{"name": "p", "slots": 1} trailing',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS, ids=BODY_IDS)
def test_malformed_json_is_a_problem_and_changes_nothing(app, client, admin_headers, method, path, body):
    with unchanged(app, client, admin_headers):
        response = send(client, method, API + concrete(path), admin_headers, data=body,
                        content_type="application/json")
        assert_problem(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS, ids=BODY_IDS)
def test_wrong_content_type_is_415(app, client, admin_headers, method, path, content_type):
    with unchanged(app, client, admin_headers):
        response = send(client, method, API + concrete(path), admin_headers, data=b'{"name": "p"}',
                        content_type=content_type)
        body = assert_problem(response, 415)
    assert body["detail"] == f"Invalid Content-type ({content_type}), expected JSON data"


def test_body_over_the_default_limit_is_413(app, client, admin_headers):
    limit = app.extensions["stableflow.conf"].getint("webserver", "max_content_length")
    assert limit == 10 * 1024 * 1024
    payload = json.dumps({"key": "big", "value": "x" * limit}).encode()
    with unchanged(app, client, admin_headers):
        body = assert_problem(client.post(f"{API}/variables", data=payload, headers=admin_headers,
                                          content_type="application/json"), 413)
    assert body["title"] == "Request Entity Too Large"


def test_configured_limit_applies_and_smaller_bodies_pass(admin_headers):
    app = make_app(webserver={"max_content_length": 200})
    client = app.test_client()
    with unchanged(app, client, admin_headers):
        assert_problem(client.post(f"{API}/pools", json={"name": "p", "slots": 1, "description": "d" * 300},
                                   headers=admin_headers), 413)
    assert client.post(f"{API}/pools", json={"name": "p", "slots": 1}, headers=admin_headers).status_code == 200


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 200_000])
def test_deeply_nested_json_is_400(app, client, admin_headers, depth):
    # Deeper than the JSON decoder can go is refused as well: built as text, not with json.dumps.
    text = '{"conf": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    with unchanged(app, client, admin_headers):
        body = assert_problem(client.post(f"{API}/dags/x/dagRuns", data=text, headers=admin_headers,
                                          content_type="application/json"), 400)
    assert body["detail"] == f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."


def test_nesting_up_to_the_limit_is_accepted(app, client, admin_headers, dags):  # noqa: F811
    conf = {"n": 1, "deep": nested(MAX_JSON_DEPTH - 1)}
    response = client.post(f"{API}/dags/pipeline/dagRuns", json={"dag_run_id": "deep", "conf": conf},
                           headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["conf"] == conf


# -- text no database stores ---------------------------------------------------------------------
UNSTORABLE_REQUESTS = [
    ("get", f"{API}/pools/a%00b", None),
    ("get", f"{API}/eventLogs?owner=a%00b", None),
    ("get", f"{API}/dags?dag_id_pattern=%00", None),
    ("post", f"{API}/variables", '{"key": "k", "value": "a\\u0000b"}'),
    ("post", f"{API}/variables", '{"key": "k\\u0000", "value": "v"}'),
    ("post", f"{API}/pools", '{"name": "p", "slots": 1, "description": "\\ud800"}'),
    ("post", f"{API}/connections", '{"connection_id": "c", "conn_type": "http", "extra": "{\\"\\udfff\\": 1}"}'),
    ("patch", f"{API}/users/admin", '{"first_name": "a\\u0000"}'),
]


@pytest.mark.parametrize(("method", "url", "body"), UNSTORABLE_REQUESTS)
def test_nul_and_unpaired_surrogates_are_400(app, client, admin_headers, method, url, body):
    with unchanged(app, client, admin_headers):
        response = send(client, method, url, admin_headers, data=body,
                        content_type="application/json" if body else None)
        detail = assert_problem(response, 400)["detail"]
    assert detail.endswith("contains a NUL character or an unpaired surrogate, which cannot be stored.")


def test_paired_surrogates_are_ordinary_text(client, admin_headers):
    response = client.post(f"{API}/variables", data='{"key": "emoji", "value": "\\ud83d\\ude00"}',
                           headers=admin_headers, content_type="application/json")
    assert response.status_code == 200
    assert client.get(f"{API}/variables/emoji", headers=admin_headers).get_json()["value"] == "\U0001f600"


# -- overlong ids and keys -----------------------------------------------------------------------
def long(n: int) -> str:
    return "x" * n


OVERLONG = [
    ("post", "/pools", {"name": long(257), "slots": 1}, "{'name': ['Length must be between 1 and 256.']}"),
    ("post", "/variables", {"key": long(251), "value": "v"}, "{'key': ['Length must be between 1 and 250.']}"),
    ("post", "/connections", {"connection_id": long(201), "conn_type": "http"},
     "The key has to be less than 200 characters"),
    ("post", "/connections", {"connection_id": "c", "conn_type": long(501)},
     "{'conn_type': ['Longer than maximum length 500.']}"),
    ("post", "/connections", {"connection_id": "c", "conn_type": "http", "host": long(501)},
     "{'host': ['Longer than maximum length 500.']}"),
    ("post", "/connections", {"connection_id": "c", "conn_type": "http", "schema": long(501)},
     "{'schema': ['Longer than maximum length 500.']}"),
    ("post", "/users", {"username": long(513), "email": "e@example.com", "first_name": "f", "last_name": "l",
                        "password": "p", "roles": []}, "{'username': ['Length must be between 1 and 512.']}"),
    ("post", "/users", {"username": "u", "email": long(513), "first_name": "f", "last_name": "l",
                        "password": "p", "roles": []}, "{'email': ['Length must be between 1 and 512.']}"),
    ("post", "/users", {"username": "u", "email": "e@example.com", "first_name": long(257), "last_name": "l",
                        "password": "p", "roles": []}, "{'first_name': ['Longer than maximum length 256.']}"),
    ("patch", "/users/admin?update_mask=last_name", {"last_name": long(257)},
     "{'last_name': ['Longer than maximum length 256.']}"),
    ("post", "/roles", {"name": long(65), "actions": []}, "{'name': ['Length must be between 1 and 64.']}"),
    ("patch", "/roles/Viewer?update_mask=name", {"name": long(65)},
     "{'name': ['Length must be between 1 and 64.']}"),
    ("post", "/dags/pipeline/dagRuns", {"dag_run_id": long(251)}, None),
    ("patch", "/dags/pipeline/dagRuns/run1/setNote", {"note": long(1001)}, None),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/extract/setNote", {"note": long(1001)}, None),
]


@pytest.mark.parametrize(("method", "path", "body", "detail"), OVERLONG,
                         ids=[f"{c[0]} {c[1]} {sorted(c[2])[0]}" for c in OVERLONG])
def test_values_longer_than_their_column_are_400(app, client, admin_headers, dags, method, path, body, detail):  # noqa: F811
    trigger(app)
    with unchanged(app, client, admin_headers):
        problem = assert_problem(send(client, method, API + path, admin_headers, json=body), 400)
    if detail is not None:
        assert problem["detail"] == detail


@pytest.mark.parametrize("path", ["/pools/{}", "/variables/{}", "/connections/{}", "/users/{}", "/roles/{}",
                                  "/dags/{}", "/dags/pipeline/dagRuns/{}", "/dags/{}/dagRuns/{}/taskInstances/{}"])
def test_overlong_ids_in_paths_are_404_not_errors(app, client, admin_headers, path):
    with unchanged(app, client, admin_headers):
        assert_problem(client.get(API + path.replace("{}", long(5000)), headers=admin_headers), 404)
        if path.count("{}") == 1 and not path.startswith("/dags/pipeline"):
            assert_problem(client.delete(API + path.replace("{}", long(5000)), headers=admin_headers), 404)


def test_refused_write_with_an_overlong_id_is_still_audited(app, client, admin_headers):
    from sqlalchemy import select

    from app.models import EventLog

    response = client.patch(f"{API}/dags/{long(600)}", json={"is_paused": True}, headers=admin_headers)
    assert_problem(response, 404)
    with app.app_context():
        entry = db.session.execute(select(EventLog).where(EventLog.event == "api.patch_dag")).scalar_one()
        assert entry.dag_id == long(250)
        db.session.remove()


# -- SQL meta-characters -------------------------------------------------------------------------
SQL_META = ["' OR '1'='1", "x'); DROP TABLE dag; --", '" OR ""="', "1; SELECT pg_sleep(5)", "\\", "%' --"]
STRING_QUERY_PARAMS = [
    (path, p["name"])
    for method, path in OPERATIONS
    if method == "get"
    for p in _params(path, method)
    if p["in"] == "query"
    and (_resolve(p["schema"]).get("type") == "string" and "format" not in _resolve(p["schema"])
         or _resolve(p["schema"]).get("type") == "array")
    and p["name"] != "order_by"
]


@pytest.mark.parametrize(("path", "name"), STRING_QUERY_PARAMS, ids=[f"{p} {n}" for p, n in STRING_QUERY_PARAMS])
def test_sql_meta_characters_in_filters_are_plain_values(app, client, admin_headers, dags, path, name):  # noqa: F811
    trigger(app)
    for value in SQL_META:
        with unchanged(app, client, admin_headers):
            response = client.get(API + path.replace("{dag_id}", "pipeline").replace("{dag_run_id}", "run1")
                                  .replace("{task_id}", "extract"), query_string={name: value}, headers=admin_headers)
            assert response.status_code < 500, response.get_json()
            if response.status_code == 200:
                body = response.get_json()
                # No row of ours contains these values: an injected condition would match them all.
                assert body.get("total_entries", 0) == 0 or name in ("fields",), (name, value, body)
            else:
                assert_problem(response)


def _is_text(schema: dict) -> bool:
    schema = _resolve(schema)
    return schema.get("type") == "string" and "format" not in schema


BATCH_LISTS = [path for method, path in BODY_OPERATIONS if method == "post" and path.endswith("/list")]
BATCH_TEXT_FIELDS = [
    (path, name, schema.get("type") == "array")
    for path in BATCH_LISTS
    for name, schema in _resolve(
        SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )["properties"].items()
    if _is_text(schema) or schema.get("type") == "array" and _resolve(schema["items"]).get("type") == "string"
]


@pytest.mark.parametrize(("path", "name", "is_array"), BATCH_TEXT_FIELDS,
                         ids=[f"{p} {n}" for p, n, _ in BATCH_TEXT_FIELDS])
def test_sql_meta_characters_in_batch_list_bodies_are_plain_values(app, client, admin_headers, dags, path, name,  # noqa: F811
                                                                   is_array):
    trigger(app)
    url = API + path
    # The unfiltered list has rows: an injected always-true condition would return them.
    assert client.post(url, json={}, headers=admin_headers).get_json()["total_entries"] > 0
    for value in SQL_META:
        with unchanged(app, client, admin_headers):
            response = client.post(url, json={name: [value] if is_array else value}, headers=admin_headers)
            assert response.status_code < 500, response.get_json()
            if response.status_code == 200:
                assert response.get_json()["total_entries"] == 0, (name, value, response.get_json())
            else:
                assert_problem(response)


ORDER_BY_PATHS = sorted({path for method, path in OPERATIONS if method == "get"
                         and any(p["name"] == "order_by" for p in _params(path, method))})


@pytest.mark.parametrize("path", ORDER_BY_PATHS)
@pytest.mark.parametrize("value", ["dag_id; DROP TABLE dag", "-id, (SELECT 1)", "1", "id desc", "'", "-"])
def test_sql_in_order_by_is_400(app, client, admin_headers, path, value):
    url = API + path.replace("{dag_id}", "x").replace("{dag_run_id}", "x").replace("{task_id}", "x")
    with unchanged(app, client, admin_headers):
        response = client.get(url, query_string={"order_by": value}, headers=admin_headers)
        body = assert_problem(response)
    if response.status_code == 400:
        assert "disallowed" in body["detail"] or "not" in body["detail"].lower(), body


@pytest.mark.parametrize(("pattern", "expected"), [
    ("pipe_ine", ["pipeline"]),   # `_` is LIKE's any-character, as in Airflow
    ("%", ["other", "pipeline"]),  # `%` too
    ("PIPE", ["pipeline"]),        # case-insensitive
    ("\\", []),                    # a backslash is literal (PostgreSQL's LIKE escape otherwise)
    ("\\%", []),
    ("'", []),
])
def test_dag_id_pattern_keeps_airflow_like_semantics(client, admin_headers, dags, pattern, expected):  # noqa: F811
    response = client.get(f"{API}/dags", query_string={"dag_id_pattern": pattern}, headers=admin_headers)
    assert response.status_code == 200
    assert [d["dag_id"] for d in response.get_json()["dags"]] == expected


# -- forged tokens and path tricks --------------------------------------------------------------
def forged_tokens(app) -> list[str]:
    fileloc = app.extensions["stableflow.conf"].get("core", "dags_folder") + "/pipeline.yaml"
    real = URLSafeSerializer(app.config["SECRET_KEY"]).dumps(fileloc)
    payload, signature = real.rsplit(".", 1)
    return [
        URLSafeSerializer("not-the-secret-key").dumps(fileloc),
        URLSafeSerializer("not-the-secret-key").dumps("/etc/passwd"),
        payload + "." + signature[::-1],
        URLSafeSerializer(app.config["SECRET_KEY"]).dumps({"log_pos": 0})[:-2] + "AA",
        "..%2F..%2Fetc%2Fpasswd",
    ]


def test_forged_file_tokens_name_no_file(app, client, admin_headers, dags):  # noqa: F811
    for token in forged_tokens(app):
        with unchanged(app, client, admin_headers):
            assert_problem(client.get(f"{API}/dagSources/{token}", headers={**admin_headers, "Accept": "text/plain"}), 404)
            assert_problem(client.put(f"{API}/parseDagFile/{token}", headers=admin_headers), 404)


def test_forged_log_continuation_tokens_are_400(app, client, admin_headers, dags):  # noqa: F811
    trigger(app)
    run_try(app, "pipeline", "run1", "extract")
    url = f"{API}/dags/pipeline/dagRuns/run1/taskInstances/extract/logs/1"
    assert client.get(url, headers=admin_headers).status_code == 200
    for token in forged_tokens(app)[:4]:
        body = assert_problem(client.get(url, query_string={"token": token}, headers=admin_headers), 400)
        assert body["title"] == "Bad Signature. Please use only the tokens provided by the API."
    # A genuine signature over something that is not log metadata is refused the same way.
    other = URLSafeSerializer(app.config["SECRET_KEY"]).dumps("a string")
    assert_problem(client.get(url, query_string={"token": other}, headers=admin_headers), 400)


PATH_TRICKS = [
    "/pools/..", "/pools/..%2F..%2Fvariables", "/variables/..%2Fconnections", "/variables/../connections/x",
    "/connections/%2E%2E", "/dags/..%2F..%2F..%2Fetc%2Fpasswd", "/dags/pipeline/dagRuns/..%2Frun1",
    "/dags/pipeline/dagRuns/run1/taskInstances/..%2F..%2F..%2F..%2Fetc/logs/1",
    "/dags/..%2F..%2F/dagRuns/..%2F..%2F/taskInstances/..%2F..%2F/logs/1",
    "/datasets/..%2F..%2Fetc%2Fpasswd", "/users/%2E%2E%2F%2E%2E%2Fadmin", "/roles/Admin%2F..%2FViewer",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
def test_path_tricks_in_ids_find_nothing(app, client, admin_headers, dags, path):  # noqa: F811
    trigger(app)
    run_try(app, "pipeline", "run1", "extract")
    with unchanged(app, client, admin_headers):
        response = client.get(API + path, headers=admin_headers)
        assert_problem(response, 404)
        assert "root:" not in response.get_data(as_text=True)


# -- integers out of range ----------------------------------------------------------------------
BIG = [2**31, 2**63, 2**64 + 1, -(2**63) - 1]
INTEGER_REQUESTS = [
    ("get", "/pools?limit={}", None),
    ("get", "/pools?offset={}", None),
    ("get", "/dags/~/dagRuns/~/taskInstances?limit={}", None),
    ("get", "/eventLogs?map_index={}", None),
    ("get", "/eventLogs/{}", None),
    ("get", "/importErrors/{}", None),
    ("get", "/datasets/events?source_map_index={}", None),
    ("get", "/datasets/events?dataset_id={}", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/{}", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/extract/logs/{}", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/extract/xcomEntries?map_index={}", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/extract/tries/{}", None),
    ("post", "/pools", '{{"name": "p", "slots": {}}}'),
    ("patch", "/pools/default_pool?update_mask=slots", '{{"name": "default_pool", "slots": {}}}'),
    ("post", "/connections", '{{"connection_id": "c", "conn_type": "http", "port": {}}}'),
    ("post", "/dags/~/dagRuns/list", '{{"page_limit": {}}}'),
    ("post", "/dags/~/dagRuns/~/taskInstances/list", '{{"page_offset": {}}}'),
]


def _out_of_range_cases():
    for method, url, body in INTEGER_REQUESTS:
        for number in BIG:
            # Negative limits, offsets and try numbers have rules of their own (paging tests).
            if number > 0 or not any(word in url for word in ("limit", "offset", "logs/")):
                yield pytest.param(method, url, body, number, id=f"{method} {url} {number}")


@pytest.mark.parametrize(("method", "url", "body", "number"), list(_out_of_range_cases()))
def test_integers_out_of_range_are_400(app, client, admin_headers, dags, method, url, body, number):  # noqa: F811
    trigger(app)
    with unchanged(app, client, admin_headers):
        response = send(client, method, API + url.format(number), admin_headers,
                        data=body.format(number) if body else None,
                        content_type="application/json" if body else None)
        detail = assert_problem(response, 400)["detail"]
    assert "maximum" in detail or "minimum" in detail, detail


def test_largest_int32_values_are_accepted(app, client, admin_headers):
    response = client.post(f"{API}/pools", json={"name": "huge", "slots": INT32_MAX}, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["slots"] == INT32_MAX
    assert client.get(f"{API}/pools?limit={INT32_MAX}&offset={INT32_MAX}", headers=admin_headers).status_code == 200


# -- dates without offsets, unknown enum values -------------------------------------------------
NAIVE = "2024-01-01T00:00:00"
NAIVE_REQUESTS = [
    ("get", f"/dags/~/dagRuns?execution_date_gte={NAIVE}", None),
    ("get", f"/dags/~/dagRuns/~/taskInstances?start_date_lte={NAIVE}", None),
    ("get", f"/eventLogs?before={NAIVE}", None),
    ("get", f"/dags/pipeline/datasets/queuedEvent?before={NAIVE}", None),
    ("get", "/dags/~/dagRuns?execution_date_gte=2024-01-01", None),
    ("get", "/dags/~/dagRuns?execution_date_gte=2024-01-01T00:00:00 00:00", None),
    ("post", "/dags/pipeline/dagRuns", {"dag_run_id": "naive", "logical_date": NAIVE}),
    ("post", "/dags/~/dagRuns/list", {"start_date_gte": NAIVE}),
    ("post", "/dags/pipeline/clearTaskInstances", {"dry_run": True, "start_date": NAIVE}),
]


@pytest.mark.parametrize(("method", "url", "body"), NAIVE_REQUESTS)
def test_dates_without_an_offset_are_400(app, client, admin_headers, dags, method, url, body):  # noqa: F811
    with unchanged(app, client, admin_headers):
        assert_problem(send(client, method, API + url, admin_headers, json=body), 400)


ENUM_REQUESTS = [
    ("patch", "/dags/pipeline/dagRuns/run1", {"state": "bogus"}),
    ("patch", "/dags/pipeline/dagRuns/run1", {"state": "running"}),
    ("post", "/dags/pipeline/updateTaskInstancesState",
     {"dry_run": False, "task_id": "extract", "dag_run_id": "run1", "new_state": "bogus"}),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/extract", {"dry_run": False, "new_state": "queued"}),
    ("post", "/dags/~/dagRuns/~/taskInstances/list", {"state": ["bogus"]}),
    ("get", "/dags/~/dagRuns/~/taskInstances?state=bogus", None),
    ("get", "/dags/pipeline/tasks?order_by=bogus", None),
    ("post", "/dags/pipeline/clearTaskInstances", {"dry_run": True, "dag_run_id": "run1", "reset_dag_runs": "yes"}),
]


@pytest.mark.parametrize(("method", "url", "body"), ENUM_REQUESTS)
def test_enum_values_that_do_not_exist_are_400(app, client, admin_headers, dags, method, url, body):  # noqa: F811
    trigger(app)
    with unchanged(app, client, admin_headers):
        assert_problem(send(client, method, API + url, admin_headers, json=body), 400)


def test_uri_pattern_backslash_is_literal_on_every_backend(client, admin_headers, dag_folder):  # noqa: F811
    dag_folder.process(producer="""\
        dag_id: producer
        tasks: [{task_id: t, outlets: ["file://share/back\\\\slash", "file://share/backslash"]}]
        """)
    response = client.get(f"{API}/datasets", query_string={"uri_pattern": "k\\s"}, headers=admin_headers)
    assert [d["uri"] for d in response.get_json()["datasets"]] == ["file://share/back\\slash"]
    response = client.get(f"{API}/datasets", query_string={"uri_pattern": "back_sl"}, headers=admin_headers)
    assert [d["uri"] for d in response.get_json()["datasets"]] == ["file://share/back\\slash"]
