"""Dataset events, from the API or from a task's outlets, and the DAG run queue they feed."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import select

from app.extensions import db
from app.models import (
    DagModel,
    DagScheduleDatasetReference,
    Dataset,
    DatasetDagRunQueue,
    DatasetEvent,
    TaskInstance,
    utcnow,
)
from app.queries import insert_or_ignore


def dataset_by_uri(uri: str) -> Dataset | None:
    return db.session.execute(select(Dataset).where(Dataset.uri == uri)).scalar()


def register_dataset_event(
    dataset: Dataset,
    *,
    extra: Mapping | None = None,
    source: TaskInstance | None = None,
    now: dt.datetime | None = None,
) -> DatasetEvent:
    """Record that `dataset` was updated and queue it for the active, unpaused DAGs scheduled on it.

    `source` is the task instance whose outlet updated it (None for an event from the API). The
    queue row of a DAG that is already waiting for this dataset is kept as it is. No commit.
    """
    now = now or utcnow()
    event = DatasetEvent(dataset_id=dataset.id, extra=dict(extra or {}), timestamp=now, source_map_index=-1)
    if source is not None:
        event.source_dag_id, event.source_task_id = source.dag_id, source.task_id
        event.source_run_id, event.source_map_index = source.run_id, source.map_index
    db.session.add(event)
    db.session.flush()
    consumers = db.session.execute(
        select(DagScheduleDatasetReference.dag_id)
        .join(DagModel, DagModel.dag_id == DagScheduleDatasetReference.dag_id)
        .where(DagScheduleDatasetReference.dataset_id == dataset.id, DagModel.is_active, ~DagModel.is_paused)
        .order_by(DagScheduleDatasetReference.dag_id)
    ).scalars()
    insert_or_ignore(
        DatasetDagRunQueue,
        [{"dataset_id": dataset.id, "target_dag_id": dag_id, "created_at": now} for dag_id in consumers],
        key=("dataset_id", "target_dag_id"),
    )
    return event


def register_outlet_events(ti: TaskInstance, uris: Iterable[str], now: dt.datetime | None = None) -> list[DatasetEvent]:
    """The events of a task instance that finished successfully with these outlets (unknown URIs
    are skipped, as Airflow skips datasets it has no row for)."""
    events = []
    for uri in uris:
        dataset = dataset_by_uri(uri)
        if dataset is not None:
            events.append(register_dataset_event(dataset, source=ti, now=now))
    return events
