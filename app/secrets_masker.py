"""Which field names hold secrets, and redaction of nested values, as Airflow's masker decides."""
from __future__ import annotations

from flask import current_app, has_app_context

REDACTED = "***"
DEFAULT_SENSITIVE = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxy",
        "proxies",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
    }
)


def sensitive_names() -> frozenset[str]:
    extra: list[str] = []
    if has_app_context():
        conf = current_app.extensions.get("stableflow.conf")
        if conf is not None:
            extra = [n.lower() for n in conf.getlist("core", "sensitive_var_conn_names", "")]
    return DEFAULT_SENSITIVE | frozenset(extra)


def is_sensitive(name: str, names: frozenset[str] | None = None) -> bool:
    lowered = str(name).lower()
    return any(word in lowered for word in (names or sensitive_names()))


def redact(value, name: str | None = None, names: frozenset[str] | None = None):
    """Replace every value under a sensitive key (recursively) with ***."""
    names = names or sensitive_names()
    if name is not None and is_sensitive(name, names):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: redact(v, k, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, None, names) for v in value]
    return value


def hide_value(message: str, value, hidden) -> str:
    """A validation `message` that quoted `value`, quoting `hidden` (its redacted form) instead."""
    if hidden == value:
        return message
    shown = repr(value)
    return message.replace(shown, repr(hidden)) if shown in message else f"Invalid value {hidden!r}"


def hidden_instance(error, names: list[str]):
    """What a jsonschema `error` may quote of its instance: *** when it lies under a secret name
    (`names`: the field names on its path), else the instance with its secret keys redacted."""
    return REDACTED if any(is_sensitive(name) for name in names) else redact(error.instance)
