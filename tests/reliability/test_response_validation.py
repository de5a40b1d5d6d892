"""In tests the app validates every response against openapi.yaml (`[api] validate_responses`): a
body that breaks the spec must fail the request that produced it (a 500 problem document the test
sees), not merely be logged."""
from __future__ import annotations

from app.endpoints import version_endpoint
from tests.conftest import make_app


def test_a_response_that_breaks_the_spec_is_a_500(monkeypatch):
    # Connexion binds handlers when the app is built: patch first, then build.
    monkeypatch.setattr(version_endpoint, "get_version", version_endpoint.public(lambda: {"version": 5}))
    response = make_app().test_client().get("/api/v1/version")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["title"] == "Response body does not conform to specification"
    assert "5 is not of type 'string'" in body["detail"]


def test_the_test_configuration_validates_responses(app):
    assert app.extensions["stableflow.conf"].getboolean("api", "validate_responses") is True
