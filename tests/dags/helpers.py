"""Test helpers for DAG files: a DAG folder the app parses, and users with DAG-level rights."""
from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app.dags import processor
from app.extensions import db
from app.models import Role
from tests.conftest import TEST_PASSWORD, basic_auth


class DagFolder:
    """Files written under the app's own DAG folder, parsed with the app's configuration."""

    def __init__(self, app):
        self.app = app
        self.conf = app.extensions["stableflow.conf"]
        self.path = Path(self.conf.get("core", "dags_folder")) / f"test-{uuid.uuid4().hex[:8]}"
        self.path.mkdir(parents=True)

    def write(self, name: str, text: str) -> str:
        path = self.path / name
        path.write_text(textwrap.dedent(text))
        return str(path.resolve())

    def process(self, **files: str) -> None:
        """Write `name=text` files (name without .yaml), then parse the folder."""
        for name, text in files.items():
            self.write(f"{name}.yaml", text)
        with self.app.app_context():
            processor.process_folder(self.conf)
            db.session.remove()


@pytest.fixture
def dag_folder(app):
    folder = DagFolder(app)
    yield folder
    shutil.rmtree(folder.path, ignore_errors=True)


def user_with(app, username: str, permissions: list[tuple[str, str]]) -> dict:
    """A user whose only role grants `permissions`; returns its Basic auth headers."""
    from app.rbac import get_or_create_permission
    from app.users import create_user

    with app.app_context():
        role = db.session.execute(select(Role).where(Role.name == f"role_{username}")).scalar()
        if role is None:
            role = Role(name=f"role_{username}", permissions=[get_or_create_permission(a, r) for a, r in permissions])
            db.session.add(role)
            db.session.flush()
            create_user(username, TEST_PASSWORD, roles=[role.name])
        db.session.commit()
        db.session.remove()
    return basic_auth(username)


def problem(status: int, title: str, detail: str | None, instance: str) -> dict:
    """The problem document stableflow answers (detail repeats the title when Airflow sends null)."""
    from app.errors import TYPE_BY_STATUS

    return {
        "detail": title if detail is None else detail,
        "instance": instance,
        "status": status,
        "title": title,
        "type": TYPE_BY_STATUS[status],
    }


def file_token(fileloc: str) -> str:
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer("test-secret-key").dumps(fileloc)
