"""/eventLogs and /eventLogs/{event_log_id}: filters, ordering, paging, audit-log permission."""
from __future__ import annotations

import datetime as dt

import pytest

from app.errors import TYPE_BY_STATUS
from app.extensions import db
from app.models import EventLog
from tests.conftest import basic_auth, count_queries

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def add_events(app):
    rows = [
        EventLog(dttm=T0, event="api.post_pool", owner="admin", extra='{"name": "p"}'),
        EventLog(dttm=T0 + dt.timedelta(hours=1), event="trigger", owner="op", dag_id="d1", run_id="r1",
                 task_id="t1", map_index=0, try_number=1, execution_date=T0),
        EventLog(dttm=T0 + dt.timedelta(hours=2), event="trigger", owner="op", dag_id="d1", run_id="r2",
                 task_id="t2", map_index=-1, try_number=2),
        EventLog(dttm=T0 + dt.timedelta(hours=3), event="api.delete_pool", owner="admin", dag_id="d2"),
    ]
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def entry(event_log_id, when, event, owner, **fields):
    body = {
        "event_log_id": event_log_id,
        "when": when.isoformat(),
        "dag_id": None,
        "task_id": None,
        "run_id": None,
        "map_index": None,
        "try_number": None,
        "event": event,
        "execution_date": None,
        "owner": owner,
        "extra": None,
    }
    body.update(fields)
    return body


def ids(client, query):
    response = client.get(f"/api/v1/eventLogs{query}", headers=basic_auth("admin"))
    assert response.status_code == 200, response.json
    return [e["event_log_id"] for e in response.json["event_logs"]], response.json["total_entries"]


def test_get_event_log(app, client, admin_headers):
    first, second, *_ = add_events(app)
    response = client.get(f"/api/v1/eventLogs/{second}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == entry(
        second, T0 + dt.timedelta(hours=1), "trigger", "op", dag_id="d1", run_id="r1", task_id="t1",
        map_index=0, try_number=1, execution_date=T0.isoformat(),
    )


def test_get_event_log_not_found(client, admin_headers):
    response = client.get("/api/v1/eventLogs/999", headers=admin_headers)
    assert response.status_code == 404
    assert response.json == {
        "detail": "Event Log not found",
        "instance": "/api/v1/eventLogs/999",
        "status": 404,
        "title": "Event Log not found",
        "type": TYPE_BY_STATUS[404],
    }


def test_list_whole_body(app, client, admin_headers):
    first, *_ = add_events(app)
    response = client.get("/api/v1/eventLogs?limit=1", headers=admin_headers)
    assert response.json == {
        "event_logs": [entry(first, T0, "api.post_pool", "admin", extra='{"name": "p"}')],
        "total_entries": 4,
    }


@pytest.mark.parametrize(
    ("query", "positions", "total"),
    [
        ("", [0, 1, 2, 3], 4),
        ("?dag_id=d1", [1, 2], 2),
        ("?task_id=t2", [2], 1),
        ("?run_id=r1", [1], 1),
        ("?map_index=0", [1], 1),
        ("?map_index=-1", [2], 1),
        ("?try_number=2", [2], 1),
        ("?event=trigger", [1, 2], 2),
        ("?owner=admin", [0, 3], 2),
        ("?before=2024-01-01T01:00:00Z", [0], 1),
        ("?after=2024-01-01T01:00:00%2B00:00", [2, 3], 2),
        ("?after=2024-01-01T00:30:00Z&before=2024-01-01T02:30:00Z", [1, 2], 2),
        ("?included_events=api.post_pool,api.delete_pool", [0, 3], 2),
        ("?excluded_events=trigger", [0, 3], 2),
        ("?dag_id=d1&limit=1&offset=1", [2], 2),
        ("?order_by=-event_log_id", [3, 2, 1, 0], 4),
        ("?order_by=-when&limit=2", [3, 2], 4),
        ("?order_by=event", [3, 0, 1, 2], 4),
        ("?order_by=-owner", [2, 1, 3, 0], 4),
        ("?limit=0", [0, 1, 2, 3], 4),
        ("?offset=4", [], 4),
    ],
)
def test_filters_ordering_and_paging(app, client, query, positions, total):
    created = add_events(app)
    assert ids(client, query) == ([created[p] for p in positions], total)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?order_by=nope", "Ordering with 'nope' is disallowed or the attribute does not exist on the model"),
        ("?limit=-1", "Page limit must be a positive integer"),
    ],
)
def test_bad_query_is_400(client, admin_headers, query, detail):
    response = client.get(f"/api/v1/eventLogs{query}", headers=admin_headers)
    assert response.status_code == 400
    assert response.json["detail"] == detail


def test_naive_datetime_is_400(client, admin_headers):
    response = client.get("/api/v1/eventLogs?before=2024-01-01T00:00:00", headers=admin_headers)
    assert response.status_code == 400


def test_query_count_is_constant(app, client, admin_headers):
    client.get("/api/v1/eventLogs", headers=admin_headers)
    add_events(app)
    with count_queries(app) as small:
        client.get("/api/v1/eventLogs", headers=admin_headers)
    for _ in range(10):
        add_events(app)
    with count_queries(app) as large:
        assert len(client.get("/api/v1/eventLogs", headers=admin_headers).json["event_logs"]) == 44
    assert small.count == large.count


@pytest.mark.parametrize("path", ["/api/v1/eventLogs", "/api/v1/eventLogs/1", "/api/v1/eventLogs?dag_id=d1"])
def test_only_the_audit_log_permission_reads(app, client, path):
    add_events(app)
    assert client.get(path).status_code == 401
    for username in ("test_no_permissions", "viewer", "user", "op"):
        assert client.get(path, headers=basic_auth(username)).status_code == 403
    assert client.get(path, headers=basic_auth("admin")).status_code == 200
