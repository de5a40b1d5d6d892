"""The `stableflow` command line, mirroring the `airflow` commands people know."""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time

import click

from app.config import ConfigError, UnknownOption, load_config
from app.version import __version__


@contextlib.contextmanager
def app_context():
    """A database-only app (no Connexion) for commands that touch the metadata database."""
    from app import create_app
    from app.extensions import db

    app = create_app(api=False)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """stableflow: a standalone server for Apache Airflow's Stable REST API (v1)."""


def main() -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        cli.main(prog_name="stableflow")
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except DBAPIError as exc:
        click.echo(f"error: {database_error(exc)}", err=True)
        sys.exit(1)


def database_error(exc) -> str:
    """The database's own message instead of a traceback, with the way out when the schema is
    missing or behind."""
    from app.errors import database_message

    message = database_message(exc)
    if "no such table" in message or "does not exist" in message:
        return f"{message}: the database has no stableflow schema, or an older one; run `stableflow db migrate`"
    return message


# -- version -----------------------------------------------------------------------------------
@cli.command()
def version():
    """Print stableflow's version."""
    click.echo(__version__)


# -- config ------------------------------------------------------------------------------------
@cli.group()
def config():
    """Read the effective configuration."""


@config.command("get-value")
@click.argument("section")
@click.argument("key")
def config_get_value(section, key):
    """Print the effective value of SECTION KEY (after files and environment)."""
    conf = load_config()
    try:
        click.echo(conf.get(section, key))
    except UnknownOption as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@config.command("list")
@click.option("--section", default=None, help="Only this section.")
def config_list(section):
    """Print the effective configuration as INI."""
    conf = load_config()
    if section and not conf.has_section(section):
        click.echo(f"The section [{section.lower()}] is not found in config.", err=True)
        sys.exit(1)
    click.echo(conf.as_ini(section), nl=False)


# -- db ----------------------------------------------------------------------------------------
@cli.group()
def db():
    """Manage the metadata database."""


@db.command("migrate")
def db_migrate():
    """Create or upgrade the schema (safe to run twice, and from several nodes at once)."""
    from app import db_commands

    with app_context():
        db_commands.migrate()
        click.echo(f"Database migrated to {db_commands.head_revision()}")


@db.command("check")
def db_check():
    """Exit non-zero unless the database is reachable and fully migrated."""
    from app import db_commands

    with app_context():
        ok, message = db_commands.check()
    click.echo(message, err=not ok)
    sys.exit(0 if ok else 1)


@db.command("reset")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def db_reset(yes):
    """Drop every table and migrate again. All data is lost."""
    if not yes:
        click.confirm("This drops every table of the metadata database. Continue?", abort=True)
    from app import db_commands

    with app_context():
        db_commands.reset()
    click.echo("Database reset")


# -- web server --------------------------------------------------------------------------------
def gunicorn_command(port=None, host=None, workers=None) -> list[str]:
    from app.paths import gunicorn_config_path

    conf = load_config()
    host = host or conf.get("webserver", "web_server_host")
    port = port or conf.getint("webserver", "web_server_port")
    workers = workers or conf.getint("webserver", "workers")
    return [
        sys.executable, "-m", "gunicorn",
        "-c", str(gunicorn_config_path()),
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "app:create_app()",
    ]


@cli.command()
@click.option("-p", "--port", type=int, default=None, help="Port (default [webserver] web_server_port).")
@click.option("-H", "--hostname", "host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("-w", "--workers", type=int, default=None, help="gunicorn worker processes.")
def webserver(port, host, workers):
    """Serve the API under gunicorn."""
    check_auth_backends()
    cmd = gunicorn_command(port, host, workers)
    os.execv(cmd[0], cmd)


def check_auth_backends() -> None:
    """Stop with one line naming the module if an auth backend cannot be imported (or the option
    if an auth option is unusable).

    Every gunicorn worker would otherwise fail on it at boot, burying the cause in tracebacks.
    """
    from app.security import check_auth_options, load_backends

    conf = load_config()
    check_auth_options(conf)
    load_backends(conf.getlist("api", "auth_backends"))


# -- standalone --------------------------------------------------------------------------------
STANDALONE_BACKENDS = "auth_backends.basic_auth,auth_backends.session"


def _standalone_password(home) -> str:
    path = home / "standalone_admin_password.txt"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def _prepare_standalone() -> str:
    """Migrate, make sure `admin` exists with the saved password, load the DAG folder."""
    from app import db_commands
    from app.users import create_user, find_user

    with app_context() as app:
        conf = app.extensions["stableflow.conf"]
        db_commands.migrate()
        password = _standalone_password(conf.home)
        from app.extensions import db as database
        from app.passwords import hash_password, verify_password

        user = find_user("admin")
        if user is None:
            create_user("admin", password, roles=["Admin"], email="admin@example.com", first_name="Admin")
        elif not verify_password(user.id, user.password, password):
            user.password = hash_password(password)
        database.session.commit()
        try:
            from app.dags.processor import process_folder
        except ImportError:  # the DAG processor arrives with the DAGs feature
            pass
        else:
            process_folder(conf)
    return password


def _standalone_env() -> dict:
    env = dict(os.environ)
    conf = load_config()
    user_file_sets_backends = False
    if conf.user_file is not None:
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        parser.read(conf.user_file)
        user_file_sets_backends = parser.has_option("api", "auth_backends")
    if "STABLEFLOW__API__AUTH_BACKENDS" not in env and not user_file_sets_backends:
        # deny_all would make the printed admin password useless.
        env["STABLEFLOW__API__AUTH_BACKENDS"] = STANDALONE_BACKENDS
    return env


@cli.command()
def standalone():
    """Migrate, create `admin`, load the examples and serve (with the scheduler, when present)."""
    env = _standalone_env()
    os.environ.update(env)
    check_auth_backends()
    password = _prepare_standalone()
    conf = load_config()
    click.echo("stableflow standalone")
    click.echo("username: admin")
    click.echo(f"password: {password}")
    click.echo(
        f"serving http://{conf.get('webserver', 'web_server_host')}:"
        f"{conf.getint('webserver', 'web_server_port')}/api/v1/ (Ctrl-C stops)"
    )
    sys.stdout.flush()
    children = [subprocess.Popen(gunicorn_command(), env=env)]
    scheduler = _scheduler_command()
    if scheduler:
        children.append(subprocess.Popen(scheduler, env=env))
    _supervise(children)


def _scheduler_command() -> list[str] | None:
    try:
        import app.scheduler.job  # noqa: F401
    except ImportError:  # the scheduler arrives with its own feature
        return None
    return [sys.executable, "-m", "app.cli", "scheduler"]


def _supervise(children: list[subprocess.Popen]) -> None:
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    codes = [child.returncode for child in children]
    sys.exit(0 if stopping else next((c for c in codes if c), 0))


# -- command groups defined in other modules; each slice replaces its own marker line ----------
from app.commands.users import roles_group, users_group  # noqa: E402

cli.add_command(users_group)
cli.add_command(roles_group)
from app.commands.resources import COMMANDS as _RESOURCE_COMMANDS  # noqa: E402

for _command in _RESOURCE_COMMANDS:
    cli.add_command(_command)
from app.commands.dags import dags_group  # noqa: E402

cli.add_command(dags_group)
from app.commands.runs import register as _register_runs  # noqa: E402

_register_runs(cli)
from app.commands.scheduler import scheduler_command  # noqa: E402

cli.add_command(scheduler_command)
from app.commands.seed import seed_command  # noqa: E402

cli.add_command(seed_command)


if __name__ == "__main__":
    main()
