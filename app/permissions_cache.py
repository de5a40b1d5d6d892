"""Permissions of a set of roles, in one query."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.extensions import db
from app.models import Action, Permission, Resource, Role, role_permissions


def permissions_of_roles(role_names: Iterable[str]) -> frozenset[tuple[str, str]]:
    names = list(role_names)
    if not names:
        return frozenset()
    stmt = (
        select(Action.name, Resource.name)
        .select_from(Role)
        .join(role_permissions, role_permissions.c.role_id == Role.id)
        .join(Permission, Permission.id == role_permissions.c.permission_id)
        .join(Action, Action.id == Permission.action_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Role.name.in_(names))
    )
    return frozenset((a, r) for a, r in db.session.execute(stmt))
