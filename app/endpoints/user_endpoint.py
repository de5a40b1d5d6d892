"""User accounts: /users and /users/{username}.

Passwords are write-only: hashed on the way in, never dumped, and the audit entry redacts them.
Uniqueness of usernames and emails is decided by the database's unique constraints.
"""
from __future__ import annotations

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import action_logging
from app.errors import AlreadyExists, BadRequest, NotFound
from app.extensions import db
from app.models import User
from app.passwords import hash_password
from app.queries import apply_update_mask, load_or_400, order_by_clause, paginate
from app.schemas.user_schema import (
    UserCollection,
    user_collection_item_schema,
    user_collection_schema,
    user_schema,
)
from app.security import CAN_CREATE, CAN_DELETE, CAN_EDIT, CAN_READ, RESOURCE_USER, perm, requires_access
from app.users import UnknownRoles, find_user, roles_by_name

# Airflow's names plus the model's own; Airflow rejects every descending order, we do not.
ORDER_BY = {
    "id": User.id,
    "user_id": User.id,
    "first_name": User.first_name,
    "last_name": User.last_name,
    "username": User.username,
    "user_name": User.username,
    "email": User.email,
    "active": User.active,
    "is_active": User.active,
}
UPDATABLE = ("first_name", "last_name", "username", "email", "roles", "password")
DEFAULT_ROLE = "Public"


def _user_or_404(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise NotFound("User not found", f"The User with username `{username}` was not found")
    return user


def _roles(names: list[str]):
    try:
        return roles_by_name(names)
    except UnknownRoles as exc:
        raise BadRequest(detail=str(exc)) from None


def _commit(user_id: int | None, clashes: list[tuple]) -> None:
    """Commit; a unique violation is 409 naming the value that collides (username first)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        for column, value, detail in clashes:
            stmt = select(User.id).where(column == value)
            if user_id is not None:
                stmt = stmt.where(User.id != user_id)
            if db.session.execute(stmt).first() is not None:
                raise AlreadyExists(detail=detail) from None
        raise AlreadyExists(detail="The user conflicts with an existing one.") from None


@requires_access(perm(CAN_READ, RESOURCE_USER))
def get_user(*, username: str):
    """Get one user."""
    return user_collection_item_schema.dump(_user_or_404(username))


@requires_access(perm(CAN_READ, RESOURCE_USER))
def get_users(*, limit: int | None = None, offset: int | None = None, order_by: str = "id"):
    """List users."""
    stmt = select(User).order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=User.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return user_collection_schema.dump(UserCollection(page.items, page.total_entries))


@requires_access(perm(CAN_CREATE, RESOURCE_USER))
@action_logging()
def post_user():
    """Create a user; without roles it gets the Public role, as in Airflow."""
    data = load_or_400(user_schema, request.get_json())
    password = data.pop("password", None)
    user = User(
        **{k: v for k, v in data.items() if k != "roles"},
        password=hash_password(password) if password is not None else None,
        roles=_roles(data.get("roles") or [DEFAULT_ROLE]),
    )
    db.session.add(user)
    _commit(
        None,
        [
            (User.username, user.username, f"Username `{user.username}` already exists. Use PATCH to update."),
            (User.email, user.email, f"The email `{user.email}` is already taken."),
        ],
    )
    return user_schema.dump(user)


@requires_access(perm(CAN_EDIT, RESOURCE_USER))
@action_logging()
def patch_user(*, username: str, update_mask: list[str] | None = None):
    """Update a user; `roles` replaces the user's roles and `password` is re-hashed."""
    data = load_or_400(user_schema, request.get_json(), partial=True)
    user = _user_or_404(username)
    message = "Unknown update masks: '{field}'"
    changes = apply_update_mask(data, update_mask, updatable=UPDATABLE, message=message, missing_message=message)
    if "roles" in changes:
        user.roles = _roles(changes.pop("roles"))
    if "password" in changes:
        user.password = hash_password(changes.pop("password"))
    for name, value in changes.items():
        setattr(user, name, value)
    _commit(
        user.id,
        [
            (User.username, user.username, f"The username `{user.username}` already exists"),
            (User.email, user.email, f"The email `{user.email}` already exists"),
        ],
    )
    return user_collection_item_schema.dump(user)


@requires_access(perm(CAN_DELETE, RESOURCE_USER))
@action_logging()
def delete_user(*, username: str):
    """Delete a user."""
    db.session.delete(_user_or_404(username))
    db.session.commit()
    return None, 204
