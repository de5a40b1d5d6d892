"""Audit (event) log entries, with Airflow's API names for the id and timestamp columns."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class EventLogSchema(WireSchema):
    event_log_id = fields.Integer(attribute="id")
    when = fields.DateTime(attribute="dttm")
    dag_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    run_id = fields.String(allow_none=True)
    map_index = fields.Integer(allow_none=True)
    try_number = fields.Integer(allow_none=True)
    event = fields.String()
    execution_date = fields.DateTime(allow_none=True)
    owner = fields.String(allow_none=True)
    extra = fields.String(allow_none=True)


class EventLogCollection(NamedTuple):
    event_logs: list
    total_entries: int


class EventLogCollectionSchema(WireSchema):
    event_logs = fields.List(fields.Nested(EventLogSchema))
    total_entries = fields.Integer()


event_log_schema = EventLogSchema()
event_log_collection_schema = EventLogCollectionSchema()
