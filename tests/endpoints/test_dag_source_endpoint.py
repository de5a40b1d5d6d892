"""/dagSources/{file_token}."""
from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from tests.conftest import basic_auth
from tests.dags.helpers import dag_folder, file_token, problem, user_with  # noqa: F401

SOURCE = "dags:\n  - {dag_id: one}\n  - {dag_id: two}\n"


@pytest.fixture
def token(dag_folder):  # noqa: F811
    dag_folder.process(both=SOURCE)
    return file_token(str((dag_folder.path / "both.yaml").resolve()))


@pytest.mark.parametrize(("accept", "mimetype"), [("text/plain", "text/plain"), ("*/*", "text/plain")])
def test_text(client, admin_headers, token, accept, mimetype):
    response = client.get(f"/api/v1/dagSources/{token}", headers={**admin_headers, "Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.get_data(as_text=True) == SOURCE


def test_json(client, admin_headers, token):
    response = client.get(f"/api/v1/dagSources/{token}", headers={**admin_headers, "Accept": "application/json"})
    assert response.status_code == 200
    assert response.json == {"content": SOURCE}


@pytest.mark.parametrize("accept", [None, "image/png"])
def test_other_media_types_are_406(client, admin_headers, token, accept):
    headers = dict(admin_headers, **({"Accept": accept} if accept else {}))
    response = client.get(f"/api/v1/dagSources/{token}", headers=headers)
    assert response.json == problem(406, "Not Acceptable", "Not Allowed Accept Header", f"/api/v1/dagSources/{token}")


def test_forged_or_unknown_tokens_are_404(client, admin_headers, token):
    forged = URLSafeSerializer("another-key").dumps("/etc/passwd")
    for bad in (forged, token[:-2] + "xx", file_token("/not/a/dag/file.yaml")):
        response = client.get(f"/api/v1/dagSources/{bad}", headers={**admin_headers, "Accept": "text/plain"})
        assert response.json == problem(404, "Dag source not found", None, f"/api/v1/dagSources/{bad}")


def test_access(app, client, token):
    url = f"/api/v1/dagSources/{token}"
    accept = {"Accept": "text/plain"}
    assert client.get(url, headers=accept).status_code == 401
    assert client.get(url, headers={**basic_auth("test_no_permissions"), **accept}).status_code == 403
    assert client.get(url, headers={**basic_auth("viewer"), **accept}).status_code == 200
    # Every DAG of the file must be readable.
    one = user_with(app, "reads_one", [("can_read", "DAG Code"), ("can_read", "DAG:one")])
    assert client.get(url, headers={**one, **accept}).status_code == 403
    both = user_with(app, "reads_both", [("can_read", "DAG Code"), ("can_read", "DAG:one"), ("can_read", "DAG:two")])
    assert client.get(url, headers={**both, **accept}).status_code == 200
