"""`stableflow users ...` and `stableflow roles ...` against the test database."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from app.cli import cli
from app.extensions import db
from app.users import find_user
from tests.conftest import TEST_PASSWORD, basic_auth, database_url


@pytest.fixture
def run(monkeypatch):
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", database_url())
    monkeypatch.setenv("STABLEFLOW__WEBSERVER__SECRET_KEY", "test-secret-key")
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input)

    return invoke


def _roles_of(app, username):
    with app.app_context():
        user = find_user(username)
        names = None if user is None else [r.name for r in user.roles]
        db.session.remove()
        return names


CREATE = ("users", "create", "-u", "alice", "-e", "alice@example.com", "-f", "Alice", "-l", "Liddell", "-r", "Op")


def test_users_create_with_password(run, app, client):
    result = run(*CREATE, "-p", "wonderland")
    assert (result.exit_code, result.output) == (0, 'User "alice" created with role "Op"\n')
    assert client.get("/api/v1/users", headers=basic_auth("alice", "wonderland")).status_code == 403
    assert client.get("/api/v1/pools", headers=basic_auth("alice", "wonderland")).status_code != 401
    assert _roles_of(app, "alice") == ["Op"]


def test_users_create_prompts_twice(run, client):
    result = run(*CREATE, input="wonderland\nwonderland\n")
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/users", headers=basic_auth("alice", "wonderland")).status_code == 403


def test_users_create_prompt_mismatch_fails(run, app):
    result = run(*CREATE, input="one\ntwo\n")
    assert result.exit_code == 1
    assert "Passwords did not match" in result.output
    assert _roles_of(app, "alice") is None


def test_users_create_with_random_password_hides_it(run, app):
    result = run(*CREATE, "--use-random-password")
    assert (result.exit_code, result.output) == (0, 'User "alice" created with role "Op"\n')
    with app.app_context():
        assert find_user("alice").password.startswith("scrypt:")
        db.session.remove()


def test_users_create_both_password_options_fails(run):
    result = run(*CREATE, "-p", "x", "--use-random-password")
    assert result.exit_code == 1
    assert "either --password or --use-random-password" in result.output


def test_users_create_unknown_role_fails(run, app):
    result = run("users", "create", "-u", "bob", "-e", "b@x", "-f", "B", "-l", "B", "-r", "God", "-p", "x")
    assert result.exit_code == 1
    assert result.output == '"God" is not a valid role. Valid roles are: [Admin, Op, Public, User, Viewer]\n'
    assert _roles_of(app, "bob") is None


def test_users_create_existing_username_is_reported(run):
    result = run("users", "create", "-u", "viewer", "-e", "v2@x", "-f", "V", "-l", "V", "-r", "Op", "-p", "x")
    assert (result.exit_code, result.output) == (0, "viewer already exist in the db\n")


def test_users_create_taken_email_fails(run):
    result = run("users", "create", "-u", "v2", "-e", "viewer@example.com", "-f", "V", "-l", "V", "-r", "Op", "-p", "x")
    assert result.exit_code == 1
    assert "viewer@example.com" in result.output


def test_users_create_requires_the_identity_options(run):
    result = run("users", "create", "-u", "x", "-p", "x")
    assert result.exit_code == 2
    assert "Missing option" in result.output


def test_users_list_table(run):
    result = run("users", "list")
    assert result.exit_code == 0
    header, rule, *rows = result.output.splitlines()
    assert [cell.strip() for cell in header.split(" | ")] == ["id", "username", "email", "first_name", "last_name", "roles"]
    assert [cell.strip() for cell in rows[0].split(" | ")] == ["1", "admin", "admin@example.com", "", "", "Admin"]
    assert len(rows) == 5
    # Columns line up: every row has its separators where the header has them.
    columns = [i for i, char in enumerate(header) if char == "|"]
    assert [i for i, char in enumerate(rule) if char == "+"] == columns
    assert all([i for i, char in enumerate(row) if char == "|"] == columns for row in rows)


def test_users_list_json_and_yaml(run):
    rows = json.loads(run("users", "list", "-o", "json").output)
    assert rows[0] == {
        "id": "1", "username": "admin", "email": "admin@example.com", "first_name": "", "last_name": "",
        "roles": ["Admin"],
    }
    assert yaml.safe_load(run("users", "list", "--output", "yaml").output) == rows
    plain = run("users", "list", "-o", "plain").output.splitlines()
    assert plain[0].split() == ["id", "username", "email", "first_name", "last_name", "roles"]


def test_users_delete(run, app, client):
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code == 200
    result = run("users", "delete", "--username", "viewer")
    assert (result.exit_code, result.output) == (0, 'User "viewer" deleted\n')
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code == 401


def test_users_delete_by_email(run, app):
    assert run("users", "delete", "-e", "op@example.com").output == 'User "op" deleted\n'
    assert _roles_of(app, "op") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing args: must supply one of --username or --email\n"),
        (("-u", "op", "-e", "op@example.com"), "Conflicting args: must supply either --username or --email, but not both\n"),
        (("-u", "nobody"), 'User "nobody" does not exist\n'),
    ],
)
def test_users_delete_needs_one_existing_user(run, args, message):
    result = run("users", "delete", *args)
    assert (result.exit_code, result.output) == (1, message)


def test_users_reset_password(run, client):
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code == 200
    result = run("users", "reset-password", "-u", "viewer", "-p", "brand-new")
    assert (result.exit_code, result.output) == (0, 'User "viewer" password reset successfully\n')
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code == 401
    assert client.get("/api/v1/pools", headers=basic_auth("viewer", "brand-new")).status_code == 200


def test_users_reset_password_random(run, client):
    assert run("users", "reset-password", "-u", "viewer", "--use-random-password").exit_code == 0
    assert client.get("/api/v1/pools", headers=basic_auth("viewer", TEST_PASSWORD)).status_code == 401


def test_users_add_and_remove_role(run, app, client):
    result = run("users", "add-role", "-u", "viewer", "-r", "Admin")
    assert (result.exit_code, result.output) == (0, 'User "viewer" added to role "Admin"\n')
    assert _roles_of(app, "viewer") == ["Viewer", "Admin"]
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 200
    again = run("users", "add-role", "-u", "viewer", "-r", "Admin")
    assert (again.exit_code, again.output) == (1, 'User "viewer" is already a member of role "Admin"\n')

    result = run("users", "remove-role", "-u", "viewer", "-r", "Admin")
    assert (result.exit_code, result.output) == (0, 'User "viewer" removed from role "Admin"\n')
    assert _roles_of(app, "viewer") == ["Viewer"]
    assert client.get("/api/v1/users", headers=basic_auth("viewer")).status_code == 403
    again = run("users", "remove-role", "-u", "viewer", "-r", "Admin")
    assert (again.exit_code, again.output) == (1, 'User "viewer" is not a member of role "Admin"\n')


def test_users_add_unknown_role_fails(run):
    result = run("users", "add-role", "-u", "viewer", "-r", "God")
    assert result.exit_code == 1
    assert result.output.startswith('"God" is not a valid role.')


def test_roles_create_and_list(run):
    result = run("roles", "create", "Auditor", "Releaser", "Viewer")
    assert (result.exit_code, result.output) == (0, "Added 3 role(s)\n")
    listed = run("roles", "list")
    assert listed.output.splitlines() == [
        "name", "========", "Admin", "Auditor", "Op", "Public", "Releaser", "User", "Viewer"
    ]
    assert json.loads(run("roles", "list", "-o", "json").output)[1] == {"name": "Auditor"}


def test_roles_create_needs_a_name(run):
    assert run("roles", "create").exit_code == 2


def test_roles_list_with_permissions(run):
    rows = json.loads(run("roles", "list", "-p", "-o", "json").output)
    assert {"name": "Viewer", "resource": "My Password", "action": "can_edit,can_read"} in rows
    assert {row["name"] for row in rows} == {"Admin", "Op", "User", "Viewer"}  # Public has none
    assert rows == sorted(rows, key=lambda r: (r["name"], r["resource"]))
