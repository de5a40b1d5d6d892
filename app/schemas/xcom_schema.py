"""XCom entries on the wire."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class XComCollectionItemSchema(WireSchema):
    key = fields.String()
    timestamp = fields.DateTime()
    execution_date = fields.DateTime()
    map_index = fields.Integer()
    task_id = fields.String()
    dag_id = fields.String()


class XComSchema(XComCollectionItemSchema):
    value = fields.Raw()


class XComCollection(NamedTuple):
    xcom_entries: list
    total_entries: int


class XComCollectionSchema(WireSchema):
    xcom_entries = fields.List(fields.Nested(XComCollectionItemSchema))
    total_entries = fields.Integer()


xcom_schema = XComSchema()
xcom_collection_schema = XComCollectionSchema()
