"""Tasks of a DAG, from its parsed structure."""
from __future__ import annotations

from app.dags.structure import load_dag_spec
from app.errors import BadRequest, NotFound
from app.schemas.task_schema import TaskCollection, task_collection_schema, task_schema, task_view
from app.security import dag_access, requires_access

# Task fields a list can be ordered by (Airflow sorts by any operator attribute).
SORTABLE = (
    "task_id", "task_display_name", "operator_name", "owner", "start_date", "end_date", "trigger_rule",
    "depends_on_past", "wait_for_downstream", "retries", "queue", "pool", "pool_slots",
    "retry_exponential_backoff", "priority_weight", "weight_rule", "ui_color", "ui_fgcolor", "is_mapped",
    "doc_md",
)


def _spec_or_404(dag_id: str):
    spec = load_dag_spec(dag_id)
    if spec is None:
        raise NotFound("DAG not found")
    return spec


def _sorted(views: list[dict], order_by: str | None) -> list[dict]:
    order_by = order_by or "task_id"
    name = order_by.lstrip("-")
    if name not in SORTABLE:
        raise BadRequest(detail=f"'SerializedBaseOperator' object has no attribute '{name}'")
    # None sorts first, as the smallest value.
    return sorted(views, key=lambda v: (v[name] is not None, v[name]), reverse=order_by.startswith("-"))


@requires_access(dag_access("GET", "TASK"))
def get_tasks(*, dag_id, order_by=None):
    """List a DAG's tasks."""
    spec = _spec_or_404(dag_id)
    views = _sorted([task_view(task, spec) for task in spec.tasks], order_by)
    return task_collection_schema.dump(TaskCollection(views, len(views)))


@requires_access(dag_access("GET", "TASK"))
def get_task(*, dag_id, task_id):
    """Show one task of a DAG."""
    spec = _spec_or_404(dag_id)
    task = spec.task(task_id)
    if task is None:
        raise NotFound("Task not found")
    return task_schema.dump(task_view(task, spec))
