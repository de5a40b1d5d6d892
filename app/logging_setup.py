"""Logging for the server, scheduler and CLI: human-readable text or JSON lines.

Every line logged while a request is handled carries the request's id (the client's X-Request-ID
or a generated one, also sent back in that header) and the user (`-` until a backend has
identified the caller). `[logging] log_requests` adds one line per API request.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time

from flask import Flask, g, request

from app.config import Config

_HANDLER_NAME = "stableflow"
NO_CONTEXT = "-"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", NO_CONTEXT) != NO_CONTEXT:
            entry["request_id"] = record.request_id
            entry["user"] = getattr(record, "user", NO_CONTEXT)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RequestContextFilter(logging.Filter):
    """Stamp every record made during a request with its request id and user."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        if has_request_context():
            from app.errors import request_id

            record.request_id = request_id()
            identity = g.get("stableflow_identity")
            record.user = identity.username if identity else NO_CONTEXT
        else:
            record.request_id = getattr(record, "request_id", NO_CONTEXT)
            record.user = getattr(record, "user", NO_CONTEXT)
        return True


def configure_logging(conf: Config) -> None:
    root = logging.getLogger()
    level = conf.get("logging", "logging_level").upper()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestContextFilter())
    if conf.get("logging", "format").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] %(levelname)s %(name)s [req=%(request_id)s user=%(user)s] %(message)s")
        )
    root.addHandler(handler)
    root.setLevel(level)


# -- one line per API request ------------------------------------------------------------------
request_log = logging.getLogger("stableflow.requests")


def _start_request_timer():
    g.stableflow_request_log_started = time.perf_counter()


def _outcome(response) -> str:
    """The status the client gets, or that a fault rule cut the connection instead (after
    handling the request, for `drop=after`)."""
    from app.faults import DROP_KEY

    drop = request.environ.get(DROP_KEY)
    if drop == "before":
        return "dropped"
    return f"{response.status_code} dropped" if drop else str(response.status_code)


def _log_request(response):
    from app.errors import API_PREFIX

    started = g.pop("stableflow_request_log_started", None)
    if started is not None and request.path.startswith(API_PREFIX):
        milliseconds = (time.perf_counter() - started) * 1000
        request_log.info("%s %s %s %.1fms", request.method, request.path, _outcome(response), milliseconds)
    return response


def init_request_log(app: Flask, conf: Config) -> None:
    """Log each API request once it is answered, when `[logging] log_requests`."""
    if conf.getboolean("logging", "log_requests"):
        app.before_request(_start_request_timer)
        app.after_request(_log_request)
