"""Runs the scheduler creates: scheduled runs (catchup, start and end dates, data intervals,
max_active_runs) and dataset-triggered runs."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from app.extensions import db
from app.models import DagModel, DagRun, DatasetDagRunQueue

UTC = dt.timezone.utc


def midnight(days_ago: int = 0) -> dt.datetime:
    today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days_ago)


def runs() -> list[tuple]:
    rows = db.session.execute(
        select(
            DagRun.run_id, DagRun.run_type, DagRun.external_trigger, DagRun.execution_date,
            DagRun.data_interval_start, DagRun.data_interval_end, DagRun.state,
        ).order_by(DagRun.execution_date)
    )
    return [tuple(row) for row in rows]


def scheduled(start: dt.datetime, end: dt.datetime, state: str = "success") -> tuple:
    return (f"scheduled__{start.isoformat()}", "scheduled", False, start, start, end, state)


def daily(catchup: bool, **fields) -> str:
    extra = "".join(f"{key}: {value}\n" for key, value in fields.items())
    return (
        f"dag_id: d\nschedule: '@daily'\nstart_date: {midnight(3).date()}\ncatchup: {str(catchup).lower()}\n"
        f"{extra}tasks: [{{task_id: t}}]\n"
    )


def test_catchup_creates_a_run_for_every_complete_interval_since_the_start_date(scheduler):
    scheduler.dags(d=daily(True))
    scheduler.clock.now = dt.datetime.now(UTC)
    scheduler.run_until_idle()
    assert runs() == [scheduled(midnight(3), midnight(2)), scheduled(midnight(2), midnight(1)), scheduled(midnight(1), midnight(0))]
    dag = db.session.get(DagModel, "d")
    assert (dag.next_dagrun, dag.next_dagrun_data_interval_end, dag.next_dagrun_create_after) == (
        midnight(0), midnight(-1), midnight(-1),
    )


def test_without_catchup_only_the_latest_interval_runs(scheduler):
    scheduler.dags(d=daily(False))
    scheduler.clock.now = dt.datetime.now(UTC)
    scheduler.run_until_idle()
    assert runs() == [scheduled(midnight(1), midnight(0))]


def test_a_duration_schedule_and_an_end_date(scheduler):
    start = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=13)
    scheduler.dags(d=f"""\
        dag_id: d
        schedule: PT6H
        start_date: {start.isoformat()}
        tasks: [{{task_id: t}}]
        """, e=daily(True, end_date=midnight(2).date()).replace("dag_id: d", "dag_id: e"))
    scheduler.clock.now = dt.datetime.now(UTC)
    scheduler.run_until_idle()
    six = dt.timedelta(hours=6)
    assert [row for row in runs() if row[3] >= start] == [
        scheduled(start, start + six), scheduled(start + six, start + 2 * six),
    ]
    assert db.session.execute(select(DagRun.execution_date).where(DagRun.dag_id == "e")).scalars().all() == [
        midnight(3), midnight(2),
    ]


def test_paused_dags_get_no_scheduled_runs_and_max_active_runs_holds_creation_back(scheduler):
    scheduler.dags(unpause=False, d=daily(True, max_active_runs=1).replace("tasks: [{task_id: t}]", "tasks: [{task_id: t, duration: 5}]"))
    scheduler.clock.now = dt.datetime.now(UTC)
    scheduler.loop.speed = 1
    scheduler.run_until_idle()
    assert runs() == []
    db.session.execute(update(DagModel).values(is_paused=False))
    db.session.commit()
    scheduler.run_until_idle()
    assert runs() == [scheduled(midnight(3), midnight(2), "running")]
    scheduler.clock.advance(5)
    scheduler.run_until_idle()
    assert [row[-1] for row in runs()] == ["success", "running"]


def test_a_manual_run_at_the_scheduled_logical_date_takes_its_place(scheduler):
    scheduler.dags(d=daily(False))
    scheduler.trigger("d", "manual", logical_date=midnight(1))
    scheduler.clock.now = dt.datetime.now(UTC)
    scheduler.run_until_idle()
    assert [row[0] for row in runs()] == ["manual"]
    assert db.session.get(DagModel, "d").next_dagrun == midnight(0)


DATASETS = """\
dags:
  - dag_id: producer
    tasks: [{task_id: write, outlets: ["s3://b/one"]}]
  - dag_id: one
    schedule: {datasets: ["s3://b/one"]}
    tasks: [{task_id: read}]
  - dag_id: both
    schedule: {datasets: ["s3://b/one", "s3://b/two"]}
    tasks: [{task_id: read}]
"""


def test_dataset_triggered_runs_wait_for_all_their_datasets_and_consume_the_queue(scheduler, client, admin_headers):
    scheduler.dags(d=DATASETS)
    produced_at = scheduler.clock()
    scheduler.trigger("producer", "p1", logical_date=produced_at - dt.timedelta(hours=1))
    scheduler.run_until_idle()
    one = db.session.execute(select(DagRun).where(DagRun.dag_id == "one")).scalar_one()
    assert (one.run_id, one.run_type, one.external_trigger, one.state) == (
        f"dataset_triggered__{produced_at.isoformat()}", "dataset_triggered", False, "success",
    )
    # The event came from a task: the run covers the producing run's data interval.
    hour_ago = produced_at - dt.timedelta(hours=1)
    assert (one.execution_date, one.data_interval_start, one.data_interval_end) == (produced_at, hour_ago, hour_ago)
    assert db.session.execute(select(DagRun).where(DagRun.dag_id == "both")).first() is None
    assert db.session.execute(select(DatasetDagRunQueue.target_dag_id)).scalars().all() == ["both"]

    scheduler.clock.advance(60)
    response = client.post("/api/v1/datasets/events", json={"dataset_uri": "s3://b/two"}, headers=admin_headers)
    assert response.status_code == 200
    api_event_at = dt.datetime.fromisoformat(response.json["timestamp"])
    scheduler.run_until_idle()
    both = db.session.execute(select(DagRun).where(DagRun.dag_id == "both")).scalar_one()
    assert (both.execution_date, both.data_interval_start, both.data_interval_end, both.state) == (
        api_event_at, hour_ago, api_event_at, "success",
    )
    consumed = client.get(f"/api/v1/dags/both/dagRuns/{both.run_id}/upstreamDatasetEvents", headers=admin_headers).json
    assert sorted(e["dataset_uri"] for e in consumed["dataset_events"]) == ["s3://b/one", "s3://b/two"]
    assert db.session.execute(select(DatasetDagRunQueue)).first() is None
    # Nothing new queued: no further run.
    scheduler.run_until_idle()
    assert sorted(db.session.execute(select(DagRun.dag_id).where(DagRun.dag_id != "producer")).scalars()) == ["both", "one"]
