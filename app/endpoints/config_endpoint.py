"""GET /config and one option, as INI text or JSON, as Airflow negotiates them.

Checks run in Airflow's order: authorization, then the Accept header (406), then
`[webserver] expose_config` (403), then the section or option (404).
"""
from __future__ import annotations

import logging

from flask import Response, current_app, request

from app.config import Config, ConfigError
from app.errors import NotAcceptable, NotFound, PermissionDenied
from app.jsonutil import dumps
from app.schemas.config_schema import config_schema
from app.security import CAN_READ, RESOURCE_CONFIG, perm, requires_access

log = logging.getLogger(__name__)

HIDDEN = "< hidden >"
# Order matters: `*/*` and ties pick the first, text/plain, as Airflow does.
MEDIA_TYPES = ("text/plain", "application/json")
NON_SENSITIVE_ONLY = "non-sensitive-only"

Sections = list[tuple[str, list[tuple[str, str]]]]


def _media_type() -> str:
    best = request.accept_mimetypes.best_match(MEDIA_TYPES)
    if best is None:
        raise NotAcceptable(
            detail="The configuration is served as text/plain or application/json; "
            "send an Accept header that allows one of them."
        )
    return best


def _show_sensitive(conf: Config) -> bool:
    """Whether sensitive values may be shown; 403 when the configuration is not exposed at all."""
    setting = conf.get("webserver", "expose_config").strip()
    if setting.lower() == NON_SENSITIVE_ONLY:
        return False
    try:
        exposed = conf.getboolean("webserver", "expose_config")
    except ConfigError:
        log.warning("[webserver] expose_config = %r is not True, False or %s", setting, NON_SENSITIVE_ONLY)
        exposed = False
    if not exposed:
        raise PermissionDenied(
            detail="Your stableflow administrator chose not to expose the configuration, most likely for "
            f"security reasons. Set [webserver] expose_config to True or {NON_SENSITIVE_ONLY} to allow it."
        )
    return True


def _render(sections: Sections, media_type: str) -> Response:
    if media_type == "text/plain":
        # Airflow's layout: `key = value` lines under `[section]`, a blank line between sections.
        body = "\n".join(
            f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in options)
            for name, options in sections
        )
    else:
        data = {
            "sections": [
                {"name": name, "options": [{"key": key, "value": value} for key, value in options]}
                for name, options in sections
            ]
        }
        body = dumps(config_schema.dump(data)) + "\n"
    return Response(body, status=200, content_type=media_type)


def _options(conf: Config, section: str, show_sensitive: bool) -> list[tuple[str, str]]:
    return [
        (key, value if show_sensitive or not conf.is_sensitive(section, key) else HIDDEN)
        for key, value in conf.items(section)
    ]


@requires_access(perm(CAN_READ, RESOURCE_CONFIG))
def get_config(*, section: str | None = None):
    """Show the effective configuration, or one section of it."""
    media_type = _media_type()
    conf: Config = current_app.extensions["stableflow.conf"]
    show_sensitive = _show_sensitive(conf)
    names = conf.sections()
    if section:
        if not conf.has_section(section):
            raise NotFound("section not found.", f"section={section} not found.")
        names = [section.lower()]
    sections = [(name, _options(conf, name, show_sensitive)) for name in names]
    return _render(sections, media_type)


@requires_access(perm(CAN_READ, RESOURCE_CONFIG))
def get_value(*, section: str, option: str):
    """Show one option; a sensitive value is always hidden here."""
    media_type = _media_type()
    conf: Config = current_app.extensions["stableflow.conf"]
    _show_sensitive(conf)
    if not conf.has_option(section, option):
        raise NotFound("Config not found.", f"The option [{section}/{option}] is not found in config.")
    value = HIDDEN if conf.is_sensitive(section, option) else conf.get(section, option)
    return _render([(section, [(option, value)])], media_type)
