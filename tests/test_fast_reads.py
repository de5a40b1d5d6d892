"""app/fast_reads.py: prebuilt reads run on the request's DBAPI connection give what SQLAlchemy
gives, raise what SQLAlchemy raises, refuse what they cannot run faithfully, see the session's own
writes, hold no connection past the request, and leave statement watchers (listeners, echo)
seeing every statement."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Column, MetaData, String, Table, bindparam, select
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.fast_reads import FastRead, fast_read
from app.models import Pool, User, Variable
from app.models.base import UtcDateTime
from app.queries import paged_statements
from auth_backends import _user_by_name
from tests.conftest import count_queries


def through_sqlalchemy(read: FastRead, params=None) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(read.statement, params).all()]


def typed(rows: list[tuple]) -> list[tuple]:
    return [tuple((type(value), value) for value in row) for row in rows]


@pytest.fixture
def stored(app_ctx):
    """A pool with include_deferred, a variable, and a user with datetimes set."""
    db.session.add(Pool(pool="fast_pool", slots=-1, description=None, include_deferred=True))
    db.session.add(Variable(key="fast/key", val="välue", description="d"))
    db.session.commit()
    user = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
    user.last_login = dt.datetime(2026, 1, 2, 3, 4, 5, 6007, tzinfo=dt.timezone.utc)
    db.session.commit()
    db.session.remove()


READS = {
    "the caller lookup": (lambda: _user_by_name(), {"username": "admin"}),
    "a page of pools with their count": (
        lambda: FastRead(paged_statements(
            select(Pool.pool, Pool.slots, Pool.description, Pool.include_deferred).order_by(Pool.id),
            total_column=True,
        )[0]),
        {"page_limit": 100, "page_offset": 0},
    ),
    "a variable by key": (
        lambda: FastRead(select(Variable.__table__).where(Variable.__table__.c.key == bindparam("key"))),
        {"key": "fast/key"},
    ),
    "nothing found": (
        lambda: FastRead(select(Variable.__table__).where(Variable.__table__.c.key == bindparam("key"))),
        {"key": "no such key"},
    ),
}


@pytest.mark.parametrize("name", READS)
def test_rows_are_what_sqlalchemy_reads_with_the_same_types(stored, app_ctx, name):
    make, params = READS[name]
    read = make()
    fast = read.rows(params)
    assert read._plans, "the read went through SQLAlchemy, not its own plan"
    assert typed(fast) == typed(through_sqlalchemy(read, params))


def test_booleans_and_datetimes_come_back_as_python_values(stored, app_ctx):
    read = FastRead(select(User.active, User.last_login).where(User.username == bindparam("name")))
    assert read.first({"name": "admin"}) == (True, dt.datetime(2026, 1, 2, 3, 4, 5, 6007, tzinfo=dt.timezone.utc))
    assert read.scalar({"name": "nobody"}) is None


def test_reads_see_the_sessions_own_uncommitted_writes(app_ctx):
    db.session.add(Pool(pool="not_committed", slots=1, include_deferred=False))
    db.session.flush()
    read = FastRead(select(Pool.slots).where(Pool.pool == bindparam("name")))
    assert read.scalar({"name": "not_committed"}) == 1
    db.session.rollback()
    assert read.scalar({"name": "not_committed"}) is None


def test_a_database_error_is_sqlalchemys_with_parameters_hidden(app_ctx):
    missing = Table("no_such_table", MetaData(), Column("name", String))
    read = FastRead(select(missing.c.name).where(missing.c.name == bindparam("name")))
    with pytest.raises(DBAPIError) as exc:
        read.rows({"name": "secret-value"})
    assert "no_such_table" in str(exc.value)
    assert "SQL parameters hidden" in str(exc.value)
    assert "secret-value" not in str(exc.value)
    db.session.rollback()


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        (select(Pool.pool).where(Pool.pool.in_(bindparam("names", expanding=True))), "IN-list"),
        (select(User.id).where(User.last_login > bindparam("since", type_=UtcDateTime)), "needs a conversion"),
    ],
    ids=["in-list", "converted-parameter"],
)
def test_statements_it_cannot_run_faithfully_are_refused(app_ctx, statement, why):
    with pytest.raises(ValueError, match=why):
        FastRead(statement).rows({"names": ["a"], "since": dt.datetime.now(dt.timezone.utc)})


def test_statement_watchers_see_every_read(app, app_ctx):
    read = FastRead(select(Pool.pool, Pool.slots).where(Pool.pool == bindparam("name")))
    with count_queries(app) as counter:
        assert read.rows({"name": "default_pool"}) == [("default_pool", 128)]
        assert read.rows({"name": "default_pool"}) == [("default_pool", 128)]
    assert counter.count == 2
    assert not read._plans, "a watched engine must see the statements SQLAlchemy runs"


def test_fast_read_keeps_one_read_per_statement():
    statement = select(Pool.pool)
    assert fast_read(statement) is fast_read(statement)


def checked_out(app) -> int:
    with app.app_context():
        return db.engine.pool.checkedout()


def test_reads_before_the_session_take_one_connection_until_it_begins(app):
    read = FastRead(select(Pool.slots).where(Pool.pool == bindparam("name")))
    idle = checked_out(app)
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        assert read.scalar({"name": "default_pool"}) == 128
        assert read.scalar({"name": "default_pool"}) == 128
        # SQLite: the reads' own connection, no session; PostgreSQL: the session's connection.
        assert db.session.registry.has() is not sqlite
        assert db.engine.pool.checkedout() == idle + 1
        db.session.execute(select(Pool.pool)).all()
        assert db.engine.pool.checkedout() == idle + 1, "the reads' connection is returned when the session begins"
        db.session.execute(Pool.__table__.update().where(Pool.pool == "default_pool").values(slots=7))
        assert read.scalar({"name": "default_pool"}) == 7, "a read after a write sees it: the session's connection"
        db.session.rollback()
    assert checked_out(app) == idle


def test_the_reads_connection_is_returned_with_the_app_context(app):
    idle = checked_out(app)
    with app.app_context():
        FastRead(select(Pool.slots)).rows()
    assert checked_out(app) == idle
