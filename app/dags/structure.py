"""The parsed form of a DAG file entry: what the DAG processor stores in `serialized_dag.data` and
what the API and the scheduler read back. One shape, shared by all three.

Durations are seconds (floats); datetimes are aware UTC; schedules are kept both raw (as written
in the file) and in Airflow's wire form (`schedule_interval`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

TRIGGER_RULES = (
    "all_success",
    "all_failed",
    "all_done",
    "all_done_setup_success",
    "all_skipped",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "always",
)
WEIGHT_RULES = ("downstream", "upstream", "absolute")
OUTCOMES = ("success", "failed", "skipped", "flaky")


def _dt_out(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt_in(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass
class ParamSpec:
    value: Any = None
    description: str | None = None
    # JSON schema the value must satisfy ({"type": "integer", "minimum": 1, ...}).
    schema: dict = field(default_factory=dict)


@dataclass
class TaskSpec:
    task_id: str
    operator: str = "EmptyOperator"
    # Module path shown in `class_ref` (e.g. airflow.operators.empty).
    operator_module: str = "airflow.operators.empty"
    # What Airflow shows as `operator_name` (the class name, or e.g. "@task" for decorated tasks).
    operator_name: str = "EmptyOperator"
    upstream: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)
    trigger_rule: str = "all_success"
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    pool: str = "default_pool"
    pool_slots: int = 1
    queue: str = "default"
    priority_weight: int = 1
    weight_rule: str = "downstream"
    owner: str = "airflow"
    doc_md: str | None = None
    depends_on_past: bool = False
    wait_for_downstream: bool = False
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    outlets: list[str] = field(default_factory=list)
    inlets: list[str] = field(default_factory=list)
    # argument name -> list of values; one mapped task instance per element (product if several).
    expand: dict[str, list] | None = None
    # The operator's template fields in Airflow's order, with their values from the file (None
    # when not set), e.g. {"bash_command": "echo 1", "env": None, "cwd": None}.
    template_fields: dict[str, Any] = field(default_factory=dict)
    ui_color: str = "#fff"
    ui_fgcolor: str = "#000"
    extra_links: list[str] = field(default_factory=list)
    # How the simulated run behaves.
    duration: tuple[float, float] = (0.0, 0.0)
    outcome: str = "success"
    fail_tries: int = 0
    xcom: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def is_mapped(self) -> bool:
        return self.expand is not None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = _dt_out(self.start_date)
        data["end_date"] = _dt_out(self.end_date)
        data["duration"] = list(self.duration)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TaskSpec:
        data = dict(data)
        data["start_date"] = _dt_in(data.get("start_date"))
        data["end_date"] = _dt_in(data.get("end_date"))
        data["duration"] = tuple(data.get("duration") or (0.0, 0.0))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class DagSpec:
    dag_id: str
    fileloc: str
    description: str | None = None
    # As written in the file: a cron string, preset, ISO 8601 duration, None, or {"datasets": [...]}.
    schedule: Any = None
    # Airflow's wire form for the DAG schema (CronExpression / TimeDelta / null).
    schedule_interval: dict | None = None
    timetable_description: str | None = None
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    catchup: bool = True
    max_active_runs: int = 16
    max_active_tasks: int = 16
    max_consecutive_failed_dag_runs: int = 0
    dagrun_timeout: float | None = None
    tags: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    is_paused_upon_creation: bool | None = None
    doc_md: str | None = None
    params: dict[str, ParamSpec] = field(default_factory=dict)
    render_template_as_native_obj: bool = False
    # URIs of the datasets a dataset-scheduled DAG waits for (all of them).
    dataset_triggers: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    # Line of the entry in its file (for import errors and warnings).
    line: int | None = None
    tasks: list[TaskSpec] = field(default_factory=list)

    def task(self, task_id: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)

    @property
    def task_ids(self) -> list[str]:
        return [t.task_id for t in self.tasks]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = _dt_out(self.start_date)
        data["end_date"] = _dt_out(self.end_date)
        data["params"] = {k: asdict(v) for k, v in self.params.items()}
        data["tasks"] = [t.to_dict() for t in self.tasks]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DagSpec:
        data = dict(data)
        data["start_date"] = _dt_in(data.get("start_date"))
        data["end_date"] = _dt_in(data.get("end_date"))
        data["params"] = {k: ParamSpec(**v) for k, v in (data.get("params") or {}).items()}
        data["tasks"] = [TaskSpec.from_dict(t) for t in data.get("tasks") or []]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def load_dag_spec(dag_id: str) -> DagSpec | None:
    """The stored structure of one DAG, or None if it was never parsed."""
    from app.extensions import db
    from app.models import SerializedDag

    data = db.session.execute(select(SerializedDag.data).where(SerializedDag.dag_id == dag_id)).scalar()
    return DagSpec.from_dict(data) if data is not None else None


def load_dag_specs(dag_ids) -> dict[str, DagSpec]:
    """Several DAGs' structures in one query."""
    from app.extensions import db
    from app.models import SerializedDag

    ids = list(dag_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(SerializedDag.dag_id, SerializedDag.data).where(SerializedDag.dag_id.in_(ids)))
    return {dag_id: DagSpec.from_dict(data) for dag_id, data in rows}
