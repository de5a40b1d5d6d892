"""DAGs and DAG details, from the DAG row (and, for details, the parsed structure)."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.dags.file_tokens import file_token
from app.dags.structure import DagSpec
from app.dags.timetable import timedelta_wire
from app.models import DagModel
from app.schemas.wire import WireSchema

PARAM_CLASS = "airflow.models.param.Param"


class DAGSchema(WireSchema):
    dag_id = fields.String()
    dag_display_name = fields.String()
    root_dag_id = fields.String(allow_none=True)
    is_paused = fields.Boolean(allow_none=True)
    is_active = fields.Boolean(allow_none=True)
    is_subdag = fields.Boolean()
    last_parsed_time = fields.DateTime(allow_none=True)
    last_pickled = fields.DateTime(allow_none=True)
    last_expired = fields.DateTime(allow_none=True)
    scheduler_lock = fields.Boolean(allow_none=True)
    pickle_id = fields.String(allow_none=True)
    default_view = fields.String(allow_none=True)
    fileloc = fields.String()
    file_token = fields.String()
    owners = fields.List(fields.String())
    description = fields.String(allow_none=True)
    schedule_interval = fields.Raw(allow_none=True)
    timetable_description = fields.String(allow_none=True)
    tags = fields.List(fields.Dict())
    max_active_tasks = fields.Integer(allow_none=True)
    max_active_runs = fields.Integer(allow_none=True)
    max_consecutive_failed_dag_runs = fields.Integer(allow_none=True)
    has_task_concurrency_limits = fields.Boolean(allow_none=True)
    has_import_errors = fields.Boolean(allow_none=True)
    next_dagrun = fields.DateTime(allow_none=True)
    next_dagrun_data_interval_start = fields.DateTime(allow_none=True)
    next_dagrun_data_interval_end = fields.DateTime(allow_none=True)
    next_dagrun_create_after = fields.DateTime(allow_none=True)


class DAGDetailSchema(DAGSchema):
    timezone = fields.String(allow_none=True)
    catchup = fields.Boolean(allow_none=True)
    orientation = fields.String(allow_none=True)
    concurrency = fields.Integer(allow_none=True)
    dataset_expression = fields.Raw(allow_none=True)
    start_date = fields.DateTime(allow_none=True)
    end_date = fields.DateTime(allow_none=True)
    dag_run_timeout = fields.Raw(allow_none=True)
    doc_md = fields.String(allow_none=True)
    params = fields.Dict()
    is_paused_upon_creation = fields.Boolean(allow_none=True)
    template_searchpath = fields.List(fields.String(), allow_none=True)
    render_template_as_native_obj = fields.Boolean(allow_none=True)
    last_parsed = fields.DateTime(allow_none=True)


class DAGCollection(NamedTuple):
    dags: list
    total_entries: int


class DAGCollectionSchema(WireSchema):
    dags = fields.List(fields.Nested(DAGSchema))
    total_entries = fields.Integer()


DAG_FIELDS = tuple(DAGSchema().fields)
DAG_DETAIL_FIELDS = tuple(DAGDetailSchema().fields)


def dag_view(dag: DagModel, tags: list[str] | None = None) -> dict:
    """The DAG row as the API names its values; its tag names, or else its loaded tags."""
    return {
        "dag_id": dag.dag_id,
        "dag_display_name": dag.dag_display_name or dag.dag_id,
        "root_dag_id": None,
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "is_subdag": False,
        "last_parsed_time": dag.last_parsed_time,
        "last_pickled": dag.last_pickled,
        "last_expired": dag.last_expired,
        "scheduler_lock": None,
        "pickle_id": None,
        "default_view": dag.default_view,
        "fileloc": dag.fileloc,
        "file_token": file_token(dag.fileloc or ""),
        "owners": dag.owners.split(",") if dag.owners else [],
        "description": dag.description,
        "schedule_interval": dag.schedule_interval,
        "timetable_description": dag.timetable_description,
        "tags": [{"name": name} for name in (tags if tags is not None else [tag.name for tag in dag.tags])],
        "max_active_tasks": dag.max_active_tasks,
        "max_active_runs": dag.max_active_runs,
        "max_consecutive_failed_dag_runs": dag.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": dag.has_task_concurrency_limits,
        "has_import_errors": dag.has_import_errors,
        "next_dagrun": dag.next_dagrun,
        "next_dagrun_data_interval_start": dag.next_dagrun_data_interval_start,
        "next_dagrun_data_interval_end": dag.next_dagrun_data_interval_end,
        "next_dagrun_create_after": dag.next_dagrun_create_after,
    }


def dag_detail_view(dag: DagModel, spec: DagSpec) -> dict:
    view = dag_view(dag)
    view.update(
        timezone=spec.timezone,
        catchup=spec.catchup,
        orientation="LR",
        concurrency=spec.max_active_tasks,
        dataset_expression=dag.dataset_expression,
        start_date=spec.start_date,
        end_date=spec.end_date,
        dag_run_timeout=timedelta_wire(spec.dagrun_timeout),
        doc_md=spec.doc_md,
        params=params_view(spec),
        is_paused_upon_creation=spec.is_paused_upon_creation,
        template_searchpath=None,
        render_template_as_native_obj=spec.render_template_as_native_obj,
        last_parsed=dag.last_parsed_time,
    )
    return view


def params_view(spec: DagSpec) -> dict:
    """Params as Airflow dumps them: the Param class, value, description and JSON schema."""
    return {
        name: {"__class": PARAM_CLASS, "value": p.value, "description": p.description, "schema": p.schema}
        for name, p in spec.params.items()
    }


dag_schema = DAGSchema()
dag_detail_schema = DAGDetailSchema()
dag_collection_schema = DAGCollectionSchema()
