"""The migrations create exactly the schema the models describe; `db migrate` restores default data."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from app.cli import cli
from app.db_commands import current_revision, head_revision
from app.extensions import db, normalize_db_url
from app.models import Action, Base, Permission, Pool, Resource, Role, role_permissions
from app.rbac import DEFAULT_ROLES, VIEWER_PERMISSIONS, get_or_create_permission
from app.security import CAN_READ, RESOURCE_AUDIT_LOG, RESOURCE_DAG_RUN, RESOURCE_POOL
from tests.conftest import FERNET_KEY, database_url
from tests.live import fresh_postgres_database

MIGRATORS = 4


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _role_permissions(app, role_name: str) -> set[tuple[str, str]]:
    with app.app_context():
        role = db.session.execute(select(Role).where(Role.name == role_name)).scalar_one()
        pairs = {(p.action.name, p.resource.name) for p in role.permissions}
        db.session.remove()
        return pairs


def test_db_migrate_restores_a_default_roles_removed_permissions_and_keeps_added_ones(app, monkeypatch):
    removed = {(CAN_READ, RESOURCE_DAG_RUN), (CAN_READ, RESOURCE_POOL)}
    added = (CAN_READ, RESOURCE_AUDIT_LOG)
    assert added not in set(VIEWER_PERMISSIONS)
    with app.app_context():
        viewer = db.session.execute(select(Role).where(Role.name == "Viewer")).scalar_one()
        viewer.permissions = [p for p in viewer.permissions if (p.action.name, p.resource.name) not in removed]
        viewer.permissions.append(get_or_create_permission(*added))
        db.session.commit()
        db.session.remove()
    assert _role_permissions(app, "Viewer") == set(VIEWER_PERMISSIONS) - removed | {added}

    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", database_url())
    result = CliRunner().invoke(cli, ["db", "migrate"])
    assert result.exit_code == 0, result.output

    assert _role_permissions(app, "Viewer") == set(VIEWER_PERMISSIONS) | {added}
    assert _role_permissions(app, "Admin") == set(DEFAULT_ROLES["Admin"])


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request, tmp_path):
    """A database nothing has touched yet: a new SQLite file, or a new sf_clean_* PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    with fresh_postgres_database("sf_clean_{test_database}_migrate") as url:
        yield url


def test_concurrent_db_migrate_on_a_fresh_database(tmp_path, fresh_database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env.update(
        STABLEFLOW_HOME=str(tmp_path / "home"),
        STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN=fresh_database,
        STABLEFLOW__CORE__FERNET_KEY=FERNET_KEY,
        STABLEFLOW__WEBSERVER__SECRET_KEY="migrate-secret-key",
    )
    command = [str(Path(sys.executable).with_name("stableflow")), "db", "migrate"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(MIGRATORS)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * MIGRATORS, outputs

    engine = create_engine(normalize_db_url(fresh_database))
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            roles = Counter(conn.execute(select(Role.name)).scalars())
            pools = conn.execute(select(Pool.pool)).scalars().all()
            pairs = Counter(
                conn.execute(
                    select(Action.name, Resource.name).select_from(Permission).join(Action).join(Resource)
                ).tuples()
            )
            viewer = set(
                conn.execute(
                    select(Action.name, Resource.name)
                    .select_from(Role)
                    .join(role_permissions)
                    .join(Permission)
                    .join(Action)
                    .join(Resource)
                    .where(Role.name == "Viewer")
                ).tuples()
            )
    finally:
        engine.dispose()
    assert roles == Counter(list(DEFAULT_ROLES))
    assert pools == ["default_pool"]
    assert max(pairs.values()) == 1
    assert viewer == set(VIEWER_PERMISSIONS)
