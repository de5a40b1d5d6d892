"""Run counts per state, for a list of DAGs."""
from __future__ import annotations

from marshmallow import Schema, fields


class DagStatsStateSchema(Schema):
    state = fields.String()
    count = fields.Integer()


class DagStatsSchema(Schema):
    dag_id = fields.String()
    stats = fields.List(fields.Nested(DagStatsStateSchema))


class DagStatsCollectionSchema(Schema):
    dags = fields.List(fields.Nested(DagStatsSchema))
    total_entries = fields.Integer()


dag_stats_collection_schema = DagStatsCollectionSchema()
