"""The app factory, wire format, errors and the public endpoints."""
from __future__ import annotations

from app.version import __version__


def test_health_is_public_and_reports_database(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
    }


def test_version_is_public(client):
    response = client.get("/api/v1/version")
    assert response.status_code == 200
    assert response.json["version"] == __version__
    assert set(response.json) == {"version", "git_version"}


def test_unknown_path_is_a_problem_document(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json == {
        "detail": "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again.",
        "instance": "/api/v1/nope",
        "status": 404,
        "title": "Not Found",
        "type": "about:blank",
    }


def test_wrong_method_is_405_problem(client):
    response = client.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert response.json["title"] == "Method Not Allowed"
    assert "GET" in response.headers["Allow"]


def test_unhandled_exception_is_500_without_stack_trace(app, client, monkeypatch):
    from app.endpoints import version_endpoint

    def boom():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(version_endpoint, "git_version", boom)
    response = client.get("/api/v1/version")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["title"] == "Internal Server Error"
    assert response.headers["X-Request-ID"] in body["detail"]


def test_responses_are_sorted_json_with_security_headers(client):
    response = client.get("/api/v1/version")
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert text.index('"git_version"') < text.index('"version"')
    assert text.endswith("\n")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_spec_and_swagger_ui_are_served(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    response = client.get("/api/v1/ui/")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


def test_non_api_404_is_not_forced_into_a_problem(client):
    response = client.get("/elsewhere")
    assert response.status_code == 404
    assert response.mimetype != "application/problem+json"
