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
    """The active user with this username, or None."""
    from app.extensions import db
    from app.permissions_cache import note_revision

    if not username:
        return None
    row = db.session.execute(_user_by_name(), {"username": username}).unique().first()
    if row is None:
        return None
    user, rbac_revision = row
    note_revision(rbac_revision)
    if not user.active:
        return None
    return user


@functools.cache
def _user_by_name():
    """The user with its role names and the RBAC revision, in one query built once (every request
    runs it).

    Only the role rows: the identity's permissions are cached per RBAC revision
    (app.permissions_cache); loading each role's permissions here cost more than a request.
    """
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import contains_eager

    from app.models import Role, User
    from app.permissions_cache import revision_stmt

    return (
        select(User, revision_stmt().scalar_subquery())
        .outerjoin(User.roles)
        .where(User.username == bindparam("username"))
        .options(contains_eager(User.roles).lazyload(Role.permissions))
    )


@dataclass(frozen=True)
class AnonymousUser:
    """A caller identified without credentials, holding the permissions of `role_names`."""

    role_names: tuple[str, ...]
    username: str = "anonymous"
    is_anonymous: bool = True
    id: None = None
