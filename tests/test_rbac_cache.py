"""Permissions cached per RBAC revision: every change to roles and permissions, from the API or from
raw SQL, is enforced on the next request, in-process and in every gunicorn worker, on SQLite and
PostgreSQL; a cached identity costs one query."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, select, text

from app.extensions import db, normalize_db_url
from app.models import RbacRevision
from tests.conftest import TEST_PASSWORD, basic_auth, count_queries
from tests.live import live_database_url, live_server

ROUNDS = 30  # sync workers take one connection each; enough requests reach both workers
READ_VARIABLES = {"action": {"name": "can_read"}, "resource": {"name": "Variables"}}
READ_POOLS = {"action": {"name": "can_read"}, "resource": {"name": "Pools"}}
POOL_READER = {"name": "PoolReader", "actions": [READ_VARIABLES, READ_POOLS]}
VARIABLE_READER = {"name": "PoolReader", "actions": [READ_VARIABLES]}
# The permission to read pools granted to / taken from PoolReader, as an operator's SQL would.
PERMISSION_ID = (
    "SELECT p.id FROM permissions p JOIN actions a ON a.id = p.action_id JOIN resources r ON r.id = p.resource_id "
    "WHERE a.name = 'can_read' AND r.name = 'Pools'"
)
ROLE_ID = "SELECT id FROM roles WHERE name = 'PoolReader'"
GRANT_SQL = f"INSERT INTO role_permissions (role_id, permission_id) VALUES (({ROLE_ID}), ({PERMISSION_ID}))"
REVOKE_SQL = f"DELETE FROM role_permissions WHERE role_id = ({ROLE_ID}) AND permission_id = ({PERMISSION_ID})"


def _revision(app) -> str:
    with app.app_context():
        revision = db.session.execute(select(RbacRevision.revision)).scalar_one()
        db.session.remove()
        return revision


def _sql(app, statement: str) -> None:
    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()
        db.session.remove()


def _pool_reader(client, admin_headers, role=POOL_READER) -> dict:
    """Role PoolReader as given (by default it may read pools), and user `pia` holding only it."""
    assert client.post("/api/v1/roles", json=role, headers=admin_headers).status_code == 200
    user = {
        "username": "pia", "password": TEST_PASSWORD, "email": "pia@example.com", "first_name": "Pia",
        "last_name": "Reader", "roles": [{"name": "PoolReader"}],
    }
    assert client.post("/api/v1/users", json=user, headers=admin_headers).status_code == 200
    return basic_auth("pia")


# -- the revision ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO actions (name) VALUES ('can_fly')",
        "UPDATE actions SET name = 'can_look' WHERE name = 'can_read'",
        "DELETE FROM actions WHERE name = 'can_delete'",
        "INSERT INTO resources (name) VALUES ('Kites')",
        "UPDATE resources SET name = 'Puddles' WHERE name = 'Pools'",
        "DELETE FROM resources WHERE name = 'Pools'",
        "INSERT INTO roles (name) VALUES ('Kiter')",
        "UPDATE roles SET name = 'Watcher' WHERE name = 'Viewer'",
        "DELETE FROM roles WHERE name = 'Viewer'",
        "UPDATE permissions SET action_id = action_id",
        "DELETE FROM permissions WHERE id = (SELECT MIN(id) FROM permissions)",
        "DELETE FROM role_permissions WHERE role_id = (SELECT id FROM roles WHERE name = 'Op')",
        "UPDATE role_permissions SET role_id = role_id",
        "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p "
        "WHERE r.name = 'Public' AND p.id = (SELECT MIN(id) FROM permissions)",
    ],
)
def test_any_change_to_the_rbac_tables_writes_a_new_revision(app, statement):
    before = _revision(app)
    _sql(app, statement)
    after = _revision(app)
    assert after != before
    assert len(after) == 32


def test_changes_elsewhere_keep_the_revision(app):
    before = _revision(app)
    _sql(app, "UPDATE users SET first_name = 'Someone' WHERE username = 'viewer'")
    _sql(app, "UPDATE slot_pool SET slots = 5 WHERE pool = 'default_pool'")
    assert _revision(app) == before


def test_a_rolled_back_change_keeps_the_revision(app):
    before = _revision(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM role_permissions"))
        assert db.session.execute(select(RbacRevision.revision)).scalar_one() != before
        db.session.rollback()
        db.session.remove()
    assert _revision(app) == before


# -- in-process ----------------------------------------------------------------------------------
def test_a_cached_identity_costs_one_query(app, client, admin_headers):
    client.post("/api/v1/variables", json={"key": "k", "value": "v"}, headers=admin_headers)
    assert client.get("/api/v1/variables/k", headers=admin_headers).status_code == 200
    with count_queries(app) as counter:
        response = client.get("/api/v1/variables/k", headers=admin_headers)
    assert response.status_code == 200
    # The user with its roles and the RBAC revision, then the variable.
    assert counter.count == 2


def test_a_new_revision_loads_the_permissions_once(app, client, admin_headers):
    assert client.get("/api/v1/pools", headers=admin_headers).status_code == 200
    _sql(app, "UPDATE roles SET name = name")
    counts = []
    for _ in range(2):
        with count_queries(app) as counter:
            assert client.get("/api/v1/pools", headers=admin_headers).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] + 1


def test_permission_added_or_role_deleted_by_api_is_enforced_on_the_next_request(client, admin_headers):
    # The API only adds permissions to a role (PATCH keeps the others, as in Airflow's); raw SQL
    # removes them (below).
    pia = _pool_reader(client, admin_headers, role=VARIABLE_READER)
    assert client.get("/api/v1/pools", headers=pia).status_code == 403
    granted = client.patch("/api/v1/roles/PoolReader", json=POOL_READER, headers=admin_headers)
    assert granted.status_code == 200
    assert client.get("/api/v1/pools", headers=pia).status_code == 200
    assert client.delete("/api/v1/roles/PoolReader", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/pools", headers=pia).status_code == 403


def test_permission_changed_by_raw_sql_is_enforced_on_the_next_request(app, client, admin_headers):
    pia = _pool_reader(client, admin_headers)
    assert client.get("/api/v1/pools", headers=pia).status_code == 200
    _sql(app, REVOKE_SQL)
    assert client.get("/api/v1/pools", headers=pia).status_code == 403
    _sql(app, GRANT_SQL)
    assert client.get("/api/v1/pools", headers=pia).status_code == 200


def test_role_change_of_a_user_is_enforced_on_the_next_request(client, admin_headers):
    pia = _pool_reader(client, admin_headers)
    assert client.get("/api/v1/pools", headers=pia).status_code == 200
    moved = client.patch(
        "/api/v1/users/pia?update_mask=roles", json={"roles": [{"name": "Public"}]}, headers=admin_headers
    )
    assert moved.status_code == 200
    assert client.get("/api/v1/pools", headers=pia).status_code == 403


def test_without_the_revision_row_nothing_is_cached_and_access_still_follows_the_tables(app, client, admin_headers):
    pia = _pool_reader(client, admin_headers)
    _sql(app, "DELETE FROM rbac_revision")
    assert client.get("/api/v1/pools", headers=pia).status_code == 200
    _sql(app, REVOKE_SQL)
    assert client.get("/api/v1/pools", headers=pia).status_code == 403


# -- under gunicorn, 2 workers ---------------------------------------------------------------------
def _statuses(server, auth) -> set[int]:
    return {requests.get(server.api + "/pools", auth=auth, timeout=10).status_code for _ in range(ROUNDS)}


def test_every_worker_enforces_a_permission_change_on_the_next_request(tmp_path):
    with live_server(tmp_path / "home", db_url=live_database_url("rbac_cache"), workers=2) as server:
        admin = server.session()
        assert admin.post(server.api + "/roles", json=VARIABLE_READER, timeout=10).status_code == 200
        server.cli("users", "create", "-u", "pia", "-e", "pia@example.com", "-f", "Pia", "-l", "Reader",
                   "-r", "PoolReader", "-p", TEST_PASSWORD)
        pia = ("pia", TEST_PASSWORD)
        assert _statuses(server, pia) == {403}  # both workers have cached the role's permissions

        assert admin.patch(server.api + "/roles/PoolReader", json=POOL_READER, timeout=10).status_code == 200
        assert _statuses(server, pia) == {200}

        engine = create_engine(normalize_db_url(server.env["STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
        try:
            with engine.begin() as conn:
                conn.execute(text(REVOKE_SQL))
            assert _statuses(server, pia) == {403}
            with engine.begin() as conn:
                conn.execute(text(GRANT_SQL))
            assert _statuses(server, pia) == {200}
        finally:
            engine.dispose()

        assert admin.delete(server.api + "/roles/PoolReader", timeout=10).status_code == 204
        assert _statuses(server, pia) == {403}
