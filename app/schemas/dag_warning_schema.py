"""DAG warnings (e.g. a task naming a pool that does not exist)."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class DagWarningSchema(WireSchema):
    dag_id = fields.String()
    warning_type = fields.String()
    message = fields.String()
    timestamp = fields.DateTime()


class DagWarningCollection(NamedTuple):
    dag_warnings: list
    total_entries: int


class DagWarningCollectionSchema(WireSchema):
    dag_warnings = fields.List(fields.Nested(DagWarningSchema))
    total_entries = fields.Integer()


dag_warning_collection_schema = DagWarningCollectionSchema()
