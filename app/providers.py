"""The connection types stableflow knows, grouped into providers as Airflow groups them in packages.

GET /providers lists them. Airflow discovers provider packages installed beside it; stableflow has
no provider packages, so each entry names a built-in capability and carries stableflow's own
version. POST /connections/test (app/connection_check.py) tests exactly these connection types; a
test keeps the two in step.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.version import __version__


@dataclass(frozen=True)
class Provider:
    package_name: str
    description: str
    # The `conn_type` values a connection of this provider may carry; the first is the usual one.
    conn_types: tuple[str, ...]
    version: str = __version__


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "stableflow-providers-fs",
        "Local file system paths (connection type fs)",
        ("fs",),
    ),
    Provider(
        "stableflow-providers-http",
        "Hypertext Transfer Protocol (HTTP and HTTPS) endpoints",
        ("http", "https"),
    ),
    Provider(
        "stableflow-providers-postgres",
        "PostgreSQL databases, reached through psycopg 3",
        ("postgres", "postgresql"),
    ),
    Provider(
        "stableflow-providers-sqlite",
        "SQLite database files",
        ("sqlite",),
    ),
)
