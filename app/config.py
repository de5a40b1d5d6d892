"""Layered configuration: defaults -> user file -> environment -> overrides.

Section and key names follow Airflow's. Nothing here runs at import time: `load_config()` is
called by `create_app()` and by the CLI, and the result is passed down.
"""
from __future__ import annotations

import base64
import configparser
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from app.paths import default_config_path

log = logging.getLogger(__name__)

ENV_PREFIX = "STABLEFLOW__"
_MISSING = object()
_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off", ""}

# Options whose values are secrets: masked by GET /config unless expose_config = True, and never
# shown by the single-option endpoint.
SENSITIVE_OPTIONS = frozenset(
    {
        ("core", "fernet_key"),
        ("database", "sql_alchemy_conn"),
        ("webserver", "secret_key"),
        ("testing", "admin_password"),
        # Airflow's secret-bearing options, in case an airflow.cfg section is copied over.
        ("core", "internal_api_secret_key"),
        ("celery", "broker_url"),
        ("celery", "result_backend"),
        ("celery", "flower_basic_auth"),
        ("secrets", "backend_kwargs"),
        ("sentry", "sentry_dsn"),
        ("smtp", "smtp_password"),
    }
)
# Any option whose key contains one of these words holds a secret too, whatever its section: new
# options (ours, or copied from an airflow.cfg) are hidden without being listed above.
SENSITIVE_KEY_WORDS = ("password", "passwd", "secret", "token", "private_key", "api_key", "credential", "dsn")


class ConfigError(Exception):
    """The configuration cannot be used as it stands."""


class UnknownOption(ConfigError):
    """A section or key that no layer defines."""


def stableflow_home() -> Path:
    return Path(os.environ.get("STABLEFLOW_HOME") or Path.home() / "stableflow").expanduser()


def user_config_path() -> Path:
    explicit = os.environ.get("STABLEFLOW_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return stableflow_home() / "stableflow.cfg"


def generate_fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _first_run_file(path: Path, with_keys: bool) -> None:
    # Keys are generated per installation so that no two installations share a secret. A node of a
    # shared database gets none: every node must be given the same keys, and a key of its own
    # would silently split them (secrets one node wrote, another could not read).
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# stableflow configuration; see config/default.cfg in the project for every option.\n"
    if with_keys:
        text += (
            "[core]\n"
            f"fernet_key = {generate_fernet_key()}\n\n"
            "[webserver]\n"
            f"secret_key = {secrets.token_urlsafe(32)}\n"
        )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class Config:
    """The effective configuration, with typed getters."""

    def __init__(self, parser: configparser.ConfigParser, home: Path, user_file: Path | None):
        self._parser = parser
        self.home = home
        self.user_file = user_file

    # -- raw access -------------------------------------------------------------------------
    def get(self, section: str, key: str, fallback=_MISSING) -> str:
        section, key = section.lower(), key.lower()
        if self._parser.has_option(section, key):
            return self._parser.get(section, key)
        if fallback is not _MISSING:
            return fallback
        if not self._parser.has_section(section):
            raise UnknownOption(f"The section [{section}] is not found in config.")
        raise UnknownOption(f"The option [{section}/{key}] is not found in config.")

    def has_option(self, section: str, key: str) -> bool:
        return self._parser.has_option(section.lower(), key.lower())

    def has_section(self, section: str) -> bool:
        return self._parser.has_section(section.lower())

    def sections(self) -> list[str]:
        return self._parser.sections()

    def items(self, section: str) -> list[tuple[str, str]]:
        section = section.lower()
        if not self._parser.has_section(section):
            raise UnknownOption(f"The section [{section}] is not found in config.")
        return [(k, self._parser.get(section, k)) for k in self._parser.options(section)]

    # -- typed getters ----------------------------------------------------------------------
    def getint(self, section: str, key: str, fallback=_MISSING) -> int:
        value = self.get(section, key, fallback)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[{section}] {key} must be an integer, not {value!r}") from None

    def getfloat(self, section: str, key: str, fallback=_MISSING) -> float:
        value = self.get(section, key, fallback)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[{section}] {key} must be a number, not {value!r}") from None

    def getboolean(self, section: str, key: str, fallback=_MISSING) -> bool:
        value = self.get(section, key, fallback)
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"[{section}] {key} must be a boolean, not {value!r}")

    def getlist(self, section: str, key: str, fallback=_MISSING, separators: str = ",") -> list[str]:
        value = self.get(section, key, fallback)
        if isinstance(value, list):
            return value
        for sep in separators[1:]:
            value = value.replace(sep, separators[0])
        return [item.strip() for item in value.split(separators[0]) if item.strip()]

    # -- views ------------------------------------------------------------------------------
    @staticmethod
    def is_sensitive(section: str, key: str) -> bool:
        section, key = section.lower(), key.lower()
        if (section, key) in SENSITIVE_OPTIONS or key.startswith("sql_alchemy_conn"):
            return True
        return any(word in key for word in SENSITIVE_KEY_WORDS)

    def as_ini(self, section: str | None = None) -> str:
        sections = [section.lower()] if section else self.sections()
        chunks = []
        for name in sections:
            if not self.has_section(name):
                continue
            lines = [f"[{name}]"] + [f"{k} = {v}" for k, v in self.items(name)]
            chunks.append("\n".join(lines) + "\n")
        return "\n".join(chunks)

    def set(self, section: str, key: str, value) -> None:
        section = section.lower()
        if not self._parser.has_section(section):
            self._parser.add_section(section)
        self._parser.set(section, key.lower(), _as_text(value))


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _new_parser() -> configparser.ConfigParser:
    # No interpolation: values such as URLs with % must stay literal.
    parser = configparser.ConfigParser(interpolation=None, default_section="__never__")
    return parser


