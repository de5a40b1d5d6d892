"""`stableflow pools|variables|connections`: list, get, set, delete, import FILE, export FILE.

Import and export files use the JSON layouts of Airflow's CLI, so a file exported by
`airflow pools|variables|connections export` loads unchanged, and ours load into Airflow:

    pools        {"name": {"slots": 8, "description": "...", "include_deferred": false}}
    variables    {"key": "value"}   (values that are JSON are written as JSON, as Airflow does)
    connections  {"conn_id": {"conn_type": ..., "description": ..., "login": ..., "password": ...,
                              "host": ..., "port": ..., "schema": ..., "extra": "..."}}

An import checks every entry before it writes anything, then writes all of them in one
transaction: a malformed file, or one bad entry, changes nothing and the error names the entry.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import click
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from app import connections as conn_rules
from app.errors import ProblemError
from app.extensions import db
from app.models import Connection, Pool, Variable
from app.queries import load_or_400, upsert
from app.schemas.connection_schema import connection_body_schema
from app.schemas.pool_schema import pool_body_schema
from app.schemas.variable_schema import variable_body_schema

DEFAULT_POOL = "default_pool"
OUTPUT = click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)


# -- shared helpers --------------------------------------------------------------------------------
@contextlib.contextmanager
def _database():
    # Imported here: `python -m app.cli` runs app.cli as __main__, and a top-level import of it
    # from this module would load it a second time.
    from app.cli import app_context

    with app_context() as app:
        yield app.extensions["stableflow.conf"]


def _print_rows(rows: list[dict], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=False))
        return
    if not rows:
        click.echo("No data found")
        return
    columns = list(rows[0])
    text = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in text)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for line in text:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _read_object(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise click.ClickException(f"Cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise click.ClickException(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path} must hold a JSON object of {what}, not {type(data).__name__}")
    return data


def _write_private(path: str, data: dict) -> None:
    """Write the export readable by its owner only: variables and connections carry secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=4, sort_keys=True)
        handle.write("\n")


def _bad_entry(kind: str, name: str, reason) -> click.ClickException:
    if isinstance(reason, ProblemError):
        reason = reason.detail or reason.title
    return click.ClickException(f"Nothing imported: {kind} {name!r} is invalid: {reason}")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    skipped: int = 0

    def report(self, kind: str) -> str:
        return f"{kind}: {self.created} created, {self.updated} updated, {self.skipped} skipped"


def _apply(entries: dict, existing: dict, write: Callable[[str, object, object], str], label: str) -> Counts:
    """Call `write(name, value, row or None)` for each entry under a progress bar; commit once."""
    counts = Counts()
    with click.progressbar(list(entries.items()), label=label, file=sys.stderr) as bar:
        for name, value in bar:
            outcome = write(name, value, existing.get(name))
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        # The driver's message only: the statement's parameters may hold secrets.
        reason = getattr(exc, "orig", None) or exc.__class__.__name__
        raise click.ClickException(f"Nothing imported: the database refused the import: {reason}") from None
    return counts


def _missing(kind: str, name: str) -> click.ClickException:
    return click.ClickException(f"{kind} {name!r} does not exist")


# `key` is the name column of a table: Pool.pool, Variable.key or Connection.conn_id.
def _rows(key) -> list:
    """Every row of the key's table, by name."""
    return list(db.session.execute(select(key.class_).order_by(key)).scalars())


def _row(key, name: str):
    """The row named `name`, or None."""
    return db.session.execute(select(key.class_).where(key == name)).scalar()


def _existing_row(key, name: str):
    """The row named `name`; an error naming it when there is none."""
    row = _row(key, name)
    if row is None:
        raise _missing(key.class_.__name__, name)
    return row


def _delete_row(key, name: str) -> None:
    """Delete the row named `name` and commit; an error naming it when there is none."""
    if db.session.execute(delete(key.class_).where(key == name)).rowcount == 0:
        raise _missing(key.class_.__name__, name)
    db.session.commit()


# -- pools -----------------------------------------------------------------------------------------
@click.group()
def pools():
    """Manage pools."""


