"""/variables and /variables/{variable_key}."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.errors import TYPE_BY_STATUS
from app.extensions import db
from app.models import EventLog, Variable
from tests.conftest import basic_auth, count_queries

ODD_KEY = "team/ré→sumé ✓/日本"


def problem(status, detail, instance, title=None):
    titles = {400: "Bad Request", 404: "Not Found"}
    return {
        "detail": detail,
        "instance": instance,
        "status": status,
        "title": title or titles[status],
        "type": TYPE_BY_STATUS[status],
    }


def add_variables(app, *variables):
    with app.app_context():
        db.session.add_all(variables)
        db.session.commit()


def stored(app):
    with app.app_context():
        rows = db.session.execute(select(Variable.key, Variable.val, Variable.description).order_by(Variable.id))
        return [tuple(row) for row in rows]


def events(app):
    with app.app_context():
        return [tuple(r) for r in db.session.execute(select(EventLog.event, EventLog.owner, EventLog.extra))]


def url(key):
    return "/api/v1/variables/" + quote(key)


class TestGetVariables:
    def test_empty(self, client, admin_headers):
        response = client.get("/api/v1/variables", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"variables": [], "total_entries": 0}

    def test_lists_values_too(self, app, client, admin_headers):
        add_variables(app, Variable(key="a", val="1", description="first"), Variable(key="b", val="2"))
        response = client.get("/api/v1/variables", headers=admin_headers)
        assert response.json == {
            "variables": [
                {"key": "a", "value": "1", "description": "first"},
                {"key": "b", "value": "2", "description": None},
            ],
            "total_entries": 2,
        }

    @pytest.mark.parametrize(
        ("query", "keys"),
        [
            ("?limit=1", ["k1"]),
            ("?limit=2&offset=1", ["k2", "k3"]),
            ("?order_by=-key", ["k3", "k2", "k1"]),
            ("?order_by=value", ["k2", "k3", "k1"]),
            ("?order_by=-id&offset=2", ["k1"]),
        ],
    )
    def test_paging_and_ordering(self, app, client, admin_headers, query, keys):
        add_variables(app, Variable(key="k1", val="c"), Variable(key="k2", val="a"), Variable(key="k3", val="b"))
        response = client.get(f"/api/v1/variables{query}", headers=admin_headers)
        assert [v["key"] for v in response.json["variables"]] == keys
        assert response.json["total_entries"] == 3

    def test_unknown_order_by_is_400(self, client, admin_headers):
        response = client.get("/api/v1/variables?order_by=description", headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(
            400,
            "Ordering with 'description' is disallowed or the attribute does not exist on the model",
            "/api/v1/variables",
        )

    def test_negative_limit_is_400(self, client, admin_headers):
        response = client.get("/api/v1/variables?limit=-5", headers=admin_headers)
        assert response.json["title"] == "Page limit must be a positive integer"

    def test_query_count_is_constant(self, app, client, admin_headers):
        client.get("/api/v1/variables", headers=admin_headers)
        add_variables(app, Variable(key="one", val="1"))
        with count_queries(app) as small:
            client.get("/api/v1/variables", headers=admin_headers)
        add_variables(app, *[Variable(key=f"k{i}", val=str(i)) for i in range(40)])
        with count_queries(app) as large:
            assert len(client.get("/api/v1/variables", headers=admin_headers).json["variables"]) == 41
        assert small.count == large.count


class TestGetVariable:
    def test_key_with_slashes_and_unicode(self, app, client, admin_headers):
        add_variables(app, Variable(key=ODD_KEY, val="v", description="d"))
        response = client.get(url(ODD_KEY), headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"key": ODD_KEY, "value": "v", "description": "d"}

    def test_not_found(self, client, admin_headers):
        response = client.get("/api/v1/variables/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Variable does not exist", "/api/v1/variables/nope", "Variable not found")


class TestPostVariables:
    def test_creates(self, app, client, admin_headers):
        response = client.post("/api/v1/variables", json={"key": ODD_KEY, "value": "v"}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"key": ODD_KEY, "value": "v", "description": None}
        assert stored(app) == [(ODD_KEY, "v", None)]

    def test_is_an_upsert(self, app, client, admin_headers):
        add_variables(app, Variable(key="k", val="old", description="old description"))
        response = client.post("/api/v1/variables", json={"key": "k", "value": "new"}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"key": "k", "value": "new", "description": None}
        assert stored(app) == [("k", "new", None)]

    def test_value_is_stored_as_given(self, app, client, admin_headers):
        value = '{"a": [1, 2]}\n  spaced  '
        client.post("/api/v1/variables", json={"key": "k", "value": value, "description": "x"}, headers=admin_headers)
        assert stored(app) == [("k", value, "x")]

    def test_event_never_holds_the_value(self, app, client, admin_headers):
        client.post("/api/v1/variables", json={"key": "api_token", "value": "s3cr3t"}, headers=admin_headers)
        assert events(app) == [("api.variable.create", "admin", '{"key": "api_token"}')]

    @pytest.mark.parametrize(
        ("body", "title", "detail"),
        [
            ({"key": "k"}, "Invalid Variable schema", "{'value': ['Missing data for required field.']}"),
            ({"value": "v"}, "Invalid Variable schema", "{'key': ['Missing data for required field.']}"),
            ({"key": "k", "value": "v", "x": 1}, "Invalid Variable schema", "{'x': ['Unknown field.']}"),
            ({"key": "k" * 251, "value": "v"}, "Invalid Variable schema", "{'key': ['Length must be between 1 and 250.']}"),
            ({"key": "k", "value": 5}, "Bad Request", "5 is not of type 'string' - 'value'"),
        ],
    )
    def test_bad_body_is_400(self, app, client, admin_headers, body, title, detail):
        response = client.post("/api/v1/variables", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/variables", title)
        assert stored(app) == []


class TestPatchVariable:
    def test_without_mask_sets_value_and_description(self, app, client, admin_headers):
        add_variables(app, Variable(key=ODD_KEY, val="old", description="keep"))
        response = client.patch(url(ODD_KEY), json={"key": ODD_KEY, "value": "new"}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"key": ODD_KEY, "value": "new", "description": "keep"}
        assert stored(app) == [(ODD_KEY, "new", "keep")]

    def test_update_mask_value(self, app, client, admin_headers):
        add_variables(app, Variable(key="k", val="old", description="keep"))
        body = {"key": "k", "value": "new", "description": "ignored"}
        response = client.patch("/api/v1/variables/k?update_mask=value", json=body, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"key": "k", "value": "new", "description": "keep"}
        assert events(app) == [("api.variable.edit", "admin", '{"description": "ignored", "key": "k", "update_mask": "value"}')]

    def test_update_mask_description(self, app, client, admin_headers):
        add_variables(app, Variable(key="k", val="old"))
        body = {"key": "k", "value": "ignored", "description": "new"}
        response = client.patch("/api/v1/variables/k?update_mask=description", json=body, headers=admin_headers)
        assert response.json == {"key": "k", "value": "old", "description": "new"}

    @pytest.mark.parametrize(
        ("query", "body", "title", "detail"),
        [
            ("", {"key": "other", "value": "v"}, "Invalid post body", "key from request body doesn't match uri parameter"),
            ("", {"key": "k"}, "Invalid Variable schema", "{'value': ['Missing data for required field.']}"),
            ("?update_mask=key", {"key": "k", "value": "v"}, "Bad Request", "'key' is unknown or cannot be updated."),
            ("?update_mask=val", {"key": "k", "value": "v"}, "Bad Request", "'val' is unknown or cannot be updated."),
            (
                "?update_mask=description",
                {"key": "k", "value": "v"},
                "Bad Request",
                "'description' is in update_mask but not in the request body.",
            ),
        ],
    )
    def test_bad_request_changes_nothing(self, app, client, admin_headers, query, body, title, detail):
        add_variables(app, Variable(key="k", val="old"))
        response = client.patch(f"/api/v1/variables/k{query}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/variables/k", title)
        assert stored(app) == [("k", "old", None)]

    def test_not_found(self, client, admin_headers):
        response = client.patch("/api/v1/variables/k", json={"key": "k", "value": "v"}, headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Variable does not exist", "/api/v1/variables/k", "Variable not found")


class TestDeleteVariable:
    def test_deletes(self, app, client, admin_headers):
        add_variables(app, Variable(key=ODD_KEY, val="v"), Variable(key="other", val="w"))
        response = client.delete(url(ODD_KEY), headers=admin_headers)
        assert response.status_code == 204
        assert response.data == b""
        assert stored(app) == [("other", "w", None)]
        assert events(app) == [("api.variable.delete", "admin", '{"key": "team/r\\u00e9\\u2192sum\\u00e9 \\u2713/\\u65e5\\u672c"}')]

    def test_not_found(self, client, admin_headers):
        response = client.delete("/api/v1/variables/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Variable does not exist", "/api/v1/variables/nope", "Variable not found")


OPERATIONS = [
    ("get", "/api/v1/variables", None),
    ("get", "/api/v1/variables/k", None),
    ("post", "/api/v1/variables", {"key": "k", "value": "new"}),
    ("patch", "/api/v1/variables/k", {"key": "k", "value": "new"}),
    ("delete", "/api/v1/variables/k", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_no_credentials_is_401(client, method, path, body):
    response = client.open(path, method=method.upper(), json=body)
    assert response.status_code == 401
    assert response.json["title"] == "Unauthorized"


@pytest.mark.parametrize("username", ["test_no_permissions", "viewer", "user"])
@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_permission_is_403(app, client, method, path, body, username):
    add_variables(app, Variable(key="k", val="old"))
    response = client.open(path, method=method.upper(), json=body, headers=basic_auth(username))
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert stored(app) == [("k", "old", None)]
