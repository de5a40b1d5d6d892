"""Connections as stored: id rules, secrets encrypted at rest, extras shown with secrets masked.

Shared by the API and the CLI. `password` and `extra` are Fernet tokens in the database
(see app/fernet.py); nothing else is encrypted, as in Airflow.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from app.config import Config
from app.errors import BadRequest
from app.fernet import decrypt, encrypt
from app.models import Connection
from app.secrets_masker import REDACTED, is_sensitive, redact, sensitive_names

CONN_ID_MAX_LENGTH = 200
_CONN_ID = re.compile(r"^[\w.-]+$")
ENCRYPTED = ("password", "extra")
# API name -> column, where they differ.
COLUMNS = {"connection_id": "conn_id"}
_NOT_A_URI = "not a connection URI (type://login:password@host:port/schema?extra)"
FIELDS = ("connection_id", "conn_type", "description", "host", "login", "schema", "port", "password", "extra")


def check_conn_id(conn_id: str) -> None:
    """400 unless the id is 1-200 word characters, dots and dashes (Airflow's rule)."""
    if len(conn_id) > CONN_ID_MAX_LENGTH:
        raise BadRequest(detail=f"The key has to be less than {CONN_ID_MAX_LENGTH} characters")
    if not _CONN_ID.match(conn_id):
        raise BadRequest(
            detail=f"The key {conn_id!r} has to be made of alphanumeric characters, dashes, dots and "
            "underscores exclusively"
        )


def fields_from_uri(uri: str) -> dict:
    """A connection URI (`type://login:password@host:port/schema?extra`) as API fields, read as
    Airflow reads one: `postgresql` is `postgres`, `-` in the type is `_`, a second `://` makes
    the host keep its protocol, and the query is the extra (`__extra__` holds it verbatim).
    Raises ValueError for text that is not such a URI (without quoting it: it may hold a password)."""
    if uri.count("://") not in (1, 2):
        raise ValueError(_NOT_A_URI)
    scheme = urlsplit(uri).scheme
    if not scheme:
        raise ValueError(_NOT_A_URI)
    host_with_protocol = uri.count("://") == 2
    rest = uri.replace(f"{scheme}://", "" if host_with_protocol else "//", 1)
    if host_with_protocol and ("@" in rest.split("://", 1)[0] or ":" in rest.split("://", 1)[0]):
        raise ValueError(_NOT_A_URI)
    parts = urlsplit(rest)
    host = _hostname(parts)
    if host and host_with_protocol:
        host = f"{parts.scheme}://{host}"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return {
        "conn_type": "postgres" if scheme == "postgresql" else scheme.replace("-", "_"),
        "host": host,
        "schema": unquote(parts.path[1:]),
        "login": unquote(parts.username) if parts.username else parts.username,
        "password": unquote(parts.password) if parts.password else parts.password,
        "port": parts.port,
        "extra": query.get("__extra__", json.dumps(query)) if query else None,
    }


def _hostname(parts) -> str:
    """The URI's host, unquoted; a quoted `/` in it (a socket path) keeps the netloc's case."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def assign(conn: Connection, data: dict, conf: Config) -> None:
    """Set API-named fields on the row, encrypting the secret ones."""
    for name, value in data.items():
        if name in ENCRYPTED:
            value = encrypt(conf, value)
        setattr(conn, COLUMNS.get(name, name), value)


def password(conn: Connection, conf: Config) -> str | None:
    return decrypt(conf, conn.password)


def extra(conn: Connection, conf: Config) -> str | None:
    return decrypt(conf, conn.extra)


def _parse(text: str | None):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def shown_extra(text: str | None, conf: Config) -> str | None:
    """The extra as the API shows it: JSON with sensitive keys as ***; other text unchanged."""
    parsed = _parse(text)
    if parsed is None or not conf.getboolean("core", "hide_sensitive_var_conn_fields"):
        return text
    return json.dumps(redact(parsed))


def _restore(new, old, names: frozenset[str]):
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    return {
        key: old[key] if value == REDACTED and key in old and is_sensitive(key, names)
        else _restore(value, old.get(key), names)
        for key, value in new.items()
    }


def keep_masked_secrets(new_text: str | None, old_text: str | None) -> str | None:
    """Put back the stored secret wherever a client sends `***` under the same sensitive key.

    A client that edits an extra it read from the API gets the secrets back masked; saving it
    as is must not overwrite them with `***`.
    """
    new, old = _parse(new_text), _parse(old_text)
    restored = _restore(new, old, sensitive_names())
    return json.dumps(restored) if restored != new else new_text
