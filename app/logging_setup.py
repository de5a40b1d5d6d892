"""Logging for the server, scheduler and CLI: human-readable text or JSON lines."""
from __future__ import annotations

import json
import logging
import sys

from app.config import Config

_HANDLER_NAME = "stableflow"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attr in ("request_id", "user"):
            value = getattr(record, attr, None)
            if value:
                entry[attr] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RequestContextFilter(logging.Filter):
    """Stamp every record made during a request with its request id and user."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import g, has_request_context

        if has_request_context():
            record.request_id = getattr(g, "request_id", None) or "-"
            identity = g.get("stableflow_identity")
            record.user = identity.username if identity else "-"
        else:
            record.request_id = getattr(record, "request_id", "-")
            record.user = getattr(record, "user", "-")
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
