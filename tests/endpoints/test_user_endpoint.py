"""/users and /users/{username}."""
from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import EventLog, User
from app.users import find_user
from tests.conftest import TEST_PASSWORD, basic_auth, count_queries

NAIVE_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?")
TIMESTAMPS = ("created_on", "changed_on", "last_login")


def _untimed(body: dict) -> dict:
    """The body without its timestamps, after checking they are naive ISO 8601 (or null)."""
    body = dict(body)
    for name in TIMESTAMPS:
        value = body.pop(name)
        assert value is None or NAIVE_ISO.fullmatch(value), (name, value)
    return body


def _user_row(app, username):
    with app.app_context():
        user = find_user(username)
        db.session.expunge_all()
        return user


def _new_user(**overrides) -> dict:
    payload = {
        "username": "jdoe",
        "email": "jdoe@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "password": "s3cret-pass",
        "roles": [{"name": "Viewer"}],
    }
    payload.update(overrides)
    return payload


def _created(client, admin_headers, **overrides) -> dict:
    response = client.post("/api/v1/users", json=_new_user(**overrides), headers=admin_headers)
    assert response.status_code == 200, response.json
    return response.json


def _problem(status: int, title: str, detail: str, instance: str, kind: str) -> dict:
    return {
        "detail": detail,
        "instance": instance,
        "status": status,
        "title": title,
        "type": f"https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/{kind}",
    }


def _audit(app, event):
    with app.app_context():
        return db.session.execute(select(EventLog).where(EventLog.event == event)).scalars().all()


class TestGetUser:
    def test_returns_the_user(self, app, client, admin_headers):
        response = client.get("/api/v1/users/viewer", headers=admin_headers)
        assert response.status_code == 200
        row = _user_row(app, "viewer")
        assert response.json == {
            "active": True,
            "changed_on": row.changed_on.replace(tzinfo=None).isoformat(),
            "created_on": row.created_on.replace(tzinfo=None).isoformat(),
            "email": "viewer@example.com",
            "fail_login_count": None,
            "first_name": "",
            "last_login": None,
            "last_name": "",
            "login_count": None,
            "roles": [{"name": "Viewer"}],
            "username": "viewer",
        }

    def test_unknown_user_is_404(self, client, admin_headers):
        response = client.get("/api/v1/users/nobody", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == _problem(
            404, "User not found", "The User with username `nobody` was not found", "/api/v1/users/nobody", "NotFound"
        )

    def test_no_credentials_is_401(self, client):
        assert client.get("/api/v1/users/viewer").status_code == 401

    def test_without_users_permission_is_403(self, client):
        assert client.get("/api/v1/users/viewer", headers=basic_auth("op")).status_code == 403


class TestGetUsers:
    def test_lists_by_id_with_total(self, client, admin_headers):
        response = client.get("/api/v1/users", headers=admin_headers)
        assert response.status_code == 200
        assert [u["username"] for u in response.json["users"]] == ["admin", "op", "user", "viewer", "test_no_permissions"]
        assert response.json["total_entries"] == 5
        assert "password" not in json.dumps(response.json)

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            ("username", ["admin", "op", "test_no_permissions", "user", "viewer"]),
            ("-username", ["viewer", "user", "test_no_permissions", "op", "admin"]),
            ("user_name", ["admin", "op", "test_no_permissions", "user", "viewer"]),
            ("-id", ["test_no_permissions", "viewer", "user", "op", "admin"]),
            ("-email", ["viewer", "user", "test_no_permissions", "op", "admin"]),
        ],
    )
    def test_order_by_both_directions(self, client, admin_headers, order_by, expected):
        response = client.get(f"/api/v1/users?order_by={order_by}", headers=admin_headers)
        assert response.status_code == 200
        assert [u["username"] for u in response.json["users"]] == expected

    def test_unknown_order_by_is_400(self, client, admin_headers):
        response = client.get("/api/v1/users?order_by=-password", headers=admin_headers)
        assert response.status_code == 400
        assert response.json == _problem(
            400,
            "Bad Request",
            "Ordering with 'password' is disallowed or the attribute does not exist on the model",
            "/api/v1/users",
            "BadRequest",
        )

    def test_limit_and_offset(self, client, admin_headers):
        response = client.get("/api/v1/users?limit=2&offset=1", headers=admin_headers)
        assert [u["username"] for u in response.json["users"]] == ["op", "user"]
        assert response.json["total_entries"] == 5

    def test_query_count_does_not_grow_with_the_page(self, app, client, admin_headers):
        client.get("/api/v1/users", headers=admin_headers)  # warm the credential cache
        with count_queries(app) as small:
            client.get("/api/v1/users?limit=1", headers=admin_headers)
        for n in range(20):
            _created(client, admin_headers, username=f"u{n}", email=f"u{n}@example.com",
                     roles=[{"name": "Viewer"}, {"name": "Op"}])
        with count_queries(app) as large:
            response = client.get("/api/v1/users?limit=25", headers=admin_headers)
        assert len(response.json["users"]) == 25
        assert large.count == small.count

    def test_no_credentials_is_401(self, client):
        assert client.get("/api/v1/users").status_code == 401

    def test_without_users_permission_is_403(self, client):
        assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403


