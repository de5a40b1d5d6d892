"""CORS headers for the API, from `[api] access_control_allow_origins|methods|headers|max_age`.

Written here rather than with flask-cors, which decides credentials for all origins at once: a
listed origin is echoed and may send credentials; `*` lets any other origin read responses
without credentials. No origins configured means no CORS headers at all.
"""
from __future__ import annotations

from flask import Flask, request

from app.errors import API_PREFIX

# The session login views serve browsers too, so they get the same headers as the API.
CORS_PATHS = (API_PREFIX + "/", "/auth/")


def init_cors(app: Flask, conf) -> None:
    origins = conf.getlist("api", "access_control_allow_origins", separators=", ")
    if not origins:
        return
    listed = frozenset(origin for origin in origins if origin != "*")
    wildcard = "*" in origins
    methods = ", ".join(conf.getlist("api", "access_control_allow_methods"))
    headers = ", ".join(conf.getlist("api", "access_control_allow_headers"))
    max_age = conf.getint("api", "access_control_max_age")

    @app.after_request
    def _cors_headers(response):
        if not request.path.startswith(CORS_PATHS):
            return response
        # The answer depends on the Origin header: shared caches must key on it.
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin is not None and origin in listed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        elif origin is not None and wildcard:
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            return response
        if methods:
            response.headers["Access-Control-Allow-Methods"] = methods
        if headers:
            response.headers["Access-Control-Allow-Headers"] = headers
        if max_age > 0 and request.method == "OPTIONS":
            response.headers["Access-Control-Max-Age"] = str(max_age)
        return response
