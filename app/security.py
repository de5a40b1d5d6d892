"""Who is calling, and may they do this.

`current_identity()` asks the configured auth backends in order (first identity wins, cached for
the request). Every handler declares its access with exactly one `@requires_access(...)` (or
`@public`); a contract test walks openapi.yaml and fails on an operation without one.

Permissions are Airflow's (action, resource) pairs, including the DAG-level resources
`DAG:<dag_id>` and `DAG Run:<dag_id>`, evaluated the way Airflow's FAB auth manager does.
"""
from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType

from flask import Flask, current_app, g, request

from app.config import ConfigError
from app.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

# Actions
CAN_CREATE = "can_create"
CAN_READ = "can_read"
CAN_EDIT = "can_edit"
CAN_DELETE = "can_delete"
MENU_ACCESS = "menu_access"

METHOD_ACTION = {"GET": CAN_READ, "POST": CAN_CREATE, "PUT": CAN_EDIT, "PATCH": CAN_EDIT, "DELETE": CAN_DELETE}

# Resources (Airflow's names)
RESOURCE_AUDIT_LOG = "Audit Logs"
RESOURCE_CONFIG = "Configurations"
RESOURCE_CONNECTION = "Connections"
RESOURCE_DAG = "DAGs"
RESOURCE_DAG_CODE = "DAG Code"
RESOURCE_DAG_DEPENDENCIES = "DAG Dependencies"
RESOURCE_DAG_RUN = "DAG Runs"
RESOURCE_DAG_WARNING = "DAG Warnings"
RESOURCE_DATASET = "Datasets"
RESOURCE_IMPORT_ERROR = "ImportError"
RESOURCE_PERMISSION = "Permissions"
RESOURCE_PLUGIN = "Plugins"
RESOURCE_POOL = "Pools"
RESOURCE_PROVIDER = "Providers"
RESOURCE_ROLE = "Roles"
RESOURCE_TASK_INSTANCE = "Task Instances"
RESOURCE_TASK_LOG = "Task Logs"
RESOURCE_USER = "Users"
RESOURCE_VARIABLE = "Variables"
RESOURCE_XCOM = "XComs"
RESOURCE_SLA_MISS = "SLA Misses"
RESOURCE_TASK_RESCHEDULE = "Task Reschedules"

DAG_PREFIX = "DAG:"
DAG_RUN_PREFIX = "DAG Run:"

# DAG access entities, as in Airflow's DagAccessEntity, mapped to the resources they need.
ENTITY_RESOURCES: dict[str, tuple[str, ...]] = {
    "RUN": (RESOURCE_DAG_RUN,),
    "TASK_INSTANCE": (RESOURCE_DAG_RUN, RESOURCE_TASK_INSTANCE),
    "TASK": (RESOURCE_TASK_INSTANCE,),
    "TASK_LOGS": (RESOURCE_TASK_LOG,),
    "XCOM": (RESOURCE_XCOM,),
    "AUDIT_LOG": (RESOURCE_AUDIT_LOG,),
    "CODE": (RESOURCE_DAG_CODE,),
    "WARNING": (RESOURCE_DAG_WARNING,),
    "DEPENDENCIES": (RESOURCE_DAG_DEPENDENCIES,),
    "SLA_MISS": (RESOURCE_SLA_MISS,),
    "TASK_RESCHEDULE": (RESOURCE_TASK_RESCHEDULE,),
}

# Airflow's module paths, accepted so an existing [api] section works unchanged.
BACKEND_ALIASES = {
    "airflow.api.auth.backend.deny_all": "auth_backends.deny_all",
    "airflow.api.auth.backend.basic_auth": "auth_backends.basic_auth",
    "airflow.api.auth.backend.session": "auth_backends.session",
    "airflow.api.auth.backend.default": "auth_backends.default",
    "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth": "auth_backends.basic_auth",
    "airflow.providers.fab.auth_manager.api.auth.backend.session": "auth_backends.session",
}


def dag_resource(dag_id: str) -> str:
    return DAG_PREFIX + dag_id


def dag_run_resource(dag_id: str) -> str:
    return DAG_RUN_PREFIX + dag_id


