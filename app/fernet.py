"""Encryption at rest of connection secrets with `[core] fernet_key`.

The option holds one Fernet key, or several separated by commas for rotation: the first encrypts,
every one of them decrypts. To rotate, put the new key first, run `stableflow rotate-fernet-key`
(which re-encrypts every stored secret with it), then drop the old key.
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import Config, ConfigError


class FernetKeyError(ConfigError):
    """No usable key, or a stored secret no configured key can decrypt."""


def fernet(conf: Config) -> MultiFernet:
    keys = conf.getlist("core", "fernet_key", "")
    if not keys:
        raise FernetKeyError(
            "[core] fernet_key is not set, so connection passwords and extras cannot be stored or read. "
            "Set it (stableflow writes one into a new stableflow.cfg) on every node of this database."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise FernetKeyError(f"[core] fernet_key holds an invalid Fernet key: {exc}") from None


def encrypt(conf: Config, value: str | None) -> str | None:
    if value is None:
        return None
    return fernet(conf).encrypt(value.encode()).decode()


def decrypt(conf: Config, token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return fernet(conf).decrypt(token.encode()).decode()
    except InvalidToken:
        raise FernetKeyError(
            "A stored connection secret cannot be decrypted with any key of [core] fernet_key; "
            "was the key replaced without keeping the old one in the list?"
        ) from None


def rotate(conf: Config, token: str | None) -> str | None:
    """Re-encrypt `token` with the first key (it may have been written with any of them)."""
    if token is None:
        return None
    try:
        return fernet(conf).rotate(token.encode()).decode()
    except InvalidToken:
        raise FernetKeyError("A stored connection secret cannot be decrypted with any key of [core] fernet_key") from None
