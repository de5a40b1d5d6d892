"""The access contract: every operation in openapi.yaml declares who may call it.

A resolved handler must carry `__access_rules__` (set by `@requires_access(...)` or `@public`);
only /health and /version are public. Every protected operation answers 401 without credentials
and 403 to a known user without permissions, and request validation comes first (400), as in
Airflow.
"""
from __future__ import annotations

import pytest

from tests.conftest import basic_auth
from tests.spec_examples import OPERATIONS, PUBLIC_OPERATIONS

PROTECTED = [op for op in OPERATIONS if op.operation_id not in PUBLIC_OPERATIONS]


def test_every_resolved_handler_declares_access():
    undeclared = [
        op.id
        for op in OPERATIONS
        if op.handler() is not None and getattr(op.handler(), "__access_rules__", None) is None
    ]
    assert undeclared == []


def test_only_health_and_version_are_public():
    public = {
        op.operation_id
        for op in OPERATIONS
        if op.handler() is not None and getattr(op.handler(), "__public__", False)
    }
    assert public == PUBLIC_OPERATIONS
    protected_without_rules = [
        op.id for op in PROTECTED if op.handler() is not None and not op.handler().__access_rules__
    ]
    assert protected_without_rules == []


def test_every_operation_is_resolved():
    assert [op.id for op in OPERATIONS if op.handler() is None] == []


def _send(client, op, headers=None):
    kwargs = op.request_kwargs()
    kwargs["headers"].update(headers or {})
    return client.open(op.url(), **kwargs)


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.id)
def test_no_credentials_is_401(client, op):
    response = _send(client, op)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="stableflow"'
    assert response.json == {
        "detail": "Unauthorized",
        "instance": op.url().split("?")[0],
        "status": 401,
        "title": "Unauthorized",
        "type": "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html"
        "#section/Errors/Unauthenticated",
    }


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.id)
def test_public_role_is_403(client, op):
    response = _send(client, op, basic_auth("test_no_permissions"))
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json == {
        "detail": "Forbidden",
        "instance": op.url().split("?")[0],
        "status": 403,
        "title": "Forbidden",
        "type": "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html"
        "#section/Errors/PermissionDenied",
    }


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.operation_id in PUBLIC_OPERATIONS], ids=lambda op: op.id)
def test_public_operations_need_no_credentials(client, op):
    assert _send(client, op).status_code == 200


def test_request_validation_comes_before_authentication(client):
    unknown_param = client.get("/api/v1/users?nope=1")
    assert unknown_param.status_code == 400
    assert unknown_param.json["detail"] == "Extra query parameter(s) nope not in spec"
    bad_body = client.post("/api/v1/users", json={"username": 1})
    assert bad_body.status_code == 400
    assert bad_body.json["detail"] == "1 is not of type 'string' - 'username'"
    # Well-formed but unauthenticated: now authentication decides.
    assert client.get("/api/v1/users?limit=1").status_code == 401
