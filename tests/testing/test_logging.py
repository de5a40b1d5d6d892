"""Logging: text by default, JSON lines with `[logging] format = json`; every line logged during an
API request carries its request id and user; `[logging] log_requests` logs each API request."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
import requests

from app.config import load_config
from app.logging_setup import JsonFormatter, RequestContextFilter, configure_logging
from tests.conftest import base_overrides, basic_auth, make_app
from tests.live import live_server

TEXT_FORMAT = "%(levelname)s %(name)s [req=%(request_id)s user=%(user)s] %(message)s"


@pytest.fixture(scope="module")
def logging_app():
    return make_app(logging={"log_requests": True})


@pytest.fixture
def captured():
    """What the root logger writes, through stableflow's filter, as JSON lines and as text."""
    streams = {"json": io.StringIO(), "text": io.StringIO()}
    handlers = []
    for kind, stream in streams.items():
        handler = logging.StreamHandler(stream)
        handler.addFilter(RequestContextFilter())
        handler.setFormatter(JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT))
        handlers.append(handler)
        logging.getLogger().addHandler(handler)
    yield streams
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


def json_lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_api_request_line_carries_the_request_id_and_user(logging_app, captured):
    response = logging_app.test_client().get("/api/v1/pools", headers={**basic_auth("viewer"), "X-Request-ID": "req-1"})
    assert response.headers["X-Request-ID"] == "req-1"
    [line] = [entry for entry in json_lines(captured["json"]) if entry["logger"] == "stableflow.requests"]
    assert re.fullmatch(r"GET /api/v1/pools 200 \d+\.\dms", line.pop("message"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line.pop("time"))
    assert line == {"level": "INFO", "logger": "stableflow.requests", "request_id": "req-1", "user": "viewer"}
    assert re.search(r"^INFO stableflow.requests \[req=req-1 user=viewer\] GET /api/v1/pools 200 ", captured["text"].getvalue(), re.M)


def test_a_generated_request_id_is_the_one_sent_back(logging_app, captured):
    response = logging_app.test_client().get("/api/v1/pools", headers=basic_auth("viewer"))
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert [entry["request_id"] for entry in json_lines(captured["json"])] == [request_id]


def test_lines_before_the_caller_is_identified_have_no_user(logging_app, captured):
    logging_app.test_client().get("/api/v1/pools", headers={**basic_auth("viewer", "wrong"), "X-Request-ID": "req-2"})
    entries = [(e["logger"], e["message"], e["request_id"], e["user"]) for e in json_lines(captured["json"])]
    assert ("app.auth_events", "Failed login for user viewer", "req-2", "-") in entries
    assert entries[-1][1:] == ("GET /api/v1/pools 401 " + entries[-1][1].split()[-1], "req-2", "-")


@pytest.mark.parametrize(("rule", "outcome"), [("drop", "dropped"), ("drop=after", "404 dropped")])
def test_a_request_a_fault_rule_drops_is_logged_as_dropped(captured, rule, outcome):
    client = make_app(logging={"log_requests": True}, testing={"fault_rules": f"GET /api/v1/pools/* {rule}"}).test_client()
    with pytest.raises(ConnectionAbortedError):
        client.get("/api/v1/pools/nope", headers={**basic_auth("viewer"), "X-Request-ID": "req-3"})
    [line] = [entry for entry in json_lines(captured["json"]) if entry["logger"] == "stableflow.requests"]
    assert re.fullmatch(rf"GET /api/v1/pools/nope {outcome} \d+\.\dms", line["message"])


def test_lines_outside_requests_have_no_request_fields(captured):
    logging.getLogger("app.scheduler.job").warning("Scheduler job %s stopped", 7)
    [entry] = json_lines(captured["json"])
    assert set(entry) == {"time", "level", "logger", "message"}
    assert captured["text"].getvalue() == "WARNING app.scheduler.job [req=- user=-] Scheduler job 7 stopped\n"


def test_requests_are_not_logged_by_default(client, captured, admin_headers):
    client.get("/api/v1/pools", headers=admin_headers)
    assert [e for e in json_lines(captured["json"]) if e["logger"] == "stableflow.requests"] == []


@pytest.mark.parametrize(("fmt", "formatter"), [("json", JsonFormatter), ("text", logging.Formatter)])
def test_the_format_option_picks_the_formatter(app, fmt, formatter):
    configure_logging(load_config(base_overrides(logging={"format": fmt})))
    try:
        [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "stableflow"]
        assert type(handler.formatter) is formatter
    finally:
        configure_logging(app.extensions["stableflow.conf"])


def test_a_server_logging_json_writes_only_json_lines(tmp_path):
    with live_server(tmp_path, workers=1, LOGGING__FORMAT="json", LOGGING__LOG_REQUESTS="True",
                     LOGGING__LOGGING_LEVEL="INFO") as server:
        response = requests.get(server.api + "/pools", auth=server.auth, headers={"X-Request-ID": "live-1"}, timeout=10)
        assert response.status_code == 200
    entries = [json.loads(line) for line in (tmp_path / "webserver.log").read_text().splitlines()]
    assert any(entry["logger"] == "gunicorn.error" for entry in entries)  # "Booting worker ..."
    [request_line] = [entry for entry in entries if entry.get("request_id") == "live-1"]
    assert (request_line["logger"], request_line["user"]) == ("stableflow.requests", "admin")
    assert request_line["message"].startswith("GET /api/v1/pools 200 ")
