"""Connections: CRUD with secrets encrypted at rest and masked on the way out, and connection tests."""
from __future__ import annotations

from connexion import NoContent
from sqlalchemy import delete, select

from app import connections
from app.audit import action_logging
from app.connection_check import check_connection
from app.errors import BadRequest, NotFound, PermissionDenied, Unknown
from app.extensions import db
from app.fernet import FernetKeyError
from app.models import Connection
from app.queries import (
    apply_update_mask,
    commit_or_conflict,
    conf,
    load_or_400,
    order_by_clause,
    paginate,
    split_csv,
)
from app.schemas.connection_schema import (
    ConnectionCollection,
    connection_body_schema,
    connection_collection_schema,
    connection_schema,
    connection_test_schema,
)
from app.security import (
    CAN_CREATE,
    CAN_DELETE,
    CAN_EDIT,
    CAN_READ,
    RESOURCE_CONNECTION,
    perm,
    requires_access,
)

ORDER_BY = {
    "id": Connection.id,
    "connection_id": Connection.conn_id,
    "conn_type": Connection.conn_type,
    "description": Connection.description,
    "host": Connection.host,
    "port": Connection.port,
}
UPDATABLE = ("conn_type", "description", "host", "login", "schema", "port", "password", "extra")


def _audit_extra(kwargs: dict) -> dict:
    """The request's fields with the password and extra replaced by *** (they may hold secrets)."""
    body = kwargs.get("body") or {}
    extra = {key: "***" if key in connections.ENCRYPTED else value for key, value in body.items()}
    if kwargs.get("connection_id"):
        extra["connection_id"] = kwargs["connection_id"]
    if kwargs.get("update_mask"):
        extra["update_mask"] = ",".join(split_csv(kwargs["update_mask"]))
    return extra


def _not_found(connection_id: str) -> NotFound:
    return NotFound("Connection not found", f"The Connection with connection_id: `{connection_id}` was not found")


def _get_or_404(connection_id: str) -> Connection:
    conn = db.session.execute(select(Connection).where(Connection.conn_id == connection_id)).scalar()
    if conn is None:
        raise _not_found(connection_id)
    return conn


def _dump(conn: Connection) -> dict:
    try:
        return connection_schema.dump(conn)
    except FernetKeyError as exc:
        raise Unknown(detail=str(exc)) from None


def _assign(conn: Connection, data: dict) -> None:
    try:
        connections.assign(conn, data, conf())
    except FernetKeyError as exc:
        db.session.rollback()
        raise Unknown(detail=str(exc)) from None


@requires_access(perm(CAN_READ, RESOURCE_CONNECTION))
def get_connections(*, limit: int | None = None, offset: int | None = None, order_by: str | None = None):
    """List connections, without their passwords and extras."""
    stmt = select(Connection).order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=Connection.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return connection_collection_schema.dump(ConnectionCollection(page.items, page.total_entries))


@requires_access(perm(CAN_READ, RESOURCE_CONNECTION))
def get_connection(*, connection_id: str):
    """Show one connection, its extra masked and its password never."""
    return _dump(_get_or_404(connection_id))


@requires_access(perm(CAN_CREATE, RESOURCE_CONNECTION))
@action_logging("api.connection.create", extra_fn=_audit_extra)
def post_connection(*, body: dict):
    """Create a connection; a taken id is 409."""
    data = load_or_400(connection_body_schema, body)
    connections.check_conn_id(data["connection_id"])
    conn = Connection()
    _assign(conn, data)
    db.session.add(conn)
    commit_or_conflict(f"Connection already exist. ID: {data['connection_id']}")
    return _dump(conn)


@requires_access(perm(CAN_EDIT, RESOURCE_CONNECTION))
@action_logging("api.connection.edit", extra_fn=_audit_extra)
def patch_connection(*, connection_id: str, body: dict, update_mask: list[str] | None = None):
    """Update the masked fields, or every field the body carries; the id cannot change."""
    data = load_or_400(connection_body_schema, body, partial=True)
    if data.get("connection_id", connection_id) != connection_id:
        raise BadRequest(detail="The connection_id cannot be updated.")
    data = apply_update_mask(data, update_mask, updatable=UPDATABLE)
    conn = _get_or_404(connection_id)
    if data.get("extra"):
        data["extra"] = connections.keep_masked_secrets(data["extra"], _stored_extra(conn))
    _assign(conn, data)
    db.session.commit()
    return _dump(conn)


def _stored_extra(conn: Connection) -> str | None:
    try:
        return connections.extra(conn, conf())
    except FernetKeyError:
        return None  # unreadable: nothing to restore, the new extra replaces it


@requires_access(perm(CAN_DELETE, RESOURCE_CONNECTION))
@action_logging("api.connection.delete", extra_fn=_audit_extra)
def delete_connection(*, connection_id: str):
    """Delete a connection."""
    if db.session.execute(delete(Connection).where(Connection.conn_id == connection_id)).rowcount == 0:
        db.session.rollback()
        raise _not_found(connection_id)
    db.session.commit()
    return NoContent, 204


@requires_access(perm(CAN_CREATE, RESOURCE_CONNECTION))
def test_connection(*, body: dict):
    """Try the connection described by the body (nothing is stored), if testing is enabled."""
    if conf().get("core", "test_connection").strip().lower() != "enabled":
        raise PermissionDenied(
            detail="Testing connections is disabled on this server: set [core] test_connection = Enabled "
            "to allow it."
        )
    data = load_or_400(connection_body_schema, body)
    status, message = check_connection(data)
    return connection_test_schema.dump({"status": status, "message": message})
