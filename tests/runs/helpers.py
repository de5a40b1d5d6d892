"""Test data for the run API: two DAGs (one with a mapped task), runs, tries, XComs and the
expected JSON of runs and task instances."""
from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil

import pytest
from sqlalchemy import select

from app import runs
from app.extensions import db
from app.models import DagRun, TaskInstance, XCom
from app.runs.logs import base_folder, format_log_line, write_try_log
from tests.dags.helpers import dag_folder, problem, user_with  # noqa: F401

UTC = dt.timezone.utc
PIPELINE = """\
dag_id: pipeline
schedule: "@daily"
start_date: 2024-01-01
params: {n: {default: 1, type: integer, minimum: 1}}
tasks:
  - {task_id: extract, priority_weight: 2}
  - {task_id: transform, upstream: [extract], expand: {x: [1, 2, 3]}, pool: small, queue: fast}
  - {task_id: load, upstream: [transform], retries: 2}
"""
OTHER = """\
dag_id: other
tasks: [{task_id: only}]
"""
JAN = [dt.datetime(2024, 1, day, tzinfo=UTC) for day in range(1, 32)]


@pytest.fixture
def dags(app, dag_folder):  # noqa: F811
    # Runs are restored away with the database before each test; their log files must go too.
    shutil.rmtree(base_folder(app.extensions["stableflow.conf"]), ignore_errors=True)
    dag_folder.process(pipeline=PIPELINE, other=OTHER)
    return dag_folder


def trigger(app, dag_id: str = "pipeline", run_id: str = "run1", logical_date: dt.datetime = JAN[4], **kwargs) -> DagRun:
    with app.app_context():
        run = runs.trigger_dag_run(dag_id, run_id=run_id, logical_date=logical_date, **kwargs)
        db.session.commit()
        db.session.remove()
    return run


def get_ti(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
    return db.session.execute(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    ).scalar_one()


def run_try(app, dag_id: str, run_id: str, task_id: str, state: str = "success", *, map_index: int = -1,
            lines=("hello",), when: dt.datetime = JAN[5]) -> None:
    """Play one try of a task instance the way the scheduler does: schedule, start, log, finish."""
    with app.app_context():
        ti = get_ti(dag_id, run_id, task_id, map_index)
        runs.mark_scheduled(ti)
        runs.mark_running(ti, when, hostname="worker-1", pid=42)
        conf = app.extensions["stableflow.conf"]
        write_try_log(conf, ti, [format_log_line(line, when=when) for line in lines])
        runs.mark_ti_state(ti, state, when + dt.timedelta(seconds=3))
        db.session.commit()
        db.session.remove()


def push_xcom(app, dag_id: str, run_id: str, task_id: str, key: str, value, map_index: int = -1) -> None:
    with app.app_context():
        db.session.add(
            XCom(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, key=key,
                 value=json.dumps(value), timestamp=JAN[6])
        )
        db.session.commit()
        db.session.remove()


def run_json(run_id: str = "run1", logical_date: dt.datetime = JAN[4], dag_id: str = "pipeline", **changes) -> dict:
    """A run as the API shows it right after it was triggered."""
    if dag_id == "pipeline":
        interval = (logical_date - dt.timedelta(days=1), logical_date)
    else:
        interval = (logical_date, logical_date)
    body = {
        "conf": {},
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "data_interval_end": interval[1].isoformat(),
        "data_interval_start": interval[0].isoformat(),
        "end_date": None,
        "execution_date": logical_date.isoformat(),
        "external_trigger": True,
        "last_scheduling_decision": None,
        "logical_date": logical_date.isoformat(),
        "note": None,
        "run_type": "manual",
        "start_date": None,
        "state": "queued",
    }
    body.update(changes)
    return body


# Each pipeline task: (priority weight with the downstream rule, pool, queue, max tries).
PIPELINE_TASKS = {
    "extract": (2 + 1 + 1, "default_pool", "default", 0),
    "transform": (1 + 1, "small", "fast", 0),
    "load": (1, "default_pool", "default", 2),
}


def ti_json(task_id: str, run_id: str = "run1", map_index: int = -1, logical_date: dt.datetime = JAN[4],
            dag_id: str = "pipeline", **changes) -> dict:
    """A task instance as the API shows it before it ran."""
    weight, pool, queue, max_tries = PIPELINE_TASKS.get(task_id, (1, "default_pool", "default", 0))
    body = {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "duration": None,
        "end_date": None,
        "execution_date": logical_date.isoformat(),
        "executor": None,
        "executor_config": "{}",
        "hostname": "",
        "map_index": map_index,
        "max_tries": max_tries,
        "note": None,
        "operator": "EmptyOperator",
        "pid": None,
        "pool": pool,
        "pool_slots": 1,
        "priority_weight": weight,
        "queue": queue,
        "queued_when": None,
        "rendered_fields": {},
        "rendered_map_index": None,
        "sla_miss": None,
        "start_date": None,
        "state": None,
        "task_display_name": task_id,
        "task_id": task_id,
        "trigger": None,
        "triggerer_job": None,
        "try_number": 0,
        "unixname": getpass.getuser(),
    }
    body.update(changes)
    return body


def ran(state: str = "success", try_number: int = 1, when: dt.datetime = JAN[5]) -> dict:
    """The fields `run_try` sets."""
    return {
        "state": state, "try_number": try_number, "start_date": when.isoformat(),
        "end_date": (when + dt.timedelta(seconds=3)).isoformat(), "duration": 3.0, "hostname": "worker-1", "pid": 42,
    }


def history_json(ti: dict) -> dict:
    """A task instance body as a try (the keys a try does not have removed)."""
    dropped = {"execution_date", "note", "sla_miss", "rendered_fields", "rendered_map_index", "trigger", "triggerer_job"}
    return {k: v for k, v in ti.items() if k not in dropped}


def reference(task_id: str, run_id: str = "run1", logical_date: dt.datetime = JAN[4], dag_id: str = "pipeline") -> dict:
    return {"dag_id": dag_id, "dag_run_id": run_id, "execution_date": logical_date.isoformat(), "task_id": task_id}


def queries(app, send) -> int:
    """SQL statements `send()` (one request) runs, after a warm-up request (a user's first login of
    the session writes its login stats)."""
    from tests.conftest import count_queries

    send()
    with count_queries(app) as counter:
        send()
    return counter.count
