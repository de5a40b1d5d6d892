"""/roles, /roles/{role_name} and /permissions."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import EventLog, Role
from app.rbac import DEFAULT_ROLES
from tests.conftest import basic_auth, count_queries

DOC = "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/"


def _pair(action: str, resource: str) -> dict:
    return {"action": {"name": action}, "resource": {"name": resource}}


def _role(client, admin_headers, name="Auditor", actions=None) -> dict:
    actions = [_pair("can_read", "Audit Logs")] if actions is None else actions
    response = client.post("/api/v1/roles", json={"name": name, "actions": actions}, headers=admin_headers)
    assert response.status_code == 200, response.json
    return response.json


def _stored(app, name):
    with app.app_context():
        role = db.session.execute(select(Role).where(Role.name == name)).scalar()
        return None if role is None else sorted((p.action.name, p.resource.name) for p in role.permissions)


class TestGetRole:
    def test_returns_the_role_with_its_permissions(self, client, admin_headers):
        response = client.get("/api/v1/roles/Viewer", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {
            "actions": [_pair(a, r) for a, r in dict.fromkeys(DEFAULT_ROLES["Viewer"])],
            "name": "Viewer",
        }

    def test_unknown_role_is_404(self, client, admin_headers):
        response = client.get("/api/v1/roles/Nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == {
            "detail": "Role with name 'Nope' was not found",
            "instance": "/api/v1/roles/Nope",
            "status": 404,
            "title": "Role not found",
            "type": DOC + "NotFound",
        }

    def test_no_credentials_is_401(self, client):
        assert client.get("/api/v1/roles/Viewer").status_code == 401

    def test_without_roles_permission_is_403(self, client):
        assert client.get("/api/v1/roles/Viewer", headers=basic_auth("op")).status_code == 403


class TestGetRoles:
    def test_lists_by_name(self, client, admin_headers):
        response = client.get("/api/v1/roles", headers=admin_headers)
        assert response.status_code == 200
        assert [r["name"] for r in response.json["roles"]] == ["Admin", "Op", "Public", "User", "Viewer"]
        assert response.json["total_entries"] == 5
        assert response.json["roles"][2] == {"actions": [], "name": "Public"}

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            ("-name", ["Viewer", "User", "Public", "Op", "Admin"]),
            ("role_id", ["Public", "Viewer", "User", "Op", "Admin"]),
            ("-role_id", ["Admin", "Op", "User", "Viewer", "Public"]),
        ],
    )
    def test_order_by_both_directions(self, client, admin_headers, order_by, expected):
        response = client.get(f"/api/v1/roles?order_by={order_by}", headers=admin_headers)
        assert [r["name"] for r in response.json["roles"]] == expected

    def test_unknown_order_by_is_400(self, client, admin_headers):
        response = client.get("/api/v1/roles?order_by=id", headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == "Ordering with 'id' is disallowed or the attribute does not exist on the model"

    def test_limit_and_offset(self, client, admin_headers):
        response = client.get("/api/v1/roles?limit=2&offset=3", headers=admin_headers)
        assert [r["name"] for r in response.json["roles"]] == ["User", "Viewer"]
        assert response.json["total_entries"] == 5

    def test_query_count_does_not_grow_with_the_page(self, app, client, admin_headers):
        client.get("/api/v1/roles", headers=admin_headers)
        with count_queries(app) as small:
            client.get("/api/v1/roles?limit=1", headers=admin_headers)
        with count_queries(app) as large:
            response = client.get("/api/v1/roles?limit=5", headers=admin_headers)
        assert len(response.json["roles"]) == 5
        assert large.count == small.count

    def test_no_credentials_is_401(self, client):
        assert client.get("/api/v1/roles").status_code == 401

    def test_without_roles_permission_is_403(self, client):
        assert client.get("/api/v1/roles", headers=basic_auth("viewer")).status_code == 403


class TestPostRole:
    def test_creates_and_answers_the_role(self, app, client, admin_headers):
        actions = [_pair("can_read", "Audit Logs"), _pair("can_read", "DAG:etl"), _pair("can_create", "DAG Run:etl")]
        response = client.post("/api/v1/roles", json={"name": "Auditor", "actions": actions}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"actions": actions, "name": "Auditor"}
        assert _stored(app, "Auditor") == [("can_create", "DAG Run:etl"), ("can_read", "Audit Logs"), ("can_read", "DAG:etl")]

    def test_without_actions_creates_an_empty_role(self, client, admin_headers):
        response = client.post("/api/v1/roles", json={"name": "Empty"}, headers=admin_headers)
        assert response.json == {"actions": [], "name": "Empty"}

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"name": "R", "actions": [_pair("can_fly", "Pools")]}, "The specified action: 'can_fly' was not found"),
            ({"name": "R", "actions": [_pair("can_read", "Spaceships")]}, "The specified resource: 'Spaceships' was not found"),
            ({"name": "R", "actions": [_pair("can_read", "DAG:")]}, "The specified resource: 'DAG:' was not found"),
            ({"actions": []}, "{'name': ['Missing data for required field.']}"),
            ({"name": "R", "actionss": []}, "{'actionss': ['Unknown field.']}"),
            ({"name": ""}, "'' should be non-empty - 'name'"),
        ],
    )
    def test_invalid_body_is_400_and_creates_nothing(self, app, client, admin_headers, body, detail):
        response = client.post("/api/v1/roles", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail
        assert _stored(app, "R") is None

    def test_duplicate_is_409(self, client, admin_headers):
        response = client.post("/api/v1/roles", json={"name": "Viewer", "actions": []}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json == {
            "detail": "Role with name 'Viewer' already exists; please update with the PATCH endpoint",
            "instance": "/api/v1/roles",
            "status": 409,
            "title": "Conflict",
            "type": DOC + "AlreadyExists",
        }

    def test_is_audited(self, app, client, admin_headers):
        _role(client, admin_headers)
        with app.app_context():
            owners = db.session.scalars(select(EventLog.owner).where(EventLog.event == "api.post_role")).all()
        assert owners == ["admin"]

    def test_no_credentials_is_401(self, client):
        assert client.post("/api/v1/roles", json={"name": "R"}).status_code == 401

    def test_without_roles_permission_is_403(self, client):
        assert client.post("/api/v1/roles", json={"name": "R"}, headers=basic_auth("op")).status_code == 403


class TestPatchRole:
    def test_adds_permissions_and_keeps_existing_ones(self, app, client, admin_headers):
        _role(client, admin_headers)
        response = client.patch(
            "/api/v1/roles/Auditor", json={"actions": [_pair("can_read", "Pools")]}, headers=admin_headers
        )
        assert response.status_code == 200
        # Permissions are listed in the order they were first defined: Pools' before Audit Logs'.
        assert response.json == {
            "actions": [_pair("can_read", "Pools"), _pair("can_read", "Audit Logs")],
            "name": "Auditor",
        }

    def test_rename_with_mask_ignores_actions(self, app, client, admin_headers):
        _role(client, admin_headers)
        response = client.patch(
            "/api/v1/roles/Auditor?update_mask=name",
            json={"name": "Inspector", "actions": [_pair("can_read", "Pools")]},
            headers=admin_headers,
        )
        assert response.json == {"actions": [_pair("can_read", "Audit Logs")], "name": "Inspector"}
        assert _stored(app, "Auditor") is None

    @pytest.mark.parametrize(
        ("mask", "body", "detail"),
        [
            ("permissions", {"name": "X"}, "'permissions' in update_mask is unknown"),
            ("actions", {"name": "X"}, "'actions' in update_mask is unknown"),
        ],
    )
    def test_bad_mask_is_400(self, client, admin_headers, mask, body, detail):
        response = client.patch(f"/api/v1/roles/Viewer?update_mask={mask}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail

    def test_unknown_action_is_400_and_changes_nothing(self, app, client, admin_headers):
        _role(client, admin_headers)
        response = client.patch(
            "/api/v1/roles/Auditor",
            json={"name": "Renamed", "actions": [_pair("can_read", "Pools"), _pair("can_fly", "Pools")]},
            headers=admin_headers,
        )
        assert response.status_code == 400
        assert _stored(app, "Auditor") == [("can_read", "Audit Logs")]

    def test_rename_to_existing_is_409(self, client, admin_headers):
        response = client.patch("/api/v1/roles/Op", json={"name": "Viewer"}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json["detail"] == "Role with name 'Viewer' already exists"

    def test_unknown_role_is_404(self, client, admin_headers):
        assert client.patch("/api/v1/roles/Nope", json={"name": "X"}, headers=admin_headers).status_code == 404

    def test_no_credentials_is_401(self, client):
        assert client.patch("/api/v1/roles/Op", json={"name": "X"}).status_code == 401

    def test_without_roles_permission_is_403(self, client):
        assert client.patch("/api/v1/roles/Op", json={"name": "X"}, headers=basic_auth("op")).status_code == 403


class TestDeleteRole:
    def test_deletes_and_users_lose_it(self, app, client, admin_headers):
        _role(client, admin_headers, actions=[_pair("can_read", "Users")])
        client.patch("/api/v1/users/viewer", json={"roles": [{"name": "Viewer"}, {"name": "Auditor"}]}, headers=admin_headers)
        assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 200
        response = client.delete("/api/v1/roles/Auditor", headers=admin_headers)
        assert response.status_code == 204
        assert _stored(app, "Auditor") is None
        assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403
        assert client.get("/api/v1/users/viewer", headers=admin_headers).json["roles"] == [{"name": "Viewer"}]

    def test_unknown_role_is_404(self, client, admin_headers):
        assert client.delete("/api/v1/roles/Nope", headers=admin_headers).status_code == 404

    def test_no_credentials_is_401(self, client):
        assert client.delete("/api/v1/roles/Op").status_code == 401

    def test_without_roles_permission_is_403(self, client):
        assert client.delete("/api/v1/roles/Op", headers=basic_auth("op")).status_code == 403


class TestGetPermissions:
    def test_lists_actions(self, client, admin_headers):
        response = client.get("/api/v1/permissions", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {
            "actions": [{"name": n} for n in ("can_read", "can_edit", "menu_access", "can_delete", "can_create")],
            "total_entries": 5,
        }

    def test_limit_and_offset(self, client, admin_headers):
        response = client.get("/api/v1/permissions?limit=1&offset=1", headers=admin_headers)
        assert response.json == {"actions": [{"name": "can_edit"}], "total_entries": 5}

    def test_query_count_does_not_grow_with_the_page(self, app, client, admin_headers):
        client.get("/api/v1/permissions", headers=admin_headers)
        with count_queries(app) as small:
            client.get("/api/v1/permissions?limit=1", headers=admin_headers)
        with count_queries(app) as large:
            client.get("/api/v1/permissions?limit=5", headers=admin_headers)
        assert large.count == small.count

    def test_no_credentials_is_401(self, client):
        assert client.get("/api/v1/permissions").status_code == 401

    def test_without_permissions_permission_is_403(self, client):
        assert client.get("/api/v1/permissions", headers=basic_auth("op")).status_code == 403
