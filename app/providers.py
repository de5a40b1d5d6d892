"""The connection types stableflow knows, grouped into providers as Airflow groups them in packages.

This is the single registry: GET /providers lists it, and the connections code asks it which
types it supports (`provider_for`, `conn_types`). Airflow discovers provider packages installed
beside it; stableflow has no provider packages, so each entry names a built-in capability and
carries stableflow's own version.
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

_BY_CONN_TYPE = {conn_type: provider for provider in PROVIDERS for conn_type in provider.conn_types}


def provider_for(conn_type: str | None) -> Provider | None:
    """The provider that handles `conn_type` (case-insensitive), or None for an unknown type."""
    if not conn_type:
        return None
    return _BY_CONN_TYPE.get(conn_type.strip().lower())


def conn_types() -> list[str]:
    """Every connection type stableflow knows, sorted."""
    return sorted(_BY_CONN_TYPE)
