"""Checks on every API request before Connexion routes it: input no database can store faithfully,
and JSON nested deeper than the rest of the stack can walk.

- PostgreSQL refuses NUL characters in text ("PostgreSQL text fields cannot contain NUL"), and no
  driver can encode an unpaired UTF-16 surrogate (JSON allows `"\\ud800"`) as UTF-8. Left alone,
  both reach the database as a 500 on PostgreSQL and behave differently on SQLite; refused here,
  they are the same 400 on both, before any handler or audit entry runs.
- Request validation, serialization and response validation all recurse into JSON; a body nested
  a few hundred levels deep would exhaust Python's recursion limit somewhere in them (a 500).
  No API body needs more than MAX_JSON_DEPTH levels.
"""
from __future__ import annotations

import re

from flask import request

from app.errors import API_PREFIX, BadRequest

MAX_JSON_DEPTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_DETAIL = "{where} contains a NUL character or an unpaired surrogate, which cannot be stored."
TOO_DEEP_DETAIL = f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."


def _body_texts(body):
    """Every key and string of a JSON body, walked without recursion; 400 past MAX_JSON_DEPTH."""
    stack = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(detail=TOO_DEEP_DETAIL)
            if isinstance(value, dict):
                yield from value.keys()
                value = value.values()
            stack.extend((item, depth + 1) for item in value)


def _request_body():
    try:
        return request.get_json(silent=True)
    except RecursionError:  # deeper than the JSON decoder itself can go
        raise BadRequest(detail=TOO_DEEP_DETAIL) from None


def _request_texts():
    yield "The path", request.path
    for key, values in request.args.lists():
        yield "The query", key
        for value in values:
            yield "The query", value
    if request.is_json:
        for text in _body_texts(_request_body()):
            yield "The request body", text


def check_api_request() -> None:
    """400 for NUL characters and unpaired surrogates anywhere in an API request's text, and for
    JSON bodies nested too deeply."""
    if not request.path.startswith(API_PREFIX):
        return
    for where, text in _request_texts():
        if _UNSTORABLE.search(text):
            raise BadRequest(detail=UNSTORABLE_DETAIL.format(where=where))