@dataclass(frozen=True)
class Identity:
    """The caller as the API sees it: a name, the user row if any, and its permissions."""

    username: str
    permissions: frozenset[tuple[str, str]]
    user: object | None = None
    roles: tuple[str, ...] = field(default=())

    def has(self, action: str, resource: str) -> bool:
        return (action, resource) in self.permissions

    def permitted_dag_ids(self, methods: Iterable[str] = ("GET",)) -> set[str] | None:
        """DAG ids the caller may act on with any of `methods` (none given: GET or PUT); None means
        every DAG."""
        actions = {METHOD_ACTION[m] for m in methods} or {CAN_READ, CAN_EDIT}
        if any(self.has(a, RESOURCE_DAG) for a in actions):
            return None
        return {
            resource[len(DAG_PREFIX):]
            for action, resource in self.permissions
            if action in actions and resource.startswith(DAG_PREFIX)
        }

    def can_dag(self, action: str, dag_id: str | None) -> bool:
        if self.has(action, RESOURCE_DAG):
            return True
        return dag_id is not None and self.has(action, dag_resource(dag_id))

    def is_authorized_dag(self, method: str, entity: str | None, dag_id: str | None) -> bool:
        action = METHOD_ACTION[method]
        if entity is None:
            if dag_id is not None:
                return self.can_dag(action, dag_id)
            if self.has(action, RESOURCE_DAG):
                return True
            # Without a DAG id Airflow lets through anyone who may act on at least one DAG; the
            # handler then filters rows to those DAGs.
            return bool(self.permitted_dag_ids((method,))) if method in ("GET", "PUT", "PATCH") else False
        if dag_id is not None and not self.can_dag(CAN_READ if method == "GET" else CAN_EDIT, dag_id):
            return False
        for resource in ENTITY_RESOURCES[entity]:
            if self.has(action, resource):
                continue
            if resource == RESOURCE_DAG_RUN and dag_id is not None and self.has(action, dag_run_resource(dag_id)):
                continue
            return False
        return True


# -- access rules ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessRule:
    description: str
    check: Callable[[Identity, dict], bool]

    def allows(self, identity: Identity, kwargs: dict) -> bool:
        return self.check(identity, kwargs)


def perm(action: str, resource: str) -> AccessRule:
    """A global permission, e.g. perm(CAN_READ, RESOURCE_POOL)."""
    return AccessRule(f"{action} on {resource}", lambda identity, _kw: identity.has(action, resource))


def dag_access(method: str, entity: str | None = None, dag_id_arg: str = "dag_id") -> AccessRule:
    """Airflow's requires_access_dag: DAG-level when the call names a DAG (`~` names none)."""

    def check(identity: Identity, kwargs: dict) -> bool:
        dag_id = kwargs.get(dag_id_arg)
        if dag_id == "~":
            dag_id = None
        return identity.is_authorized_dag(method, entity, dag_id)

    return AccessRule(f"DAG {method}" + (f" {entity}" if entity else ""), check)


def requires_access(*rules: AccessRule):
    """Authenticate the caller (401), then require every rule (403)."""
    if not rules:
        raise ValueError("requires_access needs at least one rule")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            identity = require_identity()
            for rule in rules:
                if not rule.allows(identity, kwargs):
                    raise PermissionDenied()
            return fn(*args, **kwargs)

        wrapper.__access_rules__ = rules
        return wrapper

    return decorator


def public(fn):
    """Mark an operation as served without authentication (only /health and /version)."""
    fn.__access_rules__ = ()
    fn.__public__ = True
    return fn


# -- identification ----------------------------------------------------------------------------
def load_backends(names: Iterable[str]) -> list[ModuleType]:
    modules = []
    for raw in names:
        name = BACKEND_ALIASES.get(raw, raw)
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # any import failure must stop the server with the name
            raise ConfigError(f"Cannot import auth backend {raw!r} ([api] auth_backends): {exc}") from exc
        if not callable(getattr(module, "authenticate", None)):
            raise ConfigError(f"Auth backend {raw!r} has no authenticate(request) function")
        modules.append(module)
    return modules


def init_auth(app: Flask, conf) -> None:
    from app.auth_views import LoginOnlySessionInterface

    app.session_interface = LoginOnlySessionInterface()
    check_auth_options(conf)
    backends = load_backends(conf.getlist("api", "auth_backends"))
    app.extensions["stableflow.auth_backends"] = backends
    for backend in backends:
        init = getattr(backend, "init_app", None)
        if init is not None:
            init(app)


def check_auth_options(conf) -> None:
    """Refuse, at startup, auth options the first login would otherwise fail on."""
    from app.auth_events import failed_login_limit

    failed_login_limit(conf)
    conf.getint("api", "failed_login_window")


def _challenges() -> list[str]:
    return [
        backend.CHALLENGE
        for backend in current_app.extensions["stableflow.auth_backends"]
        if getattr(backend, "CHALLENGE", None)
    ]


def identity_for(user) -> Identity:
    """Build the Identity of a user row or of auth_backends.AnonymousUser."""
    from app.permissions_cache import permissions_of_roles

    roles = tuple(role.name for role in user.roles) if hasattr(user, "roles") else ()
    role_names = getattr(user, "role_names", None) or roles
    return Identity(
        username=user.username,
        permissions=permissions_of_roles(role_names),
        user=user,
        roles=tuple(role_names),
    )


def current_identity() -> Identity | None:
    """The caller, as the first backend that identifies it says; None if none does."""
    if "stableflow_identity" in g:
        return g.stableflow_identity
    identity = None
    for backend in current_app.extensions["stableflow.auth_backends"]:
        user = backend.authenticate(request)
        if user is not None:
            identity = identity_for(user)
            break
    g.stableflow_identity = identity
    return identity


def require_identity() -> Identity:
    identity = current_identity()
    if identity is None:
        challenges = _challenges()
        exc = Unauthenticated()
        if challenges:
            exc.headers["WWW-Authenticate"] = ", ".join(challenges)
        raise exc
    return identity
