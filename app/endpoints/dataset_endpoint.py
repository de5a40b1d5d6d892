"""Datasets, with the DAGs scheduled on them and the tasks that update them."""
from __future__ import annotations

from sqlalchemy import or_, select

from app.errors import NotFound
from app.extensions import db
from app.models import DagScheduleDatasetReference, Dataset, TaskOutletDatasetReference
from app.queries import contains_pattern, order_by_clause, paginate, split_csv
from app.schemas.dataset_schema import DatasetCollection, dataset_collection_schema, dataset_schema
from app.security import CAN_READ, RESOURCE_DATASET, perm, requires_access

ORDER_BY = {
    "id": Dataset.id,
    "uri": Dataset.uri,
    "created_at": Dataset.created_at,
    "updated_at": Dataset.updated_at,
}


@requires_access(perm(CAN_READ, RESOURCE_DATASET))
def get_datasets(*, limit=None, offset=None, order_by=None, uri_pattern=None, dag_ids=None):
    """List datasets."""
    stmt = select(Dataset)
    if uri_pattern:
        # As in Airflow, `%` and `_` in the pattern are LIKE wildcards (bound as data).
        stmt = stmt.where(contains_pattern(Dataset.uri, uri_pattern, literal=False))
    ids = split_csv(dag_ids)
    if ids:
        stmt = stmt.where(
            or_(
                Dataset.consuming_dags.any(DagScheduleDatasetReference.dag_id.in_(ids)),
                Dataset.producing_tasks.any(TaskOutletDatasetReference.dag_id.in_(ids)),
            )
        )
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=Dataset.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return dataset_collection_schema.dump(DatasetCollection(page.items, page.total_entries))


@requires_access(perm(CAN_READ, RESOURCE_DATASET))
def get_dataset(*, uri):
    """Show one dataset."""
    dataset = db.session.execute(select(Dataset).where(Dataset.uri == uri)).scalar()
    if dataset is None:
        raise NotFound("Dataset not found", f"The Dataset with uri: `{uri}` was not found")
    return dataset_schema.dump(dataset)
