"""The application factory. This is the only module that knows how Connexion is wired."""
from __future__ import annotations

import logging
from collections.abc import Mapping

import connexion
import flask
from connexion.apis.flask_api import FlaskApi
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest
from flask import Flask, request
from flask.globals import request_ctx

from app.config import Config, load_config
from app.errors import API_PREFIX, register_error_handlers, request_id
from app.extensions import init_db
from app.jsonutil import StableflowJSONProvider, WireJson
from app.paths import spec_path

log = logging.getLogger(__name__)


class _DeferredUrl:
    """The request URL, worked out when printed. Connexion's decorators read `request.url` for
    every request only to pass it to debug log lines, which are not printed."""

    __slots__ = ("_request",)

    def __init__(self, flask_request):
        self._request = flask_request

    def __str__(self) -> str:
        return self._request.url

    __repr__ = __str__


class _LazyRequest(ConnexionRequest):
    """Connexion's view of the Flask request, reading the form, files, raw body and cookies from
    Flask only when Connexion's decorators ask for them. Connexion builds all of them for every
    request (and the URL, for debug log lines; a form and files a GET never has): a sixth of a
    small request."""

    _READERS = {
        "form": lambda r: r.form or {},
        "files": lambda r: r.files,
        "body": lambda r: r.get_data(),
        "cookies": lambda r: r.cookies or {},
    }

    def __init__(self, flask_request, path_params: dict, context: dict):
        self._flask_request = flask_request
        self.url = _DeferredUrl(flask_request)
        self.method = flask_request.method
        self.path_params = path_params or {}
        self.query = flask_request.args or {}
        self.headers = flask_request.headers
        self.json_getter = lambda: flask_request.get_json(silent=True)
        self.context = context

    def __getattr__(self, name):
        # Only called for attributes not set yet: read once, then kept (decorators reassign some).
        reader = _LazyRequest._READERS.get(name)
        if reader is None:
            raise AttributeError(name)
        value = reader(self._flask_request)
        setattr(self, name, value)
        return value


class _Api(FlaskApi):
    @classmethod
    def _set_jsonifier(cls):
        cls.jsonifier = Jsonifier(WireJson)

    @classmethod
    def get_request(cls, *args, **params):
        context: dict = {}
        request_ctx.connexion_context = context
        # The request object itself, not the proxy: log records holding the URL may be printed
        # after the request has ended.
        return _LazyRequest(request_ctx.request, params, context)

    @classmethod
    def get_response(cls, response, mimetype=None, request=None):
        # A handler's JSON document becomes a 200 as Connexion would make it, without the five
        # layers (and debug log records built for every request) Connexion goes through.
        if type(response) in (dict, list) and mimetype == "application/json":
            return flask.current_app.response_class(cls.jsonifier.dumps(response), status=200, mimetype=mimetype)
        # Connexion's own passes the request URL for its debug log lines, computing it every time.
        return cls._get_response(response, mimetype=mimetype)


class _App(connexion.FlaskApp):
    def __init__(self, import_name, **kwargs):
        connexion.apps.abstract.AbstractApp.__init__(self, import_name, _Api, server="flask", **kwargs)
        self.extra_files = []

    def set_errors_handlers(self):
        # register_error_handlers() installs ours once the Flask app exists.
        pass


def create_app(config_overrides: Mapping[str, Mapping[str, object]] | None = None, *, api: bool = True) -> Flask:
    """Build the WSGI app. `api=False` gives the database-only app the CLI and scheduler use."""
    conf = load_config(config_overrides)
    from app.logging_setup import configure_logging

    configure_logging(conf)
    if api:
        cx = _App(__name__, specification_dir=str(spec_path().parent))
        flask_app = cx.app
    else:
        cx = None
        flask_app = Flask(__name__)
    flask_app.json = StableflowJSONProvider(flask_app)
    flask_app.extensions["stableflow.conf"] = conf
    _configure_flask(flask_app, conf)
    init_db(flask_app, conf)
    if api:
        from app.parameter_validation import CachingParameterValidator
        from app.request_guards import RedactingRequestBodyValidator
        from app.security import init_auth

        init_auth(flask_app, conf)
        cx.add_api(
            spec_path().name,
            base_path=API_PREFIX,
            strict_validation=True,
            validate_responses=conf.getboolean("api", "validate_responses"),
            options={"swagger_ui": True, "serve_spec": True},
            # Body validation errors quote the value, except under secret field names.
            validator_map={"body": RedactingRequestBodyValidator, "parameter": CachingParameterValidator},
        )
        _register_hooks(flask_app, conf)
        from app.cors import init_cors

        init_cors(flask_app, conf)
    register_error_handlers(flask_app)
    return flask_app


def _configure_flask(app: Flask, conf: Config) -> None:
    from app.secrets_check import check_shared_keys, missing_secret_key

    check_shared_keys(conf)
    secret = conf.get("webserver", "secret_key") or missing_secret_key(conf)
    app.config["SECRET_KEY"] = secret
    app.config["MAX_CONTENT_LENGTH"] = conf.getint("webserver", "max_content_length")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "stableflow_session"
    app.config["JSON_SORT_KEYS"] = True


def _register_hooks(app: Flask, conf: Config) -> None:
    # Timers first, so that they see every request, refused ones included.
    if conf.getboolean("metrics", "enabled"):
        from app.metrics import init_metrics

        init_metrics(app, conf)
    from app.logging_setup import init_request_log

    init_request_log(app, conf)

    @app.before_request
    def _assign_request_id():
        # Known before anything is logged: every log line of the request carries it.
        request_id()

    from app.request_guards import check_api_request

    app.before_request(check_api_request)
    from app.faults import init_faults

    init_faults(app, conf)

    @app.after_request
    def _api_headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.path.startswith(API_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers["X-Request-ID"] = request_id()
        return response
