"""Shared fixtures.

Each test starts from the same seeded database: migrated schema, default roles, `default_pool`
and one user per default role. STYLE.md asks for a rolled-back transaction per test; handlers here
commit (and some tests drive a live gunicorn server), so instead every table is restored from a
snapshot before each test, which takes a few milliseconds on SQLite and PostgreSQL alike.

Set STABLEFLOW_TEST_SQL_ALCHEMY_CONN to a PostgreSQL URL to run the suite there.
"""
from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

import pytest

# Hermetic: nothing from the developer's own configuration leaks into the tests.
for _name in list(os.environ):
    if _name.startswith("STABLEFLOW__") or _name == "STABLEFLOW_CONFIG":
        del os.environ[_name]
_HOME = Path(tempfile.mkdtemp(prefix="stableflow-test-home-"))
os.environ["STABLEFLOW_HOME"] = str(_HOME)

from sqlalchemy import event  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402

TEST_PASSWORD = "test-password"
FERNET_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
# The test installation's keys, in its config file as an operator sets them: a first run on
# PostgreSQL writes none, and commands (the CLI's) read only the file and the environment.
(_HOME / "stableflow.cfg").write_text(
    f"[core]\nfernet_key = {FERNET_KEY}\n\n[webserver]\nsecret_key = test-secret-key\n"
)
# username -> roles; every test database has these users.
TEST_USERS = {
    "admin": ["Admin"],
    "op": ["Op"],
    "user": ["User"],
    "viewer": ["Viewer"],
    "test_no_permissions": ["Public"],
}


def database_url() -> str:
    return os.environ.get("STABLEFLOW_TEST_SQL_ALCHEMY_CONN") or f"sqlite:///{_HOME}/test.db"


def base_overrides(**sections) -> dict:
    overrides = {
        "database": {"sql_alchemy_conn": database_url()},
        "api": {
            "auth_backends": "auth_backends.basic_auth,auth_backends.session",
            "validate_responses": True,
        },
        "core": {"fernet_key": FERNET_KEY, "load_examples": False, "dags_folder": str(_HOME / "dags")},
        "webserver": {"secret_key": "test-secret-key"},
        "logging": {"base_log_folder": str(_HOME / "logs")},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return overrides


_APPS: list = []


def make_app(**sections):
    """A fresh app over the shared test database, with extra config sections."""
    app = create_app(base_overrides(**sections))
    _APPS.append(app)
    return app


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines():
    yield
    for app in _APPS:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def app():
    return make_app()


@pytest.fixture(scope="session")
def _seed_snapshot(app):
    from app import db_commands
    from app.passwords import hash_password
    from app.snapshot import take_snapshot
    from app.users import create_user

    with app.app_context():
        db_commands.reset()
        hashed = hash_password(TEST_PASSWORD)
        for username, roles in TEST_USERS.items():
            user = create_user(username, TEST_PASSWORD, roles=roles, email=f"{username}@example.com")
            user.password = hashed
        db.session.commit()
        snapshot = take_snapshot(db.engine)
        db.session.remove()
    return snapshot


@pytest.fixture(autouse=True)
def _clean_db(request, app, _seed_snapshot):
    from app.snapshot import restore_snapshot

    with app.app_context():
        restore_snapshot(db.engine, _seed_snapshot)
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def basic_auth(username: str, password: str = TEST_PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def admin_headers():
    return basic_auth("admin")


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_queries(app):
    """Count the SQL statements the app runs inside the block."""
    counter = QueryCounter()
    with app.app_context():
        engine = db.engine

    def _record(conn, cursor, statement, parameters, context, executemany):
        counter.statements.append(statement)

    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", _record)
