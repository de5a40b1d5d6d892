"""Dataset events, the runs they created, and the per-DAG queue of pending events."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import Schema, fields

from app.schemas.wire import WireSchema


class BasicDAGRunSchema(WireSchema):
    dag_run_id = fields.String(attribute="run_id")
    dag_id = fields.String()
    logical_date = fields.DateTime()
    start_date = fields.DateTime()
    end_date = fields.DateTime()
    state = fields.String()
    data_interval_start = fields.DateTime()
    data_interval_end = fields.DateTime()


class DatasetEventSchema(WireSchema):
    id = fields.Integer()
    dataset_id = fields.Integer()
    dataset_uri = fields.Method("_uri")
    extra = fields.Raw()
    source_dag_id = fields.String()
    source_task_id = fields.String()
    source_run_id = fields.String()
    source_map_index = fields.Integer()
    created_dagruns = fields.List(fields.Nested(BasicDAGRunSchema))
    timestamp = fields.DateTime()

    @staticmethod
    def _uri(event) -> str:
        return event.dataset.uri


class DatasetEventCollection(NamedTuple):
    dataset_events: list
    total_entries: int


class DatasetEventCollectionSchema(WireSchema):
    dataset_events = fields.List(fields.Nested(DatasetEventSchema))
    total_entries = fields.Integer()


class QueuedEventSchema(WireSchema):
    uri = fields.String()
    dag_id = fields.String()
    created_at = fields.DateTime()


class QueuedEventCollection(NamedTuple):
    queued_events: list
    total_entries: int


class QueuedEventCollectionSchema(WireSchema):
    queued_events = fields.List(fields.Nested(QueuedEventSchema))
    total_entries = fields.Integer()


class CreateDatasetEventBody(Schema):
    dataset_uri = fields.String(required=True)
    extra = fields.Dict(load_default=None, allow_none=True)


dataset_event_schema = DatasetEventSchema()
dataset_event_collection_schema = DatasetEventCollectionSchema()
queued_event_schema = QueuedEventSchema()
queued_event_collection_schema = QueuedEventCollectionSchema()
create_dataset_event_body = CreateDatasetEventBody()
