"""DAG runs, task instances, their try history, XComs, and scheduler jobs."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime, utcnow
from app.models.dataset import dagrun_dataset_event


class DagRun(Base):
    __tablename__ = "dag_run"
    __table_args__ = (
        # The database decides duplicate triggers, never a check-then-insert.
        UniqueConstraint("dag_id", "run_id"),
        UniqueConstraint("dag_id", "execution_date"),
        Index("idx_dag_run_dag_id_execution_date", "dag_id", "execution_date"),
        # A DAG's runs in the lists' default order (id), without sorting all of them.
        Index("idx_dag_run_dag_id_id", "dag_id", "id"),
        Index("idx_dag_run_state", "state"),
        Index("idx_dag_run_execution_date", "execution_date"),
        Index("idx_dag_run_updated_at", "updated_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    queued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Airflow's logical date; the column keeps Airflow's historical name.
    execution_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    start_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(50), default="queued")
    run_type: Mapped[str] = mapped_column(String(50))
    external_trigger: Mapped[bool] = mapped_column(Boolean, default=True)
    conf: Mapped[dict | None] = mapped_column(JSON)
    data_interval_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    data_interval_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_scheduling_decision: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    dag_hash: Mapped[str | None] = mapped_column(String(32))
    clear_number: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    consumed_dataset_events = relationship(
        "DatasetEvent", secondary=dagrun_dataset_event, back_populates="created_dagruns", lazy="select"
    )

    @property
    def logical_date(self) -> dt.datetime:
        return self.execution_date




class _TaskInstanceColumns:
    dag_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    task_display_name: Mapped[str | None] = mapped_column(String(2000))
    start_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str | None] = mapped_column(String(20))
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    hostname: Mapped[str] = mapped_column(String(1000), default="")
    unixname: Mapped[str] = mapped_column(String(1000), default="")
    job_id: Mapped[int | None] = mapped_column(Integer)
    pool: Mapped[str] = mapped_column(String(256), default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(256), default="default")
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    operator: Mapped[str | None] = mapped_column(String(1000))
    queued_dttm: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    executor: Mapped[str | None] = mapped_column(String(1000))
    executor_config: Mapped[str | None] = mapped_column(Text)
    rendered_map_index: Mapped[str | None] = mapped_column(String(250))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TaskInstance(_TaskInstanceColumns, Base):
    __tablename__ = "task_instance"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
        Index("idx_ti_dag_run", "dag_id", "run_id"),
        # Task-instance lists across runs in their order (map index, id), without sorting the table.
        Index("idx_ti_map_index_id", "map_index", "id"),
        Index("idx_ti_state", "state"),
        Index("idx_ti_pool", "pool", "state"),
        Index("idx_ti_job_id", "job_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str | None] = mapped_column(Text)
    rendered_fields: Mapped[dict | None] = mapped_column(JSON)
    # When a simulated running task finishes, or when an up_for_retry task may run again.
    next_event_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    dag_run: Mapped[DagRun] = relationship(
        primaryjoin="and_(TaskInstance.dag_id == DagRun.dag_id, TaskInstance.run_id == DagRun.run_id)",
        foreign_keys="[TaskInstance.dag_id, TaskInstance.run_id]",
        lazy="joined",
        viewonly=True,
    )


class TaskInstanceHistory(_TaskInstanceColumns, Base):
    """One row per finished try that was followed by another (retry or clear)."""

    __tablename__ = "task_instance_history"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)


class XCom(Base):
    __tablename__ = "xcom"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "key"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str] = mapped_column(String(250))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    key: Mapped[str] = mapped_column(String(512))
    # The JSON text of the pushed value.
    value: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Base):
    """A scheduler (or other) process, with its heartbeat."""

    __tablename__ = "job"
    __table_args__ = (Index("idx_job_type_heartbeat", "job_type", "latest_heartbeat"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    state: Mapped[str | None] = mapped_column(String(20))
    job_type: Mapped[str] = mapped_column(String(30))
    start_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    latest_heartbeat: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    executor_class: Mapped[str | None] = mapped_column(String(500))
    hostname: Mapped[str | None] = mapped_column(String(500))
    unixname: Mapped[str | None] = mapped_column(String(1000))
    # Scheduler loops so far and their total and latest duration, written with each heartbeat:
    # GET /metrics on any API node reads them here.
    loop_count: Mapped[int] = mapped_column(Integer, default=0)
    loop_seconds_total: Mapped[float] = mapped_column(Float, default=0.0)
    last_loop_seconds: Mapped[float | None] = mapped_column(Float)
