"""The auth backends, alone and together, in-process: identification, 401 challenges, bookkeeping."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib
import logging
import re
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from app import create_app
from app.config import ConfigError
from app.extensions import db
from app.models import User, utcnow
from app.security import BACKEND_ALIASES, current_identity, load_backends
from app.users import find_user
from tests.conftest import TEST_PASSWORD, base_overrides, basic_auth, make_app
from tests.spec_examples import OPERATIONS, PUBLIC_OPERATIONS

BASIC = 'Basic realm="stableflow"'
BEARER = 'Bearer realm="stableflow"'
DOCS = Path(__file__).resolve().parents[1] / "docs" / "auth.md"


def token_backend_source() -> str:
    """The custom backend example of docs/auth.md, so the documented code is the tested code."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    (source,) = [b for b in blocks if b.startswith("# token_backend.py\n")]
    return source


def write_token_backend(folder: Path) -> Path:
    path = folder / "token_backend.py"
    path.write_text(token_backend_source())
    return path


@pytest.fixture
def outside_module(tmp_path, monkeypatch):
    """Put tmp_path on sys.path and forget modules imported from it afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in sys.modules[name].__file__:
            del sys.modules[name]


def _user(app, username="viewer"):
    with app.app_context():
        user = find_user(username)
        db.session.expunge_all()
        return user


def _set_user(app, username="viewer", **values):
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(**values))
        db.session.commit()


def _resolved_protected():
    return [op for op in OPERATIONS if op.operation_id not in PUBLIC_OPERATIONS and op.handler() is not None]


# -- deny_all ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_config_app():
    overrides = base_overrides()
    del overrides["api"]["auth_backends"]  # what an operator gets without configuring anything
    app = create_app(overrides)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_deny_all_is_the_default_and_denies_every_protected_operation(default_config_app):
    assert default_config_app.extensions["stableflow.conf"].get("api", "auth_backends") == "auth_backends.deny_all"
    client = default_config_app.test_client()
    for op in _resolved_protected():
        kwargs = op.request_kwargs()
        kwargs["headers"].update(basic_auth("admin"))
        response = client.open(op.url(), **kwargs)
        assert response.status_code == 401, op.id
        assert "WWW-Authenticate" not in response.headers, op.id
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/version").status_code == 200


# -- basic auth --------------------------------------------------------------------------------
def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic 123",
        "basic " + _b64("admin"),
        "Basic " + _b64(":" + TEST_PASSWORD),
        "Basic " + _b64("admin:"),
        "Bearer " + _b64("admin:" + TEST_PASSWORD),
        _b64("admin:" + TEST_PASSWORD),
        "admin:" + TEST_PASSWORD,
        "Basic !!!not-base64!!!",
    ],
)
def test_basic_malformed_headers_are_401(client, header):
    response = client.get("/api/v1/users", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == BASIC


@pytest.mark.parametrize(
    ("username", "password"), [("nobody", TEST_PASSWORD), ("admin", "wrong"), ("ADMIN", TEST_PASSWORD)]
)
def test_basic_unknown_user_or_wrong_password_is_401(client, username, password):
    response = client.get("/api/v1/users", headers=basic_auth(username, password))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == BASIC


def test_basic_inactive_user_is_401(app, client):
    _set_user(app, "admin", active=False)
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 401


def test_basic_success_sets_last_login_and_resets_failures(app, client):
    _set_user(app, fail_login_count=2, first_failed_login=utcnow())
    before = utcnow()
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code != 401
    user = _user(app)
    assert user.last_login >= before
    assert (user.login_count, user.fail_login_count, user.first_failed_login) == (1, 0, None)


def test_basic_failures_increment_the_counter(app, client):
    for expected in (1, 2, 3):
        assert client.get("/api/v1/users", headers=basic_auth("viewer", "wrong")).status_code == 401
        assert _user(app).fail_login_count == expected
    assert _user(app).last_login is None


def test_basic_lockout_after_max_failed_logins_within_the_window(app):
    client = make_app(api={"max_failed_logins": 3, "failed_login_window": 300}).test_client()
    for _ in range(3):
        assert client.get("/api/v1/users", headers=basic_auth("admin", "wrong")).status_code == 401
    # Locked: even the right password is refused, and the refusal does not extend the window.
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 401
    assert _user(app, "admin").fail_login_count == 3
    _set_user(app, "admin", first_failed_login=utcnow() - dt.timedelta(seconds=301))
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 200
    assert _user(app, "admin").fail_login_count == 0


def test_basic_failures_outside_the_window_start_a_new_count(app):
    client = make_app(api={"max_failed_logins": 3, "failed_login_window": 300}).test_client()
    _set_user(app, "admin", fail_login_count=2, first_failed_login=utcnow() - dt.timedelta(seconds=400))
    assert client.get("/api/v1/users", headers=basic_auth("admin", "wrong")).status_code == 401
    assert _user(app, "admin").fail_login_count == 1
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 200


@pytest.mark.parametrize("off", [0, "off"])
def test_basic_lockout_can_be_disabled(app, off):
    client = make_app(api={"max_failed_logins": off}).test_client()
    _set_user(app, "admin", fail_login_count=1000, first_failed_login=utcnow())
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 200


def test_an_unusable_lockout_limit_stops_the_app_at_startup():
    with pytest.raises(ConfigError, match=r"\[api\] max_failed_logins must be a number of failures, or off, not 'ten'"):
        make_app(api={"max_failed_logins": "ten"})
    with pytest.raises(ConfigError, match=r"\[api\] failed_login_window must be an integer, not '5m'"):
        make_app(api={"failed_login_window": "5m"})


def test_cached_credentials_stop_working_after_password_change(app, client, admin_headers):
    viewer = basic_auth("viewer")
    assert client.get("/api/v1/users", headers=viewer).status_code == 403
    assert client.get("/api/v1/users", headers=viewer).status_code == 403  # served from the memo
    client.patch("/api/v1/users/viewer", json={"password": "changed"}, headers=admin_headers)
    assert client.get("/api/v1/users", headers=viewer).status_code == 401
    assert client.get("/api/v1/users", headers=basic_auth("viewer", "changed")).status_code == 403


def test_cached_credentials_stop_working_after_deactivation(app, client):
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403
    _set_user(app, active=False)
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 401


# -- session -----------------------------------------------------------------------------------
def _login(client, username="viewer", password=TEST_PASSWORD):
    return client.post("/auth/login", json={"username": username, "password": password})


def test_session_login_sets_a_strict_cookie_and_identifies_the_user(client):
    response = _login(client, "admin")
    assert response.status_code == 200
    assert response.json == {"username": "admin"}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("stableflow_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    api = client.get("/api/v1/users")
    assert api.status_code == 200
    assert "Set-Cookie" not in api.headers


def test_session_logout_clears_the_cookie(client):
    _login(client, "admin")
    response = client.post("/auth/logout")
    assert response.status_code == 200
    assert "stableflow_session=;" in response.headers["Set-Cookie"]
    assert client.get("/api/v1/users").status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "admin", "password": "wrong"}, 401),
        ({"username": "nobody", "password": TEST_PASSWORD}, 401),
        ({"username": "admin"}, 400),
        ("admin", 400),
    ],
)
def test_session_bad_login_sets_no_cookie(client, body, status):
    response = client.post("/auth/login", json=body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert "Set-Cookie" not in response.headers
    assert client.get("/api/v1/users").status_code == 401


def test_session_login_counts_failures_and_honours_the_lockout(app):
    client = make_app(api={"max_failed_logins": 2}).test_client()
    _login(client, "admin", "wrong")
    _login(client, "admin", "wrong")
    assert _user(app, "admin").fail_login_count == 2
    assert _login(client, "admin").status_code == 401


def test_session_ends_when_the_user_is_deactivated(app, client):
    _login(client, "admin")
    assert client.get("/api/v1/users").status_code == 200
    _set_user(app, "admin", active=False)
    assert client.get("/api/v1/users").status_code == 401


def _patch_user(client, username, update_mask, body):
    return client.patch(
        f"/api/v1/users/{username}?update_mask={update_mask}", json=body, headers=basic_auth("admin")
    )


def _session_payload(app, client) -> dict:
    cookie = client.get_cookie("stableflow_session")
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_session_ends_when_the_password_changes(app, client):
    _login(client, "viewer")
    assert client.get("/api/v1/pools").status_code == 200
    assert _patch_user(client, "viewer", "password", {"password": "a-new-password"}).status_code == 200
    assert client.get("/api/v1/pools").status_code == 401
    assert _login(client, "viewer", TEST_PASSWORD).status_code == 401
    assert _login(client, "viewer", "a-new-password").status_code == 200
    assert client.get("/api/v1/pools").status_code == 200


def test_session_survives_changes_that_keep_the_password(client):
    _login(client, "viewer")
    assert _patch_user(client, "viewer", "first_name", {"first_name": "Renamed"}).status_code == 200
    assert client.get("/api/v1/pools").status_code == 200


def test_session_cookie_holds_a_keyed_fingerprint_never_the_password_hash(app, client):
    _login(client, "viewer")
    payload = _session_payload(app, client)
    stored_hash = _user(app, "viewer").password
    assert set(payload) == {"stableflow_user", "stableflow_password", "_permanent"}
    assert payload["stableflow_user"] == "viewer"
    assert stored_hash not in repr(payload)
    assert re.fullmatch(r"[0-9a-f]{64}", payload["stableflow_password"])
    assert payload["stableflow_password"] != hashlib.sha256(stored_hash.encode()).hexdigest()


def test_a_signed_session_without_the_password_fingerprint_is_refused(app, client):
    cookie = app.session_interface.get_signing_serializer(app).dumps({"stableflow_user": "admin"})
    client.set_cookie("stableflow_session", cookie)
    assert client.get("/api/v1/users").status_code == 401


def test_a_copied_cookie_stays_valid_after_logout(app, client):
    # Sessions are stateless (docs/auth.md): logout clears the browser's cookie, not a copy.
    _login(client, "admin")
    copied = client.get_cookie("stableflow_session").value
    assert client.post("/auth/logout").status_code == 200
    assert client.get("/api/v1/users").status_code == 401
    other = app.test_client()
    other.set_cookie("stableflow_session", copied)
    assert other.get("/api/v1/users").status_code == 200


def test_api_responses_never_set_cookies(client):
    _login(client, "admin")
    for path in ("/api/v1/users", "/api/v1/nope", "/api/v1/health", "/api/v1/users?bad=1"):
        assert "Set-Cookie" not in client.get(path).headers, path
    client.delete_cookie("stableflow_session")
    assert "Set-Cookie" not in client.get("/api/v1/users").headers


# -- default -----------------------------------------------------------------------------------
def test_default_backend_admits_everyone_with_the_default_role(caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app(api={"auth_backends": "auth_backends.default"})
    assert any("auth_backends.default is enabled" in r.getMessage() for r in caplog.records)
    client = app.test_client()
    assert client.get("/api/v1/users").status_code == 200
    response = client.post("/api/v1/roles", json={"name": "ByAnon"})
    assert response.status_code == 200
    with app.test_request_context("/api/v1/users"):
        assert current_identity().username == "anonymous"


def test_default_backend_role_comes_from_config():
    client = make_app(api={"auth_backends": "auth_backends.default", "default_role": "Viewer"}).test_client()
    assert client.get("/api/v1/users").status_code == 403


# -- combinations ------------------------------------------------------------------------------
def test_first_backend_that_identifies_wins():
    # The session says viewer, the Authorization header says admin: order decides.
    for backends, expected in (("session,basic_auth", 403), ("basic_auth,session", 200)):
        names = ",".join(f"auth_backends.{name}" for name in backends.split(","))
        client = make_app(api={"auth_backends": names}).test_client()
        assert _login(client, "viewer").status_code == 200
        assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == expected, backends


def test_a_backend_that_does_not_identify_passes_to_the_next(client):
    _login(client, "admin")
    # basic_auth (first) rejects the wrong password; the session (second) still identifies admin.
    assert client.get("/api/v1/users", headers=basic_auth("admin", "wrong")).status_code == 200


def test_401_offers_every_configured_challenge_in_order(outside_module, monkeypatch):
    write_token_backend(outside_module)
    client = make_app(api={"auth_backends": "token_backend,auth_backends.session,auth_backends.basic_auth"}).test_client()
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f"{BEARER}, {BASIC}"


def test_identity_is_asked_once_per_request(outside_module):
    (outside_module / "counting_backend.py").write_text(
        "from auth_backends import lookup_user\n"
        "calls = []\n"
        "def authenticate(request):\n"
        "    calls.append(request.path)\n"
        "    return lookup_user('admin')\n"
    )
    client = make_app(api={"auth_backends": "counting_backend"}).test_client()
    module = importlib.import_module("counting_backend")
    # post_role authorizes and then writes an audit entry naming the caller: one identification.
    assert client.post("/api/v1/roles", json={"name": "Once"}).status_code == 200
    assert module.calls == ["/api/v1/roles"]


# -- aliases -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("alias", "target"), sorted(BACKEND_ALIASES.items()))
def test_airflow_module_names_are_aliases(alias, target):
    assert load_backends([alias]) == [importlib.import_module(target)]


def test_airflow_backend_names_work_in_the_config():
    client = make_app(
        api={"auth_backends": "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth,airflow.api.auth.backend.session"}
    ).test_client()
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 200
    response = client.get("/api/v1/users")
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, BASIC)


# -- custom backends ---------------------------------------------------------------------------
def test_custom_backend_from_outside_the_project(outside_module, monkeypatch):
    write_token_backend(outside_module)
    monkeypatch.setenv("API_TOKENS", "t0k3n=admin, v1ew=viewer, gone=nobody")
    client = make_app(api={"auth_backends": "token_backend,auth_backends.basic_auth"}).test_client()
    assert client.get("/api/v1/users", headers={"Authorization": "Bearer t0k3n"}).status_code == 200
    assert client.get("/api/v1/users", headers={"Authorization": "Bearer v1ew"}).status_code == 403
    for header in ("Bearer nope", "Bearer gone", "Bearer "):
        response = client.get("/api/v1/users", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"] == f"{BEARER}, {BASIC}"
    assert client.get("/api/v1/users", headers=basic_auth("admin")).status_code == 200


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("no_such_backend_module", None, "Cannot import auth backend 'no_such_backend_module'"),
        ("broken_backend", "raise RuntimeError('boom at import')\n", "Cannot import auth backend 'broken_backend'"),
        ("lazy_backend", "def init_app(app):\n    pass\n", "Auth backend 'lazy_backend' has no authenticate(request)"),
    ],
)
def test_backend_that_cannot_load_stops_the_app(outside_module, name, source, message):
    if source is not None:
        (outside_module / f"{name}.py").write_text(source)
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app(base_overrides(api={"auth_backends": f"auth_backends.basic_auth,{name}"}))
