"""/parseDagFile/{file_token}."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DagModel, DagPriorityParsingRequest, EventLog
from tests.conftest import basic_auth
from tests.dags.helpers import dag_folder, file_token, problem, user_with  # noqa: F401


@pytest.fixture
def parsed(dag_folder):  # noqa: F811
    dag_folder.process(both="dags:\n  - {dag_id: one}\n  - {dag_id: two}\n")
    return dag_folder, str((dag_folder.path / "both.yaml").resolve())


def descriptions(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(select(DagModel.dag_id, DagModel.description)).all())


def requests(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(DagPriorityParsingRequest.fileloc)).scalars())


def test_parses_the_file_now(app, client, admin_headers, parsed):
    folder, fileloc = parsed
    folder.write("both.yaml", "dags:\n  - {dag_id: one, description: new}\n  - {dag_id: two}\n")
    response = client.put(f"/api/v1/parseDagFile/{file_token(fileloc)}", headers=admin_headers)
    assert response.status_code == 201
    assert response.data == b""
    assert descriptions(app) == {"one": "new", "two": None}
    assert requests(app) == []
    with app.app_context():
        assert db.session.execute(select(EventLog.event).order_by(EventLog.id.desc())).scalar() == "api.reparse_dag_file"


def test_a_pending_request_is_a_duplicate(app, client, admin_headers, parsed):
    _, fileloc = parsed
    with app.app_context():
        db.session.add(DagPriorityParsingRequest(fileloc=fileloc))
        db.session.commit()
    response = client.put(f"/api/v1/parseDagFile/{file_token(fileloc)}", headers=admin_headers)
    assert response.status_code == 201
    assert response.get_data(as_text=True) == "Duplicate request"


def test_a_file_this_node_cannot_read_waits_for_the_scheduler(app, client, admin_headers):
    with app.app_context():
        db.session.add(DagModel(dag_id="remote", fileloc="/elsewhere/remote.yaml"))
        db.session.commit()
    response = client.put(f"/api/v1/parseDagFile/{file_token('/elsewhere/remote.yaml')}", headers=admin_headers)
    assert response.status_code == 201
    assert requests(app) == ["/elsewhere/remote.yaml"]


@pytest.mark.parametrize("token", ["garbage", file_token("/no/dags/here.yaml")])
def test_unknown_files_are_404(client, admin_headers, parsed, token):
    response = client.put(f"/api/v1/parseDagFile/{token}", headers=admin_headers)
    assert response.json == problem(404, "File not found", None, f"/api/v1/parseDagFile/{token}")


def test_access(app, client, parsed):
    url = f"/api/v1/parseDagFile/{file_token(parsed[1])}"
    assert client.put(url).status_code == 401
    assert client.put(url, headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.put(url, headers=basic_auth("viewer")).status_code == 403
    # Every DAG of the file must be editable.
    one = user_with(app, "edits_one", [("can_edit", "DAG:one")])
    assert client.put(url, headers=one).status_code == 403
    both = user_with(app, "edits_both", [("can_edit", "DAG:one"), ("can_edit", "DAG:two")])
    assert client.put(url, headers=both).status_code == 201
