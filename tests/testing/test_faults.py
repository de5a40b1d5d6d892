"""Fault injection: the rule syntax, each kind of fault through the app, draws, the rules file, and
that a server without rules is untouched."""
from __future__ import annotations

import logging
import time

import pytest

from app.config import ConfigError
from app.faults import HEADER, FaultRule, parse_rule, parse_rules
from app.models import Pool
from tests.conftest import make_app

SERVICE_UNAVAILABLE = {
    "detail": "Fault injected by [testing] fault rule 1: GET /api/v1/pools status=503 retry_after=2",
    "instance": "/api/v1/pools",
    "status": 503,
    "title": "Service Unavailable",
    "type": "about:blank",
}


def faulty(**testing):
    return make_app(testing=testing).test_client()


# -- syntax ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("GET /api/v1/pools status=503", FaultRule(1, "GET /api/v1/pools status=503", frozenset({"GET"}), "/api/v1/pools", status=503)),
        (
            "get,Post  /api/v1/dags/*  latency=250ms p=0.25",
            FaultRule(1, "get,Post /api/v1/dags/* latency=250ms p=0.25", frozenset({"GET", "POST"}), "/api/v1/dags/*",
                      latency=(0.25, 0.25), probability=0.25),
        ),
        ("* /* latency=0.1-2s drop", FaultRule(1, "* /* latency=0.1-2s drop", None, "/*", latency=(0.1, 2.0), drop="before")),
        ("DELETE /x drop=after", FaultRule(1, "DELETE /x drop=after", frozenset({"DELETE"}), "/x", drop="after")),
        ("* /x status=429 retry_after=1.6", FaultRule(1, "* /x status=429 retry_after=1.6", None, "/x", status=429, retry_after="2")),
    ],
)
def test_rules_parse(text, rule):
    assert parse_rule(text, 1) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GET /api/v1/pools", "expected METHODS PATH ACTION"),
        ("GET api/v1/pools status=503", "must start with '/'"),
        ("GET /x status=200", "status must be an HTTP error status (400-599), not '200'"),
        ("GET /x status=abc", "status must be an HTTP error status"),
        ("GET /x latency=fast", "'fast' is not a duration"),
        ("GET /x latency=2-1", "ends before it starts"),
        ("GET /x status=503 p=1.5", "p must be a fraction between 0 and 1"),
        ("GET /x status=503 drop", "either answered with a status or dropped"),
        ("GET /x p=0.5", "give at least one of latency=, status= or drop"),
        ("GET /x explode", "unknown action 'explode'"),
        ("GET /x drop=later", "unknown action 'drop=later'"),
    ],
)
def test_bad_rules_are_refused_with_the_rule_named(text, message):
    with pytest.raises(ConfigError, match="Fault rule") as raised:
        parse_rule(text, 1)
    assert message in str(raised.value)


def test_rules_split_on_semicolons_and_lines_with_comments():
    rules = parse_rules("GET /a status=500; POST /b drop\n# a comment\n\n* /c latency=1  # trailing\n", first_number=3)
    assert [(r.number, r.text) for r in rules] == [(3, "GET /a status=500"), (4, "POST /b drop"), (5, "* /c latency=1")]


def test_a_bad_configured_rule_stops_the_app():
    with pytest.raises(ConfigError, match="unknown action"):
        make_app(testing={"fault_rules": "GET /x boom"})


# -- each kind of fault ------------------------------------------------------------------------
def test_no_rules_leave_the_app_untouched(client, admin_headers):
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert response.status_code == 200
    assert HEADER not in response.headers
    assert "stableflow.faults" not in client.application.extensions


def test_status_answers_a_problem_document_without_handling_the_request(admin_headers):
    client = faulty(fault_rules="GET /api/v1/pools status=503 retry_after=2")
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert response.status_code == 503
    assert response.json == SERVICE_UNAVAILABLE
    assert (response.headers[HEADER], response.headers["Retry-After"]) == ("rule=1 status=503", "2")
    # Another method or path is not affected.
    other = client.get("/api/v1/pools/default_pool", headers=admin_headers)
    assert (other.status_code, HEADER in other.headers) == (200, False)


def test_status_comes_before_authentication(app):
    client = faulty(fault_rules="GET /api/v1/pools status=500")
    response = client.get("/api/v1/pools")
    assert (response.status_code, response.json["title"]) == (500, "Internal Server Error")


def test_latency_delays_and_is_named(admin_headers):
    client = faulty(fault_rules="GET /api/v1/pools latency=150ms")
    started = time.monotonic()
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert time.monotonic() - started >= 0.15
    assert response.status_code == 200
    assert response.headers[HEADER] == "rule=1 latency=0.150"


