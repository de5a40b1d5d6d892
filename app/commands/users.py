"""`stableflow users ...` and `stableflow roles ...`, with `airflow users|roles ...`'s flags and output."""
from __future__ import annotations

import json
import secrets
import sys
from collections import defaultdict

import click
import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError


def app_context():
    # Imported late: app.cli imports this module while it is itself being imported.
    from app.cli import app_context as context

    return context()

OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["table", "json", "yaml", "plain"]), default="table", show_default=True,
    help="Output format.",
)


def print_as(rows: list[dict], output: str) -> None:
    """Print rows as Airflow's console does: values as strings, lists joined in tables."""
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if output == "yaml":
        click.echo(yaml.safe_dump(rows, sort_keys=False), nl=False)
        return
    if not rows:
        click.echo("No data found")
        return
    columns = list(rows[0])
    cells = [[", ".join(v) if isinstance(v, list) else ("" if v is None else str(v)) for v in r.values()] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    sep, rule = (" | ", "=+=") if output == "table" else ("  ", None)

    def line(values):
        return sep.join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    click.echo(line(columns))
    if rule:
        click.echo(rule.join("=" * w for w in widths))
    for row in cells:
        click.echo(line(row))


def fail(message: str):
    click.echo(message, err=True)
    sys.exit(1)


def _password(password: str | None, use_random: bool) -> str:
    if password and use_random:
        fail("Use either --password or --use-random-password, not both")
    if use_random:
        return secrets.token_urlsafe(16)
    if password:
        return password
    first = click.prompt("Password", hide_input=True)
    if first != click.prompt("Repeat for confirmation", hide_input=True):
        fail("Passwords did not match")
    return first


def _role(name: str):
    from app.extensions import db
    from app.models import Role

    role = db.session.execute(select(Role).where(Role.name == name)).scalar()
    if role is None:
        names = ", ".join(db.session.scalars(select(Role.name).order_by(Role.name)))
        fail(f'"{name}" is not a valid role. Valid roles are: [{names}]')
    return role


def _find_user(username: str | None, email: str | None):
    from app.extensions import db
    from app.models import User

    if not username and not email:
        fail("Missing args: must supply one of --username or --email")
    if username and email:
        fail("Conflicting args: must supply either --username or --email, but not both")
    column, value = (User.username, username) if username else (User.email, email)
    user = db.session.execute(select(User).where(column == value)).scalar()
    if user is None:
        fail(f'User "{value}" does not exist')
    return user


def _user_options(fn):
    fn = click.option("-e", "--email", default=None, help="Email of the user.")(fn)
    return click.option("-u", "--username", default=None, help="Username of the user.")(fn)


def _password_options(fn):
    fn = click.option(
        "--use-random-password", is_flag=True,
        help="Set a random password that is not shown (for users who sign in another way).",
    )(fn)
    return click.option("-p", "--password", default=None, help="Password (prompted for when omitted).")(fn)


# -- users -------------------------------------------------------------------------------------
@click.group("users")
def users_group():
    """Manage user accounts."""


@users_group.command("create")
@click.option("-u", "--username", required=True, help="Username of the user.")
@click.option("-e", "--email", required=True, help="Email of the user.")
@click.option("-f", "--firstname", required=True, help="First name of the user.")
@click.option("-l", "--lastname", required=True, help="Last name of the user.")
@click.option("-r", "--role", required=True, help="Role of the user, e.g. Admin, Op, User, Viewer or Public.")
@_password_options
def users_create(username, email, firstname, lastname, role, password, use_random_password):
    """Create a user."""
    from app.extensions import db
    from app.users import create_user, find_user

    with app_context():
        _role(role)
        secret = _password(password, use_random_password)
        if find_user(username) is not None:
            click.echo(f"{username} already exist in the db")
            return
        try:
            create_user(username, secret, roles=[role], email=email, first_name=firstname, last_name=lastname)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            fail(f"Failed to create user: the username or the email `{email}` is already taken")
        click.echo(f'User "{username}" created with role "{role}"')


@users_group.command("list")
@OUTPUT
def users_list(output):
    """List users."""
    from app.extensions import db
    from app.models import User

    with app_context():
        users = db.session.scalars(select(User).order_by(User.id)).all()
        rows = [
            {
                "id": str(u.id),
                "username": u.username,
                "email": u.email,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "roles": [r.name for r in sorted(u.roles, key=lambda r: r.id)],
            }
            for u in users
        ]
    print_as(rows, output)


@users_group.command("delete")
@_user_options
def users_delete(username, email):
    """Delete a user."""
    from app.extensions import db

    with app_context():
        user = _find_user(username, email)
        db.session.delete(user)
        db.session.commit()
        click.echo(f'User "{user.username}" deleted')


@users_group.command("reset-password")
@_user_options
@_password_options
def users_reset_password(username, email, password, use_random_password):
    """Set a user's password."""
    from app.extensions import db
    from app.passwords import hash_password

    with app_context():
        user = _find_user(username, email)
        user.password = hash_password(_password(password, use_random_password))
        db.session.commit()
        click.echo(f'User "{user.username}" password reset successfully')


@users_group.command("add-role")
@_user_options
@click.option("-r", "--role", required=True, help="Role to add.")
def users_add_role(username, email, role):
    """Give a user one more role."""
    _change_membership(username, email, role, add=True)


@users_group.command("remove-role")
@_user_options
@click.option("-r", "--role", required=True, help="Role to remove.")
def users_remove_role(username, email, role):
    """Take a role away from a user."""
    _change_membership(username, email, role, add=False)


def _change_membership(username, email, role: str, *, add: bool) -> None:
    """Add the user to `role` or remove them from it; an error when there is nothing to change."""
    from app.extensions import db

    with app_context():
        user, found = _find_user(username, email), _role(role)
        if (found in user.roles) == add:
            fail(f'User "{user.username}" is {"already" if add else "not"} a member of role "{role}"')
        if add:
            user.roles.append(found)
        else:
            user.roles.remove(found)
        db.session.commit()
        click.echo(f'User "{user.username}" {"added to" if add else "removed from"} role "{role}"')


# -- roles -------------------------------------------------------------------------------------
@click.group("roles")
def roles_group():
    """Manage roles."""


@roles_group.command("list")
@click.option("-p", "--permission", is_flag=True, help="Show each role's permissions.")
@OUTPUT
def roles_list(permission, output):
    """List roles."""
    from app.extensions import db
    from app.models import Role

    with app_context():
        roles = db.session.scalars(select(Role)).all()
        if not permission:
            rows = [{"name": name} for name in sorted(r.name for r in roles)]
        else:
            actions = defaultdict(list)
            for role in roles:
                for p in role.permissions:
                    actions[(role.name, p.resource.name)].append(p.action.name)
            rows = [
                {"name": name, "resource": resource, "action": ",".join(sorted(actions[(name, resource)]))}
                for name, resource in sorted(actions)
            ]
    print_as(rows, output)


@roles_group.command("create")
@click.argument("role", nargs=-1, required=True)
def roles_create(role):
    """Create roles (existing ones are left as they are)."""
    from app.extensions import db
    from app.models import Role

    with app_context():
        for name in role:
            if db.session.execute(select(Role.id).where(Role.name == name)).first() is None:
                db.session.add(Role(name=name))
                try:
                    db.session.commit()
                except IntegrityError:  # created meanwhile by someone else: just as good
                    db.session.rollback()
    click.echo(f"Added {len(role)} role(s)")
