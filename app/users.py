"""Creating and changing users, shared by the API, the CLI and standalone."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.passwords import hash_password


class UnknownRoles(ValueError):
    def __init__(self, names: Iterable[str]):
        self.names = list(names)
        super().__init__("Unknown roles: " + ", ".join(repr(n) for n in self.names))


def roles_by_name(names: Iterable[str]) -> list[Role]:
    names = list(dict.fromkeys(names))
    if not names:
        return []
    found = {r.name: r for r in db.session.execute(select(Role).where(Role.name.in_(names))).scalars()}
    missing = [n for n in names if n not in found]
    if missing:
        raise UnknownRoles(missing)
    return [found[n] for n in names]


def find_user(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar()


def create_user(
    username: str,
    password: str,
    *,
    roles: Iterable[str] = ("Public",),
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    active: bool = True,
) -> User:
    user = User(
        username=username,
        email=email or f"{username}@example.invalid",
        first_name=first_name,
        last_name=last_name,
        password=hash_password(password),
        active=active,
        roles=roles_by_name(roles),
    )
    db.session.add(user)
    db.session.flush()
    return user
