"""POST /auth/login and /auth/logout for the session backend.

API responses never set a cookie; only these two views do.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, current_app, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface

from app.errors import BadRequest, Unauthenticated
from app.passwords import verify_password
from auth_backends import lookup_user
from auth_backends.session import start_session

bp = Blueprint("stableflow_auth", __name__, url_prefix="/auth")


@bp.post("/login")
def login():
    from app.auth_events import record_failed_login, record_successful_login, too_many_failures

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(
        body.get("password"), str
    ):
        raise BadRequest(detail="Send a JSON object with string fields 'username' and 'password'.")
    conf = current_app.extensions["stableflow.conf"]
    user = lookup_user(body["username"])
    if user is None or too_many_failures(user, conf):
        raise Unauthenticated(detail="Invalid username or password.")
    if not verify_password(user.id, user.password, body["password"]):
        record_failed_login(user, conf)
        raise Unauthenticated(detail="Invalid username or password.")
    record_successful_login(user)
    start_session(user)
    return jsonify({"username": user.username})


@bp.post("/logout")
def logout():
    session.clear()
    return jsonify({"logged_out": True})


class LoginOnlySessionInterface(SecureCookieSessionInterface):
    """Write the session cookie only from the login and logout views.

    Flask re-sends a permanent session's cookie on every request it reads; API responses must
    never set a cookie, as in Airflow.
    """

    def open_session(self, app, request):
        # Most API calls carry no session cookie: building the signing serializer for them cost
        # more than the rest of the session handling, and parsing an absent Cookie header as much.
        if app.secret_key and ("HTTP_COOKIE" not in request.environ or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if request.blueprint != bp.name:
            return None
        return super().save_session(app, session, response)


def register_auth_views(app: Flask) -> None:
    minutes = app.extensions["stableflow.conf"].getint("webserver", "session_lifetime_minutes")
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(minutes=minutes)
    if "stableflow_auth" not in app.blueprints:
        app.register_blueprint(bp)
