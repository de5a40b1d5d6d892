"""HTTP Basic authentication against stored users."""
from __future__ import annotations

import logging

from flask import current_app

from app.auth_events import record_failed_login, record_successful_login, too_many_failures
from app.passwords import verify_password
from auth_backends import lookup_user

log = logging.getLogger(__name__)

CHALLENGE = 'Basic realm="stableflow"'


def authenticate(request):
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or not auth.password:
        return None
    user = lookup_user(auth.username)
    if user is None:
        return None
    conf = current_app.extensions["stableflow.conf"]
    if too_many_failures(user, conf):
        return None
    if not verify_password(user.id, user.password, auth.password):
        record_failed_login(user, conf)
        return None
    record_successful_login(user)
    return user
