"""/importErrors and /importErrors/{import_error_id}."""
from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.models import DagModel, ImportErrorRecord
from tests.conftest import basic_auth, count_queries
from tests.dags.helpers import dag_folder, problem, user_with  # noqa: F401

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
REDACTED = "REDACTED - you do not have read permission on all DAGs in the file"


@pytest.fixture
def errors(app):
    """Three files with errors: /a.yaml holds DAGs a1 and a2, /b.yaml holds b, /c.yaml none."""
    with app.app_context():
        db.session.add_all([
            DagModel(dag_id="a1", fileloc="/a.yaml", has_import_errors=True),
            DagModel(dag_id="a2", fileloc="/a.yaml", has_import_errors=True),
            DagModel(dag_id="b", fileloc="/b.yaml", has_import_errors=True),
            ImportErrorRecord(filename="/c.yaml", stack_trace="/c.yaml:1: c broke", timestamp=T0),
            ImportErrorRecord(filename="/a.yaml", stack_trace="/a.yaml:3: a broke", timestamp=T0 + dt.timedelta(hours=2)),
            ImportErrorRecord(filename="/b.yaml", stack_trace="/b.yaml:2: b broke", timestamp=T0 + dt.timedelta(hours=1)),
        ])
        db.session.commit()


def error(n: int, stack_trace: str | None = None) -> dict:
    rows = {
        1: ("/c.yaml", "/c.yaml:1: c broke", T0),
        2: ("/a.yaml", "/a.yaml:3: a broke", T0 + dt.timedelta(hours=2)),
        3: ("/b.yaml", "/b.yaml:2: b broke", T0 + dt.timedelta(hours=1)),
    }
    filename, trace, timestamp = rows[n]
    return {"import_error_id": n, "filename": filename, "stack_trace": stack_trace or trace, "timestamp": timestamp.isoformat()}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("", [1, 2, 3]),
        ("?order_by=-import_error_id", [3, 2, 1]),
        ("?order_by=timestamp", [1, 3, 2]),
        ("?order_by=filename", [2, 3, 1]),
        ("?limit=1&offset=2", [3]),
    ],
)
def test_lists_errors(client, admin_headers, errors, query, ids):
    response = client.get(f"/api/v1/importErrors{query}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"import_errors": [error(n) for n in ids], "total_entries": 3}


def test_bad_order_by(client, admin_headers):
    response = client.get("/api/v1/importErrors?order_by=stack_trace", headers=admin_headers)
    assert response.json == problem(
        400, "Bad Request", "Ordering with 'stack_trace' is disallowed or the attribute does not exist on the model",
        "/api/v1/importErrors",
    )


def test_a_dag_level_reader_sees_the_files_of_its_dags(app, client, errors):
    headers = user_with(app, "reads_a1_b", [("can_read", "ImportError"), ("can_read", "DAG:a1"), ("can_read", "DAG:b")])
    response = client.get("/api/v1/importErrors", headers=headers)
    assert response.json == {"import_errors": [error(2, REDACTED), error(3)], "total_entries": 2}
    assert client.get("/api/v1/importErrors/2", headers=headers).json == error(2, REDACTED)
    assert client.get("/api/v1/importErrors/3", headers=headers).json == error(3)
    assert client.get("/api/v1/importErrors/1", headers=headers).json == problem(
        403, "Forbidden", "You do not have read permission on any of the DAGs in the file", "/api/v1/importErrors/1"
    )


def test_get_one(client, admin_headers, errors):
    response = client.get("/api/v1/importErrors/2", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == error(2)


def test_not_found(client, admin_headers):
    response = client.get("/api/v1/importErrors/99", headers=admin_headers)
    assert response.json == problem(
        404, "Import error not found", "The ImportError with import_error_id: `99` was not found",
        "/api/v1/importErrors/99",
    )


def test_errors_from_the_dag_folder(client, admin_headers, dag_folder):  # noqa: F811
    dag_folder.process(broken="dag_id: b\ncatchup: sometimes\n")
    fileloc = str((dag_folder.path / "broken.yaml").resolve())
    [item] = client.get("/api/v1/importErrors", headers=admin_headers).json["import_errors"]
    assert (item["filename"], item["stack_trace"]) == (
        fileloc, f"{fileloc}:2: DAG 'b': 'catchup' must be true or false, not 'sometimes'"
    )
    dag_folder.process(broken="dag_id: b\ncatchup: false\n")
    assert client.get("/api/v1/importErrors", headers=admin_headers).json == {"import_errors": [], "total_entries": 0}


def test_constant_queries(app, client, errors):
    headers = user_with(app, "reads_many", [("can_read", "ImportError"), ("can_read", "DAG:a1"), ("can_read", "DAG:b")])
    counts = []
    for extra in (0, 30):
        with app.app_context():
            for n in range(extra):
                db.session.add(DagModel(dag_id=f"x{n}", fileloc=f"/x{n}.yaml"))
                db.session.add(ImportErrorRecord(filename=f"/x{n}.yaml", stack_trace="x"))
            db.session.commit()
        headers = user_with(app, f"reads_{extra}", [("can_read", "ImportError"), ("can_read", "DAG:a1")]
                            + [("can_read", f"DAG:x{n}") for n in range(extra)])
        with count_queries(app) as counter:
            response = client.get("/api/v1/importErrors", headers=headers)
        assert response.json["total_entries"] == 1 + extra
        counts.append(counter.count)
    assert counts[0] == counts[1]


@pytest.mark.parametrize("url", ["/api/v1/importErrors", "/api/v1/importErrors/1"])
def test_access(client, errors, url):
    assert client.get(url).status_code == 401
    assert client.get(url, headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.get(url, headers=basic_auth("viewer")).status_code == 200
