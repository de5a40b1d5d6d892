"""The wire JSON format: sorted keys, ASCII-only, ISO 8601 datetimes with an offset.

Airflow indents its bodies by two spaces; we send them compact (the same JSON values), because
indented encoding runs in pure Python and costs list endpoints a large share of their time.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from flask.json.provider import JSONProvider


def _default(obj):
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, (uuid.UUID, set, frozenset)):
        return str(obj) if isinstance(obj, uuid.UUID) else sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj, **kwargs) -> str:
    kwargs.setdefault("sort_keys", True)
    kwargs.setdefault("default", _default)
    kwargs.pop("indent", None)
    return json.dumps(obj, **kwargs)


def loads(data, **kwargs):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    return json.loads(data, **kwargs)


class StableflowJSONProvider(JSONProvider):
    mimetype = "application/json"

    def dumps(self, obj, **kwargs) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        return loads(s, **kwargs)

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps(obj) + "\n", mimetype=self.mimetype)


class WireJson:
    """The json-like module Connexion's Jsonifier calls."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        return dumps(obj, **kwargs)

    @staticmethod
    def loads(data, **kwargs):
        return loads(data, **kwargs)
