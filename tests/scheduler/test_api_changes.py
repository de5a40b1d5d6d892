"""State changed through the API while a run is in flight is picked up by the next loop."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import TaskInstanceHistory

CHAIN = """\
dag_id: d
tasks:
  - {task_id: a, duration: 100}
  - {task_id: b, upstream: [a]}
"""
RUN = "/api/v1/dags/d/dagRuns/r1"


def started(scheduler, dag: str = CHAIN) -> None:
    scheduler.dags(d=dag)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    assert scheduler.tis() == {"a": ("running", 1), "b": (None, 0)}


def test_a_running_task_marked_success_lets_its_downstream_run(scheduler, client, admin_headers):
    started(scheduler)
    body = {"new_state": "success", "dry_run": False}
    assert client.patch(f"{RUN}/taskInstances/a", json=body, headers=admin_headers).status_code == 200
    scheduler.run()
    assert scheduler.tis() == {"a": ("success", 1), "b": ("success", 1)}
    assert scheduler.run_row().state == "success"
    # The try's planned end passes without a second ending.
    scheduler.clock.advance(100)
    scheduler.run()
    assert [event for event in scheduler.events() if event[1] == "a"] == [("running", "a", -1, 1)]


def test_a_run_marked_failed_stops(scheduler, client, admin_headers):
    started(scheduler)
    assert client.patch(RUN, json={"state": "failed"}, headers=admin_headers).json["state"] == "failed"
    scheduler.clock.advance(100)
    scheduler.run()
    assert scheduler.tis() == {"a": ("failed", 1), "b": ("skipped", 0)}
    assert scheduler.run_row().state == "failed"


def test_a_cleared_failed_task_runs_again_with_a_new_try(scheduler, client, admin_headers):
    scheduler.dags(d="dag_id: d\ntasks: [{task_id: a, outcome: flaky, fail_tries: 1}, {task_id: b, upstream: [a]}]\n")
    scheduler.trigger("d")
    scheduler.run_until_idle()
    assert scheduler.tis() == {"a": ("failed", 1), "b": ("upstream_failed", 0)}
    assert scheduler.run_row().state == "failed"
    body = {"dry_run": False, "dag_run_id": "r1", "task_ids": ["a"], "include_downstream": True, "reset_dag_runs": True}
    assert client.post("/api/v1/dags/d/clearTaskInstances", json=body, headers=admin_headers).status_code == 200
    assert scheduler.run_row().state == "queued"
    scheduler.run_until_idle()
    assert scheduler.tis() == {"a": ("success", 2), "b": ("success", 1)}
    assert scheduler.run_row().state == "success"
    tries = client.get(f"{RUN}/taskInstances/a/tries", headers=admin_headers).json
    assert [(t["try_number"], t["state"]) for t in tries["task_instances"]] == [(1, "failed"), (2, "success")]


def test_a_task_cleared_while_running_ends_its_try_and_runs_again(scheduler, client, admin_headers):
    started(scheduler)
    body = {"dry_run": False, "dag_run_id": "r1", "task_ids": ["a"], "only_failed": False}
    assert client.post("/api/v1/dags/d/clearTaskInstances", json=body, headers=admin_headers).status_code == 200
    assert scheduler.tis()["a"] == ("restarting", 1)
    scheduler.run()
    assert scheduler.tis() == {"a": ("running", 2), "b": (None, 0)}
    assert "State of this instance has been externally set to restarting. Terminating instance." in scheduler.log_text("a", 1)
    history = db.session.execute(select(TaskInstanceHistory.try_number, TaskInstanceHistory.state)).all()
    assert history == [(1, "failed")]
    scheduler.clock.advance(100)
    scheduler.run()
    assert scheduler.tis() == {"a": ("success", 2), "b": ("success", 1)}


def test_a_paused_dag_holds_its_runs_until_unpaused(scheduler, client, admin_headers):
    started(scheduler)
    assert client.patch("/api/v1/dags/d", json={"is_paused": True}, headers=admin_headers).status_code == 200
    scheduler.clock.advance(100)
    scheduler.run()
    # The running try ends (it is already with the executor); nothing new is scheduled.
    assert scheduler.tis() == {"a": ("success", 1), "b": (None, 0)}
    assert client.patch("/api/v1/dags/d", json={"is_paused": False}, headers=admin_headers).status_code == 200
    scheduler.run()
    assert scheduler.tis() == {"a": ("success", 1), "b": ("success", 1)}
