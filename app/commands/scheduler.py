"""`stableflow scheduler`: the long-running process that moves DAG runs forward."""
from __future__ import annotations

import sys

import click


@click.command("scheduler")
@click.option("-n", "--num-runs", type=click.IntRange(min=1), default=None,
              help="Stop after this many loops (default: run until stopped).")
def scheduler_command(num_runs):
    """Run the scheduler: create, start and simulate DAG runs until Ctrl-C or SIGTERM."""
    from app import create_app
    from app.scheduler.job import SchedulerAlreadyRunning, SchedulerJob

    job = SchedulerJob(create_app(api=False))
    job.install_signal_handlers()
    try:
        job.run(num_runs)
    except SchedulerAlreadyRunning as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
