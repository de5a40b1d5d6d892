"""The migrations create exactly the schema the models describe; `db migrate` restores default data."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import cli
from app.extensions import db
from app.models import Base, Role
from app.rbac import DEFAULT_ROLES, VIEWER_PERMISSIONS, get_or_create_permission
from app.security import CAN_READ, RESOURCE_AUDIT_LOG, RESOURCE_DAG_RUN, RESOURCE_POOL
from tests.conftest import database_url


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
