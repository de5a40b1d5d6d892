"""DAG runs in the scheduler: scheduled and dataset-triggered runs are created, queued runs start
up to `max_active_runs`, and running runs move forward (trigger rules, retries, timeouts) until
their leaf tasks decide how they end.

Each function works inside the caller's transaction on rows it has locked: a run, or a DAG whose
runs it creates, is handled by one scheduler at a time (`FOR NO KEY UPDATE SKIP LOCKED` on
PostgreSQL, which still lets other transactions insert rows that reference it).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import aliased, contains_eager

from app.dags import timetable
from app.dags.structure import DagSpec
from app.extensions import db
from app.models import (
    DagModel,
    DagRun,
    DagScheduleDatasetReference,
    DatasetDagRunQueue,
    DatasetEvent,
    TaskInstance,
    dagrun_dataset_event,
)
from app.runs import (
    mark_run_state,
    mark_scheduled,
    mark_ti_state,
    new_task_instances,
    record_run_event,
    run_task_instances,
    trigger_dag_run,
)
from app.runs import states as S
from app.runs.dag_runs import generate_run_id
from app.scheduler.simulation import externally_set_line
from app.scheduler.trigger_rules import Decision, decide

# Runs (or DAGs) one transaction handles at most.
RUN_BATCH = 100
ACTIVE_RUN_STATES = (S.QUEUED, S.RUNNING)


def _lock(stmt):
    return stmt.with_for_update(skip_locked=True, key_share=True)


def _below_max_active_runs(states: tuple[str, ...]):
    """DAGs whose runs in `states` are fewer than their max_active_runs (a SQL condition)."""
    counts = (
        select(DagRun.dag_id, func.count().label("n")).where(DagRun.state.in_(states)).group_by(DagRun.dag_id).subquery()
    )
    condition = or_(DagModel.max_active_runs.is_(None), func.coalesce(counts.c.n, 0) < DagModel.max_active_runs)
    return counts, condition


def _schedulable_dags():
    return (DagModel.is_active.is_(True), DagModel.is_paused.is_(False), DagModel.has_import_errors.is_(False))


# -- scheduled runs ----------------------------------------------------------------------------
def scheduled_run_candidates(now: dt.datetime) -> list[str]:
    """Unpaused DAGs whose next scheduled run is due and that may have another active run."""
    counts, below_limit = _below_max_active_runs(ACTIVE_RUN_STATES)
    stmt = (
        select(DagModel.dag_id)
        .outerjoin(counts, counts.c.dag_id == DagModel.dag_id)
        .where(*_schedulable_dags(), DagModel.next_dagrun_create_after <= now, below_limit)
        .order_by(DagModel.next_dagrun_create_after)
        .limit(RUN_BATCH)
    )
    return list(db.session.execute(stmt).scalars())


def create_scheduled_run(loop, dag_id: str, now: dt.datetime) -> int:
    """Create the DAG's next scheduled run (queued) and move its next-run fields on; 1 if created."""
    dag = db.session.execute(
        _lock(select(DagModel).where(DagModel.dag_id == dag_id, *_schedulable_dags(), DagModel.next_dagrun_create_after <= now))
    ).scalar()
    spec = loop.specs([dag_id]).get(dag_id)
    if dag is None or spec is None or dag.next_dagrun is None:
        return 0
    active = db.session.execute(
        select(func.count()).where(DagRun.dag_id == dag_id, DagRun.state.in_(ACTIVE_RUN_STATES))
    ).scalar_one()
    if dag.max_active_runs is not None and active >= dag.max_active_runs:
        return 0
    interval = timetable.DataInterval(dag.next_dagrun_data_interval_start, dag.next_dagrun_data_interval_end)
    run_id = generate_run_id("scheduled", dag.next_dagrun)
    # A run already there (triggered by hand for the same logical date) takes the slot, as in Airflow.
    taken = db.session.execute(
        select(DagRun.id).where(DagRun.dag_id == dag_id, or_(DagRun.execution_date == dag.next_dagrun, DagRun.run_id == run_id))
    ).first()
    if taken is None:
        trigger_dag_run(
            dag_id, run_id=run_id, logical_date=dag.next_dagrun, data_interval=(interval.start, interval.end),
            external_trigger=False, run_type="scheduled", now=now,
        )
    for name, value in timetable.next_dagrun_fields(spec, interval, now=now).items():
        setattr(dag, name, value)
    return int(taken is None)


