"""What every answer of a live server says about itself, and the failed-login lockout across workers.

- Every response carries `X-Content-Type-Options: nosniff`; every API response `Cache-Control:
  no-store` (successes and problem documents alike, including the ones gunicorn and Werkzeug make).
- No version banner: gunicorn's `Server` header names no version, and stableflow's version appears
  in `/version` only (and in the served spec's `info.version`, as in Airflow's).
- Failed Basic logins are counted per user in the database, so the lockout holds across gunicorn
  workers, ends when `[api] failed_login_window` has passed, and `max_failed_logins = 0` turns it off.
"""
from __future__ import annotations

import re
import time

import gunicorn
import requests

from app.version import __version__
from tests.live import live_server

PROBES = [
    ("get", "/api/v1/health", None, {}),
    ("get", "/api/v1/version", None, {}),
    ("get", "/api/v1/pools", None, {}),
    ("get", "/api/v1/pools/nope", None, {}),
    ("get", "/api/v1/nope", None, {}),
    ("delete", "/api/v1/version", None, {}),
    ("post", "/api/v1/pools", b"not json", {"Content-Type": "application/json"}),
    ("post", "/api/v1/pools", b"name=p", {"Content-Type": "text/plain"}),
    ("post", "/api/v1/variables", b"x" * (10 * 1024 * 1024 + 1), {"Content-Type": "application/json"}),
    ("get", "/api/v1/config", None, {"Accept": "text/plain"}),
    ("get", "/api/v1/openapi.json", None, {}),
]


def test_every_answer_carries_the_safety_headers_and_no_version_banner(tmp_path):
    with live_server(tmp_path) as server:
        answers = [
            requests.request(method, server.url + path, data=data, headers=headers, auth=server.auth, timeout=30)
            for method, path, data, headers in PROBES
        ]
        answers.append(requests.get(server.api + "/pools", auth=("admin", "wrong"), timeout=30))
        answers.append(requests.get(server.url + "/", timeout=30))
    assert {a.status_code for a in answers} == {200, 400, 401, 403, 404, 405, 413, 415}
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
        if "/api/v1" in answer.url:
            assert answer.headers["Cache-Control"] == "no-store", answer.url
        assert not re.search(r"\d", answer.headers.get("Server", "")), answer.headers["Server"]
        assert gunicorn.__version__ not in repr(answer.headers)
        assert __version__ not in repr(answer.headers)
        if not answer.url.endswith(("/version", "/openapi.json")):  # the spec names the API version it describes
            assert __version__ not in answer.text, answer.url
    version = next(a for a in answers if a.url.endswith("/version"))
    assert version.json()["version"] == __version__
    # Nor a management socket beside the API (gunicorn 27 opens one by default).
    assert "Control socket" not in (tmp_path / "webserver.log").read_text()


def _statuses(server, password: str, rounds: int = 6) -> set[int]:
    return {requests.get(server.api + "/pools", auth=("admin", password), timeout=30).status_code for _ in range(rounds)}


def test_lockout_is_shared_by_workers_and_ends_with_its_window(tmp_path):
    with live_server(tmp_path, workers=2, API__MAX_FAILED_LOGINS="3", API__FAILED_LOGIN_WINDOW="2") as server:
        assert _statuses(server, "wrong", rounds=3) == {401}
        started = time.monotonic()
        # Locked in every worker: the right password is refused without being checked.
        assert _statuses(server, server.password) == {401}
        time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
        assert _statuses(server, server.password) == {200}


def test_lockout_off_with_zero(tmp_path):
    with live_server(tmp_path, workers=2, API__MAX_FAILED_LOGINS="0") as server:
        assert _statuses(server, "wrong", rounds=20) == {401}
        assert _statuses(server, server.password) == {200}
