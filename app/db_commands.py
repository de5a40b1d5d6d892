"""Schema migrations and the data every database starts with."""
from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.extensions import db

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every node migrating one PostgreSQL database.
_PG_LOCK_ID = 0x5F1A_0001


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _migration_lock(engine: Engine):
    """Only one node migrates at a time; the others wait and then find nothing to do."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                conn.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        lock_path = Path(engine.url.database + ".migrate.lock")
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def migrate(engine: Engine | None = None) -> None:
    """Create or upgrade the schema, then sync default roles and the default pool."""
    engine = engine or db.engine
    with _migration_lock(engine):
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        sync_default_data()


def sync_default_data() -> None:
    from sqlalchemy import select

    from app.models import Pool
    from app.rbac import sync_roles

    sync_roles()
    if db.session.execute(select(Pool.id).where(Pool.pool == "default_pool")).first() is None:
        db.session.add(Pool(pool="default_pool", slots=128, description="Default pool", include_deferred=False))
    db.session.commit()


def check(engine: Engine | None = None) -> tuple[bool, str]:
    engine = engine or db.engine
    try:
        current = current_revision(engine)
    except Exception as exc:  # report any connection failure to the operator
        return False, f"cannot reach the database: {exc}"
    head = head_revision()
    if current != head:
        return False, f"schema is at {current or 'nothing'}, expected {head}; run `stableflow db migrate`"
    return True, f"schema is up to date ({head})"


def reset(engine: Engine | None = None) -> None:
    """Drop every table (ours and Alembic's) and migrate again."""
    from app.models import Base

    engine = engine or db.engine
    with _migration_lock(engine):
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.remove()
    migrate(engine)