# -- dataset-triggered runs --------------------------------------------------------------------
def dataset_run_candidates() -> list[str]:
    """Unpaused DAGs scheduled on datasets that all have queued events."""
    refs, queue = DagScheduleDatasetReference, DatasetDagRunQueue
    stmt = (
        select(refs.dag_id)
        .join(DagModel, DagModel.dag_id == refs.dag_id)
        .outerjoin(queue, and_(queue.dataset_id == refs.dataset_id, queue.target_dag_id == refs.dag_id))
        .where(*_schedulable_dags())
        .group_by(refs.dag_id)
        .having(func.count(queue.dataset_id) == func.count())
        .limit(RUN_BATCH)
    )
    return list(db.session.execute(stmt).scalars())


def create_dataset_run(loop, dag_id: str, now: dt.datetime) -> int:
    """Create a dataset-triggered run that consumes the DAG's queued events; 1 if created.

    As in Airflow: the logical date is the newest queued event's time; the run consumes the
    events of the DAG's datasets since its previous dataset-triggered run; its data interval
    spans those events (an event made by a task counts with its run's data interval).
    """
    refs, queue = DagScheduleDatasetReference, DatasetDagRunQueue
    if db.session.execute(_lock(select(DagModel.dag_id).where(DagModel.dag_id == dag_id))).scalar() is None:
        return 0
    datasets = set(db.session.execute(select(refs.dataset_id).where(refs.dag_id == dag_id)).scalars())
    queued = dict(db.session.execute(select(queue.dataset_id, queue.created_at).where(queue.target_dag_id == dag_id)).all())
    if not datasets or not datasets <= set(queued):
        return 0
    logical_date = max(queued.values())
    previous = db.session.execute(
        select(func.max(DagRun.execution_date)).where(
            DagRun.dag_id == dag_id, DagRun.run_type == "dataset_triggered", DagRun.execution_date < logical_date
        )
    ).scalar()
    source = aliased(DagRun)
    stmt = (
        select(DatasetEvent.id, DatasetEvent.timestamp, source.data_interval_start, source.data_interval_end)
        .outerjoin(source, and_(source.dag_id == DatasetEvent.source_dag_id, source.run_id == DatasetEvent.source_run_id))
        .where(DatasetEvent.dataset_id.in_(datasets), DatasetEvent.timestamp <= logical_date)
    )
    if previous is not None:
        stmt = stmt.where(DatasetEvent.timestamp > previous)
    events = db.session.execute(stmt).all()
    starts = [start or stamp for _, stamp, start, _ in events] or [logical_date]
    ends = [end or stamp for _, stamp, _, end in events] or [logical_date]
    run = trigger_dag_run(
        dag_id, logical_date=logical_date, data_interval=(min(starts), max(ends)), external_trigger=False,
        run_type="dataset_triggered", now=now,
    )
    if events:
        db.session.execute(insert(dagrun_dataset_event), [{"dag_run_id": run.id, "event_id": e.id} for e in events])
    # Events queued after this run's logical date wait for the next run.
    db.session.execute(delete(queue).where(queue.target_dag_id == dag_id, queue.created_at <= logical_date))
    return 1


