"""`stableflow dags list|show|pause|unpause|trigger|delete|reserialize|list-import-errors`.

The commands mirror `airflow dags ...`: the same names, arguments and the flags that make sense
for declarative DAG files.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys

import click
from sqlalchemy import select

# The shared CLI plumbing (a database app context, tables or JSON) of the resource commands.
from app.commands.resources import _database, _print_rows
from app.errors import ProblemError
from app.extensions import db
from app.models import DagModel, ImportErrorRecord

OUTPUT = click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
# Folders with more files than this get a progress bar while they are parsed.
PROGRESS_THRESHOLD = 200


@click.group("dags")
def dags_group():
    """Inspect and manage the DAGs parsed from the DAG folder."""


@dags_group.command("list")
@OUTPUT
@click.option("--include-inactive", is_flag=True, help="Also list DAGs whose file is gone.")
def list_dags(output, include_inactive):
    """List the DAGs."""
    with _database():
        stmt = select(DagModel).order_by(DagModel.dag_id)
        if not include_inactive:
            stmt = stmt.where(DagModel.is_active)
        rows = [
            {"dag_id": d.dag_id, "fileloc": d.fileloc, "owners": d.owners or "", "is_paused": d.is_paused}
            for d in db.session.execute(stmt).scalars()
        ]
    _print_rows(rows, output)


@dags_group.command("list-import-errors")
@OUTPUT
def list_import_errors(output):
    """List the DAG files that failed to parse, with their errors."""
    with _database():
        stmt = select(ImportErrorRecord).order_by(ImportErrorRecord.filename)
        rows = [{"filepath": e.filename, "error": e.stack_trace} for e in db.session.execute(stmt).scalars()]
    _print_rows(rows, output)


@dags_group.command("show")
@click.argument("dag_id")
def show_dag(dag_id):
    """Print a DAG's task graph in Graphviz DOT format."""
    from app.dags.structure import load_dag_spec

    with _database():
        spec = load_dag_spec(dag_id)
    if spec is None:
        raise click.ClickException(f"Dag {dag_id!r} could not be found; either it does not exist or it failed to parse.")
    click.echo(dot_graph(spec))


def dot_graph(spec) -> str:
    lines = [f"digraph {_dot_id(spec.dag_id)} {{", f"\tgraph [label={_dot_id(spec.dag_id)} labelloc=t rankdir=LR]"]
    for task in spec.tasks:
        lines.append(
            f'\t{_dot_id(task.task_id)} [color="{task.ui_fgcolor}" fillcolor="{task.ui_color}" '
            f'label={_dot_id(task.task_id)} shape=rectangle style="filled,rounded"]'
        )
    for task in spec.tasks:
        for downstream in task.downstream:
            lines.append(f"\t{_dot_id(task.task_id)} -> {_dot_id(downstream)}")
    lines.append("}")
    return "\n".join(lines)


def _dot_id(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f'"{name}"'


def _set_paused(dag_id: str, paused: bool, as_regex: bool, yes: bool, output: str) -> None:
    from app.dags.operations import set_paused

    with _database():
        if as_regex:
            pattern = re.compile(dag_id)
            active = db.session.execute(select(DagModel.dag_id).where(DagModel.is_active)).scalars()
            ids = sorted(d for d in active if pattern.search(d))
        else:
            ids = [dag_id] if db.session.get(DagModel, dag_id) is not None else []
        if not ids:
            raise click.ClickException(f"No DAG matches {dag_id!r}")
        if as_regex and not yes:
            click.confirm(f"You are about to {'pause' if paused else 'unpause'} {len(ids)} DAGs: {', '.join(ids)}. "
                          "Continue?", abort=True)
        set_paused(ids, paused)
        db.session.commit()
    _print_rows([{"dag_id": d, "is_paused": paused} for d in ids], output)


REGEX = click.option("--treat-dag-id-as-regex", "as_regex", is_flag=True, help="DAG_ID is a regular expression.")
YES = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")


def _pause_command(name: str, paused: bool) -> click.Command:
    """`dags pause` and `dags unpause`: one command but for the state it sets."""

    @dags_group.command(name, help=f"{name.capitalize()} a DAG (or every DAG matching a regular expression).")
    @click.argument("dag_id")
    @REGEX
    @YES
    @OUTPUT
    def command(dag_id, as_regex, yes, output):
        _set_paused(dag_id, paused, as_regex, yes, output)

    return command


pause_dag = _pause_command("pause", paused=True)
unpause_dag = _pause_command("unpause", paused=False)


@dags_group.command("delete")
@click.argument("dag_id")
@YES
def delete_dag(dag_id, yes):
    """Delete a DAG's metadata and runs (its file is parsed again on the next pass)."""
    from app.dags import operations

    if not yes:
        click.confirm("This will drop all existing records related to the specified DAG. Proceed?", abort=True)
    with _database():
        try:
            operations.delete_dag(dag_id)
        except operations.DagNotFound:
            raise click.ClickException(f"Dag id {dag_id} not found") from None
        except operations.DagHasRunningTasks:
            raise click.ClickException(f"Task instances of dag with id: '{dag_id}' are still running") from None
        db.session.commit()
    click.echo(f"Deleted DAG {dag_id}")


@dags_group.command("trigger")
@click.argument("dag_id")
@click.option("-r", "--run-id", default=None, help="The run id (default manual__<logical date>).")
@click.option("-c", "--conf", "conf_json", default=None, help="JSON object passed to the run as its conf.")
@click.option("-e", "--exec-date", "logical_date", default=None, help="Logical date, ISO 8601 with an offset.")
@OUTPUT
def trigger_dag(dag_id, run_id, conf_json, logical_date, output):
    """Create a manual run of a DAG (the scheduler starts it)."""
    try:
        from app.runs import trigger_dag_run
    except ImportError:
        raise click.ClickException("Triggering needs the run API (app.runs), which this installation lacks") from None
    try:
        conf = json.loads(conf_json) if conf_json else None
        when = dt.datetime.fromisoformat(logical_date) if logical_date else None
    except ValueError as exc:
        raise click.ClickException(f"Invalid --conf or --exec-date: {exc}") from None
    with _database():
        try:
            run = trigger_dag_run(dag_id, run_id=run_id, logical_date=when, conf=conf)
            db.session.commit()
        except ProblemError as exc:
            raise click.ClickException(exc.detail or exc.title) from None
        row = {
            "dag_id": run.dag_id,
            "dag_run_id": run.run_id,
            "logical_date": run.execution_date.isoformat(),
            "data_interval_start": run.data_interval_start.isoformat(),
            "data_interval_end": run.data_interval_end.isoformat(),
            "run_type": run.run_type,
            "state": run.state,
            "conf": run.conf or {},
        }
    _print_rows([row], output)


@dags_group.command("reserialize")
def reserialize():
    """Parse every DAG file again, changed or not."""
    from app.dags import processor

    with _database() as conf:
        total = len(processor.list_dag_files(conf))
        if total > PROGRESS_THRESHOLD:
            with click.progressbar(length=total, label="Parsing DAG files", file=sys.stderr) as bar:
                result = processor.process_folder(conf, force=True, progress=bar.update)
        else:
            result = processor.process_folder(conf, force=True)
    click.echo(
        f"Parsed {result.files_parsed} files: {result.dags} DAGs, {result.import_errors} files with import errors, "
        f"{result.deactivated} DAGs deactivated, {result.files_removed} files gone"
    )
    for error in result.errors:
        click.echo(error, err=True)
