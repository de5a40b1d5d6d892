"""Save every table's rows and put them back: how tests (and the pytest plugin's reset fixture)
return to a seeded state in milliseconds instead of re-migrating."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Integer, func, select, text
from sqlalchemy.engine import Engine

from app.models import Base

Snapshot = dict[str, list[dict]]


def take_snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        return {
            table.name: [dict(row) for row in conn.execute(table.select()).mappings()]
            for table in Base.metadata.sorted_tables
        }


def restore_snapshot(engine: Engine, snapshot: Snapshot, keep: Collection[str] = ()) -> None:
    """Put back every table's rows; the tables named in `keep` are left as they are (a live
    server's `job` rows describe the processes running now, not the snapshot's)."""
    tables = [table for table in Base.metadata.sorted_tables if table.name not in keep]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
        for table in tables:
            rows = snapshot.get(table.name)
            if rows:
                conn.execute(table.insert(), rows)
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn, tables)


def _reset_sequences(conn, tables) -> None:
    # Restored rows keep their ids; the next insert must not collide with them.
    for table in tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement in (True, "auto") and len(
                table.primary_key.columns
            ) == 1:
                top = conn.execute(select(func.max(column))).scalar()
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, :c), :v, :called)"),
                    {"t": table.name, "c": column.name, "v": top or 1, "called": top is not None},
                )
