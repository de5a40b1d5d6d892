"""The simulated executor: starts scheduled tries within the slots they may take, ends them when
their simulated time is up, and adopts the tries of schedulers that died.

A running try belongs to the scheduler that started it (`queued_by_job_id`), as a task belongs to
an executor in Airflow; only that scheduler ends it. The simulated work lives in the database (a
try ends at `next_event_at`), so when a scheduler dies its tries have not died with it: once its
heartbeat is older than `[scheduler] scheduler_zombie_task_threshold`, another scheduler adopts
them and ends them as planned, with the same try number.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.orm import contains_eager

from app.dags.structure import TaskSpec
from app.extensions import db
from app.models import DagModel, DagRun, Job, Pool, TaskInstance, XCom, utcnow
from app.runs import (
    archive_tries,
    mark_running,
    mark_ti_state,
    record_task_event,
    register_outlet_events,
)
from app.runs import states as S
from app.scheduler import simulation

log = logging.getLogger(__name__)

JOB_TYPE = "SchedulerJob"
# Task instances that hold pool, DAG and executor slots.
ACTIVE = (S.QUEUED, S.RUNNING)
# Upper bound of task instances started or ended in one transaction.
BATCH = 512
# Names the critical section in which task instances start (PostgreSQL advisory lock).
_CRITICAL_SECTION_KEY = 0x5F5C4ED


# -- starting tries ----------------------------------------------------------------------------
class Slots:
    """What may start now: this scheduler's free executor slots, open pool slots, DAG task slots."""

    def __init__(self, free: int, pools: dict[str, int | None], dag_active: dict[str, int], full_dags: list[str]):
        self.free = free
        self.pools = pools  # pool -> open slots, None when unlimited
        self.dag_active = dag_active
        self.full_dags = full_dags  # DAGs running max_active_tasks task instances already

    @classmethod
    def load(cls, job_id: int, parallelism: int) -> Slots:
        used = dict(
            db.session.execute(
                select(TaskInstance.pool, func.sum(TaskInstance.pool_slots))
                .where(TaskInstance.state.in_(ACTIVE))
                .group_by(TaskInstance.pool)
            ).all()
        )
        pools = {
            name: None if slots < 0 else slots - int(used.get(name) or 0)
            for name, slots in db.session.execute(select(Pool.pool, Pool.slots)).all()
        }
        active = db.session.execute(
            select(TaskInstance.dag_id, func.count(), DagModel.max_active_tasks)
            .join(DagModel, DagModel.dag_id == TaskInstance.dag_id)
            .where(TaskInstance.state.in_(ACTIVE))
            .group_by(TaskInstance.dag_id, DagModel.max_active_tasks)
        ).all()
        mine = db.session.execute(
            select(func.count()).where(TaskInstance.state.in_(ACTIVE), TaskInstance.queued_by_job_id == job_id)
        ).scalar_one()
        # parallelism 0 means no limit, as in Airflow.
        free = BATCH if parallelism <= 0 else min(BATCH, parallelism - mine)
        dag_active = {dag_id: count for dag_id, count, _ in active}
        return cls(free, pools, dag_active, [dag_id for dag_id, count, limit in active if count >= limit])

    def open_pools(self) -> list[str]:
        return [name for name, open_slots in self.pools.items() if open_slots is None or open_slots > 0]

    def take(self, ti: TaskInstance, max_active_tasks: int) -> bool:
        open_slots = self.pools.get(ti.pool, 0)
        if self.free <= 0 or self.dag_active.get(ti.dag_id, 0) >= max_active_tasks:
            return False
        if open_slots is not None and open_slots < ti.pool_slots:
            return False
        self.free -= 1
        self.dag_active[ti.dag_id] = self.dag_active.get(ti.dag_id, 0) + 1
        if open_slots is not None:
            self.pools[ti.pool] = open_slots - ti.pool_slots
        return True