def _pool_row(pool: Pool) -> dict:
    return {
        "pool": pool.pool,
        "slots": pool.slots,
        "description": pool.description,
        "include_deferred": pool.include_deferred,
    }


def _check_pool(name: str, slots, description, include_deferred) -> dict:
    body = {"name": name, "slots": slots, "description": description, "include_deferred": include_deferred}
    return load_or_400(pool_body_schema, body)


@pools.command("list")
@OUTPUT
def pools_list(output):
    """List pools."""
    with _database():
        _print_rows([_pool_row(pool) for pool in _rows(Pool.pool)], output)


@pools.command("get")
@click.argument("name")
@OUTPUT
def pools_get(name, output):
    """Show one pool."""
    with _database():
        _print_rows([_pool_row(_existing_row(Pool.pool, name))], output)


# Unknown options pass through as arguments, so that `pools set p -1 desc` reads -1 as SLOTS.
@pools.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("slots", type=int)
@click.argument("description")
@click.option("--include-deferred", is_flag=True, help="Count deferred tasks as occupying slots.")
def pools_set(name, slots, description, include_deferred):
    """Create or update pool NAME with SLOTS (-1 = unlimited) and DESCRIPTION."""
    try:
        _check_pool(name, slots, description, include_deferred)
    except ProblemError as exc:
        raise click.ClickException(exc.detail or exc.title) from None
    with _database():
        pool = _row(Pool.pool, name) or Pool(pool=name)
        pool.slots, pool.description, pool.include_deferred = slots, description, include_deferred
        db.session.add(pool)
        db.session.commit()
    click.echo(f"Pool {name} set")


@pools.command("delete")
@click.argument("name")
def pools_delete(name):
    """Delete pool NAME (default_pool cannot be deleted)."""
    if name == DEFAULT_POOL:
        raise click.ClickException("default_pool cannot be deleted")
    with _database():
        _delete_row(Pool.pool, name)
    click.echo(f"Pool {name} deleted")


def _parse_pools(data: dict) -> dict[str, dict]:
    checked = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or "slots" not in entry:
            raise _bad_entry("pool", name, 'expected {"slots": N, "description": ..., "include_deferred": ...}')
        unknown = set(entry) - {"slots", "description", "include_deferred"}
        if unknown:
            raise _bad_entry("pool", name, f"unknown field(s) {sorted(unknown)}")
        try:
            checked[name] = _check_pool(
                name, entry["slots"], entry.get("description"), entry.get("include_deferred", False)
            )
        except ProblemError as exc:
            raise _bad_entry("pool", name, exc) from None
    return checked


def _write_pool(name: str, entry: dict, pool: Pool | None) -> str:
    outcome = "updated" if pool else "created"
    pool = pool or Pool(pool=name)
    pool.slots, pool.description = entry["slots"], entry["description"]
    pool.include_deferred = entry["include_deferred"]
    db.session.add(pool)
    return outcome


@pools.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
def pools_import(file):
    """Create or update the pools of FILE (Airflow's `pools export` layout)."""
    entries = _parse_pools(_read_object(file, "pools"))
    with _database():
        existing = {pool.pool: pool for pool in db.session.execute(select(Pool)).scalars()}
        counts = _apply(entries, existing, _write_pool, "Importing pools")
    click.echo(counts.report("Pools"))


@pools.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def pools_export(file):
    """Write every pool to FILE."""
    with _database():
        data = {
            pool.pool: {
                "slots": pool.slots,
                "description": pool.description,
                "include_deferred": pool.include_deferred,
            }
            for pool in _rows(Pool.pool)
        }
    _write_private(file, data)
    click.echo(f"{len(data)} pools exported to {file}")


# -- variables -------------------------------------------------------------------------------------
@click.group()
def variables():
    """Manage variables."""


