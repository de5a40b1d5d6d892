"""The server under gunicorn, as an operator starts it."""
from __future__ import annotations

from tests.live import live_server


def test_gunicorn_serves_health_and_denies_by_default(tmp_path):
    with live_server(tmp_path, workers=2, API__AUTH_BACKENDS="auth_backends.deny_all") as server:
        import requests

        health = requests.get(server.api + "/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["metadatabase"] == {"status": "healthy"}
        version = requests.get(server.api + "/version", timeout=5)
        assert version.status_code == 200
        assert "Set-Cookie" not in health.headers
