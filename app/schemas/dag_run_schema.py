"""DAG runs on the wire, and the request bodies of the DAG run operations."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.runs.states import DAG_RUN_STATES
from app.schemas.wire import WireSchema


class DAGRunSchema(WireSchema):
    dag_run_id = fields.String(attribute="run_id")
    dag_id = fields.String()
    logical_date = fields.DateTime()
    execution_date = fields.DateTime()
    start_date = fields.DateTime()
    end_date = fields.DateTime()
    data_interval_start = fields.DateTime()
    data_interval_end = fields.DateTime()
    last_scheduling_decision = fields.DateTime()
    run_type = fields.String()
    state = fields.String()
    external_trigger = fields.Boolean()
    conf = fields.Method("_conf")
    note = fields.String()

    @staticmethod
    def _conf(run) -> dict:
        return run.conf or {}


DAG_RUN_FIELDS = tuple(DAGRunSchema._declared_fields)


class DAGRunCollection(NamedTuple):
    dag_runs: list
    total_entries: int


class DAGRunCollectionSchema(WireSchema):
    dag_runs = fields.List(fields.Nested(DAGRunSchema))
    total_entries = fields.Integer()


class TriggerBody(Schema):
    """POST .../dagRuns; `execution_date` is reconciled with `logical_date` before loading."""

    dag_run_id = fields.String(allow_none=True)
    logical_date = fields.AwareDateTime(allow_none=True)
    data_interval_start = fields.AwareDateTime(allow_none=True)
    data_interval_end = fields.AwareDateTime(allow_none=True)
    conf = fields.Dict(allow_none=True)
    note = fields.String(allow_none=True)

    @validates_schema
    def _interval_pair(self, data, **_kwargs):
        if (data.get("data_interval_start") is None) != (data.get("data_interval_end") is None):
            raise ValidationError("Both 'data_interval_start' and 'data_interval_end' must be specified together")


class UpdateDagRunStateBody(Schema):
    state = fields.String(required=True, validate=validate.OneOf([s for s in DAG_RUN_STATES if s != "running"]))


class ClearDagRunBody(Schema):
    dry_run = fields.Boolean(load_default=True)


class NoteBody(Schema):
    note = fields.String(required=True, allow_none=True, validate=validate.Length(max=1000))


class BatchListForm(Schema):
    """What the batch list bodies of DAG runs and of task instances share: paging, DAG ids, dates."""

    page_offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    page_limit = fields.Integer(load_default=100, validate=validate.Range(min=1))
    dag_ids = fields.List(fields.String(), load_default=None)
    execution_date_gte = fields.AwareDateTime(load_default=None)
    execution_date_lte = fields.AwareDateTime(load_default=None)
    start_date_gte = fields.AwareDateTime(load_default=None)
    start_date_lte = fields.AwareDateTime(load_default=None)
    end_date_gte = fields.AwareDateTime(load_default=None)
    end_date_lte = fields.AwareDateTime(load_default=None)


class ListDagRunsForm(BatchListForm):
    order_by = fields.String(load_default=None)
    states = fields.List(fields.String(), load_default=None)
    updated_at_gte = fields.AwareDateTime(load_default=None)
    updated_at_lte = fields.AwareDateTime(load_default=None)


dag_run_schema = DAGRunSchema()
dag_run_collection_schema = DAGRunCollectionSchema()
trigger_body = TriggerBody()
update_dag_run_state_body = UpdateDagRunStateBody()
clear_dag_run_body = ClearDagRunBody()
note_body = NoteBody()
list_dag_runs_form = ListDagRunsForm()
