"""CORS: `[api] access_control_allow_origins|methods|headers|max_age`."""
from __future__ import annotations

import pytest

from tests.conftest import basic_auth, make_app

CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
)
PREFLIGHT = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization"}


def _cors(response) -> dict:
    return {name: response.headers[name] for name in CORS_HEADERS if name in response.headers}


@pytest.fixture(scope="module")
def listed():
    return make_app(
        api={
            "access_control_allow_origins": "https://a.example https://b.example",
            "access_control_allow_methods": "GET, PATCH",
            "access_control_allow_headers": "Authorization, Content-Type",
            "access_control_max_age": 600,
        }
    ).test_client()


@pytest.fixture(scope="module")
def wildcard():
    return make_app(
        api={"access_control_allow_origins": "*, https://a.example", "access_control_allow_methods": "GET"}
    ).test_client()


def test_unset_means_no_cors_headers_at_all(client):
    for response in (
        client.get("/api/v1/version", headers={"Origin": "https://a.example"}),
        client.options("/api/v1/users", headers={"Origin": "https://a.example", **PREFLIGHT}),
        client.get("/api/v1/users", headers={"Origin": "https://a.example"}),
    ):
        assert _cors(response) == {}
        assert "Origin" not in response.vary


def test_preflight_from_listed_origin_is_answered_without_authentication(listed):
    response = listed.options("/api/v1/users/viewer", headers={"Origin": "https://b.example", **PREFLIGHT})
    assert response.status_code == 200
    assert response.data == b""
    assert _cors(response) == {
        "Access-Control-Allow-Origin": "https://b.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PATCH",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
    }
    assert "Origin" in response.vary
    assert "Set-Cookie" not in response.headers


def test_simple_request_from_listed_origin_echoes_it(listed):
    response = listed.get("/api/v1/users", headers={"Origin": "https://a.example", **basic_auth("admin")})
    assert response.status_code == 200
    assert _cors(response) == {
        "Access-Control-Allow-Origin": "https://a.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PATCH",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
    }


def test_errors_carry_cors_headers_too(listed):
    response = listed.get("/api/v1/users", headers={"Origin": "https://a.example"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://a.example.evil", "null", "https://A.example"])
def test_other_origins_get_no_allow_origin(listed, origin):
    for response in (
        listed.get("/api/v1/version", headers={"Origin": origin}),
        listed.options("/api/v1/users", headers={"Origin": origin, **PREFLIGHT}),
    ):
        assert _cors(response) == {}
        assert "Origin" in response.vary


def test_no_origin_header_gets_no_allow_origin(listed):
    assert _cors(listed.get("/api/v1/version")) == {}


def test_wildcard_allows_any_origin_without_credentials(wildcard):
    response = wildcard.get("/api/v1/version", headers={"Origin": "https://anyone.example"})
    assert _cors(response) == {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET"}


def test_wildcard_still_grants_credentials_to_listed_origins(wildcard):
    response = wildcard.options("/api/v1/users", headers={"Origin": "https://a.example", **PREFLIGHT})
    assert _cors(response) == {
        "Access-Control-Allow-Origin": "https://a.example",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET",
    }


def test_session_login_view_is_covered(listed):
    response = listed.options("/auth/login", headers={"Origin": "https://a.example", **PREFLIGHT})
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_non_api_paths_are_not_covered(listed):
    response = listed.get("/elsewhere", headers={"Origin": "https://a.example"})
    assert _cors(response) == {}
