"""RFC 7807 problem documents: the exception classes handlers raise, and the handlers that render
every error under /api/v1 (ours, Connexion's, Werkzeug's routing errors, integrity errors and
unhandled exceptions) as `application/problem+json`."""
from __future__ import annotations

import logging
import os

from connexion.exceptions import ProblemException
from flask import Flask, Response, g, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.jsonutil import dumps

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
_DOC = "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/"
# Airflow's problem types, so that clients matching on `type` keep working.
TYPE_BY_STATUS = {
    400: _DOC + "BadRequest",
    401: _DOC + "Unauthenticated",
    403: _DOC + "PermissionDenied",
    404: _DOC + "NotFound",
    405: _DOC + "MethodNotAllowed",
    406: _DOC + "NotAcceptable",
    409: _DOC + "AlreadyExists",
    500: _DOC + "Unknown",
}
TITLE_BY_STATUS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemError(Exception):
    """An error the API answers with a problem document."""

    status = 500

    def __init__(self, title: str | None = None, detail: str | None = None, *, headers=None, type=None):
        super().__init__(title or detail)
        self.title = title or TITLE_BY_STATUS.get(self.status, "Error")
        self.detail = detail
        self.headers = dict(headers or {})
        self.type = type


class BadRequest(ProblemError):
    status = 400


class Unauthenticated(ProblemError):
    status = 401


class PermissionDenied(ProblemError):
    status = 403


class NotFound(ProblemError):
    status = 404


class NotAcceptable(ProblemError):
    status = 406


class AlreadyExists(ProblemError):
    status = 409


class PayloadTooLarge(ProblemError):
    status = 413


class Unknown(ProblemError):
    status = 500


def request_id() -> str:
    """The client's X-Request-ID (its first 64 characters), or 32 random hex digits."""
    rid = getattr(g, "request_id", None)
    if rid is None:
        # The environ and os.urandom directly: the header lookup and uuid4() cost 10 us a request.
        rid = request.environ.get("HTTP_X_REQUEST_ID", "")[:64] or os.urandom(16).hex()
        g.request_id = rid
    return rid


def problem_response(status: int, title: str | None, detail, *, type_=None, headers=None) -> Response:
    title = title or TITLE_BY_STATUS.get(status, "Error")
    if detail is None:
        # The spec types `detail` as a string; Airflow often sends null. We always say something.
        detail = title
    body = {
        "detail": detail if isinstance(detail, str) else str(detail),
        "instance": request.path,
        "status": status,
        "title": title,
        "type": type_ or TYPE_BY_STATUS.get(status, "about:blank"),
    }
    response = Response(
        dumps(body) + "\n",
        status=status,
        mimetype="application/problem+json",
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def handle_problem_error(exc: ProblemError):
    return problem_response(exc.status, exc.title, exc.detail, type_=exc.type, headers=exc.headers)


def handle_connexion_problem(exc: ProblemException):
    # Connexion's validation problems carry `about:blank`; give them Airflow's typed links, and a
    # title where Connexion leaves it empty (unknown query parameters).
    type_ = None if exc.type in (None, "about:blank") else exc.type
    if exc.status in (415,):
        type_ = "about:blank"
    return problem_response(exc.status, exc.title, exc.detail, type_=type_, headers=exc.headers)


def handle_http_exception(exc: HTTPException):
    if not _is_api_request():
        return exc
    headers = {}
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return problem_response(exc.code or 500, exc.name, exc.description, type_="about:blank", headers=headers)


def database_message(exc) -> str:
    """The first line of a database error's own message (a SQLAlchemy DBAPIError), or its name.
    Only the first: PostgreSQL's detail lines quote the failing row, which may hold a secret."""
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def handle_integrity_error(exc: IntegrityError):
    from app.extensions import db

    db.session.rollback()
    log.info("Integrity error on %s %s: %s", request.method, request.path, database_message(exc))
    return problem_response(409, "Conflict", "The resource conflicts with one that exists already.")


def handle_operational_error(exc: OperationalError):
    from app.extensions import db

    db.session.rollback()
    rid = request_id()
    log.error("Database error [request %s] on %s %s", rid, request.method, request.path, exc_info=exc)
    return problem_response(
        503,
        "Service Unavailable",
        f"The metadata database could not answer; try again. Request id: {rid}",
        headers={"Retry-After": "1", "X-Request-ID": rid},
    )


def handle_unexpected(exc: Exception):
    from app.extensions import db

    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    db.session.rollback()
    rid = request_id()
    # The stack trace goes to the log, never to the client.
    log.error("Unhandled error [request %s] on %s %s", rid, request.method, request.path, exc_info=exc)
    return problem_response(
        500,
        "Internal Server Error",
        f"The server failed to answer this request. Request id: {rid}",
        headers={"X-Request-ID": rid},
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ProblemError, handle_problem_error)
    app.register_error_handler(ProblemException, handle_connexion_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
