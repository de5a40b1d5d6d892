"""/config and /config/section/{section}/option/{option}: exposure, masking, content negotiation."""
from __future__ import annotations

import pytest

from app.config import Config
from app.errors import TYPE_BY_STATUS
from tests.conftest import basic_auth, make_app

JSON = {"Accept": "application/json"}
TEXT = {"Accept": "text/plain"}
ADMIN = basic_auth("admin")


def problem(status, detail, instance, title):
    return {"detail": detail, "instance": instance, "status": status, "title": title, "type": TYPE_BY_STATUS[status]}


@pytest.fixture(scope="module")
def exposed_app():
    return make_app(webserver={"expose_config": "True"}, custom={"my_token": "tok", "plain": "p"})


@pytest.fixture(scope="module")
def masked_app():
    return make_app(webserver={"expose_config": "non-sensitive-only"}, custom={"my_token": "tok", "plain": "p"})


@pytest.fixture
def exposed(exposed_app):
    return exposed_app.test_client()


@pytest.fixture
def masked(masked_app):
    return masked_app.test_client()


CUSTOM_SECTION = {"name": "custom", "options": [{"key": "my_token", "value": "tok"}, {"key": "plain", "value": "p"}]}
HIDDEN_CUSTOM_SECTION = {
    "name": "custom",
    "options": [{"key": "my_token", "value": "< hidden >"}, {"key": "plain", "value": "p"}],
}


class TestGetConfig:
    def test_not_exposed_by_default(self, client):
        response = client.get("/api/v1/config", headers={**ADMIN, **JSON})
        assert response.status_code == 403
        assert response.json == problem(
            403,
            "Your stableflow administrator chose not to expose the configuration, most likely for security "
            "reasons. Set [webserver] expose_config to True or non-sensitive-only to allow it.",
            "/api/v1/config",
            "Forbidden",
        )

    def test_exposed_shows_sensitive_values(self, exposed):
        response = exposed.get("/api/v1/config?section=custom", headers={**ADMIN, **JSON})
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.json == {"sections": [CUSTOM_SECTION]}
        webserver = exposed.get("/api/v1/config?section=webserver", headers={**ADMIN, **JSON}).json
        assert {"key": "secret_key", "value": "test-secret-key"} in webserver["sections"][0]["options"]

    def test_non_sensitive_only_hides_secrets(self, masked):
        response = masked.get("/api/v1/config", headers={**ADMIN, **JSON})
        assert response.status_code == 200
        sections = {s["name"]: {o["key"]: o["value"] for o in s["options"]} for s in response.json["sections"]}
        assert sections["custom"] == {"my_token": "< hidden >", "plain": "p"}
        assert sections["webserver"]["secret_key"] == "< hidden >"
        assert sections["core"]["fernet_key"] == "< hidden >"
        assert sections["database"]["sql_alchemy_conn"] == "< hidden >"
        assert sections["api"]["maximum_page_limit"] == "100"
        assert "test-secret-key" not in response.get_data(as_text=True)

    def test_text_plain_is_ini(self, masked):
        response = masked.get("/api/v1/config?section=custom", headers={**ADMIN, **TEXT})
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        assert response.get_data(as_text=True) == "[custom]\nmy_token = < hidden >\nplain = p\n"

    def test_whole_text_has_a_blank_line_between_sections(self, exposed):
        text = exposed.get("/api/v1/config", headers={**ADMIN, "Accept": "*/*"}).get_data(as_text=True)
        assert text.startswith("[core]\n")
        assert "\n\n[api]\n" in text
        assert text.endswith("[custom]\nmy_token = tok\nplain = p\n")

    @pytest.mark.parametrize("accept", [None, "text/html", "application/xml"])
    def test_unacceptable_accept_is_406(self, exposed, accept):
        headers = dict(ADMIN)
        if accept:
            headers["Accept"] = accept
        response = exposed.get("/api/v1/config", headers=headers)
        assert response.status_code == 406
        assert response.json == problem(
            406,
            "The configuration is served as text/plain or application/json; send an Accept header that "
            "allows one of them.",
            "/api/v1/config",
            "Not Acceptable",
        )

    def test_accept_is_checked_before_exposure(self, client):
        assert client.get("/api/v1/config", headers=ADMIN).status_code == 406

    def test_unknown_section_is_404(self, exposed):
        response = exposed.get("/api/v1/config?section=nope", headers={**ADMIN, **JSON})
        assert response.status_code == 404
        assert response.json == problem(404, "section=nope not found.", "/api/v1/config", "section not found.")


class TestGetValue:
    def test_plain_option(self, masked):
        response = masked.get("/api/v1/config/section/custom/option/plain", headers={**ADMIN, **JSON})
        assert response.status_code == 200
        assert response.json == {"sections": [{"name": "custom", "options": [{"key": "plain", "value": "p"}]}]}

    @pytest.mark.parametrize(("section", "option"), [("custom", "my_token"), ("webserver", "secret_key")])
    def test_sensitive_option_is_hidden_even_when_exposed(self, exposed, section, option):
        response = exposed.get(f"/api/v1/config/section/{section}/option/{option}", headers={**ADMIN, **TEXT})
        assert response.get_data(as_text=True) == f"[{section}]\n{option} = < hidden >\n"

    def test_not_exposed_is_403(self, client):
        response = client.get("/api/v1/config/section/api/option/maximum_page_limit", headers={**ADMIN, **JSON})
        assert response.status_code == 403

    def test_unknown_option_is_404(self, exposed):
        response = exposed.get("/api/v1/config/section/api/option/nope", headers={**ADMIN, **JSON})
        assert response.status_code == 404
        assert response.json == problem(
            404,
            "The option [api/nope] is not found in config.",
            "/api/v1/config/section/api/option/nope",
            "Config not found.",
        )

    def test_no_accept_is_406(self, exposed):
        assert exposed.get("/api/v1/config/section/api/option/maximum_page_limit", headers=ADMIN).status_code == 406


@pytest.mark.parametrize(
    ("section", "key", "sensitive"),
    [
        ("core", "fernet_key", True),
        ("database", "sql_alchemy_conn", True),
        ("database", "sql_alchemy_conn_cmd", True),
        ("webserver", "secret_key", True),
        ("smtp", "smtp_password", True),
        ("celery", "broker_url", True),
        ("sentry", "sentry_dsn", True),
        ("anything", "some_api_key", True),
        ("anything", "Access_Token", True),
        ("api", "maximum_page_limit", False),
        ("webserver", "expose_config", False),
        ("core", "dags_folder", False),
    ],
)
def test_sensitive_option_detection(section, key, sensitive):
    assert Config.is_sensitive(section, key) is sensitive


@pytest.mark.parametrize(
    "path", ["/api/v1/config", "/api/v1/config/section/api/option/maximum_page_limit"]
)
def test_access(exposed, path):
    assert exposed.get(path, headers=JSON).status_code == 401
    for username in ("test_no_permissions", "viewer", "user"):
        response = exposed.get(path, headers={**basic_auth(username), **JSON})
        assert response.status_code == 403
        assert response.json["detail"] == "Forbidden"
    assert exposed.get(path, headers={**basic_auth("op"), **JSON}).status_code == 200
