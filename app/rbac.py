"""The default roles and their permissions, as Airflow 2 defines them, kept in sync on migrate."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Action, Permission, Resource, Role
from app.security import (
    CAN_CREATE,
    CAN_DELETE,
    CAN_EDIT,
    CAN_READ,
    MENU_ACCESS,
    RESOURCE_AUDIT_LOG,
    RESOURCE_CONFIG,
    RESOURCE_CONNECTION,
    RESOURCE_DAG,
    RESOURCE_DAG_CODE,
    RESOURCE_DAG_DEPENDENCIES,
    RESOURCE_DAG_RUN,
    RESOURCE_DAG_WARNING,
    RESOURCE_DATASET,
    RESOURCE_IMPORT_ERROR,
    RESOURCE_PERMISSION,
    RESOURCE_PLUGIN,
    RESOURCE_POOL,
    RESOURCE_PROVIDER,
    RESOURCE_ROLE,
    RESOURCE_SLA_MISS,
    RESOURCE_TASK_INSTANCE,
    RESOURCE_TASK_LOG,
    RESOURCE_TASK_RESCHEDULE,
    RESOURCE_USER,
    RESOURCE_VARIABLE,
    RESOURCE_XCOM,
)

RESOURCE_WEBSITE = "Website"
RESOURCE_MY_PASSWORD = "My Password"
RESOURCE_MY_PROFILE = "My Profile"
RESOURCE_JOB = "Jobs"
RESOURCE_CLUSTER_ACTIVITY = "Cluster Activity"
RESOURCE_TRIGGER = "Triggers"
RESOURCE_PASSWORD = "Passwords"
RESOURCE_BROWSE_MENU = "Browse"
RESOURCE_DOCS_MENU = "Documentation"
RESOURCE_DOCS = "Docs"
RESOURCE_ADMIN_MENU = "Admin"

VIEWER_PERMISSIONS = [
    (CAN_READ, RESOURCE_DAG),
    (CAN_READ, RESOURCE_DAG_DEPENDENCIES),
    (CAN_READ, RESOURCE_DAG_CODE),
    (CAN_READ, RESOURCE_DAG_RUN),
    (CAN_READ, RESOURCE_DATASET),
    (CAN_READ, RESOURCE_CLUSTER_ACTIVITY),
    (CAN_READ, RESOURCE_POOL),
    (CAN_READ, RESOURCE_IMPORT_ERROR),
    (CAN_READ, RESOURCE_DAG_WARNING),
    (CAN_READ, RESOURCE_JOB),
    (CAN_READ, RESOURCE_MY_PASSWORD),
    (CAN_EDIT, RESOURCE_MY_PASSWORD),
    (CAN_READ, RESOURCE_MY_PROFILE),
    (CAN_EDIT, RESOURCE_MY_PROFILE),
    (CAN_READ, RESOURCE_SLA_MISS),
    (CAN_READ, RESOURCE_TASK_INSTANCE),
    (CAN_READ, RESOURCE_TASK_LOG),
    (CAN_READ, RESOURCE_XCOM),
    (CAN_READ, RESOURCE_WEBSITE),
    (MENU_ACCESS, RESOURCE_BROWSE_MENU),
    (MENU_ACCESS, RESOURCE_DAG),
    (MENU_ACCESS, RESOURCE_DAG_DEPENDENCIES),
    (MENU_ACCESS, RESOURCE_DAG_RUN),
    (MENU_ACCESS, RESOURCE_DATASET),
    (MENU_ACCESS, RESOURCE_CLUSTER_ACTIVITY),
    (MENU_ACCESS, RESOURCE_DOCS_MENU),
    (MENU_ACCESS, RESOURCE_DOCS),
    (MENU_ACCESS, RESOURCE_JOB),
    (MENU_ACCESS, RESOURCE_SLA_MISS),
    (MENU_ACCESS, RESOURCE_TASK_INSTANCE),
]

USER_PERMISSIONS = [
    (CAN_EDIT, RESOURCE_DAG),
    (CAN_DELETE, RESOURCE_DAG),
    (CAN_CREATE, RESOURCE_TASK_INSTANCE),
    (CAN_EDIT, RESOURCE_TASK_INSTANCE),
    (CAN_DELETE, RESOURCE_TASK_INSTANCE),
    (CAN_CREATE, RESOURCE_DAG_RUN),
    (CAN_EDIT, RESOURCE_DAG_RUN),
    (CAN_DELETE, RESOURCE_DAG_RUN),
    (CAN_CREATE, RESOURCE_DATASET),
]

OP_PERMISSIONS = [
    (CAN_READ, RESOURCE_CONFIG),
    (MENU_ACCESS, RESOURCE_ADMIN_MENU),
    (MENU_ACCESS, RESOURCE_CONFIG),
    (MENU_ACCESS, RESOURCE_CONNECTION),
    (MENU_ACCESS, RESOURCE_POOL),
    (MENU_ACCESS, RESOURCE_PLUGIN),
    (MENU_ACCESS, RESOURCE_VARIABLE),
    (MENU_ACCESS, RESOURCE_PROVIDER),
    (MENU_ACCESS, RESOURCE_XCOM),
    (CAN_CREATE, RESOURCE_CONNECTION),
    (CAN_READ, RESOURCE_CONNECTION),
    (CAN_EDIT, RESOURCE_CONNECTION),
    (CAN_DELETE, RESOURCE_CONNECTION),
    (CAN_CREATE, RESOURCE_POOL),
    (CAN_EDIT, RESOURCE_POOL),
    (CAN_DELETE, RESOURCE_POOL),
    (CAN_READ, RESOURCE_PLUGIN),
    (CAN_READ, RESOURCE_PROVIDER),
    (CAN_CREATE, RESOURCE_VARIABLE),
    (CAN_READ, RESOURCE_VARIABLE),
    (CAN_EDIT, RESOURCE_VARIABLE),
    (CAN_DELETE, RESOURCE_VARIABLE),
    (CAN_DELETE, RESOURCE_XCOM),
    (CAN_DELETE, RESOURCE_DATASET),
    (CAN_CREATE, RESOURCE_DATASET),
]

ADMIN_PERMISSIONS = [
    (CAN_READ, RESOURCE_AUDIT_LOG),
    (MENU_ACCESS, RESOURCE_AUDIT_LOG),
    (CAN_READ, RESOURCE_TASK_RESCHEDULE),
    (MENU_ACCESS, RESOURCE_TASK_RESCHEDULE),
    (CAN_READ, RESOURCE_TRIGGER),
    (MENU_ACCESS, RESOURCE_TRIGGER),
    (CAN_READ, RESOURCE_PASSWORD),
    (CAN_EDIT, RESOURCE_PASSWORD),
    (CAN_READ, RESOURCE_ROLE),
    (CAN_EDIT, RESOURCE_ROLE),
    # FAB grants Admin these through update_admin_permission(); the API needs them explicitly.
    (CAN_CREATE, RESOURCE_ROLE),
    (CAN_DELETE, RESOURCE_ROLE),
    (CAN_READ, RESOURCE_USER),
    (CAN_CREATE, RESOURCE_USER),
    (CAN_EDIT, RESOURCE_USER),
    (CAN_DELETE, RESOURCE_USER),
    (CAN_READ, RESOURCE_PERMISSION),
    (MENU_ACCESS, RESOURCE_USER),
    (MENU_ACCESS, RESOURCE_ROLE),
]

# Each role includes the ones before it, as in Airflow.
DEFAULT_ROLES: dict[str, list[tuple[str, str]]] = {
    "Public": [],
    "Viewer": VIEWER_PERMISSIONS,
    "User": VIEWER_PERMISSIONS + USER_PERMISSIONS,
    "Op": VIEWER_PERMISSIONS + USER_PERMISSIONS + OP_PERMISSIONS,
    "Admin": VIEWER_PERMISSIONS + USER_PERMISSIONS + OP_PERMISSIONS + ADMIN_PERMISSIONS,
}

# Resources that exist even if no default role uses them, so custom roles can be given them.
EXTRA_RESOURCES = [(CAN_READ, RESOURCE_TASK_RESCHEDULE)]


def get_or_create_permission(action_name: str, resource_name: str, cache: dict | None = None) -> Permission:
    cache = {} if cache is None else cache
    key = (action_name, resource_name)
    if key in cache:
        return cache[key]
    action = db.session.execute(select(Action).where(Action.name == action_name)).scalar()
    if action is None:
        action = Action(name=action_name)
        db.session.add(action)
        db.session.flush()
    resource = db.session.execute(select(Resource).where(Resource.name == resource_name)).scalar()
    if resource is None:
        resource = Resource(name=resource_name)
        db.session.add(resource)
        db.session.flush()
    permission = db.session.execute(
        select(Permission).where(Permission.action_id == action.id, Permission.resource_id == resource.id)
    ).scalar()
    if permission is None:
        permission = Permission(action=action, resource=resource)
        db.session.add(permission)
        db.session.flush()
    cache[key] = permission
    return permission


def sync_roles() -> None:
    """Create the default roles and give each at least its default permissions.

    Permissions an operator added to a default role are kept; missing defaults are restored.
    """
    cache: dict = {}
    existing = {
        (p.action.name, p.resource.name): p for p in db.session.execute(select(Permission)).scalars()
    }
    cache.update(existing)
    for role_name, wanted in DEFAULT_ROLES.items():
        role = db.session.execute(select(Role).where(Role.name == role_name)).scalar()
        if role is None:
            role = Role(name=role_name, permissions=[])
            db.session.add(role)
        have = {(p.action.name, p.resource.name) for p in role.permissions}
        for action_name, resource_name in dict.fromkeys(wanted):
            if (action_name, resource_name) not in have:
                role.permissions.append(get_or_create_permission(action_name, resource_name, cache))
    for action_name, resource_name in EXTRA_RESOURCES:
        get_or_create_permission(action_name, resource_name, cache)
    db.session.flush()
