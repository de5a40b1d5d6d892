"""POST /connections/test: really reach http(s), postgres, sqlite and fs connections.

Each check gets the connection's fields (API names, password in clear, never stored) and answers
(status, message). Failures are answers, not errors; messages never carry the password.
"""
from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

# Seconds any single check may wait for the other side.
TIMEOUT = 5
SUCCESS = "Connection successfully tested"


def _http_url(data: dict) -> str:
    host = data.get("host") or ""
    if "://" not in host:
        scheme = data.get("schema") or ("https" if data["conn_type"].lower() == "https" else "http")
        host = f"{scheme}://{host}"
    parts = urllib.parse.urlsplit(host)
    if data.get("port") and parts.port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:{data['port']}")
    return urllib.parse.urlunsplit(parts)


def check_http(data: dict) -> tuple[bool, str]:
    """HEAD the connection's URL; any answer below 400 is a success."""
    if not data.get("host"):
        return False, "The connection has no host to send a request to."
    url = _http_url(data)
    request = urllib.request.Request(url, method="HEAD")
    if data.get("login"):
        token = base64.b64encode(f"{data['login']}:{data.get('password') or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return True, f"{SUCCESS}: HEAD {url} answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HEAD {url} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"HEAD {url} failed: {reason}"


def check_postgres(data: dict) -> tuple[bool, str]:
    """Log in and run SELECT 1."""
    try:
        import psycopg
    except ImportError:
        return False, "Testing postgres connections needs psycopg: pip install 'stableflow[postgres]'."
    params = {
        "host": data.get("host"),
        "port": data.get("port"),
        "user": data.get("login"),
        "password": data.get("password"),
        "dbname": data.get("schema"),
    }
    params = {key: value for key, value in params.items() if value not in (None, "")}
    try:
        with psycopg.connect(connect_timeout=TIMEOUT, **params) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return False, f"PostgreSQL refused the connection: {str(exc).strip()}"
    return True, SUCCESS


def check_sqlite(data: dict) -> tuple[bool, str]:
    """Open the database file named by `host` read-only and read its schema."""
    path = data.get("host")
    if not path:
        return False, "The connection has no host: set it to the path of the SQLite database file."
    if not Path(path).is_file():
        return False, f"No SQLite database file at {path}"
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=TIMEOUT)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return False, f"{path} cannot be read as a SQLite database: {exc}"
    return True, SUCCESS


def check_fs(data: dict) -> tuple[bool, str]:
    """The path in extra `path` (Airflow's FSHook field), or else in `host`, must exist."""
    try:
        extra = json.loads(data.get("extra") or "{}")
    except ValueError:
        extra = {}
    path = (extra.get("path") if isinstance(extra, dict) else None) or data.get("host")
    if not path:
        return False, "The connection names no path: set extra {\"path\": ...} or host."
    if not Path(path).exists():
        return False, f"The path {path} does not exist on the server."
    return True, f"{SUCCESS}: {path} exists"


CHECKS: dict[str, Callable[[dict], tuple[bool, str]]] = {
    "http": check_http,
    "https": check_http,
    "postgres": check_postgres,
    "postgresql": check_postgres,
    "sqlite": check_sqlite,
    "fs": check_fs,
}


def check_connection(data: dict) -> tuple[bool, str]:
    """Test a connection described by its API fields; unknown types answer False, saying why."""
    conn_type = (data.get("conn_type") or "").strip().lower()
    check = CHECKS.get(conn_type)
    if check is None:
        return False, (
            f"Connections of type {conn_type!r} cannot be tested by stableflow; "
            f"it tests {', '.join(sorted(CHECKS))}."
        )
    return check(data)
