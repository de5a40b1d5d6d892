"""Identify every caller as an anonymous user with the role `[api] default_role` (Admin by default).

For local testing only: anyone who can reach the server can do what that role allows.
"""
import logging

from flask import current_app

from auth_backends import AnonymousUser

log = logging.getLogger(__name__)


def init_app(app):
    role = app.extensions["stableflow.conf"].get("api", "default_role")
    log.warning(
        "auth_backends.default is enabled: every request is allowed with the %r role. "
        "Use it for local testing only.",
        role,
    )


def authenticate(request):
    role = current_app.extensions["stableflow.conf"].get("api", "default_role")
    return AnonymousUser(role_names=(role,))
