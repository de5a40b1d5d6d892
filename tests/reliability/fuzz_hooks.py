"""Schemathesis hooks for the fuzz run (loaded by the `schemathesis` CLI through SCHEMATHESIS_HOOKS).

- The fuzzer must not lock itself out: calls that would delete, rename or re-password the `admin`
  user it authenticates as, or strip the Admin role, are aimed at a name that does not exist.
- gunicorn refuses a request line longer than its `limit_request_line` (4094 bytes) with its own
  414 before the app sees the request; that transport limit is not the API's answer, so failures
  on such a 414 are dropped (the summary counts them as filtered).
- Error responses are documented as `application/json` (as in Airflow's own spec) and served as
  `application/problem+json` (as Airflow's server does). The `problem_document` check asserts that
  each one is a real problem document; the media type is then read as the documented one so that
  the stock checks still validate the body against the `Error` schema.
"""
from __future__ import annotations

import json

import schemathesis

FUZZ_USER = "admin"
FUZZ_ROLE = "Admin"
PROTECTED_NAME = "fuzz-protected-name"
# Where after_call keeps the media type the server really sent, for the problem_document check.
SERVED_AS = "x-fuzz-served-content-type"
GUNICORN_LIMIT_REQUEST_LINE = 4094
PROBLEM_KEYS = {"detail", "instance", "status", "title", "type"}


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.path_parameters or {}
    if case.method.upper() in ("PATCH", "DELETE"):
        if path.get("username") == FUZZ_USER:
            path["username"] = PROTECTED_NAME
        if path.get("role_name") == FUZZ_ROLE:
            path["role_name"] = PROTECTED_NAME


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not is_gunicorn_uri_too_long(response)


def is_gunicorn_uri_too_long(response) -> bool:
    request = response.request
    request_line = f"{request.method} {request.path_url} HTTP/1.1"
    return response.status_code == 414 and len(request_line.encode()) > GUNICORN_LIMIT_REQUEST_LINE


@schemathesis.check
def problem_document(ctx, response, case):
    """Every error answer is an RFC 7807 problem document whose status matches the response's."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return None
    content_type = (response.headers.get(SERVED_AS) or response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}, not a problem document")
    body = json.loads(response.content)
    if set(body) != PROBLEM_KEYS or body["status"] != response.status_code:
        raise AssertionError(f"not a problem document: {body!r}")
    return True


@schemathesis.hook
def after_call(context, case, response):
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/problem+json"):
        response.headers[SERVED_AS] = [content_type]
        response.headers["content-type"] = ["application/json"]