def _read_file(parser: configparser.ConfigParser, path: Path, known: configparser.ConfigParser | None):
    layer = _new_parser()
    with open(path, encoding="utf-8") as handle:
        layer.read_file(handle, source=str(path))
    for section in layer.sections():
        name = section.lower()
        if not parser.has_section(name):
            parser.add_section(name)
        for key, value in layer.items(section):
            if known is not None and not known.has_option(name, key):
                log.warning("Unknown option [%s] %s in %s", name, key, path)
            parser.set(name, key, value)


def _apply_env(parser: configparser.ConfigParser, environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].split("__", 1)
        if len(parts) != 2 or not all(parts):
            continue
        section, key = parts[0].lower(), parts[1].lower()
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, value)


def _expand_home(parser: configparser.ConfigParser, home: Path) -> None:
    for section in parser.sections():
        for key, value in parser.items(section):
            if "{STABLEFLOW_HOME}" in value:
                parser.set(section, key, value.replace("{STABLEFLOW_HOME}", str(home)))


def is_single_node(database_url: str) -> bool:
    """SQLite serves one machine; any other database may be shared by several API nodes."""
    return make_url(database_url).get_backend_name() == "sqlite"


def _database_url(defaults: configparser.ConfigParser, environ: Mapping[str, str], overrides) -> str:
    """The database URL the layers above the user file set (the file does not exist yet)."""
    url = (overrides or {}).get("database", {}).get("sql_alchemy_conn")
    url = url or environ.get(f"{ENV_PREFIX}DATABASE__SQL_ALCHEMY_CONN")
    return str(url or defaults.get("database", "sql_alchemy_conn"))


def load_config(
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    environ: Mapping[str, str] | None = None,
    create_user_file: bool = True,
) -> Config:
    """Build the effective configuration.

    `overrides` maps section -> {key: value}; it wins over every other layer.
    """
    environ = os.environ if environ is None else environ
    home = stableflow_home()
    parser = _new_parser()
    defaults = _new_parser()
    with open(default_config_path(), encoding="utf-8") as handle:
        defaults.read_file(handle)
    parser.read_dict({s: dict(defaults.items(s)) for s in defaults.sections()})

    user_file = user_config_path()
    if not user_file.exists() and create_user_file and not environ.get("STABLEFLOW_CONFIG"):
        try:
            with_keys = is_single_node(_database_url(defaults, environ, overrides))
            _first_run_file(user_file, with_keys=with_keys)
            log.info("Created %s%s", user_file, " with new secret and Fernet keys" if with_keys else "")
        except FileExistsError:
            pass  # another process created it first
    if user_file.exists():
        _read_file(parser, user_file, defaults)
    else:
        user_file = None

    _apply_env(parser, environ)
    for section, values in (overrides or {}).items():
        section = section.lower()
        if not parser.has_section(section):
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key.lower(), _as_text(value))
    _expand_home(parser, home)
    return Config(parser, home, user_file)
