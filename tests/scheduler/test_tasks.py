"""Task instances under the scheduler: states, tries, logs, XComs, trigger rules, mapping,
retries and timeouts, driven loop by loop on a test clock."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from app.dags.structure import load_dag_spec
from app.extensions import db
from app.models import DagModel, TaskInstance, TaskInstanceHistory, XCom
from app.scheduler import simulation


def messages(text: str) -> list[str]:
    """Log lines without their timestamps."""
    return [re.sub(r"^\[[^\]]+\] ", "", line) for line in text.splitlines()]


def xcoms() -> dict[tuple[str, int, str], object]:
    rows = db.session.execute(select(XCom)).scalars()
    return {(x.task_id, x.map_index, x.key): json.loads(x.value) for x in rows}


SIMPLE = """\
dag_id: d
tasks:
  - {task_id: extract, operator: BashOperator, bash_command: echo hi, duration: 2, log: [hi]}
  - {task_id: load, upstream: [extract], duration: 1, xcom: {rows: 3}}
"""


def test_a_run_moves_from_queued_to_success_with_tries_events_logs_and_xcoms(scheduler):
    scheduler.dags(d=SIMPLE)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    start = scheduler.clock()
    assert scheduler.run_row().state == "queued"

    scheduler.run()
    assert scheduler.run_row().state == "running"
    assert scheduler.tis() == {"extract": ("running", 1), "load": (None, 0)}
    scheduler.clock.advance(2)
    scheduler.run()
    assert scheduler.tis() == {"extract": ("success", 1), "load": ("running", 1)}
    scheduler.clock.advance(1)
    scheduler.run()

    run = scheduler.run_row()
    assert (run.state, run.start_date, run.end_date) == ("success", start, start + dt.timedelta(seconds=3))
    extract = scheduler.ti("extract")
    assert {
        "state": extract.state, "try_number": extract.try_number, "start_date": extract.start_date,
        "end_date": extract.end_date, "duration": extract.duration, "hostname": extract.hostname,
        "pid": extract.pid, "job_id": extract.job_id, "queued_by_job_id": extract.queued_by_job_id,
    } == {
        "state": "success", "try_number": 1, "start_date": start, "end_date": start + dt.timedelta(seconds=2),
        "duration": 2.0, "hostname": scheduler.loop.hostname, "pid": scheduler.loop.pid,
        "job_id": scheduler.job_id, "queued_by_job_id": scheduler.job_id,
    }
    assert scheduler.events() == [
        ("dagrun_running", None, None, None),
        ("running", "extract", -1, 1),
        ("success", "extract", -1, 1),
        ("running", "load", -1, 1),
        ("success", "load", -1, 1),
        ("dagrun_success", None, None, None),
    ]
    # A BashOperator pushes its last output line as return_value, as Airflow's does.
    assert xcoms() == {("extract", -1, "return_value"): "hi", ("load", -1, "rows"): 3}
    pid, host, stamp = scheduler.loop.pid, scheduler.loop.hostname, start.strftime("%Y%m%dT%H%M%S")
    end = (start + dt.timedelta(seconds=2)).strftime("%Y%m%dT%H%M%S")
    assert messages(scheduler.log_text("extract")) == [
        "{taskinstance.py:2076} INFO - Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: d.extract r1 [queued]>",
        "{taskinstance.py:2076} INFO - Dependencies all met for dep_context=requeueable deps ti=<TaskInstance: d.extract r1 [queued]>",
        "{taskinstance.py:2306} INFO - Starting attempt 1 of 1",
        f"{{taskinstance.py:2330}} INFO - Executing <Task(BashOperator): extract> on {start.isoformat(sep=' ')}",
        f"{{standard_task_runner.py:63}} INFO - Started process {pid} to run task",
        "{standard_task_runner.py:90} INFO - Running: ['airflow', 'tasks', 'run', 'd', 'extract', 'r1', '--job-id', "
        f"'{scheduler.job_id}', '--raw', '--subdir', 'DAGS_FOLDER/d.yaml']",
        f"{{task_command.py:426}} INFO - Running <TaskInstance: d.extract r1 [running]> on host {host}",
        "{taskinstance.py:2648} INFO - Exporting env vars: AIRFLOW_CTX_DAG_OWNER='airflow' AIRFLOW_CTX_DAG_ID='d' "
        f"AIRFLOW_CTX_TASK_ID='extract' AIRFLOW_CTX_EXECUTION_DATE='{start.isoformat()}' AIRFLOW_CTX_TRY_NUMBER='1' "
        "AIRFLOW_CTX_DAG_RUN_ID='r1'",
        "{subprocess.py:93} INFO - hi",
        f"{{taskinstance.py:1206}} INFO - Marking task as SUCCESS. dag_id=d, task_id=extract, run_id=r1, "
        f"execution_date={stamp}, start_date={stamp}, end_date={end}",
        "{local_task_job_runner.py:243} INFO - Task exited with return code 0",
    ]


def test_the_log_and_tries_are_served_by_the_api(scheduler, client, admin_headers):
    scheduler.dags(d=SIMPLE)
    scheduler.trigger("d")
    scheduler.run_until_idle()
    base = "/api/v1/dags/d/dagRuns/r1/taskInstances/extract"
    text = client.get(f"{base}/logs/1", headers={**admin_headers, "Accept": "text/plain"}).get_data(as_text=True)
    assert "{subprocess.py:93} INFO - hi" in text
    tries = client.get(f"{base}/tries", headers=admin_headers).json
    assert [(t["try_number"], t["state"]) for t in tries["task_instances"]] == [(1, "success")]


RULES = [
    # task id, trigger rule, upstream tasks, expected state
    ("all_success_run", "all_success", ["ok", "ok2"], "success"),
    ("all_success_uf", "all_success", ["ok", "bad"], "upstream_failed"),
    ("all_success_skip", "all_success", ["ok", "skip"], "skipped"),
    ("all_failed_run", "all_failed", ["bad"], "success"),
    ("all_failed_skip", "all_failed", ["bad", "ok"], "skipped"),
    ("all_done_run", "all_done", ["ok", "bad", "skip"], "success"),
    ("all_skipped_run", "all_skipped", ["skip"], "success"),
    ("all_skipped_skip", "all_skipped", ["skip", "ok"], "skipped"),
    ("one_success_run", "one_success", ["ok", "bad"], "success"),
    ("one_success_uf", "one_success", ["bad", "skip"], "upstream_failed"),
    ("one_success_skip", "one_success", ["skip"], "skipped"),
    ("one_failed_run", "one_failed", ["bad", "ok"], "success"),
    ("one_failed_skip", "one_failed", ["ok", "skip"], "skipped"),
    ("one_done_run", "one_done", ["bad", "skip"], "success"),
    ("one_done_skip", "one_done", ["skip"], "skipped"),
    ("none_failed_run", "none_failed", ["ok", "skip"], "success"),
    ("none_failed_uf", "none_failed", ["ok", "bad"], "upstream_failed"),
    ("min_one_success_run", "none_failed_min_one_success", ["ok", "skip"], "success"),
    ("min_one_success_skip", "none_failed_min_one_success", ["skip"], "skipped"),
    ("min_one_success_uf", "none_failed_min_one_success", ["bad", "ok"], "upstream_failed"),
    ("none_skipped_run", "none_skipped", ["ok", "bad"], "success"),
    ("none_skipped_skip", "none_skipped", ["skip", "ok"], "skipped"),
    ("always_run", "always", ["bad"], "success"),
]


def test_each_trigger_rule_decides_as_airflow_and_failures_and_skips_cascade(scheduler):
    tasks = [
        "  - {task_id: ok}", "  - {task_id: ok2}", "  - {task_id: bad, outcome: failed}",
        "  - {task_id: skip, outcome: skipped}",
        # Downstream of an upstream_failed or skipped task, all_success passes the state on.
        "  - {task_id: after_uf, upstream: [all_success_uf]}",
        "  - {task_id: after_skip, upstream: [all_success_skip]}",
        "  - {task_id: after_after_skip, upstream: [after_skip]}",
    ]
    tasks += [f"  - {{task_id: {task}, trigger_rule: {rule}, upstream: [{', '.join(ups)}]}}" for task, rule, ups, _ in RULES]
    scheduler.dags(d="dag_id: d\ntasks:\n" + "\n".join(tasks) + "\n")
    scheduler.trigger("d")
    scheduler.run_until_idle()
    expected = {task: (state, 1 if state == "success" else 0) for task, _, _, state in RULES}
    expected.update({
        "ok": ("success", 1), "ok2": ("success", 1), "bad": ("failed", 1), "skip": ("skipped", 1),
        "after_uf": ("upstream_failed", 0), "after_skip": ("skipped", 0), "after_after_skip": ("skipped", 0),
    })
    assert scheduler.tis() == expected
    # `bad` is a leaf that failed: the run fails.
    assert scheduler.run_row().state == "failed"


@pytest.mark.parametrize(
    ("leaves", "state"),
    [
        ("[{task_id: a, outcome: failed}, {task_id: b, upstream: [a], trigger_rule: all_done}]", "success"),
        ("[{task_id: a}, {task_id: b, upstream: [a], outcome: skipped}]", "success"),
        ("[{task_id: a, outcome: failed}, {task_id: b, upstream: [a]}]", "failed"),
        ("[]", "success"),
    ],
)
def test_the_leaf_tasks_decide_how_a_run_ends(scheduler, leaves, state):
    scheduler.dags(d=f"dag_id: d\ntasks: {leaves}\n")
    scheduler.trigger("d")
    scheduler.run_until_idle()
    run = scheduler.run_row()
    assert (run.state, run.end_date) == (state, scheduler.clock())


def test_a_mapped_task_runs_once_per_map_index_with_its_own_logs_and_xcoms(scheduler):
    scheduler.dags(d="""\
        dag_id: d
        tasks:
          - {task_id: fan, expand: {x: [1, 2, 3]}, xcom: {return_value: 1}, log: [adding]}
          - {task_id: total, upstream: [fan]}
          - {task_id: broken, expand: {x: [1, 2]}, outcome: failed}
          - {task_id: after_broken, upstream: [broken]}
        """)
    scheduler.trigger("d")
    scheduler.run_until_idle()
    assert scheduler.tis() == {
        "fan[0]": ("success", 1), "fan[1]": ("success", 1), "fan[2]": ("success", 1), "total": ("success", 1),
        "broken[0]": ("failed", 1), "broken[1]": ("failed", 1), "after_broken": ("upstream_failed", 0),
    }
    assert xcoms() == {("fan", index, "return_value"): 1 for index in range(3)}
    log = messages(scheduler.log_text("fan", map_index=2))
    assert "{taskinstance.py:2306} INFO - Starting attempt 1 of 1" in log
    assert "{logging_mixin.py:188} INFO - adding" in log
    assert log[0].endswith("ti=<TaskInstance: d.fan r1 map_index=2 [queued]>")


def test_retries_make_new_tries_after_the_delay_and_keep_the_history(scheduler, client, admin_headers):
    scheduler.dags(d="""\
        dag_id: d
        tasks:
          - {task_id: flaky, outcome: flaky, fail_tries: 2, retries: 2, retry_delay: 10, duration: 1}
        """)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    history = []
    for try_number in (1, 2):
        scheduler.clock.advance(1)
        scheduler.run()
        ti = scheduler.ti("flaky")
        assert (ti.state, ti.try_number, ti.next_event_at) == ("up_for_retry", try_number, ti.end_date + dt.timedelta(seconds=10))
        history.append((ti.try_number, ti.state))
        scheduler.clock.advance(9)
        scheduler.run()
        assert scheduler.tis() == {"flaky": ("up_for_retry", try_number)}
        scheduler.clock.advance(1)
        scheduler.run()
        assert scheduler.tis() == {"flaky": ("running", try_number + 1)}
    scheduler.clock.advance(1)
    scheduler.run()
    assert scheduler.tis() == {"flaky": ("success", 3)}
    assert scheduler.run_row().state == "success"
    tries = client.get("/api/v1/dags/d/dagRuns/r1/taskInstances/flaky/tries", headers=admin_headers).json
    assert [(t["try_number"], t["state"], t["duration"]) for t in tries["task_instances"]] == [
        (1, "failed", 1.0), (2, "failed", 1.0), (3, "success", 1.0),
    ]
    assert [e[0] for e in scheduler.events() if e[1]] == ["running", "failed"] * 2 + ["running", "success"]
    assert "{taskinstance.py:2306} INFO - Starting attempt 2 of 3" in messages(scheduler.log_text("flaky", 2))
    assert any("Marking task as UP_FOR_RETRY." in line for line in messages(scheduler.log_text("flaky", 1)))


def test_exponential_backoff_doubles_the_delay_up_to_max_retry_delay(scheduler):
    scheduler.dags(d="""\
        dag_id: d
        tasks:
          - {task_id: t, outcome: failed, retries: 3, retry_delay: 10, retry_exponential_backoff: true, max_retry_delay: 25}
        """)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    delays = []
    for _ in range(3):
        scheduler.run()
        ti = scheduler.ti("t")
        delays.append((ti.next_event_at - ti.end_date).total_seconds())
        scheduler.clock.advance(delays[-1])
    task = load_dag_spec("d").task("t")
    # Airflow's spread: between 1x and 2x the doubled delay, so 10-20 s, then 20-40 s, 40-80 s, capped at 25 s.
    assert 10 <= delays[0] < 20
    assert 20 <= delays[1] <= 25
    assert delays[2] == 25
    assert delays[0] == simulation.retry_delay(task, type("TI", (), {"dag_id": "d", "task_id": "t", "try_number": 1})(),
                                               scheduler.run_row().execution_date)
    scheduler.run()
    assert scheduler.tis() == {"t": ("failed", 4)}
    assert scheduler.run_row().state == "failed"


def test_simulation_speed_scales_durations(scheduler):
    scheduler.dags(d="dag_id: d\ntasks: [{task_id: t, duration: 10}]\n")
    scheduler.loop.speed = 4
    scheduler.trigger("d")
    scheduler.run()
    ti = scheduler.ti("t")
    assert ti.next_event_at - ti.start_date == dt.timedelta(seconds=2.5)


def test_execution_timeout_fails_the_try_and_the_retry_runs(scheduler):
    scheduler.dags(d="""\
        dag_id: d
        tasks:
          - {task_id: slow, duration: 100, execution_timeout: 5, retries: 1, retry_delay: 0}
        """)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    scheduler.clock.advance(5)
    scheduler.run()
    assert scheduler.tis() == {"slow": ("running", 2)}
    first = db.session.execute(select(TaskInstanceHistory)).scalar_one()
    assert (first.try_number, first.state, first.duration) == (1, "failed", 5.0)
    log = messages(scheduler.log_text("slow", 1))
    assert f"{{timeout.py:68}} ERROR - Timeout, PID: {scheduler.loop.pid}" in log
    assert f"airflow.exceptions.AirflowTaskTimeout: Timeout, PID: {scheduler.loop.pid}" in log
    scheduler.clock.advance(5)
    scheduler.run()
    assert scheduler.tis() == {"slow": ("failed", 2)}
    assert scheduler.run_row().state == "failed"


def test_dagrun_timeout_fails_the_run_and_skips_what_is_unfinished(scheduler):
    scheduler.dags(d="""\
        dag_id: d
        dagrun_timeout: 10
        tasks:
          - {task_id: a, duration: 100}
          - {task_id: b, upstream: [a]}
        """)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    scheduler.clock.advance(10)
    scheduler.run()
    assert scheduler.run_row().state == "running"
    scheduler.clock.advance(1)
    scheduler.run()
    assert scheduler.run_row().state == "failed"
    assert scheduler.tis() == {"a": ("skipped", 1), "b": ("skipped", 0)}
    assert "{local_task_job_runner.py:302} WARNING - State of this instance has been externally set to skipped. " \
           "Terminating instance." in messages(scheduler.log_text("a"))
    assert scheduler.events()[-1] == ("dagrun_failed", None, None, None)
    # The try that was cut short is not ended again when its planned end comes.
    scheduler.clock.advance(100)
    scheduler.run()
    assert scheduler.tis() == {"a": ("skipped", 1), "b": ("skipped", 0)}


def test_a_dag_is_paused_after_max_consecutive_failed_dag_runs(scheduler):
    scheduler.dags(d="dag_id: d\nmax_consecutive_failed_dag_runs: 2\ntasks: [{task_id: t, outcome: failed}]\n")
    scheduler.trigger("d", "r1", logical_date=scheduler.clock() - dt.timedelta(hours=1))
    scheduler.run_until_idle()
    assert db.session.get(DagModel, "d").is_paused is False
    scheduler.trigger("d", "r2")
    scheduler.run_until_idle()
    db.session.expire_all()
    assert scheduler.run_states() == {"r1": "failed", "r2": "failed"}
    assert db.session.get(DagModel, "d").is_paused is True


def test_a_task_added_to_the_dag_gets_a_task_instance_in_running_runs(scheduler):
    scheduler.dags(d="dag_id: d\ntasks: [{task_id: a, duration: 10}]\n")
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.run()
    scheduler.dags(d="dag_id: d\ntasks: [{task_id: a, duration: 10}, {task_id: b, upstream: [a]}]\n")
    scheduler.run()
    assert scheduler.tis() == {"a": ("running", 1), "b": (None, 0)}
    assert db.session.execute(select(TaskInstance.priority_weight).where(TaskInstance.task_id == "b")).scalar() == 1
