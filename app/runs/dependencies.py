"""Why a task instance is not running yet, worded as Airflow's scheduler dependencies word it.

Airflow evaluates these only for task instances without a state or `scheduled`; others answer
no dependencies.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.dags.structure import DagSpec
from app.extensions import db
from app.models import DagModel, DagRun, Pool, TaskInstance, utcnow
from app.runs import states as S

# Slots a pool counts as taken (deferred ones too when the pool says so).
OCCUPYING = (S.RUNNING, S.QUEUED)


def failed_dependencies(ti: TaskInstance, spec: DagSpec | None, now: dt.datetime | None = None) -> list[dict]:
    """`[{"name", "reason"}]`, sorted by name; empty when nothing holds the task instance back."""
    if ti.state not in (None, S.SCHEDULED) or spec is None or spec.task(ti.task_id) is None:
        return []
    now = now or utcnow()
    task = spec.task(ti.task_id)
    run: DagRun = ti.dag_run
    found: dict[str, str] = {}
    if ti.state is None:
        found["Task Instance State"] = (
            "Task is in the 'None' state which is not a valid state for execution. "
            "The task must be cleared in order to be run."
        )
    if run.state != S.RUNNING:
        found["Dagrun Running"] = (
            f"Task instance's dagrun was not in the 'running' state but in the state '{run.state}'."
        )
    if run.execution_date > now:
        found["Execution Date"] = (
            f"Execution date {run.execution_date.isoformat()} is in the future "
            f"(the current date is {now.isoformat()})."
        )
    if db.session.execute(select(DagModel.is_paused).where(DagModel.dag_id == ti.dag_id)).scalar():
        found["Dag Not Paused"] = f"Task's DAG '{ti.dag_id}' is paused."
    pool_reason = _pool_reason(ti)
    if pool_reason:
        found["Pool Slots Available"] = pool_reason
    running = db.session.execute(
        select(func.count()).where(TaskInstance.dag_id == ti.dag_id, TaskInstance.state == S.RUNNING)
    ).scalar_one()
    if spec.max_active_tasks and running >= spec.max_active_tasks:
        found["Task Instance Slots Available"] = (
            f"The maximum number of running tasks ({spec.max_active_tasks}) for this task's DAG "
            f"'{ti.dag_id}' has been reached."
        )
    upstream_reason = _upstream_reason(ti, task.upstream, task.trigger_rule)
    if upstream_reason:
        found["Trigger Rule"] = upstream_reason
    return [{"name": name, "reason": reason} for name, reason in sorted(found.items())]


def _pool_reason(ti: TaskInstance) -> str | None:
    pool = db.session.execute(select(Pool).where(Pool.pool == ti.pool)).scalar()
    if pool is None:
        return f"Tasks using non-existent pool '{ti.pool}' will not be scheduled"
    if pool.slots < 0:
        return None
    states = OCCUPYING + ((S.DEFERRED,) if pool.include_deferred else ())
    used = db.session.execute(
        select(func.coalesce(func.sum(TaskInstance.pool_slots), 0)).where(
            TaskInstance.pool == ti.pool, TaskInstance.state.in_(states)
        )
    ).scalar_one()
    open_slots = pool.slots - int(used)
    if open_slots < ti.pool_slots:
        return (
            f"Not scheduling since there are {open_slots} open slots in pool {ti.pool} "
            f"and require {ti.pool_slots} pool slots"
        )
    return None


def _upstream_reason(ti: TaskInstance, upstream: list[str], rule: str) -> str | None:
    """The trigger rule waits while an upstream task instance has not finished."""
    if not upstream or ti.state is not None:
        return None
    rows = db.session.execute(
        select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == ti.dag_id, TaskInstance.run_id == ti.run_id, TaskInstance.task_id.in_(upstream)
        )
    ).all()
    waiting = sorted({task_id for task_id, state in rows if not S.is_finished(state)})
    if not waiting:
        return None
    return (
        f"Task's trigger rule '{rule}' cannot be evaluated yet: {len(waiting)} of its upstream tasks "
        f"have not finished. upstream_task_ids={waiting}"
    )
