"""A bare Connexion 2.15 app with two static handlers: the throughput floor stableflow is compared
with. Served the way stableflow is: `gunicorn -c bench/bare/gunicorn.conf.py 'bench.bare.app:create_app()'`."""
from __future__ import annotations

from pathlib import Path

import connexion

_POOLS = {
    "pools": [{"name": "default_pool", "slots": 128, "occupied_slots": 0, "open_slots": 128}],
    "total_entries": 1,
}


def health():
    return {"metadatabase": {"status": "healthy"}}


def pools(limit=None):
    return _POOLS


def create_app():
    cx = connexion.FlaskApp(__name__, specification_dir=str(Path(__file__).parent))
    cx.add_api("openapi.yaml", base_path="/api/v1")
    return cx.app
