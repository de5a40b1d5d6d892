"""The database handle and its engine settings."""
from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from app.models.base import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def normalize_db_url(url: str) -> str:
    """Let `postgresql://` URLs use psycopg 3, the driver stableflow installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def engine_options(conf) -> dict:
    url = conf.get("database", "sql_alchemy_conn")
    # A database error's text quotes the statement's parameters (a variable's value, a run's conf,
    # a password hash) and is logged with the error: keep them out of it.
    if is_sqlite(url):
        timeout = conf.getint("database", "sqlite_busy_timeout") / 1000
        return {"hide_parameters": True, "connect_args": {"timeout": timeout}}
    return {
        "hide_parameters": True,
        "pool_size": conf.getint("database", "sql_alchemy_pool_size"),
        "max_overflow": conf.getint("database", "sql_alchemy_max_overflow"),
        "pool_recycle": conf.getint("database", "sql_alchemy_pool_recycle"),
        "pool_pre_ping": True,
    }


def install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        # WAL lets readers run beside one writer; synchronous=FULL makes every acknowledged
        # commit survive a crash; foreign keys make cascades real.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Up to 8 MB of pages per connection (SQLite's default is 2 MB): the list counts read a
        # whole index of a large table (100,000 runs or audit entries), which then stays cached.
        cursor.execute("PRAGMA cache_size=-8000")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()


def init_db(app: Flask, conf) -> None:
    url = normalize_db_url(conf.get("database", "sql_alchemy_conn"))
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(conf)
    db.init_app(app)
    from app.fast_reads import init_fast_reads

    init_fast_reads(app)
    with app.app_context():
        install_sqlite_pragmas(db.engine, conf.getint("database", "sqlite_busy_timeout"))


def dispose_engine(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose(close=False)
