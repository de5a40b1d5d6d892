"""Run counts per state, for a list of DAGs."""
from __future__ import annotations

from marshmallow import fields

from app.schemas.wire import WireSchema


class DagStatsStateSchema(WireSchema):
    state = fields.String()
    count = fields.Integer()


class DagStatsSchema(WireSchema):
    dag_id = fields.String()
    stats = fields.List(fields.Nested(DagStatsStateSchema))


class DagStatsCollectionSchema(WireSchema):
    dags = fields.List(fields.Nested(DagStatsSchema))
    total_entries = fields.Integer()


dag_stats_collection_schema = DagStatsCollectionSchema()
