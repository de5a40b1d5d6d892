"""DAGs as parsed from the DAG folder: rows, tags, serialized structure, source, errors, warnings."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime, utcnow


class DagModel(Base):
    __tablename__ = "dag"
    __table_args__ = (Index("idx_dag_next_dagrun_create_after", "next_dagrun_create_after"),)
    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    dag_display_name: Mapped[str | None] = mapped_column(String(2000))
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_parsed_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_pickled: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_expired: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    fileloc: Mapped[str | None] = mapped_column(String(2000))
    owners: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    default_view: Mapped[str | None] = mapped_column(String(25))
    # The wire form of the schedule: {"__type": "CronExpression", ...} or null.
    schedule_interval: Mapped[dict | None] = mapped_column(JSON)
    timetable_description: Mapped[str | None] = mapped_column(String(1000))
    dataset_expression: Mapped[dict | None] = mapped_column(JSON)
    max_active_tasks: Mapped[int] = mapped_column(Integer, default=16)
    max_active_runs: Mapped[int | None] = mapped_column(Integer)
    max_consecutive_failed_dag_runs: Mapped[int] = mapped_column(Integer, default=0)
    has_task_concurrency_limits: Mapped[bool] = mapped_column(Boolean, default=False)
    has_import_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    next_dagrun: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_create_after: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    tags: Mapped[list[DagTag]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True, order_by="DagTag.name"
    )


class DagTag(Base):
    __tablename__ = "dag_tag"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)


class SerializedDag(Base):
    """The parsed DAG file entry (stableflow's DAG structure as JSON) the API and scheduler read."""

    __tablename__ = "serialized_dag"
    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    fileloc: Mapped[str] = mapped_column(String(2000))
    data: Mapped[dict] = mapped_column(JSON)
    dag_hash: Mapped[str] = mapped_column(String(32))
    last_updated: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DagCode(Base):
    __tablename__ = "dag_code"
    fileloc: Mapped[str] = mapped_column(String(2000), primary_key=True)
    source_code: Mapped[str] = mapped_column(Text)
    # Used to re-parse only files that changed.
    source_hash: Mapped[str | None] = mapped_column(String(64))
    last_updated: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ImportErrorRecord(Base):
    __tablename__ = "import_error"
    id: Mapped[int] = mapped_column(primary_key=True)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(1024), unique=True)
    stack_trace: Mapped[str] = mapped_column(Text)


class DagWarning(Base):
    __tablename__ = "dag_warning"
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)
    warning_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DagPriorityParsingRequest(Base):
    __tablename__ = "dag_priority_parsing_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    fileloc: Mapped[str] = mapped_column(String(2000), unique=True)
