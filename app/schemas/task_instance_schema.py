"""Task instances, their tries and references on the wire, and the task-instance request bodies."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.schemas.dag_run_schema import BatchListForm, NoteBody
from app.schemas.wire import WireSchema

NEW_STATES = ("success", "failed", "skipped")


class TaskInstanceHistorySchema(WireSchema):
    """One try (a task_instance_history row, or the task instance's current try)."""

    task_id = fields.String()
    task_display_name = fields.Method("_display_name")
    dag_id = fields.String()
    dag_run_id = fields.String(attribute="run_id")
    start_date = fields.DateTime()
    end_date = fields.DateTime()
    duration = fields.Float()
    state = fields.String()
    try_number = fields.Integer()
    map_index = fields.Integer()
    max_tries = fields.Integer()
    hostname = fields.String()
    unixname = fields.String()
    pool = fields.String()
    pool_slots = fields.Integer()
    queue = fields.String()
    priority_weight = fields.Integer()
    operator = fields.String()
    queued_when = fields.DateTime(attribute="queued_dttm")
    pid = fields.Integer()
    executor = fields.String()
    executor_config = fields.Method("_executor_config")

    @staticmethod
    def _display_name(ti) -> str:
        return ti.task_display_name or ti.task_id

    @staticmethod
    def _executor_config(ti) -> str:
        return ti.executor_config or "{}"


class TaskInstanceSchema(TaskInstanceHistorySchema):
    execution_date = fields.Method("_execution_date")
    note = fields.String()
    # Airflow features stableflow does not simulate: SLA misses, deferral triggers.
    sla_miss = fields.Constant(None)
    trigger = fields.Constant(None)
    triggerer_job = fields.Constant(None)
    rendered_map_index = fields.String()
    rendered_fields = fields.Method("_rendered_fields")

    @staticmethod
    def _execution_date(ti) -> str:
        return ti.dag_run.execution_date.isoformat()

    @staticmethod
    def _rendered_fields(ti) -> dict:
        return ti.rendered_fields or {}


class TaskInstanceCollection(NamedTuple):
    task_instances: list
    total_entries: int


class TaskInstanceCollectionSchema(WireSchema):
    task_instances = fields.List(fields.Nested(TaskInstanceSchema))
    total_entries = fields.Integer()


class TaskInstanceHistoryCollectionSchema(WireSchema):
    task_instances = fields.List(fields.Nested(TaskInstanceHistorySchema))
    total_entries = fields.Integer()


class TaskInstanceReferenceSchema(WireSchema):
    task_id = fields.String()
    dag_id = fields.String()
    dag_run_id = fields.String(attribute="run_id")
    execution_date = fields.Method("_execution_date")

    @staticmethod
    def _execution_date(ti) -> str:
        return ti.dag_run.execution_date.isoformat()


class TaskInstanceReferenceCollectionSchema(WireSchema):
    task_instances = fields.List(fields.Nested(TaskInstanceReferenceSchema))


# -- request bodies ----------------------------------------------------------------------------
class UpdateTaskInstanceBody(Schema):
    dry_run = fields.Boolean(load_default=True)
    new_state = fields.String(required=True, validate=validate.OneOf(NEW_STATES))


class UpdateTaskInstancesStateBody(Schema):
    dry_run = fields.Boolean(load_default=True)
    task_id = fields.String(required=True)
    execution_date = fields.AwareDateTime(load_default=None)
    dag_run_id = fields.String(load_default=None)
    include_upstream = fields.Boolean(required=True)
    include_downstream = fields.Boolean(required=True)
    include_future = fields.Boolean(required=True)
    include_past = fields.Boolean(required=True)
    new_state = fields.String(required=True, validate=validate.OneOf(NEW_STATES))

    @validates_schema
    def _one_run(self, data, **_kwargs):
        if (data.get("execution_date") is None) == (data.get("dag_run_id") is None):
            raise ValidationError("Exactly one of execution_date or dag_run_id must be provided")


class ClearTaskInstancesBody(Schema):
    dry_run = fields.Boolean(load_default=True)
    start_date = fields.AwareDateTime(load_default=None)
    end_date = fields.AwareDateTime(load_default=None)
    only_failed = fields.Boolean(load_default=True)
    only_running = fields.Boolean(load_default=False)
    # Sub-DAGs do not exist in stableflow; accepted for compatibility and ignored.
    include_subdags = fields.Boolean(load_default=False)
    include_parentdag = fields.Boolean(load_default=False)
    reset_dag_runs = fields.Boolean(load_default=False)
    task_ids = fields.List(fields.String(), load_default=None, validate=validate.Length(min=1))
    dag_run_id = fields.String(load_default=None, allow_none=True)
    include_upstream = fields.Boolean(load_default=False)
    include_downstream = fields.Boolean(load_default=False)
    include_future = fields.Boolean(load_default=False)
    include_past = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data, **_kwargs):
        if data["only_failed"] and data["only_running"]:
            raise ValidationError("only_failed and only_running both are set to True")
        if data["start_date"] and data["end_date"] and data["start_date"] > data["end_date"]:
            raise ValidationError("end_date is sooner than start_date")
        if data["dag_run_id"] is not None and (data["start_date"] or data["end_date"]):
            raise ValidationError("Exactly one of dag_run_id or (start_date and end_date) must be provided")


class ListTaskInstanceForm(BatchListForm):
    dag_run_ids = fields.List(fields.String(), load_default=None)
    task_ids = fields.List(fields.String(), load_default=None)
    duration_gte = fields.Float(load_default=None)
    duration_lte = fields.Float(load_default=None)
    state = fields.List(fields.String(allow_none=True), load_default=None)
    pool = fields.List(fields.String(), load_default=None)
    queue = fields.List(fields.String(), load_default=None)
    executor = fields.List(fields.String(), load_default=None)


task_instance_schema = TaskInstanceSchema()
task_instance_collection_schema = TaskInstanceCollectionSchema()
task_instance_history_schema = TaskInstanceHistorySchema()
task_instance_history_collection_schema = TaskInstanceHistoryCollectionSchema()
task_instance_reference_schema = TaskInstanceReferenceSchema()
task_instance_reference_collection_schema = TaskInstanceReferenceCollectionSchema()
update_task_instance_body = UpdateTaskInstanceBody()
update_task_instances_state_body = UpdateTaskInstancesStateBody()
clear_task_instances_body = ClearTaskInstancesBody()
task_instance_note_body = NoteBody()
list_task_instance_form = ListTaskInstanceForm()
