"""A task instance's operator extra links."""
from __future__ import annotations

from sqlalchemy import exists, select

from app.dags.structure import load_dag_spec
from app.errors import NotFound
from app.extensions import db
from app.models import TaskInstance
from app.security import dag_access, requires_access


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_extra_links(*, dag_id, dag_run_id, task_id, map_index=-1):
    """Map each of the task's extra links to its URL (simulated tasks have none to resolve: null)."""
    spec = load_dag_spec(dag_id)
    if spec is None:
        raise NotFound("DAG not found", f'DAG with ID = "{dag_id}" not found')
    task = spec.task(task_id)
    if task is None:
        raise NotFound("Task not found", f'Task with ID = "{task_id}" not found')
    found = db.session.execute(
        select(
            exists().where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run_id,
                TaskInstance.task_id == task_id, TaskInstance.map_index == map_index,
            )
        )
    ).scalar()
    if not found:
        raise NotFound("DAG Run not found", f'DAG Run with ID = "{dag_run_id}" not found')
    # An extra link is named by its class; without a running operator there is no URL to build.
    return {link.rpartition(".")[2]: None for link in sorted(task.extra_links)}
