"""Variables: CRUD; POST is an upsert, keys may hold `/` and any Unicode."""
from __future__ import annotations

from flask import Response
from sqlalchemy import bindparam, delete, select

from app.audit import action_logging
from app.errors import BadRequest, NotFound
from app.extensions import db
from app.fast_reads import FastRead
from app.models import Variable
from app.queries import apply_update_mask, load_or_400, order_by_clause, paginate, split_csv, upsert
from app.schemas.variable_schema import (
    VariableCollection,
    variable_body_schema,
    variable_collection_schema,
    variable_schema,
)
from app.security import (
    CAN_CREATE,
    CAN_DELETE,
    CAN_EDIT,
    CAN_READ,
    RESOURCE_VARIABLE,
    perm,
    requires_access,
)

ORDER_BY = {"id": Variable.id, "key": Variable.key, "value": Variable.val}
UPDATABLE = ("value", "description")
INVALID_BODY = "Invalid Variable schema"


def _audit_extra(kwargs: dict) -> dict:
    """Key, description and mask: never the value, which may be a secret of any name."""
    body = kwargs.get("body") or {}
    extra = {"key": kwargs.get("variable_key") or body.get("key")}
    if "description" in body:
        extra["description"] = body["description"]
    if kwargs.get("update_mask"):
        extra["update_mask"] = ",".join(split_csv(kwargs["update_mask"]))
    return extra


# Built once (every read of a variable runs them): building a statement costs about what running it
# does. Reads take the row as it is (app.fast_reads); loading an ORM object is for changing it.
_ROW_BY_KEY = FastRead(select(Variable.__table__).where(Variable.__table__.c.key == bindparam("key")))
_BY_KEY = select(Variable).where(Variable.key == bindparam("key"))


def _get_or_404(key: str, *, to_change: bool = False):
    """The variable's row to show (a dict of its columns), or its ORM object `to_change`; 404 if
    there is none."""
    if to_change:
        variable = db.session.execute(_BY_KEY, {"key": key}).scalar()
    else:
        row = _ROW_BY_KEY.first({"key": key})
        variable = None if row is None else _ROW_BY_KEY.mapping(row)
    if variable is None:
        raise NotFound("Variable not found", "Variable does not exist")
    return variable


@requires_access(perm(CAN_READ, RESOURCE_VARIABLE))
def get_variables(*, limit: int | None = None, offset: int | None = None, order_by: str | None = None):
    """List variables, values included."""
    stmt = select(Variable).order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=Variable.id))
    page = paginate(stmt, limit=limit, offset=offset)
    return variable_collection_schema.dump(VariableCollection(page.items, page.total_entries))


@requires_access(perm(CAN_READ, RESOURCE_VARIABLE))
def get_variable(*, variable_key: str):
    """Show one variable."""
    return variable_schema.dump(_get_or_404(variable_key))


@requires_access(perm(CAN_CREATE, RESOURCE_VARIABLE))
@action_logging("api.variable.create", extra_fn=_audit_extra)
def post_variables(*, body: dict):
    """Create or replace a variable (an omitted description becomes null)."""
    data = load_or_400(variable_body_schema, body, title=INVALID_BODY)
    values = {"key": data["key"], "val": data["value"], "description": data.get("description")}
    upsert(Variable, values, key=["key"])
    db.session.commit()
    return variable_schema.dump(_get_or_404(data["key"]))


@requires_access(perm(CAN_EDIT, RESOURCE_VARIABLE))
@action_logging("api.variable.edit", extra_fn=_audit_extra)
def patch_variable(*, variable_key: str, body: dict, update_mask: list[str] | None = None):
    """Update a variable's value and description, or only the masked ones."""
    data = load_or_400(variable_body_schema, body, title=INVALID_BODY)
    if data["key"] != variable_key:
        raise BadRequest("Invalid post body", "key from request body doesn't match uri parameter")
    data = apply_update_mask(data, update_mask, updatable=UPDATABLE)
    variable = _get_or_404(variable_key, to_change=True)
    if "value" in data:
        variable.val = data["value"]
    if "description" in data:
        variable.description = data["description"]
    db.session.commit()
    return variable_schema.dump(variable)


@requires_access(perm(CAN_DELETE, RESOURCE_VARIABLE))
@action_logging("api.variable.delete", extra_fn=_audit_extra)
def delete_variable(*, variable_key: str):
    """Delete a variable."""
    if db.session.execute(delete(Variable).where(Variable.key == variable_key)).rowcount == 0:
        db.session.rollback()
        raise NotFound("Variable not found", "Variable does not exist")
    db.session.commit()
    return Response(status=204)
