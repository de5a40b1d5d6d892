"""Reads that every request makes, run on the request's database connection without SQLAlchemy's
execution layer.

On a loaded server, SQLAlchemy spends 70-100 us on each statement it executes (execution context,
parameter and result objects, Row construction), more than SQLite takes to answer most of them:
the caller lookup of every authenticated request, a variable by key, a page of pools. `FastRead`
compiles a prebuilt SELECT once per dialect with SQLAlchemy's own compiler, then runs that SQL
text on a DBAPI connection (below) and converts each column with its type's own result processor
(SQLite's booleans and datetimes).
Database errors are raised as `Connection.execute` raises them (`sqlalchemy.exc.DBAPIError`
subclasses, parameters hidden), and a lost connection is invalidated as SQLAlchemy would.

The connection: the session's when the request has begun one (its transaction, its own writes).
Otherwise, on SQLite, a connection checked out for the request's reads alone, returned when the
session begins or the app context ends: creating, beginning and closing a Session costs a small
request another 30-60 us, and the first statements of most requests (the caller's lookup) come
before any session is needed. On PostgreSQL reads share the session's connection, as every
checkout there is pinged first (`pool_pre_ping`): a second checkout would cost a round trip.

What goes through it is limited, and checked when the statement is compiled: a SELECT built once
for the life of the process, without IN-list parameters, whose parameters need no conversion on
the way in (strings and integers). And SQLAlchemy still runs the statement whenever something
watches statements: a `before_cursor_execute` or `after_cursor_execute` listener on the engine
(the tests' query counters, tracing) or `echo`.
"""
from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping, Sequence

from flask import Flask, g, has_app_context
from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError

from app.extensions import db

Row = tuple


class FastRead:
    """A prebuilt SELECT, read as plain tuples in the order of its selected columns."""

    def __init__(self, statement: Select):
        self.statement = statement
        self.columns: tuple[str, ...] = tuple(column.key for column in statement.selected_columns)
        self._plans: weakref.WeakKeyDictionary[Dialect, _Plan] = weakref.WeakKeyDictionary()

    def rows(self, params: Mapping[str, object] | None = None) -> list[Row]:
        engine = db.engine
        if _watched(engine):
            rows = db.session.connection().execute(self.statement, params).all()
            return [tuple(row) for row in rows]
        connection = _connection(engine)
        plan = self._plans.get(connection.dialect)
        if plan is None:
            plan = self._plans[connection.dialect] = _Plan(self.statement, connection.dialect)
        return plan.run(connection, params or {})

    def first(self, params: Mapping[str, object] | None = None) -> Row | None:
        rows = self.rows(params)
        return rows[0] if rows else None

    def scalar(self, params: Mapping[str, object] | None = None):
        row = self.first(params)
        return None if row is None else row[0]

    def mapping(self, row: Row) -> dict[str, object]:
        """One of its rows as a dict keyed by column name."""
        return dict(zip(self.columns, row, strict=True))


@functools.lru_cache(maxsize=256)
def fast_read(statement: Select) -> FastRead:
    """The FastRead of a statement built once (a module constant, or one kept per ordering)."""
    return FastRead(statement)


_G_CONNECTION = "stableflow_read_connection"


def _connection(engine: Engine) -> Connection:
    if db.session.registry.has() or engine.dialect.name != "sqlite":
        return db.session.connection()
    connection = g.get(_G_CONNECTION)
    if connection is None:
        connection = engine.connect()
        setattr(g, _G_CONNECTION, connection)
    return connection


def release_read_connection(_exc: BaseException | None = None) -> None:
    """Return the connection reads took for themselves to the pool (see the module docstring)."""
    connection = g.pop(_G_CONNECTION, None)
    if connection is not None:
        connection.close()


def init_fast_reads(app: Flask) -> None:
    app.teardown_appcontext(release_read_connection)


@event.listens_for(db.session, "after_begin")
def _session_began(_session, _transaction, _connection) -> None:
    # From here on reads go to the session's connection: do not hold two.
    if has_app_context():
        release_read_connection()


def _watched(engine: Engine) -> bool:
    dispatch = engine.dispatch
    return bool(engine.echo or dispatch.before_cursor_execute or dispatch.after_cursor_execute)


class _Plan:
    """One statement compiled for one dialect: its SQL text, how to order its parameters, and how
    to convert its rows."""

    def __init__(self, statement: Select, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("FastRead: IN-list and literal-execute parameters are rendered per execution")
        self.sql: str = compiled.string
        self.dialect = dialect
        self.dbapi_error = dialect.loaded_dbapi.Error
        # rendered name -> (request parameter key, or None for a constant; the constant)
        sources: dict[str, tuple[str | None, object]] = {}
        for bind, name in compiled.bind_names.items():
            if bind.callable is not None or bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"FastRead: parameter {bind.key!r} needs a conversion SQLAlchemy would apply")
            sources[name] = (bind.key, None) if bind.required else (None, bind.value)
        self.positional: Sequence[tuple[str | None, object]] | None = (
            [sources[name] for name in compiled.positiontup] if compiled.positional else None
        )
        self.named = sources
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in statement.selected_columns]
        self.convert = _row_converter(processors)

    def _parameters(self, params: Mapping[str, object]):
        if self.positional is not None:
            return tuple(value if key is None else params[key] for key, value in self.positional)
        return {name: value if key is None else params[key] for name, (key, value) in self.named.items()}

    def run(self, connection: Connection, params: Mapping[str, object]) -> list[Row]:
        parameters = self._parameters(params)
        proxied = connection.connection
        cursor = proxied.cursor()
        try:
            cursor.execute(self.sql, parameters)
            rows = cursor.fetchall()
        except self.dbapi_error as exc:
            self._raise(connection, cursor, exc, parameters)
        finally:
            cursor.close()
        return self.convert(rows) if self.convert is not None else rows

    def _raise(self, connection: Connection, cursor, exc: Exception, parameters) -> None:
        lost = self.dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            self.sql, parameters, exc, self.dbapi_error, hide_parameters=connection.engine.hide_parameters,
            connection_invalidated=lost, dialect=self.dialect,
        ) from exc


def _row_converter(processors: Sequence[Callable | None]) -> Callable[[list], list[Row]] | None:
    """A function converting fetched rows with the columns' processors (None: nothing to convert).
    Generated from the column positions only (never from data): one call per converted value."""
    if not any(processors):
        return None
    names = {f"p{i}": processor for i, processor in enumerate(processors) if processor is not None}
    values = ", ".join(f"p{i}(r[{i}])" if processor is not None else f"r[{i}]"
                       for i, processor in enumerate(processors))
    source = f"def convert(rows):\n    return [({values},) for r in rows]\n"
    exec(compile(source, "<FastRead row conversion>", "exec"), names)  # noqa: S102
    return names["convert"]
