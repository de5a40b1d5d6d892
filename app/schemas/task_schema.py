"""Tasks of a parsed DAG, as Airflow's serialized operators show them."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.dags.structure import DagSpec, TaskSpec
from app.dags.timetable import timedelta_wire
from app.schemas.dag_schema import params_view
from app.schemas.wire import WireSchema


class TaskSchema(WireSchema):
    class_ref = fields.Dict()
    operator_name = fields.String()
    task_id = fields.String()
    task_display_name = fields.String()
    owner = fields.String()
    start_date = fields.DateTime(allow_none=True)
    end_date = fields.DateTime(allow_none=True)
    trigger_rule = fields.String()
    extra_links = fields.List(fields.Dict())
    depends_on_past = fields.Boolean()
    wait_for_downstream = fields.Boolean()
    retries = fields.Float()
    queue = fields.String(allow_none=True)
    pool = fields.String()
    pool_slots = fields.Float()
    execution_timeout = fields.Raw(allow_none=True)
    retry_delay = fields.Raw(allow_none=True)
    retry_exponential_backoff = fields.Boolean()
    priority_weight = fields.Float()
    weight_rule = fields.String()
    ui_color = fields.String()
    ui_fgcolor = fields.String()
    template_fields = fields.List(fields.String())
    downstream_task_ids = fields.List(fields.String())
    params = fields.Dict()
    is_mapped = fields.Boolean()
    doc_md = fields.String(allow_none=True)


class TaskCollection(NamedTuple):
    tasks: list
    total_entries: int


class TaskCollectionSchema(WireSchema):
    tasks = fields.List(fields.Nested(TaskSchema))
    total_entries = fields.Integer()


def task_view(task: TaskSpec, dag: DagSpec) -> dict:
    return {
        "class_ref": {"module_path": task.operator_module, "class_name": task.operator},
        "operator_name": task.operator_name,
        "task_id": task.task_id,
        "task_display_name": task.task_id,
        "owner": task.owner,
        "start_date": task.start_date,
        "end_date": task.end_date,
        "trigger_rule": task.trigger_rule,
        "extra_links": [{"class_ref": {"module_path": module, "class_name": name}} for module, _, name in
                        (link.rpartition(".") for link in task.extra_links)],
        "depends_on_past": task.depends_on_past,
        "wait_for_downstream": task.wait_for_downstream,
        "retries": task.retries,
        "queue": task.queue,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "execution_timeout": timedelta_wire(task.execution_timeout),
        "retry_delay": timedelta_wire(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "priority_weight": task.priority_weight,
        "weight_rule": task.weight_rule,
        "ui_color": task.ui_color,
        "ui_fgcolor": task.ui_fgcolor,
        "template_fields": list(task.template_fields),
        "downstream_task_ids": sorted(task.downstream),
        "params": params_view(dag),
        "is_mapped": task.is_mapped,
        "doc_md": task.doc_md,
    }


task_schema = TaskSchema()
task_collection_schema = TaskCollectionSchema()
