"""/health (no auth): metadatabase and scheduler status from the job table."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Job, utcnow

NO_SCHEDULER = {"status": "unhealthy", "latest_scheduler_heartbeat": None}
UNUSED = {
    "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
    "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
}


def add_jobs(app, *jobs):
    with app.app_context():
        db.session.add_all(jobs)
        db.session.commit()


def scheduler(age_seconds: float, state: str = "running", job_type: str = "SchedulerJob") -> Job:
    return Job(job_type=job_type, state=state, latest_heartbeat=utcnow() - dt.timedelta(seconds=age_seconds))


def test_without_scheduler(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {"metadatabase": {"status": "healthy"}, "scheduler": NO_SCHEDULER, **UNUSED}


def test_fresh_heartbeat_is_healthy(app, client):
    job = scheduler(2)
    add_jobs(app, scheduler(100, state="success"), job, scheduler(1, job_type="TriggererJob"))
    response = client.get("/api/v1/health")
    assert response.json == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": job.latest_heartbeat.isoformat()},
        **UNUSED,
    }


def test_stale_heartbeat_is_unhealthy(app, client):
    job = scheduler(31)
    add_jobs(app, job)
    assert client.get("/api/v1/health").json["scheduler"] == {
        "status": "unhealthy",
        "latest_scheduler_heartbeat": job.latest_heartbeat.isoformat(),
    }


def test_stopped_scheduler_is_unhealthy_even_with_a_fresh_heartbeat(app, client):
    job = scheduler(1, state="success")
    add_jobs(app, job)
    assert client.get("/api/v1/health").json["scheduler"] == {
        "status": "unhealthy",
        "latest_scheduler_heartbeat": job.latest_heartbeat.isoformat(),
    }


def test_running_job_is_reported_before_a_fresher_stopped_one(app, client):
    running, stopped = scheduler(5), scheduler(1, state="success")
    no_state = scheduler(0, state=None)
    no_heartbeat = Job(job_type="SchedulerJob", state="running", latest_heartbeat=None)
    add_jobs(app, stopped, running, no_state, no_heartbeat)
    assert client.get("/api/v1/health").json["scheduler"]["latest_scheduler_heartbeat"] == (
        running.latest_heartbeat.isoformat()
    )


def test_database_failure_is_reported_not_raised(client, monkeypatch):
    from app.endpoints import health_endpoint

    def broken():
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(health_endpoint, "_latest_scheduler", broken)
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {"metadatabase": {"status": "unhealthy"}, "scheduler": NO_SCHEDULER, **UNUSED}


@pytest.mark.parametrize("username", [None, "test_no_permissions"])
def test_needs_no_permission(client, username):
    from tests.conftest import basic_auth

    headers = basic_auth(username) if username else {}
    assert client.get("/api/v1/health", headers=headers).status_code == 200
