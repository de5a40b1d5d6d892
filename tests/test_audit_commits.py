"""The audit entry of a write rides on the handler's commit; a request that commits nothing of its
own still gets its entry."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, select

from app.audit import action_logging
from app.extensions import db
from app.models import EventLog, Variable


@contextlib.contextmanager
def count_commits(app):
    commits = []
    with app.app_context():
        engine = db.engine
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", listener)


def events(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(select(EventLog.event, EventLog.owner).order_by(EventLog.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_a_write_and_its_entry_are_one_commit(app, client, admin_headers):
    client.get("/api/v1/pools", headers=admin_headers)  # the first login of the test writes last_login
    with count_commits(app) as commits:
        response = client.post("/api/v1/variables", json={"key": "k", "value": "v"}, headers=admin_headers)
    assert response.status_code == 200
    assert len(commits) == 1
    assert events(app) == [("api.variable.create", "admin")]


def test_a_refused_write_still_records_its_entry(app, client, admin_headers):
    client.post("/api/v1/pools", json={"name": "p", "slots": 1}, headers=admin_headers)
    duplicate = client.post("/api/v1/pools", json={"name": "p", "slots": 2}, headers=admin_headers)
    missing = client.delete("/api/v1/pools/nope", headers=admin_headers)
    bad = client.patch("/api/v1/variables/k", json={"key": "other", "value": "v"}, headers=admin_headers)
    assert (duplicate.status_code, missing.status_code, bad.status_code) == (409, 404, 400)
    assert events(app) == [
        ("api.post_pool", "admin"), ("api.post_pool", "admin"), ("api.delete_pool", "admin"),
        ("api.variable.edit", "admin"),
    ]


def _savepoint_handler(flush_first: bool):
    @action_logging("api.savepoint_test")
    def handler():
        if flush_first:
            db.session.add(Variable(key="kept", val="1"))
            db.session.flush()
        nested = db.session.begin_nested()
        db.session.add(Variable(key="dropped", val="2"))
        db.session.flush()
        nested.rollback()
        db.session.add(Variable(key="after", val="3"))
        db.session.commit()

    return handler


@pytest.mark.parametrize(("flush_first", "kept"), [(True, ["after", "kept"]), (False, ["after"])])
def test_an_entry_survives_savepoints_once(app, flush_first, kept):
    with app.test_request_context("/api/v1/savepoint"):
        _savepoint_handler(flush_first)()
        db.session.remove()
    with app.app_context():
        assert db.session.execute(select(Variable.key).order_by(Variable.key)).scalars().all() == kept
        db.session.remove()
    assert events(app) == [("api.savepoint_test", "anonymous")]


def test_a_handler_that_commits_nothing_gets_its_entry_alone(app):
    @action_logging("api.nothing_test")
    def handler():
        db.session.add(Variable(key="uncommitted", val="1"))
        return "answer"

    with app.test_request_context("/api/v1/nothing"):
        assert handler() == "answer"
        db.session.remove()
    with app.app_context():
        assert db.session.execute(select(Variable.key)).scalars().all() == []
        db.session.remove()
    assert events(app) == [("api.nothing_test", "anonymous")]