# -- starting queued runs ----------------------------------------------------------------------
def start_queued_runs(loop, now: dt.datetime) -> int:
    """Start queued runs of unpaused DAGs, oldest first, while their DAG has fewer running runs
    than max_active_runs; returns how many started."""
    counts, below_limit = _below_max_active_runs((S.RUNNING,))
    runs = list(
        db.session.execute(
            select(DagRun)
            .join(DagModel, DagModel.dag_id == DagRun.dag_id)
            .outerjoin(counts, counts.c.dag_id == DagRun.dag_id)
            .where(DagRun.state == S.QUEUED, DagModel.is_active.is_(True), DagModel.is_paused.is_(False), below_limit)
            .order_by(DagRun.last_scheduling_decision.asc().nulls_first(), DagRun.execution_date)
            .limit(RUN_BATCH)
            .with_for_update(of=DagRun, skip_locked=True, key_share=True)
        ).scalars()
    )
    if not runs:
        return 0
    dag_ids = sorted({run.dag_id for run in runs})
    # The DAG rows serialize schedulers starting runs of one DAG, so max_active_runs holds; the
    # running runs are counted once the lock is held.
    limits = dict(
        db.session.execute(
            select(DagModel.dag_id, DagModel.max_active_runs)
            .where(DagModel.dag_id.in_(dag_ids))
            .order_by(DagModel.dag_id)
            .with_for_update(key_share=True)
        ).all()
    )
    running = defaultdict(int, db.session.execute(
        select(DagRun.dag_id, func.count()).where(DagRun.dag_id.in_(dag_ids), DagRun.state == S.RUNNING).group_by(DagRun.dag_id)
    ).all())
    specs = loop.specs(dag_ids)
    started = 0
    for run in runs:
        spec, limit = specs.get(run.dag_id), limits.get(run.dag_id)
        if spec is None or (limit is not None and running[run.dag_id] >= limit):
            continue
        _sync_task_instances(loop, run, spec)
        mark_run_state(run, S.RUNNING, now)
        record_run_event(run, "dagrun_running")
        running[run.dag_id] += 1
        started += 1
    return started


def _sync_task_instances(loop, run: DagRun, spec: DagSpec) -> None:
    """Bring a run's task instances in line with the DAG as it is now when the DAG changed since
    (Airflow's verify_integrity): new tasks get task instances, tasks gone are `removed`."""
    dag_hash = loop.dag_hash(run.dag_id)
    if run.dag_hash == dag_hash:
        return
    have = {(ti.task_id, ti.map_index): ti for ti in run_task_instances(run)}
    wanted = new_task_instances(run, spec)
    db.session.add_all(ti for ti in wanted if (ti.task_id, ti.map_index) not in have)
    keys = {(ti.task_id, ti.map_index) for ti in wanted}
    for key, ti in have.items():
        if key not in keys:
            ti.state = S.REMOVED
    run.dag_hash = dag_hash


# -- running runs ------------------------------------------------------------------------------
def advance_runs(loop, now: dt.datetime) -> int:
    """Move the running runs of unpaused DAGs that waited longest forward; returns the number of
    state changes made."""
    runs = list(
        db.session.execute(
            select(DagRun)
            .join(DagModel, DagModel.dag_id == DagRun.dag_id)
            .where(DagRun.state == S.RUNNING, DagModel.is_paused.is_(False))
            .order_by(DagRun.last_scheduling_decision.asc().nulls_first(), DagRun.id)
            .limit(RUN_BATCH)
            .with_for_update(of=DagRun, skip_locked=True, key_share=True)
        ).scalars()
    )
    if not runs:
        return 0
    specs = loop.specs({run.dag_id for run in runs})
    for run in runs:
        if run.dag_id in specs:
            _sync_task_instances(loop, run, specs[run.dag_id])
    db.session.flush()
    keys = [(run.dag_id, run.run_id) for run in runs]
    in_runs = tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys)
    # Task instances another transaction holds (an API call marking or clearing them, another
    # scheduler ending a try) are skipped rather than waited for, so that no lock cycle can form
    # with a transaction that locks task instances first and their run second; a run with any of
    # them locked waits for the next round.
    tis_by_run: dict[tuple[str, str], list[TaskInstance]] = defaultdict(list)
    for ti in db.session.execute(
        select(TaskInstance)
        .join(TaskInstance.dag_run)
        .options(contains_eager(TaskInstance.dag_run))
        .where(in_runs)
        .with_for_update(of=TaskInstance, skip_locked=True, key_share=True)
    ).scalars():
        tis_by_run[(ti.dag_id, ti.run_id)].append(ti)
    counts = {
        (dag_id, run_id): count
        for dag_id, run_id, count in db.session.execute(
            select(TaskInstance.dag_id, TaskInstance.run_id, func.count()).where(in_runs).group_by(TaskInstance.dag_id, TaskInstance.run_id)
        )
    }
    changes = 0
    for run in runs:
        key, spec = (run.dag_id, run.run_id), specs.get(run.dag_id)
        if len(tis_by_run[key]) != counts.get(key, 0):
            continue
        run.last_scheduling_decision = now
        if spec is not None:
            changes += advance_run(loop, run, spec, tis_by_run[key], now)
    return changes


