"""A signed session cookie, issued by POST /auth/login and cleared by POST /auth/logout.

Sessions are stateless: the cookie itself is the session. It names the user and carries a
fingerprint of the password hash the user had at login, so a password change ends every session
opened before it. The fingerprint is keyed with the secret key: the cookie is signed, not
encrypted, and must not hand out anything derived from the hash alone.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app, session

from auth_backends import lookup_user

SESSION_USER_KEY = "stableflow_user"
SESSION_PASSWORD_KEY = "stableflow_password"


def init_app(app):
    from app.auth_views import register_auth_views

    register_auth_views(app)


def password_fingerprint(user) -> str:
    """A keyed digest of the user's current password hash, to store in the session."""
    key = current_app.config["SECRET_KEY"]
    if isinstance(key, str):
        key = key.encode()
    message = b"stableflow-session-password\0" + (user.password or "").encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def start_session(user) -> None:
    """Make the signed session name `user` (and the password it has now)."""
    session.clear()
    session[SESSION_USER_KEY] = user.username
    session[SESSION_PASSWORD_KEY] = password_fingerprint(user)
    session.permanent = True


def authenticate(request):
    username = session.get(SESSION_USER_KEY)
    if not username:
        return None
    user = lookup_user(username)
    if user is None:
        return None
    fingerprint = session.get(SESSION_PASSWORD_KEY)
    if not isinstance(fingerprint, str) or not hmac.compare_digest(fingerprint, password_fingerprint(user)):
        return None
    return user
