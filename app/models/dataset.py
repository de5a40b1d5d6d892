"""Datasets, the DAGs and tasks that reference them, their events and the per-DAG event queue."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime, utcnow


class Dataset(Base):
    __tablename__ = "dataset"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(3000), unique=True)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    is_orphaned: Mapped[bool] = mapped_column(default=False)
    consuming_dags: Mapped[list[DagScheduleDatasetReference]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )
    producing_tasks: Mapped[list[TaskOutletDatasetReference]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class DagScheduleDatasetReference(Base):
    __tablename__ = "dag_schedule_dataset_reference"
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TaskOutletDatasetReference(Base):
    __tablename__ = "task_outlet_dataset_reference"
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DatasetDagRunQueue(Base):
    """A dataset event waiting to trigger a DAG scheduled on that dataset."""

    __tablename__ = "dataset_dag_run_queue"
    # The per-DAG queued-event endpoints and the scheduler look rows up by DAG.
    __table_args__ = (Index("idx_dataset_dag_run_queue_target_dag_id", "target_dag_id"),)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True)
    target_dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


dagrun_dataset_event = Table(
    "dagrun_dataset_event",
    Base.metadata,
    Column("dag_run_id", Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", Integer, ForeignKey("dataset_event.id", ondelete="CASCADE"), primary_key=True),
)


class DatasetEvent(Base):
    __tablename__ = "dataset_event"
    __table_args__ = (
        Index("idx_dataset_id_timestamp", "dataset_id", "timestamp"),
        # GET /datasets/events pages by timestamp by default.
        Index("idx_dataset_event_timestamp", "timestamp"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(Integer)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    source_task_id: Mapped[str | None] = mapped_column(String(250))
    source_dag_id: Mapped[str | None] = mapped_column(String(250))
    source_run_id: Mapped[str | None] = mapped_column(String(250))
    source_map_index: Mapped[int | None] = mapped_column(Integer, default=-1)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    dataset: Mapped[Dataset] = relationship(
        primaryjoin="DatasetEvent.dataset_id == foreign(Dataset.id)", viewonly=True, lazy="joined"
    )
    created_dagruns = relationship(
        "DagRun", secondary=dagrun_dataset_event, back_populates="consumed_dataset_events", lazy="selectin"
    )
