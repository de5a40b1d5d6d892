"""Fault injection for client resilience tests, off unless `[testing] fault_rules` or
`[testing] fault_rules_file` gives rules.

A rule is one line: the methods, a path pattern, what to do, and how often:

    GET,POST /api/v1/dags/*/dagRuns latency=0.5 p=0.2
    * /api/v1/pools* status=503 retry_after=2
    DELETE /api/v1/variables/* drop=after

- methods: `*` or a comma-separated list; path: a glob (`*` matches anything, `/` included);
- `latency=SECONDS` (`250ms`, `1.5`, `1.5s`, or a range `0.1-0.5` drawn uniformly) waits first;
- `status=CODE` (400-599) answers a problem document instead of handling the request, with a
  `Retry-After` header when `retry_after=SECONDS` is given;
- `drop` closes the connection without an answer and without handling the request; `drop=after`
  handles it (its changes are kept) and closes the connection instead of answering;
- `p=FRACTION` (default 1) is the share of matching requests that get the fault.

Rules are tried in order; the first one that matches the request and whose draw hits applies, so
a request gets at most one fault. The draws come from one random generator per process, seeded
with `[testing] fault_seed` (each worker then draws the same sequence). The rules file is read
again whenever it changes, and the generator starts again from the seed with it.

Each injected fault is logged (WARNING) and, unless the connection is dropped, named in the
`X-Stableflow-Fault` response header (`rule=2 latency=0.250 status=503`).
"""
from __future__ import annotations

import fnmatch
import http
import logging
import os
import random
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, g, request

from app.config import Config, ConfigError
from app.errors import TITLE_BY_STATUS, problem_response

log = logging.getLogger(__name__)

HEADER = "X-Stableflow-Fault"
# Set in the WSGI environ of a request whose connection is to be cut: "before" or "after".
DROP_KEY = "stableflow.fault.drop"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


@dataclass(frozen=True)
class FaultRule:
    number: int
    text: str
    methods: frozenset[str] | None  # None: any method
    path: str
    latency: tuple[float, float] | None = None
    status: int | None = None
    retry_after: str | None = None
    drop: str | None = None  # "before" or "after"
    probability: float = 1.0

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and fnmatch.fnmatchcase(path, self.path)


def _seconds(text: str, rule: str) -> float:
    found = _DURATION.match(text)
    if not found:
        raise ConfigError(f"Fault rule {rule!r}: {text!r} is not a duration (e.g. 0.5, 250ms, 2s)")
    value = float(found.group(1))
    return value / 1000 if found.group(2) == "ms" else value