def test_latency_and_status_together(admin_headers):
    client = faulty(fault_rules="GET /api/v1/pools latency=0.05 status=504")
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert (response.status_code, response.headers[HEADER]) == (504, "rule=1 latency=0.050 status=504")


def test_drop_cuts_the_request_before_it_is_handled(app, admin_headers):
    client = faulty(fault_rules="POST /api/v1/pools drop")
    # Without gunicorn's socket the test client sees the cut as an exception.
    with pytest.raises(ConnectionAbortedError):
        client.post("/api/v1/pools", json={"name": "p", "slots": 1}, headers=admin_headers)
    with app.app_context():
        from app.extensions import db

        assert db.session.get(Pool, 2) is None
        db.session.remove()


def test_drop_after_handles_the_request_then_cuts_it(app, client, admin_headers):
    dropping = faulty(fault_rules="POST /api/v1/pools drop=after")
    with pytest.raises(ConnectionAbortedError):
        dropping.post("/api/v1/pools", json={"name": "p", "slots": 1}, headers=admin_headers)
    assert client.get("/api/v1/pools/p", headers=admin_headers).json["slots"] == 1


def test_each_fault_is_logged_with_its_request_id(admin_headers, caplog):
    client = faulty(fault_rules="GET /api/v1/pools status=502")
    with caplog.at_level(logging.WARNING, logger="app.faults"):
        client.get("/api/v1/pools", headers={**admin_headers, "X-Request-ID": "req-42"})
    [record] = [r for r in caplog.records if r.getMessage().startswith("Injected fault")]
    assert record.getMessage() == "Injected fault rule=1 status=502 into GET /api/v1/pools (rule: GET /api/v1/pools status=502)"
    assert record.request_id == "req-42"


# -- draws -------------------------------------------------------------------------------------
def statuses(client, headers, count=12):
    return [client.get("/api/v1/pools", headers=headers).status_code for _ in range(count)]


def test_a_fraction_of_requests_with_a_seed_is_reproducible(admin_headers):
    first = statuses(faulty(fault_rules="GET /api/v1/pools status=503 p=0.5", fault_seed="7"), admin_headers)
    again = statuses(faulty(fault_rules="GET /api/v1/pools status=503 p=0.5", fault_seed="7"), admin_headers)
    assert first == again
    assert 0 < first.count(503) < 12
    assert statuses(faulty(fault_rules="GET /api/v1/pools status=503 p=0"), admin_headers, count=4) == [200] * 4


def test_the_first_rule_whose_draw_hits_applies(admin_headers):
    client = faulty(fault_rules="GET /api/v1/pools status=500 p=0; GET /api/v1/* status=502")
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert (response.status_code, response.headers[HEADER]) == (502, "rule=2 status=502")


# -- the rules file ----------------------------------------------------------------------------
def test_the_rules_file_is_read_again_when_it_changes(tmp_path, admin_headers):
    rules = tmp_path / "faults.rules"
    client = faulty(fault_rules="GET /api/v1/version status=500", fault_rules_file=str(rules))
    assert client.get("/api/v1/pools", headers=admin_headers).status_code == 200  # no file yet
    rules.write_text("GET /api/v1/pools status=418\n")
    response = client.get("/api/v1/pools", headers=admin_headers)
    assert (response.status_code, response.headers[HEADER]) == (418, "rule=2 status=418")
    rules.write_text("GET /api/v1/pools status=599  # longer, so the change is seen whatever the clock\n")
    assert client.get("/api/v1/pools", headers=admin_headers).status_code == 599
    rules.unlink()
    assert client.get("/api/v1/pools", headers=admin_headers).status_code == 200


def test_a_broken_edit_keeps_the_rules_read_before(tmp_path, admin_headers, caplog):
    rules = tmp_path / "faults.rules"
    rules.write_text("GET /api/v1/pools status=503\n")
    client = faulty(fault_rules_file=str(rules))
    rules.write_text("GET /api/v1/pools status=nope\n")
    with caplog.at_level(logging.ERROR, logger="app.faults"):
        assert client.get("/api/v1/pools", headers=admin_headers).status_code == 503
    assert "status must be an HTTP error status" in caplog.text


def test_a_broken_rules_file_stops_the_app_at_startup(tmp_path):
    rules = tmp_path / "faults.rules"
    rules.write_text("GET /x teleport\n")
    with pytest.raises(ConfigError, match="unknown action 'teleport'"):
        make_app(testing={"fault_rules_file": str(rules)})
