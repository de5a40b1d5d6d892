"""The scheduler as a process: `stableflow standalone` with its scheduler at default settings, and
two `stableflow scheduler` processes sharing one PostgreSQL database while one is killed."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from tests.conftest import base_overrides
from tests.live import free_port, fresh_postgres_database, live_env

STABLEFLOW = str(Path(sys.executable).with_name("stableflow"))


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def get_json(url: str, auth=None):
    try:
        response = requests.get(url, auth=auth, timeout=2)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def test_standalone_runs_example_bash_operator_and_ctrl_c_stops_it_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env.update(STABLEFLOW_HOME=str(tmp_path), STABLEFLOW__WEBSERVER__WEB_SERVER_PORT=str(port))
    api = f"http://127.0.0.1:{port}/api/v1"
    with open(tmp_path / "standalone.log", "wb") as output:
        process = subprocess.Popen(
            [STABLEFLOW, "standalone"], env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        health = wait_for(
            lambda: (get_json(f"{api}/health") or {}).get("scheduler", {}).get("status") == "healthy",
            60, "a healthy scheduler",
        )
        assert health
        auth = ("admin", (tmp_path / "standalone_admin_password.txt").read_text().strip())
        dag = f"{api}/dags/example_bash_operator"
        # Example DAGs start paused, as in Airflow: a client unpauses, then triggers.
        assert requests.patch(dag, json={"is_paused": False}, auth=auth, timeout=10).status_code == 200
        triggered = time.monotonic()
        run_id = requests.post(f"{dag}/dagRuns", json={}, auth=auth, timeout=10).json()["dag_run_id"]

        def run_state():
            return (get_json(f"{dag}/dagRuns/{run_id}", auth) or {}).get("state")

        wait_for(lambda: run_state() in ("success", "failed"), 15, "the run to finish")
        assert time.monotonic() - triggered < 15
        assert run_state() == "success"
        tis = get_json(f"{dag}/dagRuns/{run_id}/taskInstances", auth)["task_instances"]
        assert {ti["task_id"]: ti["state"] for ti in tis} == {
            "runme_0": "success", "runme_1": "success", "runme_2": "success", "also_run_this": "success",
            "this_will_skip": "skipped", "run_after_loop": "success", "run_this_last": "skipped",
        }
    finally:
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    with sqlite3.connect(tmp_path / "stableflow.db") as conn:
        assert conn.execute("SELECT state FROM job WHERE job_type = 'SchedulerJob'").fetchall() == [("success",)]


# -- several schedulers on PostgreSQL ----------------------------------------------------------
FLEET = """\
dag_id: fleet
max_active_runs: 20
max_active_tasks: 100
tasks:
  - {task_id: start, duration: [0.2, 0.5]}
  - {task_id: work, upstream: [start], expand: {n: [1, 2, 3]}, duration: [1, 2]}
  - {task_id: finish, upstream: [work], duration: [0.2, 0.5]}
"""


@pytest.fixture
def scheduler_database():
    """A database of its own (`<test database>_schedulers`) on the test PostgreSQL server."""
    with fresh_postgres_database("{test_database}_schedulers") as url:
        yield url


def test_two_schedulers_run_every_task_instance_once_while_one_is_killed(tmp_path, scheduler_database):
    from app import create_app, db_commands
    from app.dags.processor import process_folder
    from app.extensions import db
    from app.models import DagModel, DagRun, EventLog, Job, TaskInstance, TaskInstanceHistory
    from app.runs import trigger_dag_run

    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "fleet.yaml").write_text(FLEET)
    env = live_env(
        tmp_path, scheduler_database, SCHEDULER__SCHEDULER_HEARTBEAT_SEC="0.2",
        SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD="2", LOGGING__LOGGING_LEVEL="INFO",
    )
    app = create_app(
        base_overrides(
            database={"sql_alchemy_conn": scheduler_database},
            core={"dags_folder": str(tmp_path / "dags")},
            logging={"base_log_folder": str(tmp_path / "logs")},
        ),
        api=False,
    )
    processes = []
    with app.app_context():
        try:
            db_commands.migrate()
            process_folder(app.extensions["stableflow.conf"])
            db.session.execute(update(DagModel).values(is_paused=False))
            for number in range(20):
                trigger_dag_run("fleet", run_id=f"run_{number:02d}")
            db.session.commit()

            def job_ids() -> list[int]:
                ids = db.session.execute(select(Job.id).order_by(Job.id)).scalars().all()
                db.session.rollback()
                return ids

            def start_scheduler(name: str) -> int:
                with open(tmp_path / f"{name}.log", "wb") as output:
                    processes.append(subprocess.Popen([STABLEFLOW, "scheduler"], env=env, stdout=output, stderr=output))
                wait_for(lambda: len(job_ids()) == len(processes), 60, f"scheduler {name} to start")
                return job_ids()[-1]

            first, second = start_scheduler("first"), start_scheduler("second")

            def running_tries(job_id: int) -> int:
                count = db.session.execute(
                    select(func.count()).where(TaskInstance.state == "running", TaskInstance.queued_by_job_id == job_id)
                ).scalar()
                db.session.rollback()
                return count

            wait_for(lambda: running_tries(first) and running_tries(second), 60, "both schedulers to run tries")
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait(timeout=10)
            unfinished = db.session.execute(select(func.count()).where(DagRun.state != "success")).scalar()
            assert unfinished > 0

            def all_done() -> bool:
                done = db.session.execute(select(func.count()).where(DagRun.state.in_(("success", "failed")))).scalar()
                db.session.rollback()
                return done == 20

            wait_for(all_done, 90, "every run to finish", interval=0.5)
            assert db.session.execute(select(DagRun.state, func.count()).group_by(DagRun.state)).all() == [("success", 20)]
            tis = db.session.execute(select(TaskInstance)).scalars().all()
            assert len(tis) == 100
            assert {(ti.state, ti.try_number) for ti in tis} == {("success", 1)}
            assert {ti.job_id for ti in tis} == {first, second}
            # Tries the killed scheduler had started were ended by the other one, same try.
            assert any(ti.job_id == first and ti.queued_by_job_id == second for ti in tis)
            assert db.session.execute(select(TaskInstanceHistory)).first() is None
            events = db.session.execute(
                select(EventLog.event, func.count()).where(EventLog.task_id.is_not(None)).group_by(EventLog.event)
            ).all()
            assert sorted(events) == [("running", 100), ("success", 100)]
            jobs = dict(db.session.execute(select(Job.id, Job.state)).all())
            assert jobs == {first: "failed", second: "running"}
            attempts = sorted(path.name for path in (tmp_path / "logs").rglob("*.log"))
            assert attempts == ["attempt=1.log"] * 100
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)
            db.session.remove()
            db.engine.dispose()