def _latency(text: str, rule: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    bounds = (_seconds(low, rule), _seconds(high, rule) if high else _seconds(low, rule))
    if bounds[1] < bounds[0]:
        raise ConfigError(f"Fault rule {rule!r}: the latency range {text!r} ends before it starts")
    return bounds


def _probability(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"Fault rule {rule!r}: p must be a fraction between 0 and 1, not {text!r}")
    return value


def _status(text: str, rule: str) -> int:
    if not text.isdigit() or not 400 <= int(text) <= 599:
        raise ConfigError(f"Fault rule {rule!r}: status must be an HTTP error status (400-599), not {text!r}")
    return int(text)


def parse_rule(text: str, number: int) -> FaultRule:
    """One rule line (see the module docstring); ConfigError naming the rule when it is wrong."""
    words = text.split()
    if len(words) < 3:
        raise ConfigError(f"Fault rule {text!r}: expected METHODS PATH ACTION..., e.g. 'GET /api/v1/pools status=503'")
    methods = None if words[0] == "*" else frozenset(m.upper() for m in words[0].split(",") if m)
    if not words[1].startswith("/"):
        raise ConfigError(f"Fault rule {text!r}: the path pattern must start with '/'")
    fields: dict = {}
    for word in words[2:]:
        name, _, value = word.partition("=")
        if name == "latency" and value:
            fields["latency"] = _latency(value, text)
        elif name == "status" and value:
            fields["status"] = _status(value, text)
        elif name == "retry_after" and value:
            fields["retry_after"] = str(round(_seconds(value, text)))
        elif name == "drop" and value in ("", "before", "after"):
            fields["drop"] = value or "before"
        elif name == "p" and value:
            fields["probability"] = _probability(value, text)
        else:
            raise ConfigError(
                f"Fault rule {text!r}: unknown action {word!r} (latency=S, status=CODE, retry_after=S, drop, "
                "drop=after, p=FRACTION)"
            )
    if not {"latency", "status", "drop"} & set(fields):
        raise ConfigError(f"Fault rule {text!r}: give at least one of latency=, status= or drop")
    if "status" in fields and "drop" in fields:
        raise ConfigError(f"Fault rule {text!r}: a request is either answered with a status or dropped, not both")
    return FaultRule(number=number, text=" ".join(words), methods=methods, path=words[1], **fields)


def parse_rules(text: str, first_number: int = 1) -> list[FaultRule]:
    """Rules separated by ';' or new lines; blank lines and `#` comments are skipped."""
    lines = [line.split("#", 1)[0].strip() for chunk in text.splitlines() for line in chunk.split(";")]
    return [parse_rule(line, number) for number, line in enumerate(filter(None, lines), start=first_number)]


class FaultInjector:
    """The configured rules, the rules file as last read, and this process's random generator."""

    def __init__(self, rules: list[FaultRule], rules_file: str | None, seed: str | None):
        self.config_rules = rules
        self.rules_file = Path(rules_file) if rules_file else None
        self.seed = seed
        self._file_rules: list[FaultRule] = []
        self._file_key: tuple | None = None
        self._rng: random.Random | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, conf: Config) -> FaultInjector | None:
        rules = parse_rules(conf.get("testing", "fault_rules", ""))
        rules_file = conf.get("testing", "fault_rules_file", "").strip() or None
        if not rules and rules_file is None:
            return None
        injector = cls(rules, rules_file, conf.get("testing", "fault_seed", "").strip() or None)
        injector.current_rules()  # a broken rules file stops the server at startup
        return injector

    def current_rules(self) -> list[FaultRule]:
        if self.rules_file is not None:
            self._read_rules_file()
        return self.config_rules + self._file_rules

    def _read_rules_file(self) -> None:
        try:
            stat = self.rules_file.stat()
            key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            key = None
        if key == self._file_key:
            return
        self._file_key = key
        text = self.rules_file.read_text(encoding="utf-8") if key is not None else ""
        rules = parse_rules(text, first_number=len(self.config_rules) + 1)
        with self._lock:
            self._file_rules, self._rng = rules, None
        log.warning("Fault rules file %s read: %d rule(s)", self.rules_file, len(rules))

    def _draw(self) -> float:
        with self._lock:
            # Workers forked from one master each start their own generator (from the seed).
            if self._rng is None or self._pid != os.getpid():
                self._rng = random.Random(self.seed) if self.seed is not None else random.Random()
                self._pid = os.getpid()
            return self._rng.random()

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The rule that applies to this request, if any (each matching rule draws in turn)."""
        try:
            rules = self.current_rules()
        except (ConfigError, OSError) as exc:  # a broken edit: keep the rules read before it
            log.error("Fault rules file %s not applied: %s", self.rules_file, exc)
            rules = self.config_rules + self._file_rules
        for rule in rules:
            if rule.matches(method, path) and (rule.probability >= 1.0 or self._draw() < rule.probability):
                return rule
        return None

    def uniform(self, low: float, high: float) -> float:
        return low if high <= low else low + (high - low) * self._draw()


def _inject(injector: FaultInjector):
    rule = injector.pick(request.method, request.path)
    if rule is None:
        return None
    applied = [f"rule={rule.number}"]
    if rule.latency is not None:
        delay = injector.uniform(*rule.latency)
        applied.append(f"latency={delay:.3f}")
        time.sleep(delay)
    if rule.status is not None:
        applied.append(f"status={rule.status}")
    if rule.drop is not None:
        applied.append(f"drop={rule.drop}")
        request.environ[DROP_KEY] = rule.drop
    g.stableflow_fault = " ".join(applied)
    log.warning("Injected fault %s into %s %s (rule: %s)", g.stableflow_fault, request.method, request.path, rule.text)
    if rule.status is not None:
        title = TITLE_BY_STATUS.get(rule.status) or _reason(rule.status)
        headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
        detail = f"Fault injected by [testing] fault rule {rule.number}: {rule.text}"
        return problem_response(rule.status, title, detail, headers=headers)
    if rule.drop == "before":
        return Response(status=500)  # never sent: the connection is cut instead
    return None


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:  # a code no standard names (599)
        return "Error"


def _fault_header(response):
    fault = g.get("stableflow_fault")
    if fault:
        response.headers[HEADER] = fault
    return response


class DropConnections:
    """WSGI middleware: cut the connection of a request that a `drop` rule picked, instead of
    answering it. Under gunicorn the client sees the connection closed with no response; servers
    that do not give the socket to the application (the Flask test client) raise
    ConnectionAbortedError to the caller instead."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            if environ.get(DROP_KEY):
                return lambda _data: None
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        if not environ.get(DROP_KEY):
            return body
        try:
            for _chunk in body:  # a `drop=after` request is handled to the end
                pass
        finally:
            getattr(body, "close", lambda: None)()
        sock = environ.get("gunicorn.socket")
        if sock is None:
            raise ConnectionAbortedError(f"stableflow fault injection dropped {environ.get('PATH_INFO')}")
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client went away first
            pass
        start_response("500 Internal Server Error", [])
        return []


def init_faults(app: Flask, conf: Config) -> None:
    """Install fault injection when rules are configured; otherwise leave the app untouched."""
    injector = FaultInjector.from_config(conf)
    if injector is None:
        return
    log.warning(
        "Fault injection is ON ([testing] fault_rules: %d rule(s), fault_rules_file: %s): some requests "
        "will be delayed, refused or dropped on purpose",
        len(injector.config_rules), injector.rules_file or "none",
    )
    app.extensions["stableflow.faults"] = injector
    app.before_request(lambda: _inject(injector))
    app.after_request(_fault_header)
    app.wsgi_app = DropConnections(app.wsgi_app)
