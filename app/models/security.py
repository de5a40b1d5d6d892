"""Users, roles and permissions (action x resource), the model Airflow's FAB users know."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime, utcnow

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

role_permissions = Table(
    "role_permissions",
    Base.metadata,
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", Integer, ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)


class Action(Base):
    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Resource(Base):
    __tablename__ = "resources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(250), unique=True)


class Permission(Base):
    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("action_id", "resource_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    action: Mapped[Action] = relationship(lazy="joined")
    resource: Mapped[Resource] = relationship(lazy="joined")


class RbacRevision(Base):
    """One row whose `revision` changes with every change to actions, resources, permissions, roles
    and role_permissions, in the changing transaction: triggers created by the baseline migration
    write a new random value on every insert, update, delete (and, on PostgreSQL, truncate) of
    those tables, whoever makes the change (the API, the CLI, an operator's SQL).

    API workers cache the permissions of a set of roles per revision (app.permissions_cache) and
    read the revision with the caller's user row, so a change is seen by every worker of every node
    on its next request. Random rather than counted: a value never comes back unless the tables
    come back with it (a snapshot restore puts back the permissions it was taken with).
    """

    __tablename__ = "rbac_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[str] = mapped_column(String(32))


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, lazy="selectin")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(256), default="")
    last_name: Mapped[str] = mapped_column(String(256), default="")
    username: Mapped[str] = mapped_column(String(512), unique=True)
    email: Mapped[str] = mapped_column(String(512), unique=True)
    password: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    login_count: Mapped[int | None] = mapped_column(Integer)
    fail_login_count: Mapped[int | None] = mapped_column(Integer)
    # Start of the current failed-login window (lockout after [api] max_failed_logins).
    first_failed_login: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_on: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    changed_on: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    is_anonymous = False
