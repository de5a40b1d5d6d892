"""What to do when the installation has no secret key."""
from __future__ import annotations

import logging
import secrets

from app.config import Config, ConfigError
from app.extensions import is_sqlite

log = logging.getLogger(__name__)


def missing_secret_key(conf: Config) -> str:
    """A single-node SQLite server may run on a per-process key; several nodes must share one."""
    if not is_sqlite(conf.get("database", "sql_alchemy_conn")):
        raise ConfigError(
            "[webserver] secret_key is not set. Every API node of a shared database must use the same "
            "secret key: set it in the config file or STABLEFLOW__WEBSERVER__SECRET_KEY."
        )
    log.warning("[webserver] secret_key is not set; using a key that lasts only as long as this process")
    return secrets.token_urlsafe(32)
