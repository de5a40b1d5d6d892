"""The scheduler process: its job row and heartbeat as /health reports them, parsing, one
scheduler per SQLite database, and tries of a dead scheduler taken over."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import DagModel, Job, utcnow
from app.scheduler.job import SchedulerJob, sqlite_scheduler_lock
from tests.conftest import database_url
from tests.live import live_env

ONE_TASK = "dag_id: d\ntasks: [{task_id: t, duration: 10}]\n"


def test_health_reports_the_scheduler_from_its_job_row(app, client):
    job = SchedulerJob(app)
    with app.app_context():
        job.register()
        job.heartbeat()
        row = db.session.get(Job, job.job_id)
        assert (row.job_type, row.state, row.executor_class) == ("SchedulerJob", "running", "SimulatedExecutor")
        heartbeat = row.latest_heartbeat
        db.session.remove()
    assert client.get("/api/v1/health").json["scheduler"] == {
        "status": "healthy", "latest_scheduler_heartbeat": heartbeat.isoformat(),
    }


def test_a_scheduler_that_stops_marks_its_job_finished(app, client):
    job = SchedulerJob(app)
    job.run(num_runs=1)
    with app.app_context():
        row = db.session.get(Job, job.job_id)
        assert (row.state, row.end_date is not None) == ("success", True)
        db.session.remove()
    assert client.get("/api/v1/health").json["scheduler"]["status"] == "unhealthy"


def test_the_loop_parses_new_dag_files_every_dag_dir_list_interval(scheduler):
    scheduler.loop.parse_interval = 3600
    scheduler.run()
    scheduler.folder.write("d.yaml", ONE_TASK)
    scheduler.run()
    assert db.session.get(DagModel, "d") is None
    scheduler.loop.parse_interval = 0
    scheduler.run()
    assert db.session.get(DagModel, "d").is_active is True


@pytest.mark.skipif(not database_url().startswith("sqlite"), reason="SQLite only")
def test_a_second_scheduler_on_sqlite_refuses_to_start(app, tmp_path):
    with app.app_context(), sqlite_scheduler_lock(db.engine):
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "scheduler", "-n", "1"],
            env=live_env(tmp_path, database_url()), capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: Another scheduler is already running on the SQLite database {db_path(app)}. SQLite allows one "
        "scheduler; use PostgreSQL to run several."
    )


def db_path(app) -> str:
    with app.app_context():
        return db.engine.url.database


def test_a_dead_schedulers_running_tries_are_adopted_after_the_zombie_threshold(scheduler):
    scheduler.dags(d=ONE_TASK)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    assert scheduler.tis() == {"t": ("running", 1)}
    other = scheduler.new_loop(SchedulerJob(scheduler.app).register(), speed=1)
    scheduler.clock.advance(10)
    # The first scheduler is alive: its try is its own to end.
    other.run_once()
    assert scheduler.tis() == {"t": ("running", 1)}
    db.session.execute(
        update(Job).where(Job.id == scheduler.job_id).values(latest_heartbeat=utcnow() - dt.timedelta(minutes=5))
    )
    db.session.commit()
    other.run_once()
    ti = scheduler.ti("t")
    assert (ti.state, ti.try_number, ti.job_id, ti.queued_by_job_id) == ("success", 1, scheduler.job_id, other.job_id)
    assert db.session.execute(select(Job.state).where(Job.id == scheduler.job_id)).scalar() == "failed"
    assert [event[0] for event in scheduler.events() if event[1]] == ["running", "success"]
