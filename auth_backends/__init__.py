"""Auth backends for stableflow's API.

`[api] auth_backends` is an ordered, comma-separated list of module paths. Each module is imported
at startup (a module that fails to import stops the server, naming it). For every API request the
backends are asked in order; the first one that identifies the caller wins, and the answer is
cached for the rest of the request.

The protocol a backend module follows:

``authenticate(request) -> user | None``
    Required. Return the user the request proves to be (use :func:`lookup_user` to get the active
    user of a name), or None when this backend does not identify the caller. Never raise for bad
    credentials: return None and let the next backend try.

``init_app(app)``
    Optional. Called once when the app is created (register views, read config, ...).

``CHALLENGE``
    Optional string. A ``WWW-Authenticate`` challenge offered on 401 responses, e.g.
    ``Basic realm="stableflow"``. The 401 carries the challenges of every configured backend.

Any importable module works as a backend: ``auth_backends = mycompany.sso_backend,auth_backends.basic_auth``.
See docs/auth.md for a complete example.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass


def lookup_user(username: str):
    """The active user with this username (a StoredUser), or None."""
    from app.permissions_cache import note_revision

    if not username:
        return None
    read = _user_by_name()
    rows = read.rows({"username": username})
    if not rows:
        return None
    columns = read.mapping(rows[0])
    note_revision(columns.pop("rbac_revision"))
    del columns["role_name"]
    roles = read.columns.index("role_name")
    user = StoredUser(columns, tuple(row[roles] for row in rows if row[roles] is not None))
    return user if user.active else None


class StoredUser:
    """A user row as plain attributes (every column of `users`) and its `role_names`.

    Read with one Core query per request: loading an ORM User with its roles cost a third of a
    small request. Changes go through UPDATE statements (app.auth_events), never this object.
    """

    is_anonymous = False

    def __init__(self, columns: dict, role_names: tuple[str, ...]):
        self.__dict__.update(columns)
        self.role_names = role_names

    def __repr__(self) -> str:
        return f"<StoredUser {self.username!r} roles={self.role_names!r}>"


@functools.cache
def _user_by_name():
    """Every column of the user, one row per role with its name, and the RBAC revision, in one
    statement built once and read without SQLAlchemy's execution layer (every request runs it;
    app.fast_reads). The identity's permissions are cached per RBAC revision
    (app.permissions_cache)."""
    from sqlalchemy import bindparam, select

    from app.fast_reads import FastRead
    from app.models import Role, User, user_roles
    from app.permissions_cache import revision_stmt

    users = User.__table__
    return FastRead(
        select(users, Role.__table__.c.name.label("role_name"), revision_stmt().scalar_subquery().label("rbac_revision"))
        .select_from(users)
        .outerjoin(user_roles, user_roles.c.user_id == users.c.id)
        .outerjoin(Role.__table__, Role.__table__.c.id == user_roles.c.role_id)
        .where(users.c.username == bindparam("username"))
    )


@dataclass(frozen=True)
class AnonymousUser:
    """A caller identified without credentials, holding the permissions of `role_names`."""

    role_names: tuple[str, ...]
    username: str = "anonymous"
    is_anonymous: bool = True
    id: None = None
