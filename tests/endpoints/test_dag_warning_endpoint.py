"""/dagWarnings."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import DagModel, DagWarning
from tests.conftest import basic_auth, count_queries
from tests.dags.helpers import problem, user_with

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def add_warnings(app, count: int, start: int = 0) -> None:
    with app.app_context():
        for n in range(start, start + count):
            dag_id = f"d{n:03d}"
            db.session.add(DagModel(dag_id=dag_id, fileloc=f"/{dag_id}.yaml"))
            db.session.flush()
            db.session.add(DagWarning(dag_id=dag_id, warning_type="non-existent pool" if n % 2 else "other",
                                      message=f"message {count - n}", timestamp=T0 + dt.timedelta(minutes=n)))
        db.session.commit()


def warning(n: int, total: int = 3) -> dict:
    return {
        "dag_id": f"d{n:03d}",
        "warning_type": "non-existent pool" if n % 2 else "other",
        "message": f"message {total - n}",
        "timestamp": (T0 + dt.timedelta(minutes=n)).isoformat(),
    }


@pytest.mark.parametrize(
    ("query", "expected", "total"),
    [
        ("", [0, 1, 2], 3),
        ("?order_by=-timestamp", [2, 1, 0], 3),
        ("?order_by=message", [2, 1, 0], 3),
        ("?warning_type=other", [0, 2], 2),
        ("?dag_id=d001", [1], 1),
        ("?limit=1&offset=1", [1], 3),
    ],
)
def test_lists_warnings(app, client, admin_headers, query, expected, total):
    add_warnings(app, 3)
    response = client.get(f"/api/v1/dagWarnings{query}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"dag_warnings": [warning(n) for n in expected], "total_entries": total}


def test_bad_order_by(client, admin_headers):
    response = client.get("/api/v1/dagWarnings?order_by=bogus", headers=admin_headers)
    assert response.json == problem(
        400, "Bad Request", "Ordering with 'bogus' is disallowed or the attribute does not exist on the model",
        "/api/v1/dagWarnings",
    )


def test_dag_level_readers(app, client):
    add_warnings(app, 3)
    headers = user_with(app, "warned", [("can_read", "DAG Warnings"), ("can_read", "DAG:d002")])
    response = client.get("/api/v1/dagWarnings", headers=headers)
    assert response.json == {"dag_warnings": [warning(2)], "total_entries": 1}
    assert client.get("/api/v1/dagWarnings?dag_id=d001", headers=headers).status_code == 403


def test_constant_queries(app, client, admin_headers):
    client.get("/api/v1/dagWarnings", headers=admin_headers)  # warm the login cache
    counts = []
    for size in (2, 40):
        add_warnings(app, size - len(counts) * 2, start=len(counts) * 2)
        with count_queries(app) as counter:
            response = client.get("/api/v1/dagWarnings", headers=admin_headers)
        assert response.json["total_entries"] == size
        counts.append(counter.count)
    assert counts[0] == counts[1]


def test_access(client):
    assert client.get("/api/v1/dagWarnings").status_code == 401
    assert client.get("/api/v1/dagWarnings", headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.get("/api/v1/dagWarnings", headers=basic_auth("viewer")).status_code == 200
