"""Runs and task instances: the one place their states change, for the API, the CLI and the scheduler.

Nothing here commits; the caller's transaction decides. Errors are `app.errors` exceptions with
Airflow's wording (a CLI prints their `detail`).

Interface:

- `trigger_dag_run(dag_id, *, run_id=None, logical_date=None, data_interval=None, conf=None,
  note=None, external_trigger=True, run_type="manual", state="queued", now=None) -> DagRun`:
  a new run with its task instances (see trigger.py for the rules and errors).
- `triggerable_dag(dag_id) -> (spec, dag_hash)`, `new_dag_run(spec, dag_hash, **same keywords)`,
  `insert_dag_runs(runs, tis)`: the steps of trigger_dag_run, for callers adding many runs at
  once (the bench's loader): checked, unsaved rows, then two flushes whatever their number.
- `new_task_instances(run, spec)` / `create_task_instances(run, spec)`: a run's task instances,
  one per map index of a mapped task (unsaved / added to the session).
- `mark_run_state(run, state, now)`, `mark_ti_state(ti, state, now)`: one row, with Airflow's dates.
- `mark_scheduled(ti)` (the next try gets its number, as in Airflow 2.10+),
  `mark_running(ti, now, hostname=..., pid=..., job_id=...)`: a try starting.
- `set_dag_run_state(run, state)`: success / failed / queued with the run's task instances.
- `clear_task_instances(tis, run_state="queued")`, `select_task_instances(dag_id, ...)`,
  `set_task_instance_state(spec, run, task_id, state, ...)`, `archive_tries(tis)`.
- `register_dataset_event(dataset, extra=..., source=ti)`, `register_outlet_events(ti, uris)`.
- `delete_dag_run(run, conf)`: a run with everything that hangs off it, log files included.
- `record_task_event(ti, event, extra=None)`, `record_run_event(run, event)`: event-log entries.
- Logs: `app.runs.logs` (`write_try_log`, `format_log_line`, `try_log_path`, `delete_run_logs`).
"""
from __future__ import annotations

from app.runs.dag_runs import (
    create_task_instances,
    delete_dag_run,
    insert_dag_runs,
    new_dag_run,
    new_task_instances,
    trigger_dag_run,
    triggerable_dag,
    validate_conf,
)
from app.runs.datasets import dataset_by_uri, register_dataset_event, register_outlet_events
from app.runs.events import record_run_event, record_task_event
from app.runs.transitions import (
    archive_tries,
    clear_task_instances,
    mark_run_state,
    mark_running,
    mark_scheduled,
    mark_ti_state,
    requeue_runs,
    run_task_instances,
    select_task_instances,
    set_dag_run_state,
    set_task_instance_state,
    task_relatives,
)

__all__ = [
    "archive_tries", "clear_task_instances", "create_task_instances", "dataset_by_uri", "delete_dag_run",
    "insert_dag_runs", "new_dag_run", "triggerable_dag",
    "mark_run_state", "mark_running", "mark_scheduled", "mark_ti_state", "new_task_instances", "record_run_event", "record_task_event",
    "register_dataset_event", "register_outlet_events", "requeue_runs", "run_task_instances",
    "select_task_instances", "set_dag_run_state", "set_task_instance_state", "task_relatives",
    "trigger_dag_run", "validate_conf",
]
