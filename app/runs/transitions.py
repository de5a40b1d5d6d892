"""State changes of runs and task instances, as Airflow makes them; nothing here commits.

The API, the CLI and the scheduler all change states through these functions, so a run marked
failed through the API and a run the scheduler fails look the same, and a cleared task keeps its
finished try in `task_instance_history` however it was cleared.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import and_, or_, select, tuple_

from app.dags.structure import DagSpec, load_dag_specs
from app.extensions import db
from app.models import DagRun, TaskInstance, TaskInstanceHistory, utcnow
from app.models.dag_run import _TaskInstanceColumns
from app.queries import in_or_null
from app.runs import states as S

HISTORY_COLUMNS = tuple(
    name for name in vars(_TaskInstanceColumns) if not name.startswith("_") and name != "updated_at"
)


# -- single rows -------------------------------------------------------------------------------
def mark_run_state(run: DagRun, state: str, now: dt.datetime | None = None) -> None:
    """Set a run's state with the dates Airflow's DagRun.set_state keeps with it."""
    now = now or utcnow()
    if run.state == state:
        return
    if state == S.QUEUED:
        run.queued_at, run.start_date, run.end_date = now, None, None
    elif state == S.RUNNING:
        run.start_date, run.end_date = run.start_date or now, None
    else:
        run.end_date = now
    run.state = state


def mark_ti_state(ti: TaskInstance, state: str | None, now: dt.datetime | None = None) -> bool:
    """Set a task instance's state as Airflow's TaskInstance.set_state does; False if unchanged."""
    if ti.state == state:
        return False
    now = now or utcnow()
    ti.state = state
    ti.start_date = ti.start_date or now
    if S.is_finished(state) or state == S.UP_FOR_RETRY:
        ti.end_date = ti.end_date or now
        ti.duration = (ti.end_date - ti.start_date).total_seconds()
    if S.is_finished(state):
        ti.next_event_at = None
    return True


def mark_scheduled(ti: TaskInstance) -> None:
    """Schedule a task instance's next try: Airflow (2.10+) numbers a try when it is scheduled."""
    ti.state = S.SCHEDULED
    ti.try_number += 1
    ti.next_event_at = None


def mark_running(
    ti: TaskInstance,
    now: dt.datetime | None = None,
    *,
    hostname: str = "",
    unixname: str | None = None,
    pid: int | None = None,
    job_id: int | None = None,
) -> None:
    """Start the scheduled try: running, with a fresh start date and where it runs."""
    now = now or utcnow()
    ti.state = S.RUNNING
    ti.start_date, ti.end_date, ti.duration = now, None, None
    ti.hostname, ti.pid, ti.job_id = hostname, pid, job_id
    if unixname is not None:
        ti.unixname = unixname


