"""app.runs: the state transitions the API, the CLI and the scheduler share."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app import runs
from app.dags.structure import DagSpec, ParamSpec, TaskSpec, load_dag_spec
from app.errors import AlreadyExists, BadRequest, NotFound
from app.extensions import db
from app.models import (
    DagModel,
    DagRun,
    DatasetDagRunQueue,
    DatasetEvent,
    EventLog,
    TaskInstance,
    TaskInstanceHistory,
    XCom,
)
from app.runs import logs
from app.runs.dag_runs import priority_weights
from tests.runs.helpers import JAN, UTC, dag_folder, dags, get_ti, push_xcom, run_try, trigger  # noqa: F401

NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def states(dag_id="pipeline", run_id="run1") -> dict:
    rows = db.session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
    )
    return {(task_id, index): state for task_id, index, state in rows}


def load_run(run_id="run1", dag_id="pipeline") -> DagRun:
    return db.session.execute(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).scalar_one()


# -- triggering --------------------------------------------------------------------------------
def test_trigger_creates_a_queued_run_with_one_task_instance_per_map_index(app, dags, app_ctx):
    run = runs.trigger_dag_run("pipeline", logical_date=JAN[4] + dt.timedelta(hours=1), conf={"n": 3}, now=NOW)
    db.session.commit()
    assert (run.run_id, run.state, run.run_type, run.external_trigger, run.conf) == (
        "manual__2024-01-05T01:00:00+00:00", "queued", "manual", True, {"n": 3}
    )
    # A daily DAG triggered by hand covers the last complete day before its logical date.
    assert (run.data_interval_start, run.data_interval_end) == (JAN[3], JAN[4])
    assert (run.queued_at, run.start_date) == (NOW, None)
    assert states(run_id=run.run_id) == {
        ("extract", -1): None, ("transform", 0): None, ("transform", 1): None, ("transform", 2): None,
        ("load", -1): None,
    }
    load = get_ti("pipeline", run.run_id, "load")
    assert (load.try_number, load.max_tries, load.priority_weight, load.operator) == (0, 2, 1, "EmptyOperator")


def test_trigger_defaults_the_logical_date_to_now_and_keeps_a_given_interval(app, dags, app_ctx):
    run = runs.trigger_dag_run("other", data_interval=(JAN[0], JAN[1]), now=NOW)
    assert (run.run_id, run.execution_date) == ("manual__2024-03-01T12:00:00+00:00", NOW)
    assert (run.data_interval_start, run.data_interval_end) == (JAN[0], JAN[1])


def test_trigger_without_a_schedule_has_an_empty_interval_at_the_logical_date(app, dags, app_ctx):
    run = runs.trigger_dag_run("other", logical_date=JAN[2])
    assert (run.data_interval_start, run.data_interval_end) == (JAN[2], JAN[2])


@pytest.mark.parametrize(
    ("conf", "detail"),
    [
        ({"n": "x"}, "Invalid input for param n: 'x' is not of type 'integer'\n\nFailed validating 'type' in "
                     "schema:\n    {'type': 'integer', 'minimum': 1}\n\nOn instance:\n    'x'"),
        ({"n": 0}, "Invalid input for param n: 0 is less than the minimum of 1\n\nFailed validating 'minimum' in "
                   "schema:\n    {'type': 'integer', 'minimum': 1}\n\nOn instance:\n    0"),
        (["n"], "'conf' must be a JSON object"),
    ],
)
def test_trigger_validates_conf_against_params(app, dags, app_ctx, conf, detail):
    with pytest.raises(BadRequest) as raised:
        runs.trigger_dag_run("pipeline", conf=conf)
    assert raised.value.detail == detail


def test_conf_keys_beyond_the_params_pass_and_a_param_without_default_is_required(app, app_ctx):
    spec = DagSpec(dag_id="d", fileloc="f")
    spec.params = {"p": ParamSpec(value=None, schema={"type": "string"})}
    with pytest.raises(BadRequest) as raised:
        runs.validate_conf(spec, {"other": 1})
    assert raised.value.detail == "Invalid input for param p: No value passed and Param has no default value"
    runs.validate_conf(spec, {"p": "given", "other": 1})


def test_trigger_refuses_missing_inactive_and_broken_dags(app, dags, app_ctx):
    with pytest.raises(NotFound) as raised:
        runs.trigger_dag_run("nope")
    assert (raised.value.title, raised.value.detail) == ("DAG not found", "DAG with dag_id: 'nope' not found")
    db.session.get(DagModel, "other").is_active = False
    db.session.get(DagModel, "pipeline").has_import_errors = True
    db.session.commit()
    with pytest.raises(NotFound):
        runs.trigger_dag_run("other")
    with pytest.raises(BadRequest) as raised:
        runs.trigger_dag_run("pipeline")
    assert (raised.value.title, raised.value.detail) == (
        "DAG cannot be triggered", "DAG with dag_id: 'pipeline' has import errors"
    )


@pytest.mark.parametrize("run_id", ["a/b", "has space", "x" * 251, ""])
def test_trigger_refuses_run_ids_that_cannot_be_path_segments(app, dags, app_ctx, run_id):
    with pytest.raises(BadRequest) as raised:
        runs.trigger_dag_run("other", run_id=run_id)
    assert raised.value.detail.startswith(f"The provided run ID '{run_id}' is invalid.")


def test_trigger_refuses_naive_dates(app, dags, app_ctx):
    with pytest.raises(BadRequest) as raised:
        runs.trigger_dag_run("other", logical_date=dt.datetime(2024, 1, 1))
    assert (raised.value.title, raised.value.detail) == (
        "Invalid datetime format", "Naive datetime is disallowed (logical_date)"
    )


def test_a_duplicate_run_id_or_logical_date_is_decided_by_the_database(app, dags, app_ctx):
    runs.trigger_dag_run("other", run_id="r", logical_date=JAN[0])
    db.session.commit()
    with pytest.raises(AlreadyExists) as raised:
        runs.trigger_dag_run("other", run_id="r", logical_date=JAN[1])
    assert raised.value.detail == "DAGRun with DAG ID: 'other' and DAGRun ID: 'r' already exists"
    with pytest.raises(AlreadyExists) as raised:
        runs.trigger_dag_run("other", run_id="s", logical_date=JAN[0].astimezone(dt.timezone(dt.timedelta(hours=2))))
    assert raised.value.detail == (
        "DAGRun with DAG ID: 'other' and DAGRun logical date: '2024-01-01 00:00:00+00:00' already exists"
    )
    assert db.session.execute(select(func.count()).select_from(DagRun)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(TaskInstance)).scalar_one() == 1


def test_triggers_without_a_logical_date_in_the_same_microsecond_both_succeed(app, dags, app_ctx):
    first = runs.trigger_dag_run("other", now=NOW)
    db.session.commit()
    second = runs.trigger_dag_run("other", now=NOW)
    db.session.commit()
    assert first.execution_date == NOW
    assert second.execution_date > NOW
    assert second.run_id == f"manual__{second.execution_date.isoformat()}"
    named = runs.trigger_dag_run("other", run_id="named", now=NOW)
    db.session.commit()
    assert named.execution_date > second.execution_date
    assert db.session.execute(select(func.count()).select_from(DagRun)).scalar_one() == 3


def test_a_taken_run_id_is_409_even_without_a_logical_date(app, dags, app_ctx):
    runs.trigger_dag_run("other", run_id="r", now=NOW)
    db.session.commit()
    with pytest.raises(AlreadyExists) as raised:
        runs.trigger_dag_run("other", run_id="r", now=NOW)
    assert raised.value.detail == (
        "DAGRun with DAG ID: 'other' and DAGRun logical date: '2024-03-01 12:00:00+00:00' already exists"
    )
    with pytest.raises(AlreadyExists) as raised:
        runs.trigger_dag_run("other", run_id="r")
    assert raised.value.detail == "DAGRun with DAG ID: 'other' and DAGRun ID: 'r' already exists"


def test_an_empty_expansion_leaves_one_skipped_placeholder(app, app_ctx):
    spec = DagSpec(dag_id="d", fileloc="f", tasks=[TaskSpec(task_id="m", expand={"x": []}), TaskSpec(task_id="n")])
    tis = runs.new_task_instances(DagRun(dag_id="d", run_id="r"), spec)
    assert [(ti.task_id, ti.map_index, ti.state) for ti in tis] == [("m", -1, "skipped"), ("n", -1, None)]


def test_a_product_expansion_maps_every_combination(app, app_ctx):
    spec = DagSpec(dag_id="d", fileloc="f", tasks=[TaskSpec(task_id="m", expand={"x": [1, 2], "y": "abc"})])
    assert [ti.map_index for ti in runs.new_task_instances(DagRun(dag_id="d", run_id="r"), spec)] == list(range(6))


def test_priority_weights_follow_the_weight_rule():
    spec = DagSpec(dag_id="d", fileloc="f", tasks=[
        TaskSpec(task_id="a", downstream=["b"], priority_weight=1),
        TaskSpec(task_id="b", upstream=["a"], downstream=["c"], priority_weight=10, weight_rule="upstream"),
        TaskSpec(task_id="c", upstream=["b"], priority_weight=100, weight_rule="absolute"),
    ])
    assert priority_weights(spec) == {"a": 1 + 10 + 100, "b": 10 + 1, "c": 100}


# -- run states --------------------------------------------------------------------------------
def test_marking_a_run_success_marks_every_task_instance_success(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "extract", "failed")
    with app.app_context():
        changed = runs.set_dag_run_state(load_run(), "success", NOW)
        db.session.commit()
        assert len(changed) == 5
        run = load_run()
        assert (run.state, run.end_date) == ("success", NOW)
        assert set(states().values()) == {"success"}
        untouched_start = get_ti("pipeline", "run1", "load")
        assert (untouched_start.start_date, untouched_start.end_date, untouched_start.duration) == (NOW, NOW, 0.0)


def test_marking_a_run_failed_fails_running_and_skips_unfinished_task_instances(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "extract", "success")
    with app.app_context():
        ti = get_ti("pipeline", "run1", "transform", 0)
        runs.mark_scheduled(ti)
        runs.mark_running(ti, NOW)
        db.session.commit()
        runs.set_dag_run_state(load_run(), "failed", NOW)
        db.session.commit()
        assert states() == {
            ("extract", -1): "success", ("transform", 0): "failed", ("transform", 1): "skipped",
            ("transform", 2): "skipped", ("load", -1): "skipped",
        }
        assert load_run().state == "failed"


def test_queueing_a_run_again_resets_its_dates_and_leaves_task_instances(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "extract", "failed")
    with app.app_context():
        runs.set_dag_run_state(load_run(), "failed", NOW)
        db.session.commit()
        runs.set_dag_run_state(load_run(), "queued", NOW + dt.timedelta(hours=1))
        db.session.commit()
        run = load_run()
        assert (run.state, run.queued_at, run.start_date, run.end_date) == (
            "queued", NOW + dt.timedelta(hours=1), None, None
        )
        assert states()[("extract", -1)] == "failed"


# -- clearing ----------------------------------------------------------------------------------
def test_clearing_keeps_the_finished_try_and_queues_the_run(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "load", "failed")
    with app.app_context():
        runs.set_dag_run_state(load_run(), "failed", NOW)
        db.session.commit()
        runs.clear_task_instances([get_ti("pipeline", "run1", "load")], now=NOW)
        db.session.commit()
        ti = get_ti("pipeline", "run1", "load")
        assert (ti.state, ti.try_number, ti.max_tries) == (None, 1, 1 + 2)
        history = db.session.execute(select(TaskInstanceHistory)).scalars().all()
        assert [(h.task_id, h.try_number, h.state, h.hostname) for h in history] == [("load", 1, "failed", "worker-1")]
        run = load_run()
        assert (run.state, run.start_date, run.end_date, run.clear_number, run.queued_at) == ("queued", None, None, 1, NOW)
        # Clearing the same try again does not record it twice.
        runs.clear_task_instances([get_ti("pipeline", "run1", "load")], now=NOW)
        db.session.commit()
        assert db.session.execute(select(func.count()).select_from(TaskInstanceHistory)).scalar_one() == 1


def test_clearing_a_running_task_instance_restarts_it_and_records_the_try_as_failed(app, dags):
    trigger(app)
    with app.app_context():
        ti = get_ti("pipeline", "run1", "extract")
        runs.mark_scheduled(ti)
        runs.mark_running(ti, JAN[5], hostname="h")
        db.session.commit()
        runs.clear_task_instances([get_ti("pipeline", "run1", "extract")], run_state=None, now=NOW)
        db.session.commit()
        assert get_ti("pipeline", "run1", "extract").state == "restarting"
        history = db.session.execute(select(TaskInstanceHistory)).scalar_one()
        assert (history.state, history.start_date, history.end_date, history.duration) == (
            "failed", JAN[5], NOW, (NOW - JAN[5]).total_seconds()
        )
        assert (load_run().state, load_run().clear_number) == ("queued", 0)


def test_a_try_that_was_never_scheduled_is_not_recorded(app, dags):
    trigger(app)
    with app.app_context():
        runs.clear_task_instances(runs.run_task_instances(load_run()), now=NOW)
        db.session.commit()
        assert db.session.execute(select(func.count()).select_from(TaskInstanceHistory)).scalar_one() == 0


def test_select_task_instances_filters(app, dags):
    trigger(app, run_id="a", logical_date=JAN[1])
    trigger(app, run_id="b", logical_date=JAN[2])
    run_try(app, "pipeline", "b", "extract", "failed")
    with app.app_context():
        def picked(**kwargs):
            return [(ti.run_id, ti.task_id, ti.map_index) for ti in runs.select_task_instances("pipeline", **kwargs)]

        assert picked(task_ids=["load"]) == [("a", "load", -1), ("b", "load", -1)]
        assert picked(start_date=JAN[2], task_ids=["extract"]) == [("b", "extract", -1)]
        assert picked(end_date=JAN[1], states=["failed"]) == []
        assert picked(states=["failed"]) == [("b", "extract", -1)]
        assert len(picked(states=[None])) == 9
        assert picked(run_ids=["a"], exclude_task_ids=["transform"]) == [("a", "extract", -1), ("a", "load", -1)]


# -- marking task instances --------------------------------------------------------------------
def test_marking_a_task_with_relatives_and_other_runs(app, dags):
    for day, run_id in ((1, "a"), (2, "b"), (3, "c")):
        trigger(app, run_id=run_id, logical_date=JAN[day])
    with app.app_context():
        spec = load_dag_spec("pipeline")
        dry = runs.set_task_instance_state(spec, load_run("b"), "transform", "success", downstream=True, future=True,
                                           commit=False)
        assert [(ti.run_id, ti.task_id, ti.map_index) for ti in dry] == [
            ("b", "load", -1), ("b", "transform", 0), ("b", "transform", 1), ("b", "transform", 2),
            ("c", "load", -1), ("c", "transform", 0), ("c", "transform", 1), ("c", "transform", 2),
        ]
        assert set(states(run_id="b").values()) == {None}
        changed = runs.set_task_instance_state(spec, load_run("b"), "transform", "failed", map_indexes=[1],
                                               upstream=True, past=True, now=NOW)
        db.session.commit()
        assert [(ti.run_id, ti.task_id, ti.map_index) for ti in changed] == [
            ("a", "extract", -1), ("a", "transform", 1), ("b", "extract", -1), ("b", "transform", 1),
        ]
        assert states(run_id="b") == {
            ("extract", -1): "failed", ("transform", 0): None, ("transform", 1): "failed", ("transform", 2): None,
            ("load", -1): None,
        }
        assert set(states(run_id="c").values()) == {None}


def test_marking_a_task_success_clears_its_failed_downstream_and_queues_the_run(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "extract", "failed")
    with app.app_context():
        spec = load_dag_spec("pipeline")
        for ti in runs.run_task_instances(load_run()):
            if ti.task_id != "extract":
                runs.mark_ti_state(ti, "upstream_failed", NOW)
        runs.mark_run_state(load_run(), "failed", NOW)
        db.session.commit()
        runs.set_task_instance_state(spec, load_run(), "extract", "success", now=NOW)
        db.session.commit()
        assert states() == {
            ("extract", -1): "success", ("transform", 0): None, ("transform", 1): None, ("transform", 2): None,
            ("load", -1): None,
        }
        assert (load_run().state, load_run().clear_number) == ("queued", 1)


def test_task_relatives_are_transitive():
    spec = DagSpec(dag_id="d", fileloc="f", tasks=[
        TaskSpec(task_id="a", downstream=["b"]), TaskSpec(task_id="b", upstream=["a"], downstream=["c"]),
        TaskSpec(task_id="c", upstream=["b"]), TaskSpec(task_id="x"),
    ])
    assert runs.task_relatives(spec, ["b"], upstream=False, downstream=False) == {"b"}
    assert runs.task_relatives(spec, ["a"], upstream=False, downstream=True) == {"a", "b", "c"}
    assert runs.task_relatives(spec, ["c"], upstream=True, downstream=False) == {"a", "b", "c"}


def test_tries_are_numbered_when_scheduled_and_start_when_running(app, dags):
    trigger(app)
    with app.app_context():
        ti = get_ti("pipeline", "run1", "extract")
        runs.mark_scheduled(ti)
        assert (ti.state, ti.try_number) == ("scheduled", 1)
        runs.mark_running(ti, NOW, hostname="h", unixname="u", pid=7, job_id=3)
        assert (ti.state, ti.start_date, ti.end_date, ti.hostname, ti.unixname, ti.pid, ti.job_id) == (
            "running", NOW, None, "h", "u", 7, 3
        )
        assert runs.mark_ti_state(ti, "up_for_retry", NOW + dt.timedelta(seconds=5))
        assert (ti.end_date, ti.duration) == (NOW + dt.timedelta(seconds=5), 5.0)
        assert not runs.mark_ti_state(ti, "up_for_retry")
        runs.archive_tries([ti], NOW)
        db.session.flush()
        assert db.session.execute(select(TaskInstanceHistory.state)).scalar_one() == "up_for_retry"
        db.session.rollback()


# -- datasets ----------------------------------------------------------------------------------
DATASETS = {
    "producer": "dag_id: producer\ntasks: [{task_id: p, outlets: ['s3://b/k']}]\n",
    "consumer": "dag_id: consumer\nschedule: {datasets: ['s3://b/k']}\ntasks: [{task_id: c}]\n",
    "paused_consumer": "dag_id: paused_consumer\nschedule: {datasets: ['s3://b/k']}\ntasks: [{task_id: c}]\n",
}


def test_a_dataset_event_queues_the_active_unpaused_dags_scheduled_on_it(app, dag_folder):
    dag_folder.process(**DATASETS)
    with app.app_context():
        db.session.get(DagModel, "consumer").is_paused = False
        db.session.commit()
        dataset = runs.dataset_by_uri("s3://b/k")
        event = runs.register_dataset_event(dataset, extra={"a": 1}, now=NOW)
        runs.register_dataset_event(dataset, now=NOW + dt.timedelta(hours=1))
        db.session.commit()
        assert (event.dataset_id, event.extra, event.source_dag_id, event.source_map_index) == (dataset.id, {"a": 1}, None, -1)
        queued = db.session.execute(select(DatasetDagRunQueue)).scalars().all()
        assert [(q.target_dag_id, q.created_at) for q in queued] == [("consumer", NOW)]


def test_outlet_events_name_their_task_instance_and_skip_unknown_datasets(app, dag_folder):
    dag_folder.process(**DATASETS)
    trigger(app, "producer", "p1")
    with app.app_context():
        ti = get_ti("producer", "p1", "p")
        events = runs.register_outlet_events(ti, ["s3://b/k", "s3://unknown"], now=NOW)
        db.session.commit()
        event = db.session.execute(select(DatasetEvent)).scalar_one()
        assert events == [event]
        assert (event.source_dag_id, event.source_task_id, event.source_run_id, event.source_map_index) == (
            "producer", "p", "p1", -1
        )


# -- deleting and events -----------------------------------------------------------------------
def test_deleting_a_run_removes_what_hangs_off_it(app, dags):
    trigger(app)
    trigger(app, run_id="kept", logical_date=JAN[9])
    run_try(app, "pipeline", "run1", "load", "failed")
    run_try(app, "pipeline", "kept", "load", "failed")
    push_xcom(app, "pipeline", "run1", "load", "k", 1)
    conf = app.extensions["stableflow.conf"]
    with app.app_context():
        runs.clear_task_instances([get_ti("pipeline", "run1", "load")])
        db.session.commit()
        models = (TaskInstance, TaskInstanceHistory, XCom, DagRun)

        def run_ids():
            return [sorted(set(db.session.execute(select(model.run_id)).scalars())) for model in models]

        assert run_ids() == [["kept", "run1"], ["run1"], ["run1"], ["kept", "run1"]]
        runs.delete_dag_run(load_run(), conf)
        db.session.commit()
        assert run_ids() == [["kept"], [], [], ["kept"]]
    assert not logs.try_log_path(conf, "pipeline", "run1", "load", -1, 1).exists()
    assert logs.try_log_path(conf, "pipeline", "kept", "load", -1, 1).exists()


def test_task_and_run_events_go_to_the_event_log(app, dags):
    trigger(app)
    with app.app_context():
        ti = get_ti("pipeline", "run1", "transform", 2)
        runs.mark_scheduled(ti)
        runs.record_task_event(ti, "running", extra={"host": "h"})
        runs.record_run_event(load_run(), "dagrun_running")
        db.session.commit()
        rows = db.session.execute(select(EventLog).order_by(EventLog.id)).scalars().all()
        assert [(r.event, r.dag_id, r.task_id, r.run_id, r.map_index, r.try_number, r.execution_date, r.extra)
                for r in rows] == [
            ("running", "pipeline", "transform", "run1", 2, 1, JAN[4], '{"host": "h"}'),
            ("dagrun_running", "pipeline", None, "run1", None, None, JAN[4], None),
        ]


# -- logs --------------------------------------------------------------------------------------
def test_log_paths_follow_airflows_layout(app):
    conf = app.extensions["stableflow.conf"]
    base = logs.base_folder(conf)
    assert logs.try_log_path(conf, "d", "r", "t", -1, 2) == base / "dag_id=d/run_id=r/task_id=t/attempt=2.log"
    assert logs.try_log_path(conf, "d", "r", "t", 3, 1) == base / "dag_id=d/run_id=r/task_id=t/map_index=3/attempt=1.log"


def test_log_lines_are_formatted_and_appended(app, dags):
    trigger(app)
    conf = app.extensions["stableflow.conf"]
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    line = logs.format_log_line("hi", when=when, level="WARNING", source="bash.py:12")
    assert line == "[2024-01-02T03:04:05.678+0000] {bash.py:12} WARNING - hi"
    with app.app_context():
        ti = get_ti("pipeline", "run1", "transform", 1)
        runs.mark_scheduled(ti)
        logs.write_try_log(conf, ti, ["one"])
        path = logs.write_try_log(conf, ti, ["two", "three"])
    assert path == logs.try_log_path(conf, "pipeline", "run1", "transform", 1, 1)
    assert logs.read_try_log(path) == "one\ntwo\nthree\n"
    assert logs.read_try_log(path.with_name("attempt=9.log")) is None
