"""Permissions of a set of roles, in one query."""
from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import Action, Permission, Resource, Role, role_permissions


def permissions_of_roles(role_names: Iterable[str]) -> frozenset[tuple[str, str]]:
    names = list(role_names)
    if not names:
        return frozenset()
    return frozenset(db.session.execute(_permissions_stmt(), {"names": names}).tuples())


@functools.cache
def _permissions_stmt():
    # Built once: every authenticated request runs it, and building it cost as much as running it.
    return (
        select(Action.name, Resource.name)
        .select_from(Role)
        .join(role_permissions, role_permissions.c.role_id == Role.id)
        .join(Permission, Permission.id == role_permissions.c.permission_id)
        .join(Action, Action.id == Permission.action_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Role.name.in_(bindparam("names", expanding=True)))
    )