def advance_run(loop, run: DagRun, spec: DagSpec, tis: list[TaskInstance], now: dt.datetime) -> int:
    """Time the run out, or schedule what its trigger rules allow and end it once every task
    instance has finished; returns the number of state changes."""
    if _timed_out(run, spec, loop.speed, now):
        for ti in tis:
            if not S.is_finished(ti.state):
                if ti.state == S.RUNNING:
                    loop.write_log(ti, [externally_set_line(S.SKIPPED, now)])
                mark_ti_state(ti, S.SKIPPED, now)
        _finish_run(run, spec, S.FAILED, now, extra={"reason": "dagrun_timeout"})
        return 1
    changes = _schedule_task_instances(loop, spec, tis, now)
    state = final_state(spec, tis)
    if state is not None:
        _finish_run(run, spec, state, now)
        changes += 1
    return changes


def _timed_out(run: DagRun, spec: DagSpec, speed: float, now: dt.datetime) -> bool:
    # dagrun_timeout is simulated time, scaled like durations (never at speed 0).
    if not spec.dagrun_timeout or run.start_date is None or speed <= 0:
        return False
    return (now - run.start_date).total_seconds() * speed > spec.dagrun_timeout


def _schedule_task_instances(loop, spec: DagSpec, tis: list[TaskInstance], now: dt.datetime) -> int:
    changes = 0
    for ti in tis:
        if ti.state == S.RESTARTING:
            # Cleared while running: the try ends (the clear put it in the history) and the task
            # instance is scheduled again like any cleared one.
            loop.write_log(ti, [externally_set_line(S.RESTARTING, now)])
            task = spec.task(ti.task_id)
            ti.state, ti.next_event_at = None, None
            ti.max_tries = ti.try_number + (task.retries if task else 0)
            changes += 1
        elif ti.state == S.UP_FOR_RETRY and (ti.next_event_at is None or ti.next_event_at <= now):
            mark_scheduled(ti)
            changes += 1
    by_task: dict[str, list[TaskInstance]] = defaultdict(list)
    for ti in tis:
        by_task[ti.task_id].append(ti)
    # Skips and upstream failures cascade: repeat until nothing changes.
    progress = True
    while progress:
        progress = False
        for ti in tis:
            task = spec.task(ti.task_id) if ti.state is None else None
            if task is None:
                continue
            decision = decide(task.trigger_rule, [up.state for name in task.upstream for up in by_task[name]])
            if decision is Decision.WAIT:
                continue
            if decision is Decision.RUN:
                mark_scheduled(ti)
            else:
                mark_ti_state(ti, decision.value, now)
            progress = True
            changes += 1
    return changes


def final_state(spec: DagSpec, tis: list[TaskInstance]) -> str | None:
    """None while a task instance is unfinished; then failed if a leaf task failed or could not
    run (upstream_failed), else success, as Airflow decides."""
    if any(not S.is_finished(ti.state) for ti in tis):
        return None
    leaves = {task.task_id for task in spec.tasks if not task.downstream}
    failed = any(ti.state in (S.FAILED, S.UPSTREAM_FAILED) for ti in tis if ti.task_id in leaves)
    return S.FAILED if failed else S.SUCCESS


def _finish_run(run: DagRun, spec: DagSpec, state: str, now: dt.datetime, extra: dict | None = None) -> None:
    mark_run_state(run, state, now)
    record_run_event(run, f"dagrun_{state}", extra=extra)
    if state == S.FAILED and spec.max_consecutive_failed_dag_runs > 0:
        _pause_after_failures(run.dag_id, spec.max_consecutive_failed_dag_runs)


def _pause_after_failures(dag_id: str, limit: int) -> None:
    """Pause a DAG whose last `limit` runs all failed (max_consecutive_failed_dag_runs)."""
    db.session.flush()
    states = db.session.execute(
        select(DagRun.state).where(DagRun.dag_id == dag_id).order_by(DagRun.execution_date.desc()).limit(limit)
    ).scalars().all()
    if len(states) == limit and all(state == S.FAILED for state in states):
        db.session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=True))
