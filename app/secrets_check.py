"""Startup checks of the installation's keys: `[webserver] secret_key` (signs session cookies,
file tokens and log tokens) and `[core] fernet_key` (encrypts connection secrets).

A single SQLite node may run without a secret key (a per-process one, with a warning). On any other
database several nodes may share the data: each must be given the same keys, so a missing one is an
error at startup, never a key the node makes up (see app/config.py: the first-run file of such a
node carries no keys either).
"""
from __future__ import annotations

import logging
import secrets

from app.config import Config, ConfigError, is_single_node

log = logging.getLogger(__name__)

SHARED_KEYS = (("webserver", "secret_key"), ("core", "fernet_key"))


def check_shared_keys(conf: Config) -> None:
    """Refuse to start a node of a shared database that lacks the keys every node must share."""
    if is_single_node(conf.get("database", "sql_alchemy_conn")):
        return
    missing = [f"[{section}] {key}" for section, key in SHARED_KEYS if not conf.get(section, key, "").strip()]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Every node of a shared "
            "database must use the same keys: set them in the config file or in STABLEFLOW__WEBSERVER__SECRET_KEY "
            "and STABLEFLOW__CORE__FERNET_KEY on every node (generate them once, e.g. with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` and "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        )


def missing_secret_key(conf: Config) -> str:
    """The per-process key of a single SQLite node that has none (check_shared_keys ran first)."""
    log.warning("[webserver] secret_key is not set; using a key that lasts only as long as this process")
    return secrets.token_urlsafe(32)
