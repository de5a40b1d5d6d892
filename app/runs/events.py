"""Event-log entries for what happens to runs and task instances (not API calls: see app.audit)."""
from __future__ import annotations

from app.audit import record_event
from app.models import DagRun, EventLog, TaskInstance


def record_task_event(ti: TaskInstance, event: str, *, extra: dict | str | None = None, owner: str | None = None) -> EventLog:
    """Log `event` (e.g. `running`, `success`, `failed`) for a task instance's current try."""
    return record_event(
        event,
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
        execution_date=ti.dag_run.execution_date if ti.dag_run is not None else None,
        extra=extra,
        owner=owner,
        commit=False,
    )


def record_run_event(run: DagRun, event: str, *, extra: dict | str | None = None) -> EventLog:
    """Log `event` for a DAG run."""
    return record_event(
        event, dag_id=run.dag_id, run_id=run.run_id, execution_date=run.execution_date, extra=extra, commit=False
    )
