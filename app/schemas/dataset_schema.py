"""Datasets with the DAGs that consume them and the tasks that produce them."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class DagScheduleDatasetReferenceSchema(WireSchema):
    dag_id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TaskOutletDatasetReferenceSchema(WireSchema):
    dag_id = fields.String()
    task_id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DatasetSchema(WireSchema):
    id = fields.Integer()
    uri = fields.String()
    extra = fields.Method("_extra")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    consuming_dags = fields.List(fields.Nested(DagScheduleDatasetReferenceSchema))
    producing_tasks = fields.List(fields.Nested(TaskOutletDatasetReferenceSchema))
    # Airflow 2.11 sends dataset aliases; stableflow's DAG files declare none.
    aliases = fields.Constant([])

    @staticmethod
    def _extra(dataset) -> dict:
        return dataset.extra or {}


class DatasetCollection(NamedTuple):
    datasets: list
    total_entries: int


class DatasetCollectionSchema(WireSchema):
    datasets = fields.List(fields.Nested(DatasetSchema))
    total_entries = fields.Integer()


dataset_schema = DatasetSchema()
dataset_collection_schema = DatasetCollectionSchema()
