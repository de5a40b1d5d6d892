"""Checks on every API request before Connexion routes it: input no database can store faithfully,
and JSON nested deeper than the rest of the stack can walk.

- PostgreSQL refuses NUL characters in text ("PostgreSQL text fields cannot contain NUL"), and no
  driver can encode an unpaired UTF-16 surrogate (JSON allows `"\\ud800"`) as UTF-8. Left alone,
  both reach the database as a 500 on PostgreSQL and behave differently on SQLite; refused here,
  they are the same 400 on both, before any handler or audit entry runs.
- Request validation, serialization and response validation all recurse into JSON; a body nested
  a few hundred levels deep would exhaust Python's recursion limit somewhere in them (a 500).
  No API body needs more than MAX_JSON_DEPTH levels.

`RedactingRequestBodyValidator` replaces Connexion's body validator: its messages quote the
invalid value (`['x'] is not of type 'string' - 'password'`), in the 400 and in the server log; a
value under a secret field name (as app/secrets_masker.py decides) is quoted as `'***'` instead.
"""
from __future__ import annotations

import logging
import re

from connexion.decorators.validation import RequestBodyValidator
from connexion.exceptions import BadRequestProblem
from connexion.utils import is_null
from flask import request
from jsonschema import ValidationError

from app.errors import API_PREFIX, BadRequest
from app.secrets_masker import hidden_instance, hide_value

log = logging.getLogger(__name__)

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
    if request.environ.get("QUERY_STRING"):
        for key, values in request.args.lists():
            yield "The query", key
            for value in values:
                yield "The query", value
    if request.environ.get("CONTENT_TYPE") and request.is_json:
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


def validation_message(error: ValidationError, body=None) -> str:
    """Connexion's `<message> - '<path>'`, with the value hidden when it is (or holds) a secret."""
    path = ".".join(str(item) for item in error.path)
    names = [str(item) for item in error.path if isinstance(item, str)]
    if names == ["value"]:  # a variable's value is as secret as its key says
        names = [_variable_key(body)]
    message = hide_value(error.message, error.instance, hidden_instance(error, names))
    return message + (f" - '{path}'" if path else "")


def _variable_key(body) -> str:
    """The `key` beside a variable's `value`: a variable named like a secret holds one."""
    return str(body.get("key", "")) if isinstance(body, dict) else ""


class RedactingRequestBodyValidator(RequestBodyValidator):
    def validate_schema(self, data, url):
        if self.is_null_value_valid and is_null(data):
            return None
        try:
            self.validator.validate(data)
        except ValidationError as error:
            message = validation_message(error, data)
            log.info("%s validation error: %s", url, message)
            raise BadRequestProblem(detail=message) from None
        return None
