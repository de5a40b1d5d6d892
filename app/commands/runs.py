"""`stableflow dags list-runs`, `stableflow tasks states-for-dag-run` and `stableflow tasks clear`,
named and flagged as Airflow's commands are."""
from __future__ import annotations

import contextlib
import datetime as dt
import re

import click
from sqlalchemy import select

from app.commands.resources import _print_rows
from app.extensions import db
from app.models import DagRun, TaskInstance

OUTPUT = click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)


@contextlib.contextmanager
def _database():
    from app.cli import app_context  # not at import time: app.cli may run as __main__

    with app_context():
        yield


def _when(value: dt.datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _date(text: str | None) -> dt.datetime | None:
    """A command-line date; without an offset it is UTC."""
    if text is None:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@click.command("list-runs")
@click.option("-d", "--dag-id", required=True, help="The DAG whose runs to list.")
@click.option("--state", help="Only runs in this state (queued, running, success, failed).")
@click.option("-s", "--start-date", help="Only runs with a logical date at or after this (ISO 8601).")
@click.option("-e", "--end-date", help="Only runs with a logical date at or before this (ISO 8601).")
@OUTPUT
def list_runs(dag_id, state, start_date, end_date, output):
    """List a DAG's runs, newest logical date first."""
    try:
        start, end = _date(start_date), _date(end_date)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with _database():
        stmt = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.execution_date.desc())
        if state:
            stmt = stmt.where(DagRun.state == state)
        if start:
            stmt = stmt.where(DagRun.execution_date >= start)
        if end:
            stmt = stmt.where(DagRun.execution_date <= end)
        rows = [
            {
                "dag_id": r.dag_id, "run_id": r.run_id, "state": r.state, "execution_date": _when(r.execution_date),
                "start_date": _when(r.start_date), "end_date": _when(r.end_date),
            }
            for r in db.session.execute(stmt).scalars()
        ]
    _print_rows(rows, output)


@click.group("tasks")
def tasks_group():
    """Inspect and clear task instances."""


@tasks_group.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@OUTPUT
def states_for_dag_run(dag_id, run_id, output):
    """Show the state of every task instance of a run."""
    with _database():
        run = db.session.execute(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).scalar()
        if run is None:
            raise click.ClickException(f"DagRun {run_id} of DAG {dag_id} does not exist")
        tis = db.session.execute(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        ).scalars()
        rows = [
            {
                "dag_id": ti.dag_id, "execution_date": _when(run.execution_date), "task_id": ti.task_id,
                "map_index": ti.map_index, "state": ti.state or "", "start_date": _when(ti.start_date),
                "end_date": _when(ti.end_date),
            }
            for ti in tis
        ]
    _print_rows(rows, output)


@tasks_group.command("clear")
@click.argument("dag_id")
@click.option("-t", "--task-regex", help="Only tasks whose id matches this regular expression.")
@click.option("-s", "--start-date", help="Only runs with a logical date at or after this (ISO 8601).")
@click.option("-e", "--end-date", help="Only runs with a logical date at or before this (ISO 8601).")
@click.option("-f", "--only-failed", is_flag=True, help="Only failed (and upstream_failed) task instances.")
@click.option("-r", "--only-running", is_flag=True, help="Only running task instances.")
@click.option("-u", "--upstream", is_flag=True, help="Include the matched tasks' upstream tasks.")
@click.option("-d", "--downstream", is_flag=True, help="Include the matched tasks' downstream tasks.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(dag_id, task_regex, start_date, end_date, only_failed, only_running, upstream, downstream, yes):
    """Clear task instances so they run again (their runs are queued again)."""
    from app import runs
    from app.dags.structure import load_dag_spec

    try:
        start, end = _date(start_date), _date(end_date)
        pattern = re.compile(task_regex) if task_regex else None
    except (ValueError, re.error) as exc:
        raise click.BadParameter(str(exc)) from None
    with _database():
        spec = load_dag_spec(dag_id)
        if spec is None:
            raise click.ClickException(f"DAG {dag_id} not found")
        task_ids = None
        if pattern is not None:
            matched = [t for t in spec.task_ids if pattern.search(t)]
            task_ids = runs.task_relatives(spec, matched, upstream=upstream, downstream=downstream)
        states = ("failed", "upstream_failed") if only_failed else ("running",) if only_running else None
        tis = runs.select_task_instances(dag_id, task_ids=task_ids, start_date=start, end_date=end, states=states)
        if not tis:
            click.echo("No task instances to clear")
            return
        for ti in tis:
            click.echo(f"<TaskInstance: {ti.dag_id}.{ti.task_id} {ti.run_id} map_index={ti.map_index} [{ti.state}]>")
        if not yes and not click.confirm(f"Clear these {len(tis)} task instances?"):
            click.echo("Cancelled, nothing was cleared.")
            return
        runs.clear_task_instances(tis, specs={dag_id: spec})
        db.session.commit()
        click.echo(f"Cleared {len(tis)} task instances")


def register(cli: click.Group) -> None:
    """Add `tasks`, and `list-runs` to the `dags` group (made here if no other module made it)."""
    cli.add_command(tasks_group)
    dags = cli.commands.get("dags")
    if dags is None:
        dags = click.Group("dags", help="Inspect and manage DAGs.")
        cli.add_command(dags)
    dags.add_command(list_runs)