def _critical_section() -> bool:
    """On PostgreSQL, one scheduler at a time starts tries (slot counts must not race); False
    when another one is at it. SQLite has one scheduler."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.execute(select(func.pg_try_advisory_xact_lock(_CRITICAL_SECTION_KEY))).scalar())


def start_tries(loop, now: dt.datetime) -> list[TaskInstance]:
    """Start scheduled task instances of running runs, highest priority weight first (then logical
    date and map index), as far as parallelism, pools and max_active_tasks allow."""
    if not _critical_section():
        return []
    slots = Slots.load(loop.job_id, loop.parallelism)
    if slots.free <= 0:
        return []
    stmt = (
        select(TaskInstance, DagModel.max_active_tasks)
        .join(TaskInstance.dag_run)
        .join(DagModel, DagModel.dag_id == TaskInstance.dag_id)
        .options(contains_eager(TaskInstance.dag_run))
        .where(
            TaskInstance.state == S.SCHEDULED,
            DagRun.state == S.RUNNING,
            DagModel.is_paused.is_(False),
            TaskInstance.pool.in_(slots.open_pools()),
            TaskInstance.dag_id.not_in(slots.full_dags),
        )
        .order_by(TaskInstance.priority_weight.desc(), DagRun.execution_date, TaskInstance.map_index)
        .limit(BATCH)
        .with_for_update(of=TaskInstance, skip_locked=True, key_share=True)
    )
    started = [ti for ti, max_active_tasks in db.session.execute(stmt).all() if slots.take(ti, max_active_tasks)]
    if not started:
        return []
    # A new try starts without the XComs of the previous one, as in Airflow.
    db.session.execute(
        delete(XCom).where(
            tuple_(XCom.dag_id, XCom.run_id, XCom.task_id, XCom.map_index).in_(
                [(ti.dag_id, ti.run_id, ti.task_id, ti.map_index) for ti in started]
            )
        )
    )
    specs = loop.specs({ti.dag_id for ti in started})
    for ti in started:
        spec = specs.get(ti.dag_id)
        task = (spec.task(ti.task_id) if spec else None) or TaskSpec(task_id=ti.task_id)
        _start(loop, ti, task, spec.fileloc if spec else "", now)
    return started


def _start(loop, ti: TaskInstance, task: TaskSpec, fileloc: str, now: dt.datetime) -> None:
    mark_running(ti, now, hostname=loop.hostname, pid=loop.pid, job_id=loop.job_id)
    ti.queued_dttm, ti.queued_by_job_id = now, loop.job_id
    plan = simulation.plan_try(task, ti)
    ti.next_event_at = now + dt.timedelta(seconds=simulation.wall_seconds(plan.duration, loop.speed))
    record_task_event(ti, S.RUNNING)
    loop.write_log(ti, simulation.start_lines(
        ti, task, logical_date=ti.dag_run.execution_date, fileloc=fileloc, hostname=loop.hostname,
        pid=loop.pid, job_id=loop.job_id, when=now,
    ))


# -- ending tries ------------------------------------------------------------------------------
def finish_due_tries(loop, now: dt.datetime) -> int:
    """End this scheduler's running tries whose simulated time is up; returns how many ended."""
    stmt = (
        select(TaskInstance)
        .join(TaskInstance.dag_run)
        .options(contains_eager(TaskInstance.dag_run))
        .where(
            TaskInstance.state == S.RUNNING,
            TaskInstance.queued_by_job_id == loop.job_id,
            or_(TaskInstance.next_event_at <= now, TaskInstance.next_event_at.is_(None)),
        )
        .order_by(TaskInstance.next_event_at)
        .limit(BATCH)
        .with_for_update(of=TaskInstance, skip_locked=True, key_share=True)
    )
    due = list(db.session.execute(stmt).scalars())
    specs = loop.specs({ti.dag_id for ti in due})
    for ti in due:
        spec = specs.get(ti.dag_id)
        task = (spec.task(ti.task_id) if spec else None) or TaskSpec(task_id=ti.task_id)
        finish_try(loop, ti, task, min(ti.next_event_at or now, now))
    return len(due)


def finish_try(loop, ti: TaskInstance, task: TaskSpec, end: dt.datetime) -> None:
    """End the running try of `ti` at `end` the way its task says: success (XComs, outlet dataset
    events), skipped, or failed (up_for_retry while tries remain)."""
    plan = simulation.plan_try(task, ti)
    logical_date = ti.dag_run.execution_date
    lines = simulation.task_lines(task, ti.start_date, end)
    if plan.outcome == S.SUCCESS:
        _push_xcoms(ti, task, end)
        register_outlet_events(ti, task.outlets, now=end)
        state = S.SUCCESS
    elif plan.outcome == S.SKIPPED:
        state = S.SKIPPED
    elif ti.try_number <= ti.max_tries:
        # The failed try goes to the history (as failed, like Airflow) before the retry waits.
        archive_tries([ti], end)
        state = S.UP_FOR_RETRY
    else:
        state = S.FAILED
    mark_ti_state(ti, state, end)
    if state == S.UP_FOR_RETRY:
        delay = simulation.retry_delay(task, ti, logical_date)
        ti.next_event_at = end + dt.timedelta(seconds=simulation.wall_seconds(delay, loop.speed))
    record_task_event(ti, S.FAILED if state == S.UP_FOR_RETRY else state)
    lines += simulation.end_lines(ti, plan, state, logical_date=logical_date, job_id=loop.job_id, pid=loop.pid, when=end)
    loop.write_log(ti, lines)


def _push_xcoms(ti: TaskInstance, task: TaskSpec, when: dt.datetime) -> None:
    """The task's `xcom` entries; a BashOperator also pushes its last log line as `return_value`,
    as Airflow's pushes the last line of the command's output."""
    values = dict(task.xcom)
    if task.operator == "BashOperator" and task.log and "return_value" not in values:
        values["return_value"] = task.log[-1]
    db.session.add_all(
        XCom(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index, key=key,
             value=json.dumps(value), timestamp=when)
        for key, value in values.items()
    )


# -- schedulers that died ----------------------------------------------------------------------
def adopt_orphaned_tries(loop) -> int:
    """Mark schedulers silent for longer than the zombie threshold failed, and take over the
    running tries of schedulers that are no longer running; returns how many were adopted."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=loop.zombie_threshold)
    db.session.execute(
        update(Job)
        .where(Job.job_type == JOB_TYPE, Job.state == S.RUNNING, Job.latest_heartbeat < cutoff, Job.id != loop.job_id)
        .values(state=S.FAILED, end_date=now)
    )
    alive = select(Job.id).where(Job.job_type == JOB_TYPE, Job.state == S.RUNNING)
    adopted = db.session.execute(
        update(TaskInstance)
        .where(
            TaskInstance.state == S.RUNNING,
            or_(TaskInstance.queued_by_job_id.is_(None), TaskInstance.queued_by_job_id.not_in(alive)),
        )
        .values(queued_by_job_id=loop.job_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if adopted:
        log.warning("Adopted %s running task instances of schedulers that stopped", adopted)
    return adopted
