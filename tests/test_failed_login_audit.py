"""Failed logins reach the audit log: who and from where, never the password tried."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import EventLog
from tests.conftest import basic_auth


def audit(app):
    with app.app_context():
        rows = db.session.execute(select(EventLog.event, EventLog.owner, EventLog.extra).order_by(EventLog.id))
        return [tuple(row) for row in rows]


def test_wrong_basic_auth_password_is_recorded(app, client):
    response = client.get("/api/v1/pools", headers=basic_auth("op", "wrong-guess-123"))
    assert response.status_code == 401
    assert audit(app) == [("failed_login", "op", '{"remote_addr": "127.0.0.1"}')]


def test_wrong_session_login_is_recorded(app, client):
    response = client.post("/auth/login", json={"username": "viewer", "password": "wrong-guess-123"})
    assert response.status_code == 401
    assert audit(app) == [("failed_login", "viewer", '{"remote_addr": "127.0.0.1"}')]


def test_unknown_user_and_success_are_not_failed_logins(app, client):
    client.get("/api/v1/pools", headers=basic_auth("nobody", "x"))
    client.get("/api/v1/pools", headers=basic_auth("admin"))
    assert audit(app) == []


def test_failed_logins_are_listed_for_admins(client):
    client.get("/api/v1/pools", headers=basic_auth("op", "wrong-guess-123"))
    body = client.get("/api/v1/eventLogs?event=failed_login", headers=basic_auth("admin")).json
    assert [(e["event"], e["owner"]) for e in body["event_logs"]] == [("failed_login", "op")]
    assert "wrong-guess-123" not in str(body)
