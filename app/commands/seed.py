"""`stableflow seed FILE...`: start a database from a known state (see app/seed.py, docs/testing.md)."""
from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError


@click.command("seed")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--migrate", is_flag=True, help="Create or upgrade the schema first, as `db migrate` does.")
def seed_command(files, migrate):
    """Load roles, users, pools, variables, connections, DAG pause states and DAG runs from FILES
    (YAML or JSON), in order, in one transaction: a bad entry anywhere changes nothing.

    The DAG folder is parsed first, as the scheduler would, so that the files can pause, unpause
    and run its DAGs.
    """
    from app import db_commands
    from app.cli import app_context  # not at import time: app.cli may run as __main__
    from app.dags import processor
    from app.extensions import db
    from app.runs.logs import write_try_log
    from app.seed import SeedError, read_seed_file, seed

    try:
        sections = [read_seed_file(path) for path in files]
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    with app_context() as app:
        conf = app.extensions["stableflow.conf"]
        if migrate:
            db_commands.migrate()
        processor.process_folder(conf)
        try:
            results = [seed(data, conf) for data in sections]
            db.session.commit()
        except SeedError as exc:
            db.session.rollback()
            raise click.ClickException(f"Nothing seeded: {exc}") from None
        except SQLAlchemyError as exc:
            db.session.rollback()
            # The driver's message only: the statement's parameters may hold secrets.
            reason = getattr(exc, "orig", None) or exc.__class__.__name__
            raise click.ClickException(f"Nothing seeded: the database refused it: {reason}") from None
        for result in results:
            for ref, lines in result.logs:
                write_try_log(conf, ref, lines)
    totals: dict[str, int] = {}
    for result in results:
        for section, count in result.counts.items():
            totals[section] = totals.get(section, 0) + count
    summary = ", ".join(f"{count} {section}" for section, count in totals.items()) or "nothing"
    click.echo(f"Seeded {summary}")
