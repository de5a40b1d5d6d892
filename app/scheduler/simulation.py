"""How a simulated try behaves: how long it takes, how it ends, when it is retried, what it logs.

A try's duration is drawn from a random generator seeded with the try's identity, so the same
try always plans the same way: the scheduler that ends a try recomputes the plan of the one that
started it, and nothing about a running try has to be stored besides when it ends.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass

from app.dags.structure import TaskSpec
from app.runs.logs import format_log_line

# Airflow's cap on a backed-off retry delay (24 hours).
MAX_RETRY_DELAY = 24 * 60 * 60


@dataclass(frozen=True)
class TryPlan:
    duration: float  # simulated seconds, cut at execution_timeout
    outcome: str  # success, failed or skipped
    timed_out: bool = False


def plan_try(task: TaskSpec, ti) -> TryPlan:
    """What the current try of `ti` does, from its task's description."""
    rng = random.Random(f"{ti.dag_id}|{ti.run_id}|{ti.task_id}|{ti.map_index}|{ti.try_number}")
    low, high = task.duration
    duration = rng.uniform(low, high) if high > low else float(low)
    if task.execution_timeout is not None and duration > task.execution_timeout:
        return TryPlan(float(task.execution_timeout), "failed", timed_out=True)
    outcome = task.outcome
    if outcome == "flaky":
        outcome = "failed" if ti.try_number <= task.fail_tries else "success"
    return TryPlan(duration, outcome)


def wall_seconds(simulated: float, speed: float) -> float:
    """Real seconds that `simulated` seconds take at `[scheduler] simulation_speed` (0: none)."""
    return 0.0 if speed <= 0 else simulated / speed


def retry_delay(task: TaskSpec, ti, logical_date: dt.datetime) -> float:
    """Simulated seconds before the next try, as Airflow's next_retry_datetime computes them.

    With exponential backoff the delay doubles each try and gets a deterministic spread of up to
    the same amount again, capped by `max_retry_delay` (and 24 hours).
    """
    delay = task.retry_delay
    if task.retry_exponential_backoff:
        min_backoff = max(1, math.ceil(delay * 2 ** (ti.try_number - 1)))
        key = f"{ti.dag_id}#{ti.task_id}#{logical_date.isoformat()}#{ti.try_number}"
        spread = int(hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest(), 16) % min_backoff
        delay = min(min_backoff + spread, MAX_RETRY_DELAY)
        if task.max_retry_delay:
            delay = min(delay, task.max_retry_delay)
    return float(delay)


# -- log lines, worded as Airflow's task runner words them --------------------------------------
def _ti_repr(ti, state: str) -> str:
    mapped = f" map_index={ti.map_index}" if ti.map_index >= 0 else ""
    return f"<TaskInstance: {ti.dag_id}.{ti.task_id} {ti.run_id}{mapped} [{state}]>"


def start_lines(ti, task: TaskSpec, *, logical_date: dt.datetime, fileloc: str, hostname: str, pid: int,
                job_id: int, when: dt.datetime) -> list[str]:
    """The header Airflow writes before a try runs its task."""
    subdir = "DAGS_FOLDER/" + fileloc.rsplit("/", 1)[-1]
    command = ["airflow", "tasks", "run", ti.dag_id, ti.task_id, ti.run_id, "--job-id", str(job_id), "--raw",
               "--subdir", subdir]
    if ti.map_index >= 0:
        command += ["--map-index", str(ti.map_index)]
    messages = [
        ("taskinstance.py:2076", f"Dependencies all met for dep_context=non-requeueable deps ti={_ti_repr(ti, 'queued')}"),
        ("taskinstance.py:2076", f"Dependencies all met for dep_context=requeueable deps ti={_ti_repr(ti, 'queued')}"),
        ("taskinstance.py:2306", f"Starting attempt {ti.try_number} of {ti.max_tries + 1}"),
        ("taskinstance.py:2330", f"Executing <Task({task.operator}): {ti.task_id}> on {logical_date.isoformat(sep=' ')}"),
        ("standard_task_runner.py:63", f"Started process {pid} to run task"),
        ("standard_task_runner.py:90", f"Running: {command}"),
        ("task_command.py:426", f"Running {_ti_repr(ti, 'running')} on host {hostname}"),
        ("taskinstance.py:2648", "Exporting env vars: " + " ".join([
            f"AIRFLOW_CTX_DAG_OWNER='{task.owner}'", f"AIRFLOW_CTX_DAG_ID='{ti.dag_id}'",
            f"AIRFLOW_CTX_TASK_ID='{ti.task_id}'", f"AIRFLOW_CTX_EXECUTION_DATE='{logical_date.isoformat()}'",
            f"AIRFLOW_CTX_TRY_NUMBER='{ti.try_number}'", f"AIRFLOW_CTX_DAG_RUN_ID='{ti.run_id}'",
        ])),
    ]
    return [format_log_line(message, when=when, source=source) for source, message in messages]


def task_lines(task: TaskSpec, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The task's own log lines, spread over the try's duration."""
    source = "subprocess.py:93" if task.operator == "BashOperator" else "logging_mixin.py:188"
    step = (end - start) / (len(task.log) + 1)
    return [format_log_line(line, when=start + step * (i + 1), source=source) for i, line in enumerate(task.log)]


def end_lines(ti, plan: TryPlan, state: str, *, logical_date: dt.datetime, job_id: int, pid: int,
              when: dt.datetime) -> list[str]:
    """The footer of a try that ended in `state` (success, skipped, failed or up_for_retry)."""
    lines = []
    if plan.timed_out:
        lines.append(format_log_line(f"Timeout, PID: {pid}", when=when, level="ERROR", source="timeout.py:68"))
    if plan.outcome == "failed":
        error = f"AirflowTaskTimeout: Timeout, PID: {pid}" if plan.timed_out else "AirflowException: Task failed (simulated)"
        lines.append(format_log_line("Task failed with exception", when=when, level="ERROR", source="taskinstance.py:2905"))
        lines.append(f"airflow.exceptions.{error}")
    stamp = "%Y%m%dT%H%M%S"
    mapped = f", map_index={ti.map_index}" if ti.map_index >= 0 else ""
    lines.append(format_log_line(
        f"Marking task as {state.upper()}. dag_id={ti.dag_id}, task_id={ti.task_id}, run_id={ti.run_id}{mapped}, "
        f"execution_date={logical_date.strftime(stamp)}, start_date={ti.start_date.strftime(stamp)}, "
        f"end_date={when.strftime(stamp)}",
        when=when, source="taskinstance.py:1206",
    ))
    if plan.outcome == "failed":
        lines.append(format_log_line(
            f"Failed to execute job {job_id} for task {ti.task_id} ({error}; {pid})",
            when=when, level="ERROR", source="standard_task_runner.py:110",
        ))
    code = 1 if plan.outcome == "failed" else 0
    lines.append(format_log_line(f"Task exited with return code {code}", when=when, source="local_task_job_runner.py:243"))
    return lines


def externally_set_line(state: str, when: dt.datetime) -> str:
    """What a running try logs when its state was changed under it (cleared, timed-out run)."""
    return format_log_line(
        f"State of this instance has been externally set to {state}. Terminating instance.",
        when=when, level="WARNING", source="local_task_job_runner.py:302",
    )