def archive_tries(tis: Iterable[TaskInstance], now: dt.datetime | None = None) -> None:
    """Copy each task instance's current try into task_instance_history (once per try).

    A try that had not finished is recorded as failed, as Airflow records it. Tries numbered 0
    never started and are not recorded.
    """
    tis = [ti for ti in tis if ti.try_number >= 1]
    if not tis:
        return
    now = now or utcnow()
    keys = {(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number) for ti in tis}
    columns = (
        TaskInstanceHistory.dag_id, TaskInstanceHistory.run_id, TaskInstanceHistory.task_id,
        TaskInstanceHistory.map_index, TaskInstanceHistory.try_number,
    )
    existing = set(db.session.execute(select(*columns).where(tuple_(*columns).in_(sorted(keys)))).tuples())
    for ti in tis:
        key = (ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        if key in existing:
            continue
        row = TaskInstanceHistory(**{name: getattr(ti, name) for name in HISTORY_COLUMNS})
        if not S.is_finished(row.state) and row.state != S.UP_FOR_RETRY:
            row.state = S.FAILED
            row.end_date = now
            row.duration = (now - row.start_date).total_seconds() if row.start_date else None
        db.session.add(row)
        existing.add(key)


# -- runs --------------------------------------------------------------------------------------
def run_task_instances(run: DagRun) -> list[TaskInstance]:
    return list(
        db.session.execute(
            select(TaskInstance)
            .where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        ).scalars()
    )


def set_dag_run_state(run: DagRun, state: str, now: dt.datetime | None = None) -> list[TaskInstance]:
    """Mark a run success, failed or queued, with its task instances as Airflow marks them.

    success: every task instance not yet successful becomes success. failed: running ones fail
    and the other unfinished ones are skipped. queued: the task instances are left alone.
    Returns the task instances changed.
    """
    now = now or utcnow()
    changed: list[TaskInstance] = []
    tis = run_task_instances(run) if state in (S.SUCCESS, S.FAILED) else []
    for ti in tis:
        if state == S.SUCCESS:
            target = S.SUCCESS
        elif ti.state in S.RUNNING_TI_STATES:
            target = S.FAILED
        elif not S.is_finished(ti.state):
            target = S.SKIPPED
        else:
            continue
        if mark_ti_state(ti, target, now):
            changed.append(ti)
    mark_run_state(run, state, now)
    return changed


def requeue_runs(runs: Iterable[DagRun], now: dt.datetime | None = None) -> None:
    """Queue runs again after their task instances were cleared (Airflow's clear does this)."""
    for run in runs:
        mark_run_state(run, S.QUEUED, now)
        run.start_date = None
        run.last_scheduling_decision = None
        run.clear_number = (run.clear_number or 0) + 1


# -- clearing ----------------------------------------------------------------------------------
def clear_task_instances(
    tis: list[TaskInstance],
    *,
    run_state: str | None = S.QUEUED,
    specs: Mapping[str, DagSpec] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Reset task instances so they run again, keeping each finished try in the history.

    A running task instance becomes `restarting` (the scheduler ends its try); the others lose
    their state and get `retries` more tries. With `run_state` (queued by default, None to leave
    runs alone) their runs are queued again.
    """
    if not tis:
        return
    now = now or utcnow()
    if specs is None:
        specs = load_dag_specs({ti.dag_id for ti in tis})
    archive_tries(tis, now)
    for ti in tis:
        if ti.state == S.RUNNING:
            ti.state = S.RESTARTING
            continue
        spec = specs.get(ti.dag_id)
        task = spec.task(ti.task_id) if spec else None
        ti.max_tries = ti.try_number + task.retries if task else max(ti.max_tries, ti.try_number)
        ti.state = None
        ti.next_event_at = None
    if run_state is not None:
        runs = {(ti.dag_run.dag_id, ti.dag_run.run_id): ti.dag_run for ti in tis}
        if run_state == S.QUEUED:
            requeue_runs(runs.values(), now)
        else:
            for run in runs.values():
                mark_run_state(run, run_state, now)


def task_relatives(spec: DagSpec, task_ids: Iterable[str], *, upstream: bool, downstream: bool) -> set[str]:
    """`task_ids` with, transitively, their upstream and/or downstream tasks."""
    found = set(task_ids)
    for direction, wanted in (("upstream", upstream), ("downstream", downstream)):
        if not wanted:
            continue
        pending = list(task_ids)
        seen: set[str] = set()
        while pending:
            task = spec.task(pending.pop())
            for other in getattr(task, direction, []) if task else []:
                if other not in seen:
                    seen.add(other)
                    pending.append(other)
        found |= seen
    return found


def select_task_instances(
    dag_id: str,
    *,
    task_ids: Iterable[str] | None = None,
    run_ids: Iterable[str] | None = None,
    start_date: dt.datetime | None = None,
    end_date: dt.datetime | None = None,
    states: Iterable[str | None] | None = None,
    exclude_task_ids: Iterable[str] = (),
) -> list[TaskInstance]:
    """A DAG's task instances matching the filters, by logical date, task id and map index."""
    stmt = select(TaskInstance).join(TaskInstance.dag_run).where(TaskInstance.dag_id == dag_id)
    if task_ids is not None:
        stmt = stmt.where(TaskInstance.task_id.in_(sorted(set(task_ids))))
    if run_ids is not None:
        stmt = stmt.where(TaskInstance.run_id.in_(sorted(set(run_ids))))
    if start_date is not None:
        stmt = stmt.where(DagRun.execution_date >= start_date)
    if end_date is not None:
        stmt = stmt.where(DagRun.execution_date <= end_date)
    if states is not None:
        stmt = stmt.where(in_or_null(TaskInstance.state, states))
    excluded = list(exclude_task_ids)
    if excluded:
        stmt = stmt.where(TaskInstance.task_id.not_in(excluded))
    stmt = stmt.order_by(DagRun.execution_date, TaskInstance.task_id, TaskInstance.map_index)
    return list(db.session.execute(stmt).scalars())


# -- marking task instances --------------------------------------------------------------------
def set_task_instance_state(
    spec: DagSpec,
    run: DagRun,
    task_id: str,
    state: str,
    *,
    map_indexes: Iterable[int] | None = None,
    upstream: bool = False,
    downstream: bool = False,
    future: bool = False,
    past: bool = False,
    commit: bool = True,
    now: dt.datetime | None = None,
) -> list[TaskInstance]:
    """Mark a task (some map indexes of it, or all) and optionally its relatives and other runs.

    `future`/`past` extend to the DAG's runs with a later/earlier logical date. Returns the task
    instances whose state differs from `state` (changed when `commit`, else what would change).
    As in Airflow, a committed change then clears the failed and upstream_failed task instances
    downstream of the task in those runs, so the run can carry on.
    """
    now = now or utcnow()
    start = None if past else run.execution_date
    end = None if future else run.execution_date
    relatives = task_relatives(spec, [task_id], upstream=upstream, downstream=downstream) - {task_id}
    own = TaskInstance.task_id == task_id
    if map_indexes is not None:
        own = and_(own, TaskInstance.map_index.in_(list(map_indexes)))
    stmt = (
        select(TaskInstance)
        .join(TaskInstance.dag_run)
        .where(TaskInstance.dag_id == spec.dag_id, or_(own, TaskInstance.task_id.in_(sorted(relatives))))
        .where(TaskInstance.state.is_distinct_from(state))
        .order_by(DagRun.execution_date, TaskInstance.task_id, TaskInstance.map_index)
    )
    if start is not None:
        stmt = stmt.where(DagRun.execution_date >= start)
    if end is not None:
        stmt = stmt.where(DagRun.execution_date <= end)
    if commit:
        stmt = stmt.with_for_update(of=TaskInstance)
    altered = list(db.session.execute(stmt).scalars())
    if not commit:
        return altered
    for ti in altered:
        mark_ti_state(ti, state, now)
    db.session.flush()
    failed_downstream = select_task_instances(
        spec.dag_id,
        task_ids=task_relatives(spec, [task_id], upstream=False, downstream=True),
        start_date=start,
        end_date=end,
        states=(S.FAILED, S.UPSTREAM_FAILED),
        exclude_task_ids=[task_id],
    )
    clear_task_instances(failed_downstream, specs={spec.dag_id: spec}, now=now)
    return altered