class TestPostUser:
    def test_creates_the_user_without_echoing_the_password(self, app, client, admin_headers):
        response = client.post("/api/v1/users", json=_new_user(), headers=admin_headers)
        assert response.status_code == 200
        assert _untimed(response.json) == {
            "active": True,
            "email": "jdoe@example.com",
            "fail_login_count": None,
            "first_name": "Jane",
            "last_name": "Doe",
            "login_count": None,
            "roles": [{"name": "Viewer"}],
            "username": "jdoe",
        }
        assert response.json["last_login"] is None
        row = _user_row(app, "jdoe")
        assert row.password.startswith("scrypt:")
        assert "s3cret-pass" not in row.password
        assert client.get("/api/v1/pools", headers=basic_auth("jdoe", "s3cret-pass")).status_code != 401

    def test_without_roles_gets_public(self, client, admin_headers):
        body = _created(client, admin_headers, roles=[])
        assert body["roles"] == [{"name": "Public"}]
        assert _created(client, admin_headers, username="b", email="b@x")["roles"] == [{"name": "Viewer"}]

    def test_unknown_roles_are_400_and_create_nothing(self, app, client, admin_headers):
        payload = _new_user(roles=[{"name": "God"}, {"name": "User"}, {"name": "Overlord"}])
        response = client.post("/api/v1/users", json=payload, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == "Unknown roles: 'God', 'Overlord'"
        assert _user_row(app, "jdoe") is None

    @pytest.mark.parametrize(
        ("payload", "detail"),
        [
            ({"username": "x"}, "{'first_name': ['Missing data for required field.'], "
             "'last_name': ['Missing data for required field.'], 'email': ['Missing data for required field.']}"),
            ({**_new_user(), "i-am": "a typo"}, "{'i-am': ['Unknown field.']}"),
            ({**_new_user(), "roles": [{"also": "a typo", "name": "User"}]}, "{'roles': {0: {'also': ['Unknown field.']}}}"),
            ({**_new_user(), "active": False}, "Property is read-only - 'active'"),
            ({**_new_user(), "username": ""}, "'' should be non-empty - 'username'"),
        ],
    )
    def test_invalid_payload_is_400(self, client, admin_headers, payload, detail):
        response = client.post("/api/v1/users", json=payload, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail

    def test_duplicate_username_is_409(self, client, admin_headers):
        _created(client, admin_headers)
        response = client.post("/api/v1/users", json=_new_user(email="other@example.com"), headers=admin_headers)
        assert response.status_code == 409
        assert response.json == _problem(
            409, "Conflict", "Username `jdoe` already exists. Use PATCH to update.", "/api/v1/users", "AlreadyExists"
        )

    def test_duplicate_email_is_409(self, client, admin_headers):
        response = client.post("/api/v1/users", json=_new_user(email="admin@example.com"), headers=admin_headers)
        assert response.status_code == 409
        assert response.json["detail"] == "The email `admin@example.com` is already taken."

    def test_concurrent_creates_of_one_name_make_one_user(self, app, admin_headers):
        results = []

        def create(n):
            with app.test_client() as c:
                payload = _new_user(email=f"jdoe{n}@example.com")
                results.append(c.post("/api/v1/users", json=payload, headers=admin_headers).status_code)

        threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 409, 409, 409, 409, 409]

    def test_is_audited_without_the_password(self, app, client, admin_headers):
        _created(client, admin_headers)
        (entry,) = _audit(app, "api.post_user")
        assert entry.owner == "admin"
        assert "s3cret-pass" not in entry.extra
        assert json.loads(entry.extra)["password"] == "***"

    def test_no_credentials_is_401(self, client):
        assert client.post("/api/v1/users", json=_new_user()).status_code == 401

    def test_without_users_permission_is_403(self, client):
        assert client.post("/api/v1/users", json=_new_user(), headers=basic_auth("op")).status_code == 403


class TestPatchUser:
    def test_masked_fields_only(self, client, admin_headers):
        _created(client, admin_headers)
        response = client.patch(
            "/api/v1/users/jdoe?update_mask=first_name",
            json={"first_name": "Janet", "last_name": "Ignored"},
            headers=admin_headers,
        )
        assert response.status_code == 200
        assert _untimed(response.json) == {
            "active": True,
            "email": "jdoe@example.com",
            "fail_login_count": None,
            "first_name": "Janet",
            "last_name": "Doe",
            "login_count": None,
            "roles": [{"name": "Viewer"}],
            "username": "jdoe",
        }

    def test_without_mask_updates_every_given_field(self, client, admin_headers):
        _created(client, admin_headers)
        response = client.patch(
            "/api/v1/users/jdoe",
            json={"email": "new@example.com", "roles": [{"name": "Op"}, {"name": "User"}]},
            headers=admin_headers,
        )
        assert response.status_code == 200
        assert response.json["email"] == "new@example.com"
        assert response.json["roles"] == [{"name": "User"}, {"name": "Op"}]
        assert response.json["first_name"] == "Jane"

    def test_password_change_takes_effect_at_once(self, client, admin_headers):
        _created(client, admin_headers)
        old = basic_auth("jdoe", "s3cret-pass")
        assert client.get("/api/v1/roles", headers=old).status_code == 403  # known user, no rights
        response = client.patch("/api/v1/users/jdoe?update_mask=password", json={"password": "n3w"}, headers=admin_headers)
        assert response.status_code == 200
        assert "password" not in response.json
        assert client.get("/api/v1/roles", headers=old).status_code == 401
        assert client.get("/api/v1/roles", headers=basic_auth("jdoe", "n3w")).status_code == 403

    def test_rename(self, client, admin_headers):
        _created(client, admin_headers)
        response = client.patch("/api/v1/users/jdoe", json={"username": "janed"}, headers=admin_headers)
        assert response.json["username"] == "janed"
        assert client.get("/api/v1/users/jdoe", headers=admin_headers).status_code == 404

    @pytest.mark.parametrize(
        ("mask", "body", "detail"),
        [
            ("active", {"first_name": "x"}, "Unknown update masks: 'active'"),
            ("last_name", {"first_name": "x"}, "Unknown update masks: 'last_name'"),
        ],
    )
    def test_bad_mask_is_400(self, client, admin_headers, mask, body, detail):
        response = client.patch(f"/api/v1/users/viewer?update_mask={mask}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail

    def test_unknown_roles_are_400_and_change_nothing(self, app, client, admin_headers):
        response = client.patch(
            "/api/v1/users/viewer", json={"first_name": "V", "roles": [{"name": "Nope"}]}, headers=admin_headers
        )
        assert response.status_code == 400
        assert response.json["detail"] == "Unknown roles: 'Nope'"
        row = _user_row(app, "viewer")
        assert (row.first_name, [r.name for r in row.roles]) == ("", ["Viewer"])

    def test_taken_username_is_409(self, client, admin_headers):
        response = client.patch("/api/v1/users/viewer", json={"username": "op"}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json["detail"] == "The username `op` already exists"

    def test_taken_email_is_409(self, client, admin_headers):
        response = client.patch("/api/v1/users/viewer", json={"email": "op@example.com"}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json["detail"] == "The email `op@example.com` already exists"

    def test_unknown_user_is_404(self, client, admin_headers):
        response = client.patch("/api/v1/users/nobody", json={"first_name": "x"}, headers=admin_headers)
        assert response.status_code == 404
        assert response.json["title"] == "User not found"

    def test_is_audited_without_the_password(self, app, client, admin_headers):
        client.patch("/api/v1/users/viewer", json={"password": "hunter2"}, headers=admin_headers)
        (entry,) = _audit(app, "api.patch_user")
        assert "hunter2" not in entry.extra

    def test_no_credentials_is_401(self, client):
        assert client.patch("/api/v1/users/viewer", json={"first_name": "x"}).status_code == 401

    def test_without_users_permission_is_403(self, client):
        response = client.patch("/api/v1/users/viewer", json={"first_name": "x"}, headers=basic_auth("viewer"))
        assert response.status_code == 403


class TestDeleteUser:
    def test_deletes_and_locks_out_at_once(self, app, client, admin_headers):
        assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403
        response = client.delete("/api/v1/users/viewer", headers=admin_headers)
        assert response.status_code == 204
        assert response.data == b""
        assert _user_row(app, "viewer") is None
        assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 401
        assert [e.owner for e in _audit(app, "api.delete_user")] == ["admin"]

    def test_unknown_user_is_404(self, client, admin_headers):
        assert client.delete("/api/v1/users/nobody", headers=admin_headers).status_code == 404

    def test_no_credentials_is_401(self, client):
        assert client.delete("/api/v1/users/viewer").status_code == 401

    def test_without_users_permission_is_403(self, client):
        assert client.delete("/api/v1/users/viewer", headers=basic_auth("op")).status_code == 403


def test_inactive_user_is_401(app, client):
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403
    with app.app_context():
        db.session.execute(User.__table__.update().where(User.username == "viewer").values(active=False))
        db.session.commit()
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 401
    assert TEST_PASSWORD  # the same password that worked a moment ago