def _export_value(text: str | None):
    """Airflow writes a value that parses as JSON as that JSON, any other value as its text."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _stored_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@variables.command("list")
@OUTPUT
def variables_list(output):
    """List variable keys."""
    with _database():
        keys = db.session.execute(select(Variable.key).order_by(Variable.key)).scalars()
        _print_rows([{"key": key} for key in keys], output)


@variables.command("get")
@click.argument("key")
@click.option("-d", "--default", default=None, help="Print this when KEY does not exist.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the value as indented JSON.")
def variables_get(key, default, as_json):
    """Print the value of variable KEY."""
    with _database():
        value = db.session.execute(select(Variable.val).where(Variable.key == key)).scalar()
    if value is None:
        if default is None:
            raise _missing("Variable", key)
        value = default
    if as_json:
        try:
            value = json.dumps(json.loads(value), indent=2)
        except ValueError:
            raise click.ClickException(f"The value of {key!r} is not JSON") from None
    click.echo(value)


@variables.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", default=None, help="What the variable is for.")
@click.option("-j", "--json", "as_json", is_flag=True, help="VALUE is JSON; check it and store it compactly.")
def variables_set(key, value, description, as_json):
    """Create or replace variable KEY."""
    if as_json:
        try:
            value = json.dumps(json.loads(value))
        except ValueError:
            raise click.ClickException("VALUE is not valid JSON") from None
    _check_variable(key, value, description)
    with _database():
        upsert(Variable, {"key": key, "val": value, "description": description}, key=["key"])
        db.session.commit()
    click.echo(f"Variable {key} set")


def _check_variable(key: str, value: str, description) -> dict:
    try:
        return load_or_400(variable_body_schema, {"key": key, "value": value, "description": description})
    except ProblemError as exc:
        raise _bad_entry("variable", key, exc) from None


@variables.command("delete")
@click.argument("key")
def variables_delete(key):
    """Delete variable KEY."""
    with _database():
        _delete_row(Variable.key, key)
    click.echo(f"Variable {key} deleted")


@variables.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-a",
    "--action-on-existing-key",
    type=click.Choice(["overwrite", "fail", "skip"]),
    default="overwrite",
    show_default=True,
    help="What to do with a key that exists already.",
)
def variables_import(file, action_on_existing_key):
    """Create or update the variables of FILE (Airflow's `variables export` layout)."""
    entries = {key: _stored_value(value) for key, value in _read_object(file, "variables").items()}
    for key, value in entries.items():
        _check_variable(key, value, None)

    def write(key: str, value: str, variable: Variable | None) -> str:
        if variable is None:
            db.session.add(Variable(key=key, val=value))
            return "created"
        if action_on_existing_key == "skip":
            return "skipped"
        variable.val = value
        return "updated"

    with _database():
        existing = {v.key: v for v in db.session.execute(select(Variable)).scalars()}
        taken = sorted(set(entries) & set(existing))
        if action_on_existing_key == "fail" and taken:
            raise click.ClickException(f"Nothing imported: variable(s) exist already: {', '.join(taken)}")
        counts = _apply(entries, existing, write, "Importing variables")
    click.echo(counts.report("Variables"))


@variables.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def variables_export(file):
    """Write every variable to FILE as {key: value}."""
    with _database():
        rows = db.session.execute(select(Variable.key, Variable.val).order_by(Variable.key))
        data = {key: _export_value(value) for key, value in rows}
    _write_private(file, data)
    click.echo(f"{len(data)} variables exported to {file}")


# -- connections -----------------------------------------------------------------------------------
@click.group()
def connections():
    """Manage connections (passwords are never printed; exports hold them in clear)."""


def _connection_row(conn: Connection) -> dict:
    return {
        "conn_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "port": conn.port,
    }


def _check_connection(conn_id: str, fields: dict, *, partial: bool = False) -> dict:
    try:
        data = load_or_400(connection_body_schema, {"connection_id": conn_id, **fields}, partial=partial)
        conn_rules.check_conn_id(conn_id)
    except ProblemError as exc:
        raise _bad_entry("connection", conn_id, exc) from None
    return data


@connections.command("list")
@OUTPUT
def connections_list(output):
    """List connections (without passwords or extras)."""
    with _database():
        _print_rows([_connection_row(conn) for conn in _rows(Connection.conn_id)], output)


@connections.command("get")
@click.argument("conn_id")
@OUTPUT
def connections_get(conn_id, output):
    """Show one connection, its extra with secrets masked and never its password."""
    with _database() as conf:
        conn = _existing_row(Connection.conn_id, conn_id)
        row = _connection_row(conn)
        row["extra"] = conn_rules.shown_extra(conn_rules.extra(conn, conf), conf)
        _print_rows([row], output)


@connections.command("set")
@click.argument("conn_id")
@click.option("--conn-type", "conn_type", help="Connection type (required for a new connection).")
@click.option("--conn-description", "description")
@click.option("--conn-host", "host")
@click.option("--conn-login", "login")
@click.option("--conn-password", "password")
@click.option("--conn-schema", "schema")
@click.option("--conn-port", "port", type=int)
@click.option("--conn-extra", "extra", help="Extra, usually a JSON object.")
def connections_set(conn_id, **options):
    """Create connection CONN_ID, or change the given fields of an existing one."""
    fields = {name: value for name, value in options.items() if value is not None}
    data = _check_connection(conn_id, fields, partial=True)
    with _database() as conf:
        conn = _row(Connection.conn_id, conn_id)
        if conn is None and "conn_type" not in data:
            raise click.ClickException("--conn-type is required for a new connection")
        conn = conn or Connection()
        conn_rules.assign(conn, data, conf)
        db.session.add(conn)
        db.session.commit()
    click.echo(f"Connection {conn_id} set")


@connections.command("delete")
@click.argument("conn_id")
def connections_delete(conn_id):
    """Delete connection CONN_ID."""
    with _database():
        _delete_row(Connection.conn_id, conn_id)
    click.echo(f"Connection {conn_id} deleted")


def _parse_connections(data: dict) -> dict[str, dict]:
    checked = {}
    for conn_id, entry in data.items():
        if isinstance(entry, str):  # Airflow's import also takes a connection URI per id
            try:
                entry = conn_rules.fields_from_uri(entry)
            except ValueError as exc:
                raise _bad_entry("connection", conn_id, exc) from None
        if not isinstance(entry, dict):
            raise _bad_entry("connection", conn_id, "expected an object of connection fields or a URI")
        entry = dict(entry)
        if isinstance(entry.get("extra"), dict):
            entry["extra"] = json.dumps(entry["extra"])
        checked[conn_id] = _check_connection(conn_id, entry)
    return checked


@connections.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace connections that exist already (default: skip them).")
def connections_import(file, overwrite):
    """Create the connections of FILE (Airflow's `connections export` JSON layout, or URIs)."""
    entries = _parse_connections(_read_object(file, "connections"))
    with _database() as conf:

        def write(conn_id: str, data: dict, conn: Connection | None) -> str:
            if conn is not None and not overwrite:
                return "skipped"
            outcome = "updated" if conn else "created"
            conn = conn or Connection()
            conn_rules.assign(conn, {name: data.get(name) for name in conn_rules.FIELDS}, conf)
            db.session.add(conn)
            return outcome

        existing = {c.conn_id: c for c in db.session.execute(select(Connection)).scalars()}
        counts = _apply(entries, existing, write, "Importing connections")
    click.echo(counts.report("Connections"))


@connections.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def connections_export(file):
    """Write every connection to FILE, passwords and extras decrypted (the file is mode 0600)."""
    with _database() as conf:
        data = {
            conn.conn_id: {
                "conn_type": conn.conn_type,
                "description": conn.description,
                "login": conn.login,
                "password": conn_rules.password(conn, conf),
                "host": conn.host,
                "port": conn.port,
                "schema": conn.schema,
                "extra": conn_rules.extra(conn, conf),
            }
            for conn in _rows(Connection.conn_id)
        }
    _write_private(file, data)
    click.echo(f"{len(data)} connections exported to {file}")


@click.command("rotate-fernet-key")
def rotate_fernet_key():
    """Re-encrypt every connection secret with the first key of [core] fernet_key."""
    from app.fernet import rotate

    with _database() as conf:
        rows = list(db.session.execute(select(Connection)).scalars())
        for conn in rows:
            conn.password, conn.extra = rotate(conf, conn.password), rotate(conf, conn.extra)
        db.session.commit()
    click.echo(f"{len(rows)} connections re-encrypted")


COMMANDS = (pools, variables, connections, rotate_fernet_key)
