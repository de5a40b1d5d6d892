"""A signed session cookie, issued by POST /auth/login and cleared by POST /auth/logout."""
from __future__ import annotations

from flask import session

from auth_backends import lookup_user

SESSION_USER_KEY = "stableflow_user"


def init_app(app):
    from app.auth_views import register_auth_views

    register_auth_views(app)


def authenticate(request):
    username = session.get(SESSION_USER_KEY)
    if not username:
        return None
    return lookup_user(username)
