"""Roles (/roles, /roles/{role_name}) and the permission actions (/permissions)."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.audit import action_logging
from app.errors import BadRequest, NotFound
from app.extensions import db
from app.models import Action, Permission, Resource, Role
from app.queries import apply_update_mask, commit_or_conflict, load_or_400, order_by_clause, paginate
from app.rbac import get_or_create_permission
from app.schemas.role_and_permission_schema import (
    ActionCollection,
    RoleCollection,
    action_collection_schema,
    role_collection_schema,
    role_schema,
)
from app.security import (
    CAN_CREATE,
    CAN_DELETE,
    CAN_EDIT,
    CAN_READ,
    DAG_PREFIX,
    DAG_RUN_PREFIX,
    RESOURCE_PERMISSION,
    RESOURCE_ROLE,
    perm,
    requires_access,
)

ORDER_BY = {"role_id": Role.id, "name": Role.name}
UNKNOWN_MASK = "'{field}' in update_mask is unknown"


def _role_or_404(role_name: str) -> Role:
    role = db.session.execute(select(Role).where(Role.name == role_name)).scalar()
    if role is None:
        raise NotFound("Role not found", f"Role with name {role_name!r} was not found")
    return role


def _is_dag_level(resource: str) -> bool:
    return any(resource.startswith(prefix) and len(resource) > len(prefix) for prefix in (DAG_PREFIX, DAG_RUN_PREFIX))


def _permissions(pairs: list[tuple[str, str]]) -> list[Permission]:
    """The permissions named by (action, resource) pairs; 400 on an unknown action or resource.

    DAG-level resources (`DAG:<id>`, `DAG Run:<id>`) are created on first use, so a role can be
    granted a DAG before its file is parsed.
    """
    actions = set(db.session.scalars(select(Action.name).where(Action.name.in_({a for a, _ in pairs}))))
    resources = set(db.session.scalars(select(Resource.name).where(Resource.name.in_({r for _, r in pairs}))))
    for action, resource in pairs:
        if action not in actions:
            raise BadRequest(detail=f"The specified action: {action!r} was not found")
        if resource not in resources and not _is_dag_level(resource):
            raise BadRequest(detail=f"The specified resource: {resource!r} was not found")
    cache: dict = {}
    return [get_or_create_permission(action, resource, cache) for action, resource in dict.fromkeys(pairs)]


@requires_access(perm(CAN_READ, RESOURCE_ROLE))
def get_role(*, role_name: str):
    """Get one role with its permissions."""
    return role_schema.dump(_role_or_404(role_name))


@requires_access(perm(CAN_READ, RESOURCE_ROLE))
def get_roles(*, limit: int | None = None, offset: int | None = None, order_by: str = "name"):
    """List roles with their permissions."""
    stmt = select(Role).order_by(*order_by_clause(order_by, ORDER_BY, "name", tiebreak=Role.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return role_collection_schema.dump(RoleCollection(page.items, page.total_entries))


@requires_access(perm(CAN_CREATE, RESOURCE_ROLE))
@action_logging()
def post_role():
    """Create a role with the given permissions."""
    data = load_or_400(role_schema, request.get_json())
    role = Role(name=data["name"], permissions=_permissions(data.get("actions", [])))
    db.session.add(role)
    commit_or_conflict(f"Role with name {role.name!r} already exists; please update with the PATCH endpoint")
    return role_schema.dump(role)


@requires_access(perm(CAN_EDIT, RESOURCE_ROLE))
@action_logging()
def patch_role(*, role_name: str, update_mask: list[str] | None = None):
    """Rename a role and/or add permissions to it (existing permissions are kept, as in Airflow)."""
    data = load_or_400(role_schema, request.get_json(), partial=True)
    role = _role_or_404(role_name)
    changes = apply_update_mask(
        data, update_mask, updatable=("name", "actions"), message=UNKNOWN_MASK, missing_message=UNKNOWN_MASK
    )
    if "actions" in changes:
        have = {p.id for p in role.permissions}
        role.permissions.extend(p for p in _permissions(changes["actions"]) if p.id not in have)
    if "name" in changes:
        role.name = changes["name"]
    commit_or_conflict(f"Role with name {role.name!r} already exists")
    return role_schema.dump(role)


@requires_access(perm(CAN_DELETE, RESOURCE_ROLE))
@action_logging()
def delete_role(*, role_name: str):
    """Delete a role; users holding it lose it."""
    db.session.delete(_role_or_404(role_name))
    db.session.commit()
    return None, 204


@requires_access(perm(CAN_READ, RESOURCE_PERMISSION))
def get_permissions(*, limit: int | None = None, offset: int | None = None):
    """List the actions permissions are made of."""
    page = paginate(select(Action).order_by(Action.id), limit=limit, offset=offset)
    return action_collection_schema.dump(ActionCollection(page.items, page.total_entries))
