"""POST /auth/login and /auth/logout for the session backend.

API responses never set a cookie; only these two views do.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request, session

from app.errors import BadRequest, Unauthenticated
from app.passwords import verify_password
from auth_backends import lookup_user

SESSION_USER_KEY = "stableflow_user"

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
    session.clear()
    session[SESSION_USER_KEY] = user.username
    session.permanent = True
    return jsonify({"username": user.username})


@bp.post("/logout")
def logout():
    session.clear()
    return jsonify({"logged_out": True})


def register_auth_views(app: Flask) -> None:
    if "stableflow_auth" not in app.blueprints:
        app.register_blueprint(bp)
