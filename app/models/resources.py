"""Pools, variables, connections and the audit (event) log."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime, utcnow


class Pool(Base):
    __tablename__ = "slot_pool"
    id: Mapped[int] = mapped_column(primary_key=True)
    pool: Mapped[str] = mapped_column(String(256), unique=True)
    # -1 means unlimited.
    slots: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text)
    include_deferred: Mapped[bool] = mapped_column(Boolean, default=False)


class Variable(Base):
    __tablename__ = "variable"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(250), unique=True)
    val: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class Connection(Base):
    __tablename__ = "connection"
    id: Mapped[int] = mapped_column(primary_key=True)
    conn_id: Mapped[str] = mapped_column(String(250), unique=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text)
    # Fernet tokens: the password and extra are encrypted at rest.
    password: Mapped[str | None] = mapped_column(Text)
    port: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[str | None] = mapped_column(Text)


class EventLog(Base):
    __tablename__ = "log"
    __table_args__ = (
        Index("idx_log_dttm", "dttm"),
        Index("idx_log_event", "event"),
        Index("idx_log_dag_id", "dag_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dttm: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    map_index: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(60))
    execution_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    run_id: Mapped[str | None] = mapped_column(String(250))
    try_number: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(500))
    owner_display_name: Mapped[str | None] = mapped_column(String(500))
    extra: Mapped[str | None] = mapped_column(Text)
