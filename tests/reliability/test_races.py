"""Races through a live gunicorn server with several workers, on the backend of the test run.

30 clients create the same pool, connection, user or DAG run id at once: exactly one is created
(200) and the others get 409, never a 5xx; the database holds one row. `POST /variables` is an
upsert in Airflow (no 409): there, all 30 are acknowledged with 200 and exactly one row exists,
holding one of the written values. 30 concurrent PATCHes of one resource never answer 5xx and
leave one of the written states.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.live import live_database_url, live_server

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 30
WORKERS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("races")
    with live_server(home, db_url=live_database_url("races"), workers=WORKERS, API__MAX_FAILED_LOGINS="0") as live:
        subprocess.run([sys.executable, "-m", "tests.reliability.seed_live"], env=live.env, cwd=ROOT,
                       check=True, timeout=120, capture_output=True)
        yield live
    log = (home / "webserver.log").read_text()
    assert "Unhandled error" not in log, log[-5000:]


def at_once(server, method: str, path: str, bodies: list) -> list[requests.Response]:
    """Send one request per body, all released together, each on its own connection."""
    barrier = threading.Barrier(len(bodies))

    def call(body):
        with server.session() as session:
            barrier.wait()
            return session.request(method, server.api + path, json=body, timeout=60)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(call, bodies))


def statuses(responses) -> Counter:
    return Counter(r.status_code for r in responses)


def assert_one_created(responses, detail_words: str) -> None:
    assert statuses(responses) == Counter({200: 1, 409: CLIENTS - 1}), [r.text for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert detail_words in response.json()["detail"]


def listed(server, path: str, key: str) -> list:
    return server.session().get(server.api + path, params={"limit": 100}, timeout=30).json()[key]


CREATES = [
    ("/pools", {"name": "race", "slots": 3}, "/pools", "pools", lambda item: item["name"] == "race", "race"),
    ("/connections", {"connection_id": "race", "conn_type": "http", "password": "s3cret"}, "/connections",
     "connections", lambda item: item["connection_id"] == "race", "race"),
    ("/users", {"username": "race", "email": "race@example.com", "first_name": "R", "last_name": "Ace",
                "password": "pw-race", "roles": [{"name": "Viewer"}]}, "/users", "users",
     lambda item: item["username"] == "race", "race"),
    ("/dags/pipeline/dagRuns", {"dag_run_id": "race"}, "/dags/pipeline/dagRuns", "dag_runs",
     lambda item: item["dag_run_id"] == "race", "race"),
]


@pytest.mark.parametrize(("path", "body", "list_path", "key", "is_it", "words"), CREATES,
                         ids=[c[0] for c in CREATES])
def test_concurrent_creates_of_one_id_give_one_success_and_409s(server, path, body, list_path, key, is_it, words):
    responses = at_once(server, "POST", path, [body] * CLIENTS)
    assert_one_created(responses, words)
    assert len([item for item in listed(server, list_path, key) if is_it(item)]) == 1


def test_concurrent_variable_upserts_all_succeed_and_leave_one_row(server):
    values = [f"value-{i}" for i in range(CLIENTS)]
    responses = at_once(server, "POST", "/variables", [{"key": "race", "value": v} for v in values])
    assert statuses(responses) == Counter({200: CLIENTS})
    rows = [item for item in listed(server, "/variables", "variables") if item["key"] == "race"]
    assert len(rows) == 1
    assert rows[0]["value"] in values


PATCHES = [
    ("/pools/fuzz_pool", lambda i: {"name": "fuzz_pool", "slots": i}, "slots"),
    ("/variables/fuzz_var", lambda i: {"key": "fuzz_var", "value": f"v{i}"}, "value"),
    ("/connections/fuzz_conn", lambda i: {"connection_id": "fuzz_conn", "conn_type": "http", "host": f"h{i}"}, "host"),
    ("/users/fuzz_viewer?update_mask=first_name", lambda i: {"first_name": f"F{i}"}, "first_name"),
    ("/dags/pipeline/dagRuns/manual_3/setNote", lambda i: {"note": f"note {i}"}, "note"),
    ("/dags/pipeline", lambda i: {"is_paused": bool(i % 2)}, "is_paused"),
]


@pytest.mark.parametrize(("path", "body", "field"), PATCHES, ids=[p[0] for p in PATCHES])
def test_concurrent_patches_never_fail_and_keep_a_written_state(server, path, body, field):
    bodies = [body(i) for i in range(CLIENTS)]
    responses = at_once(server, "PATCH", path, bodies)
    assert statuses(responses) == Counter({200: CLIENTS}), [r.text for r in responses if r.status_code != 200]
    resource = path.split("?")[0].removesuffix("/setNote")
    final = server.session().get(server.api + resource, timeout=30).json()[field]
    assert final in {b[field] for b in bodies}
