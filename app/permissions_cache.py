"""Permissions of a set of roles, cached in-process per RBAC revision.

Every change to roles, permissions, actions, resources or role_permissions writes a new random
`rbac_revision.revision` in the changing transaction (database triggers; see
app.models.security.RbacRevision). The revision the caller's request runs under is read with the
user row (auth_backends.lookup_user, see `note_revision`), or by a query of its own for callers
identified otherwise. A set of roles' permissions are loaded in one statement together with the
revision they belong to, and kept for that revision only: the first request after any change, in
any worker of any node sharing the database, reads a new revision and loads them again.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

from flask import g
from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import Action, Permission, RbacRevision, Resource, Role, role_permissions

Permissions = frozenset[tuple[str, str]]

_G_REVISION = "stableflow_rbac_revision"
# More distinct role sets than this under one revision is not a real deployment: start over.
_MAX_ENTRIES = 256
# (revision, {role names: permissions}), replaced as a whole when the revision changes, so that
# every entry of the dict was loaded under the revision it sits beside.
_cache: tuple[str | None, dict[frozenset[str], Permissions]] = (None, {})


def note_revision(revision: str | None) -> None:
    """Remember the RBAC revision read with the caller's user row, for this request."""
    setattr(g, _G_REVISION, revision)


def permissions_of_roles(role_names: Iterable[str]) -> Permissions:
    names = frozenset(role_names)
    if not names:
        return frozenset()
    revision, entries = _cache
    if revision is not None and revision == _request_revision():
        cached = entries.get(names)
        if cached is not None:
            return cached
    return _load(names)


def _request_revision() -> str | None:
    if _G_REVISION not in g:
        note_revision(db.session.execute(revision_stmt()).scalar())
    return g.get(_G_REVISION)


def _load(names: frozenset[str]) -> Permissions:
    global _cache
    rows = db.session.execute(_permissions_stmt(), {"names": list(names)}).all()
    permissions = frozenset((action, resource) for _revision, action, resource in rows)
    # Roles without any permission return no row, hence no revision: such sets are not cached.
    revision = rows[0][0] if rows else None
    if revision is None:
        return permissions
    cached_revision, entries = _cache
    if revision != cached_revision or len(entries) >= _MAX_ENTRIES:
        entries = {}
        _cache = (revision, entries)
    entries[names] = permissions
    return permissions


@functools.cache
def revision_stmt():
    """SELECT the current RBAC revision (None if its row is gone: then nothing is cached)."""
    return select(RbacRevision.__table__.c.revision).limit(1)


@functools.cache
def _permissions_stmt():
    # Built once: every cache miss runs it, and building it cost as much as running it. The
    # revision comes in the same statement, so it is the one these permissions were read under.
    return (
        select(revision_stmt().scalar_subquery(), Action.name, Resource.name)
        .select_from(Role)
        .join(role_permissions, role_permissions.c.role_id == Role.id)
        .join(Permission, Permission.id == role_permissions.c.permission_id)
        .join(Action, Action.id == Permission.action_id)
        .join(Resource, Resource.id == Permission.resource_id)
        .where(Role.name.in_(bindparam("names", expanding=True)))
    )
