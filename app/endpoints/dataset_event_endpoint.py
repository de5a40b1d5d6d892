"""Dataset events (list, create) and the queue of events waiting to trigger DAGs, per DAG and per
dataset."""
from __future__ import annotations

from flask import Response
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import defaultload

from app.audit import action_logging
from app.errors import NotFound
from app.extensions import db
from app.models import Dataset, DatasetDagRunQueue, DatasetEvent
from app.queries import load_or_400, order_by_clause, paginate, parse_datetime
from app.runs import dataset_by_uri, register_dataset_event
from app.schemas.dataset_event_schema import (
    DatasetEventCollection,
    QueuedEventCollection,
    create_dataset_event_body,
    dataset_event_collection_schema,
    dataset_event_schema,
    queued_event_collection_schema,
    queued_event_schema,
)
from app.security import (
    CAN_CREATE,
    CAN_DELETE,
    CAN_READ,
    RESOURCE_DATASET,
    current_identity,
    dag_access,
    perm,
    requires_access,
)

ORDER_BY = {
    "source_dag_id": DatasetEvent.source_dag_id,
    "source_task_id": DatasetEvent.source_task_id,
    "source_run_id": DatasetEvent.source_run_id,
    "source_map_index": DatasetEvent.source_map_index,
    "timestamp": DatasetEvent.timestamp,
}
Queue = DatasetDagRunQueue


@requires_access(perm(CAN_READ, RESOURCE_DATASET))
def get_dataset_events(
    *, limit=None, offset=None, order_by=None, dataset_id=None, source_dag_id=None, source_task_id=None,
    source_run_id=None, source_map_index=None,
):
    """List dataset events, filtered exactly on the given fields."""
    # An event shows its dataset's URI only: skip the dataset's own DAG and task references.
    stmt = select(DatasetEvent).options(defaultload(DatasetEvent.dataset).lazyload("*"))
    for column, value in (
        (DatasetEvent.dataset_id, dataset_id), (DatasetEvent.source_dag_id, source_dag_id),
        (DatasetEvent.source_task_id, source_task_id), (DatasetEvent.source_run_id, source_run_id),
        (DatasetEvent.source_map_index, source_map_index),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "timestamp", tiebreak=DatasetEvent.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return dataset_event_collection_schema.dump(DatasetEventCollection(page.items, page.total_entries))


@requires_access(perm(CAN_CREATE, RESOURCE_DATASET))
@action_logging()
def create_dataset_event(*, body):
    """Record an update of a dataset from outside any task; the DAGs scheduled on it are queued."""
    data = load_or_400(create_dataset_event_body, body)
    uri = data["dataset_uri"]
    dataset = dataset_by_uri(uri)
    if dataset is None:
        raise NotFound("Dataset not found", f"Dataset with uri: '{uri}' not found")
    event = register_dataset_event(dataset, extra={**(data["extra"] or {}), "from_rest_api": True})
    db.session.commit()
    return dataset_event_schema.dump(event)


# -- queued events -----------------------------------------------------------------------------
def _queued(*, dag_id=None, uri=None, before=None) -> Select:
    """Queue rows with their dataset URI; a caller who may not read every DAG sees only its own."""
    stmt = select(Queue.target_dag_id.label("dag_id"), Dataset.uri, Queue.created_at).join(
        Dataset, Dataset.id == Queue.dataset_id
    )
    return stmt.where(*_conditions(dag_id=dag_id, uri=uri, before=before))


def _conditions(*, dag_id=None, uri=None, before=None) -> list:
    conditions = []
    if dag_id is not None:
        conditions.append(Queue.target_dag_id == dag_id)
    else:
        permitted = current_identity().permitted_dag_ids(("GET",))
        if permitted is not None:
            conditions.append(Queue.target_dag_id.in_(sorted(permitted)))
    if uri is not None:
        conditions.append(Queue.dataset_id.in_(select(Dataset.id).where(Dataset.uri == uri)))
    if before is not None:
        conditions.append(Queue.created_at < parse_datetime(before))
    return conditions


def _missing(dag_id=None, uri=None) -> NotFound:
    if dag_id is not None and uri is not None:
        detail = f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was not found"
    elif dag_id is not None:
        detail = f"Queue event with dag_id: `{dag_id}` was not found"
    else:
        detail = f"Queue event with dataset uri: `{uri}` was not found"
    return NotFound("Queue event not found", detail)


def _list(**where) -> dict:
    rows = db.session.execute(_queued(**where).order_by(Queue.created_at, Dataset.uri, Queue.target_dag_id)).all()
    if not rows:
        raise _missing(where.get("dag_id"), where.get("uri"))
    return queued_event_collection_schema.dump(QueuedEventCollection(rows, len(rows)))


def _delete(**where) -> Response:
    result = db.session.execute(delete(Queue).where(*_conditions(**where)), execution_options={"synchronize_session": False})
    if result.rowcount == 0:
        db.session.rollback()
        raise _missing(where.get("dag_id"), where.get("uri"))
    db.session.commit()
    return Response(status=204, mimetype="application/json")


@requires_access(perm(CAN_READ, RESOURCE_DATASET), dag_access("GET"))
def get_dag_dataset_queued_event(*, dag_id, uri, before=None):
    """Show a DAG's pending event for one dataset."""
    row = db.session.execute(_queued(dag_id=dag_id, uri=uri, before=before)).first()
    if row is None:
        raise _missing(dag_id, uri)
    return queued_event_schema.dump(row)


@requires_access(perm(CAN_DELETE, RESOURCE_DATASET), dag_access("GET"))
@action_logging()
def delete_dag_dataset_queued_event(*, dag_id, uri, before=None):
    """Drop a DAG's pending event for one dataset."""
    return _delete(dag_id=dag_id, uri=uri, before=before)


@requires_access(perm(CAN_READ, RESOURCE_DATASET), dag_access("GET"))
def get_dag_dataset_queued_events(*, dag_id, before=None):
    """List a DAG's pending dataset events."""
    return _list(dag_id=dag_id, before=before)


@requires_access(perm(CAN_DELETE, RESOURCE_DATASET), dag_access("GET"))
@action_logging()
def delete_dag_dataset_queued_events(*, dag_id, before=None):
    """Drop all of a DAG's pending dataset events."""
    return _delete(dag_id=dag_id, before=before)


@requires_access(perm(CAN_READ, RESOURCE_DATASET))
def get_dataset_queued_events(*, uri, before=None):
    """List the pending events of one dataset, for the DAGs the caller may read."""
    return _list(uri=uri, before=before)


@requires_access(perm(CAN_DELETE, RESOURCE_DATASET))
@action_logging()
def delete_dataset_queued_events(*, uri, before=None):
    """Drop the pending events of one dataset, for the DAGs the caller may read."""
    return _delete(uri=uri, before=before)
