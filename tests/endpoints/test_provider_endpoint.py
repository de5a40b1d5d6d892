"""/providers: the connection types this server knows."""
from __future__ import annotations

from app.version import __version__
from tests.conftest import basic_auth


def test_lists_providers(client, admin_headers):
    response = client.get("/api/v1/providers", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {
        "providers": [
            {
                "package_name": "stableflow-providers-fs",
                "description": "Local file system paths (connection type fs)",
                "version": __version__,
            },
            {
                "package_name": "stableflow-providers-http",
                "description": "Hypertext Transfer Protocol (HTTP and HTTPS) endpoints",
                "version": __version__,
            },
            {
                "package_name": "stableflow-providers-postgres",
                "description": "PostgreSQL databases, reached through psycopg 3",
                "version": __version__,
            },
            {
                "package_name": "stableflow-providers-sqlite",
                "description": "SQLite database files",
                "version": __version__,
            },
        ],
        "total_entries": 4,
    }


def test_access(client):
    assert client.get("/api/v1/providers").status_code == 401
    for username in ("test_no_permissions", "viewer", "user"):
        assert client.get("/api/v1/providers", headers=basic_auth(username)).status_code == 403
    assert client.get("/api/v1/providers", headers=basic_auth("op")).status_code == 200
