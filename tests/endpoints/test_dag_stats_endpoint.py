"""/dagStats."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import DagModel, DagRun
from tests.conftest import basic_auth, count_queries
from tests.dags.helpers import problem, user_with


def stats(queued=0, running=0, success=0, failed=0) -> list[dict]:
    return [
        {"state": "queued", "count": queued},
        {"state": "running", "count": running},
        {"state": "success", "count": success},
        {"state": "failed", "count": failed},
    ]


@pytest.fixture
def runs(app):
    with app.app_context():
        db.session.add_all([DagModel(dag_id="a", fileloc="/a.yaml"), DagModel(dag_id="b", fileloc="/b.yaml")])
        day = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        for n, (dag_id, state) in enumerate([("a", "success"), ("a", "success"), ("a", "failed"), ("b", "running")]):
            db.session.add(DagRun(dag_id=dag_id, run_id=f"r{n}", execution_date=day + dt.timedelta(days=n),
                                  run_type="manual", state=state))
        db.session.commit()


def test_counts_every_state(client, admin_headers, runs):
    response = client.get("/api/v1/dagStats?dag_ids=b,a,nope,a", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {
        "dags": [{"dag_id": "b", "stats": stats(running=1)}, {"dag_id": "a", "stats": stats(success=2, failed=1)}],
        "total_entries": 2,
    }


def test_unreadable_dags_are_left_out(app, client, runs):
    headers = user_with(app, "reads_a", [("can_read", "DAG Runs"), ("can_read", "DAG:a")])
    response = client.get("/api/v1/dagStats?dag_ids=a,b", headers=headers)
    assert response.json == {"dags": [{"dag_id": "a", "stats": stats(success=2, failed=1)}], "total_entries": 1}


def test_dag_ids_are_required(client, admin_headers):
    response = client.get("/api/v1/dagStats", headers=admin_headers)
    assert response.json == problem(400, "Bad Request", "Missing query parameter 'dag_ids'", "/api/v1/dagStats")


def test_constant_queries(app, client, admin_headers, runs):
    client.get("/api/v1/dagStats?dag_ids=a", headers=admin_headers)  # warm the login cache
    counts = []
    for ids in ("a", "a,b,c,d,e,f,g"):
        with count_queries(app) as counter:
            client.get(f"/api/v1/dagStats?dag_ids={ids}", headers=admin_headers)
        counts.append(counter.count)
    assert counts[0] == counts[1]


def test_access(client, runs):
    assert client.get("/api/v1/dagStats?dag_ids=a").status_code == 401
    assert client.get("/api/v1/dagStats?dag_ids=a", headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.get("/api/v1/dagStats?dag_ids=a", headers=basic_auth("viewer")).status_code == 200
